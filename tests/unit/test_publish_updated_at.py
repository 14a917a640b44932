"""updated_at on the published rows: what a tool that syncs changed rows elsewhere relies on."""

from __future__ import annotations

from datetime import date, datetime

import duckdb

from segments.contract import SCHEMA_VERSION, migrate
from segments.contract.migrations import MIGRATIONS_TABLE
from segments.publish.write_audit_publish import publish
from tests.unit.test_publish import RULES, local, stage


def _publish(con, tmp_path, run_id: str, as_of: date, at: datetime):
    return publish(
        con, run_id=run_id, as_of=as_of, rules=RULES, snapshot_path=tmp_path / "s.duckdb", published_at=at
    )


def _updated(con, table: str = "segments.customer_segments", key: str = "customer_id") -> dict:
    return dict(con.execute(f"select {key}, updated_at from {table} order by 1").fetchall())


def test_a_row_keeps_its_updated_at_until_a_synced_value_changes(tmp_path):
    con = duckdb.connect()
    first, second, third = datetime(2026, 1, 1, 3), datetime(2026, 1, 2, 3), datetime(2026, 1, 3, 3)
    stage(con, "r1", date(2026, 1, 1), {"c1": "Gold", "c2": "Silver"})
    _publish(con, tmp_path, "r1", date(2026, 1, 1), first)
    assert _updated(con) == {"c1": local(first), "c2": local(first)}

    stage(con, "r2", date(2026, 1, 2), {"c1": "Silver", "c2": "Silver", "c3": "Gold"})
    _publish(con, tmp_path, "r2", date(2026, 1, 2), second)
    # c2 is unchanged but for its run id, as-of and assigned_at: not news for a tool
    assert _updated(con) == {"c1": local(second), "c2": local(first), "c3": local(second)}
    assert con.execute("select distinct run_id from segments.customer_segments").fetchall() == [("r2",)]

    stage(con, "r3", date(2026, 1, 3), {"c2": "Silver", "c3": "Gold"})
    _publish(con, tmp_path, "r3", date(2026, 1, 3), third)
    assert _updated(con) == {"c2": local(first), "c3": local(second)}  # c1 left: its row is gone
    changes = con.execute(
        "select customer_id, change, updated_at = recorded_at from segments.segment_changes where run_id = 'r3'"
    ).fetchall()
    assert changes == [("c1", "left", True)]
    history = con.execute(
        "select count(*), count(*) filter (where updated_at = recorded_at) from segments.segment_history"
    )
    assert history.fetchone() == (5, 5)  # c1 Gold, Silver, gone; c2 Silver; c3 Gold


def test_the_migration_fills_updated_at_from_history(tmp_path):
    con = duckdb.connect()
    stage(con, "r1", date(2026, 1, 1), {"c1": "Gold", "c2": "Silver"})
    _publish(con, tmp_path, "r1", date(2026, 1, 1), datetime(2026, 1, 1, 3))
    stage(con, "r2", date(2026, 1, 2), {"c1": "Silver", "c2": "Silver"})
    _publish(con, tmp_path, "r2", date(2026, 1, 2), datetime(2026, 1, 2, 3))
    # the warehouse as schema version 1 left it: no updated_at anywhere
    con.execute("drop view segments.segment_history")
    for table in ("customer_segments", "segment_history_entries", "segment_changes"):
        con.execute(f"alter table segments.{table} drop column updated_at")
    con.execute(f"delete from {MIGRATIONS_TABLE} where version >= 2")

    assert [m.version for m in migrate(con)] == list(range(2, SCHEMA_VERSION + 1))
    # c1's row changed with r2's history entry; c2's state dates from r1's
    assert _updated(con) == {"c1": local(datetime(2026, 1, 2, 3)), "c2": local(datetime(2026, 1, 1, 3))}
    assert con.execute(
        "select count(*) from segments.segment_history where updated_at is distinct from recorded_at"
    ).fetchone() == (0,)
    assert con.execute(
        "select count(*) from segments.segment_changes where updated_at is distinct from recorded_at"
    ).fetchone() == (0,)
    assert migrate(con) == []  # applied once; running it again finds nothing to do
