"""Write-audit-publish: history, changes, immutability of rule versions, the snapshot file."""

from __future__ import annotations

from datetime import date, datetime

import duckdb
import pytest

from orchestration.errors import PublishError
from orchestration.publish import (
    STAGED,
    RuleVersionInfo,
    audit_staged,
    check_rule_version_unchanged,
    ensure_contract,
    publish,
)

RULES = RuleVersionInfo("v1", "a" * 64, "v1.yaml", "version: v1", date(2026, 1, 1), "me", "first")


def stage(con, run_id: str, as_of: date, segments: dict[str, str], rules: RuleVersionInfo = RULES) -> None:
    ensure_contract(con)
    con.execute(f"create or replace table {STAGED} as select * from segments.customer_segments limit 0")
    for customer, segment in segments.items():
        con.execute(
            f"insert into {STAGED} values (?, 'tier', ?, lower(?), 'act', 'email', 'sales', 1, ?, ?, ?, ?, ?)",
            [customer, segment, segment, rules.version, rules.sha256, run_id, as_of, datetime(2026, 1, 1)],
        )


def do_publish(con, tmp_path, run_id, as_of, rules=RULES):
    return publish(
        con,
        run_id=run_id,
        as_of=as_of,
        rules=rules,
        snapshot_path=tmp_path / "published" / "segments.duckdb",
        published_at=datetime(2026, 1, 1, 3),
    )


def test_history_and_changes_over_three_runs(tmp_path):
    con = duckdb.connect()
    stage(con, "r1", date(2026, 1, 1), {"c1": "Gold", "c2": "Silver", "c3": "Silver"})
    first = do_publish(con, tmp_path, "r1", date(2026, 1, 1))
    assert (first.assignments, first.changes, first.history_entries) == (3, 3, 3)

    # c1 moves, c2 stays, c3 leaves the customer base, c4 arrives
    stage(con, "r2", date(2026, 1, 2), {"c1": "Silver", "c2": "Silver", "c4": "Gold"})
    second = do_publish(con, tmp_path, "r2", date(2026, 1, 2))
    changes = con.execute(
        "select customer_id, change, from_segment, to_segment from segments.segment_changes where run_id = 'r2' order by 1"
    ).fetchall()
    assert changes == [
        ("c1", "moved", "Gold", "Silver"),
        ("c3", "left", "Silver", None),
        ("c4", "entered", None, "Gold"),
    ]
    assert second.history_entries == 3  # c1 new period, c3 closed, c4 opened; c2 unchanged

    stage(con, "r3", date(2026, 1, 5), {"c1": "Silver", "c2": "Gold", "c4": "Gold"})
    do_publish(con, tmp_path, "r3", date(2026, 1, 5))

    def segment_on(customer, day):
        rows = con.execute(
            """select segment from segments.segment_history where customer_id = ? and scheme = 'tier'
               and valid_from <= ? and (valid_to is null or valid_to > ?)""",
            [customer, day, day],
        ).fetchall()
        return rows[0][0] if rows else "-"

    assert [segment_on("c1", date(2026, 1, d)) for d in (1, 2, 4, 9)] == [
        "Gold",
        "Silver",
        "Silver",
        "Silver",
    ]
    assert [segment_on("c2", date(2026, 1, d)) for d in (1, 4, 5)] == ["Silver", "Silver", "Gold"]
    assert [segment_on("c3", date(2026, 1, d)) for d in (1, 2)] == ["Silver", None]
    assert segment_on("c4", date(2026, 1, 1)) == "-"
    assert con.execute("select count(*) from segments.rule_versions").fetchone()[0] == 1
    assert con.execute("select list(run_id order by run_id) from segments.runs").fetchone()[0] == [
        "r1",
        "r2",
        "r3",
    ]


def test_snapshot_is_a_separate_file_replaced_atomically(tmp_path):
    con = duckdb.connect()
    stage(con, "r1", date(2026, 1, 1), {"c1": "Gold"})
    result = do_publish(con, tmp_path, "r1", date(2026, 1, 1))
    reader = duckdb.connect(str(result.snapshot), read_only=True)  # a tool holding the file open
    stage(con, "r2", date(2026, 1, 2), {"c1": "Silver"})
    do_publish(con, tmp_path, "r2", date(2026, 1, 2))
    # the open reader still sees the run it opened; a new reader sees the new one
    assert reader.execute("select segment, run_id from customer_segments").fetchall() == [("Gold", "r1")]
    reader.close()  # (in one process DuckDB shares an open database by path; other processes never do)
    fresh = duckdb.connect(str(result.snapshot), read_only=True)
    assert fresh.execute("select segment, run_id from customer_segments").fetchall() == [("Silver", "r2")]
    tables = {r[0] for r in fresh.execute("select table_name from information_schema.tables").fetchall()}
    assert tables == {"customer_segments", "rule_versions", "segment_history", "segment_changes", "runs"}
    assert [p.name for p in result.snapshot.parent.iterdir()] == ["segments.duckdb"]  # no temp files left

    def columns(table):
        return [r[0] for r in fresh.execute(f"describe {table}").fetchall()]

    # the published contract (README, "Published tables")
    assert columns("customer_segments") == [
        "customer_id", "scheme", "segment", "rule_id", "next_action", "action_channel", "action_owner",
        "action_priority", "rule_version", "rules_sha256", "run_id", "as_of", "assigned_at",
    ]  # fmt: skip
    assert columns("rule_versions") == [
        "rule_version", "rules_sha256", "file_name", "file_text", "effective_from", "author", "description",
        "first_used_run_id", "recorded_at",
    ]  # fmt: skip
    assert {"customer_id", "scheme", "segment", "valid_from", "valid_to", "rule_version", "run_id"} <= set(
        columns("segment_history")
    )
    assert {"run_id", "customer_id", "scheme", "change", "from_segment", "to_segment"} <= set(
        columns("segment_changes")
    )


def test_runs_cannot_go_back_in_time(tmp_path):
    con = duckdb.connect()
    stage(con, "r1", date(2026, 1, 5), {"c1": "Gold"})
    do_publish(con, tmp_path, "r1", date(2026, 1, 5))
    stage(con, "r2", date(2026, 1, 4), {"c1": "Silver"})
    with pytest.raises(PublishError, match="before the last published as-of 2026-01-05"):
        do_publish(con, tmp_path, "r2", date(2026, 1, 4))
    assert con.execute("select segment from segments.customer_segments").fetchall() == [("Gold",)]


def test_a_used_rule_version_is_immutable(tmp_path):
    con = duckdb.connect()
    stage(con, "r1", date(2026, 1, 1), {"c1": "Gold"})
    do_publish(con, tmp_path, "r1", date(2026, 1, 1))
    check_rule_version_unchanged(con, RULES)  # same text: fine
    edited = RuleVersionInfo(
        "v1", "b" * 64, "v1.yaml", "version: v1 # edited", date(2026, 1, 1), "me", "first"
    )
    with pytest.raises(PublishError, match=r"rule version v1 was already used .* immutable"):
        check_rule_version_unchanged(con, edited)


def test_audit_finds_missing_duplicate_and_unprovenanced_rows():
    con = duckdb.connect()
    con.execute("create table customers as select * from (values ('c1'), ('c2'), ('c3')) t(customer_id)")
    stage(con, "r1", date(2026, 1, 1), {"c1": "Gold", "c2": "Silver"})
    con.execute(f"insert into {STAGED} select * from {STAGED} where customer_id = 'c1'")
    problems = audit_staged(
        con, customers_sql="select customer_id from customers", schemes=["tier"], run_id="r1"
    )
    assert problems == [
        "scheme tier: 1 customers have more than one row",
        "scheme tier: 1 of 3 customers have no segment",
    ]
    assert audit_staged(
        con, customers_sql="select customer_id from customers", schemes=["tier"], run_id="r9"
    ) == [
        "scheme tier: 1 customers have more than one row",
        "scheme tier: 1 of 3 customers have no segment",
        "3 rows lack a segment, next action or provenance for run r9",
    ]
