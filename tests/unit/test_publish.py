"""Write-audit-publish: history, changes, immutability of rule versions, the snapshot file."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime

import duckdb
import pytest

from segments.contract import migrate
from segments.contract.tables import DDL, KEYS
from segments.errors import PublishError
from segments.publish.snapshot import refresh_snapshot_runs
from segments.publish.write_audit_publish import (
    STAGED,
    RuleVersionInfo,
    audit_staged,
    check_rule_version_unchanged,
    output_fingerprint,
    publish,
    record_failed_run,
)

RULES = RuleVersionInfo("v1", "a" * 64, "v1.yaml", "version: v1", date(2026, 1, 1), "me", "first")


def stage(con, run_id: str, as_of: date, segments: dict[str, str], rules: RuleVersionInfo = RULES) -> None:
    migrate(con)
    con.execute(
        f"create or replace table {STAGED} as select * exclude (segment_key, updated_at) from segments.customer_segments limit 0"
    )
    for customer, segment in segments.items():
        con.execute(
            f"""insert into {STAGED} values (?, 'tier', ?, lower(?), 'act', 'email', 'sales', 1, ?, ?, ?, ?, ?,
                'customer', ?, null, 'champion', '{{}}')""",
            [
                customer,
                segment,
                segment,
                rules.version,
                rules.sha256,
                run_id,
                as_of,
                datetime(2026, 1, 1),
                customer,
            ],
        )


def local(naive: datetime) -> datetime:
    """A naive datetime as the instant it means here (callers pass local time; timestamptz keeps instants)."""
    return naive.astimezone()


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
    assert tables == {
        "customer_segments", "rule_versions", "segment_history", "segment_changes", "runs", "segment_sizes",
        "rule_version_impact", "experiment_assignments", "clv_fits", "quality_results", "published_run",
    }  # fmt: skip
    assert [p.name for p in result.snapshot.parent.iterdir()] == ["segments.duckdb"]  # no temp files left

    def columns(table):
        return [r[0] for r in fresh.execute(f"describe {table}").fetchall()]

    # the published contract (README, "Published tables")
    assert columns("customer_segments") == [
        "customer_id", "scheme", "segment", "rule_id", "next_action", "action_channel", "action_owner",
        "action_priority", "rule_version", "rules_sha256", "run_id", "as_of", "assigned_at", "entity",
        "entity_id", "experiment", "arm", "evidence", "segment_key", "updated_at",
    ]  # fmt: skip
    assert columns("rule_versions") == [
        "rule_version", "rules_sha256", "file_name", "file_text", "effective_from", "author", "description",
        "first_used_run_id", "recorded_at", "role", "first_used_as_of",
    ]  # fmt: skip
    assert columns("runs") == [
        "run_id", "as_of", "rule_version", "rules_sha256", "customers", "assignments", "status", "published_at",
        "input_fingerprint", "output_fingerprint", "started_at", "finished_at", "rows_per_scheme", "experiment",
        "challenger_version", "failure", "accept_drift", "accepted_drift", "quarantined_rows",
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
    expected = {"tier": "select customer_id as entity_id from customers"}
    problems = audit_staged(con, expected=expected, run_id="r1")
    assert problems == [
        "scheme tier: 1 entities have more than one row",
        "scheme tier: 1 of 3 entities have no segment",
    ]
    assert audit_staged(con, expected=expected, run_id="r9") == [
        "scheme tier: 1 entities have more than one row",
        "scheme tier: 1 of 3 entities have no segment",
        "3 rows lack a segment, next action or provenance for run r9",
    ]
    con.execute(f"delete from {STAGED}")
    stage(con, "r1", date(2026, 1, 1), {"c1": "Gold", "c2": "Silver", "c3": "Gold", "c9": "Gold"})
    assert audit_staged(con, expected=expected, run_id="r1") == [
        "scheme tier: 1 rows for entities that are not in its source"
    ]


def test_output_fingerprint_ignores_order_run_id_and_time_but_not_segments(tmp_path):
    con = duckdb.connect()
    stage(con, "r1", date(2026, 1, 1), {"c1": "Gold", "c2": "Silver"})
    first = output_fingerprint(con, STAGED)
    stage(con, "r2", date(2026, 1, 1), {"c2": "Silver", "c1": "Gold"})  # other order and run id
    con.execute(f"update {STAGED} set assigned_at = now(), evidence = '{{\"x\": 1}}'")
    assert output_fingerprint(con, STAGED) == first
    stage(con, "r3", date(2026, 1, 1), {"c1": "Gold", "c2": "Gold"})
    assert output_fingerprint(con, STAGED) != first
    stage(con, "r4", date(2026, 1, 2), {"c1": "Gold", "c2": "Silver"})  # another as-of
    assert output_fingerprint(con, STAGED) != first


def test_run_record_has_fingerprints_rows_per_scheme_and_times(tmp_path):
    con = duckdb.connect()
    con.execute("create schema raw")
    con.execute(
        """create table raw._loads as select * from (values
           ('crm_accounts', 'a.csv', 'aa', 1, timestamp '2026-01-01 01:00', 'r0'),
           ('crm_accounts', 'a.csv', 'bb', 1, timestamp '2026-01-02 01:00', 'r1'),
           ('sales_orders', 'o.csv', 'cc', 1, timestamp '2026-01-01 01:00', 'r0'))
           t(entity, file_name, sha256, rows, loaded_at, run_id)"""
    )
    stage(con, "r1", date(2026, 1, 1), {"c1": "Gold", "c2": "Silver"})
    result = publish(
        con,
        run_id="r1",
        as_of=date(2026, 1, 1),
        rules=RULES,
        snapshot_path=tmp_path / "s.duckdb",
        published_at=datetime(2026, 1, 1, 3),
        started_at=datetime(2026, 1, 1, 2),
    )
    expected_inputs = hashlib.sha256(b"crm_accounts:bb\nsales_orders:cc\n").hexdigest()
    row = con.execute(
        """select status, input_fingerprint, output_fingerprint, rows_per_scheme, started_at, finished_at,
                  customers, assignments from segments.runs"""
    ).fetchone()
    assert row == (
        "published", expected_inputs, result.output_fingerprint, '{"tier": 2}', local(datetime(2026, 1, 1, 2)),
        local(datetime(2026, 1, 1, 3)), 2, 2,
    )  # fmt: skip
    sizes = con.execute(
        "select scheme, entity, segment, arm, entities from segments.segment_sizes order by 3"
    )
    assert sizes.fetchall() == [
        ("tier", "customer", "Gold", "champion", 1),
        ("tier", "customer", "Silver", "champion", 1),
    ]


def test_failed_run_is_recorded_without_touching_published_data(tmp_path):
    con = duckdb.connect()
    stage(con, "r1", date(2026, 1, 1), {"c1": "Gold"})
    do_publish(con, tmp_path, "r1", date(2026, 1, 1))
    record_failed_run(
        con, run_id="r2", as_of=date(2026, 1, 2), failure="blocking check failed", started_at=None,
        finished_at=datetime(2026, 1, 2, 3),
    )  # fmt: skip
    assert con.execute("select run_id, status, failure from segments.runs order by run_id").fetchall() == [
        ("r1", "published", None),
        ("r2", "failed", "blocking check failed"),
    ]
    assert con.execute("select run_id from segments.customer_segments").fetchall() == [("r1",)]
    # a failed run does not count as the last published as-of
    stage(con, "r3", date(2026, 1, 1), {"c1": "Gold"})
    do_publish(con, tmp_path, "r3", date(2026, 1, 1))


def test_unused_versions_are_recorded_and_may_change_until_first_used(tmp_path):
    con = duckdb.connect()
    future = RuleVersionInfo("v2", "c" * 64, "v2.yaml", "version: v2", date(2026, 2, 1), "me", "next")
    stage(con, "r1", date(2026, 1, 1), {"c1": "Gold"})
    publish(
        con, run_id="r1", as_of=date(2026, 1, 1), rules=RULES, snapshot_path=tmp_path / "s.duckdb",
        published_at=datetime(2026, 1, 1, 3), seen_versions=[RULES, future],
    )  # fmt: skip
    versions = "select rule_version, rules_sha256, first_used_run_id, first_used_as_of from segments.rule_versions order by 1"
    assert con.execute(versions).fetchall() == [
        ("v1", "a" * 64, "r1", date(2026, 1, 1)),
        ("v2", "c" * 64, None, None),
    ]
    edited = RuleVersionInfo(
        "v2", "d" * 64, "v2.yaml", "version: v2 # edited", date(2026, 2, 1), "me", "next"
    )
    check_rule_version_unchanged(con, edited)  # not used yet: may still change
    stage(con, "r2", date(2026, 2, 1), {"c1": "Silver"}, rules=edited)
    publish(
        con, run_id="r2", as_of=date(2026, 2, 1), rules=edited, snapshot_path=tmp_path / "s.duckdb",
        published_at=datetime(2026, 2, 1, 3), seen_versions=[RULES, edited],
    )  # fmt: skip
    assert con.execute(versions).fetchall()[1] == ("v2", "d" * 64, "r2", date(2026, 2, 1))
    with pytest.raises(PublishError, match="immutable"):
        check_rule_version_unchanged(con, future)


def test_an_older_warehouse_is_migrated_to_the_contract(tmp_path):
    con = duckdb.connect()
    con.execute("create schema segments")
    con.execute(  # the issue-2 contract: no entity columns, NOT NULL rule version on runs
        """create table segments.customer_segments (customer_id varchar not null, scheme varchar not null,
           segment varchar not null, rule_id varchar not null, next_action varchar not null,
           action_channel varchar not null, action_owner varchar not null, action_priority integer not null,
           rule_version varchar not null, rules_sha256 varchar not null, run_id varchar not null,
           as_of date not null, assigned_at timestamp not null)"""
    )
    con.execute(
        """create table segments.runs (run_id varchar not null primary key, as_of date not null,
           rule_version varchar not null, rules_sha256 varchar not null, customers bigint not null,
           assignments bigint not null, status varchar not null, published_at timestamp not null)"""
    )
    con.execute(
        "insert into segments.customer_segments values ('c1', 'tier', 'Gold', 'gold', 'act', 'email', "
        "'sales', 1, 'v1', 'aa', 'r0', date '2026-01-01', timestamp '2026-01-01')"
    )
    migrate(con)
    assert con.execute("select entity, entity_id, arm from segments.customer_segments").fetchall() == [
        ("customer", "c1", "champion")
    ]
    record_failed_run(  # rule_version etc. are nullable now
        con,
        run_id="r1",
        as_of=date(2026, 1, 2),
        failure="x",
        started_at=None,
        finished_at=datetime(2026, 1, 2),
    )
    stage(con, "r2", date(2026, 1, 2), {"c1": "Silver"})
    assert do_publish(con, tmp_path, "r2", date(2026, 1, 2)).changes == 1


def test_experiment_arms_are_recorded_once_per_customer(tmp_path):
    con = duckdb.connect()
    for run, day in (("r1", 1), ("r2", 2)):
        stage(con, run, date(2026, 1, day), {"c1": "Gold", "c2": "Silver", "c3": "Gold"})
        con.execute(
            f"update {STAGED} set experiment = 'x', arm = case customer_id when 'c2' then 'holdout' else 'champion' end"
        )
        publish(
            con, run_id=run, as_of=date(2026, 1, day), rules=RULES, snapshot_path=tmp_path / "s.duckdb",
            published_at=datetime(2026, 1, day, 3), experiment="x",
        )  # fmt: skip
    assert con.execute("select * from segments.experiment_assignments order by customer_id").fetchall() == [
        ("x", "c1", "champion", "r1", date(2026, 1, 1)),
        ("x", "c2", "holdout", "r1", date(2026, 1, 1)),
        ("x", "c3", "champion", "r1", date(2026, 1, 1)),
    ]


def snapshot_rows(path, table, order="1"):
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(f"select * from {table} order by {order}").fetchall()
    finally:
        con.close()


def test_a_failed_run_reaches_the_snapshot_without_changing_its_published_data(tmp_path):
    con = duckdb.connect()
    stage(con, "r1", date(2026, 1, 1), {"c1": "Gold", "c2": "Silver"})
    result = do_publish(con, tmp_path, "r1", date(2026, 1, 1))
    published = {t: snapshot_rows(result.snapshot, t) for t in ("customer_segments", "segment_history")}
    assert snapshot_rows(result.snapshot, "published_run") == [
        ("r1", date(2026, 1, 1), "v1", "a" * 64, local(datetime(2026, 1, 1, 3)), 2, local(datetime(2026, 1, 1, 3)))
    ]  # fmt: skip
    reader = duckdb.connect(str(result.snapshot), read_only=True)  # a tool holding the file open
    inode = result.snapshot.stat().st_ino

    # the next night fails before publishing: the warehouse's schema segments still holds run r1
    stage(con, "r2", date(2026, 1, 2), {"c1": "Bronze"})
    record_failed_run(
        con, run_id="r2", as_of=date(2026, 1, 2), failure="blocking check failed", started_at=None,
        finished_at=datetime(2026, 1, 2, 3),
    )  # fmt: skip
    refreshed = datetime(2026, 1, 2, 3, 5, tzinfo=UTC)
    assert refresh_snapshot_runs(con, result.snapshot, refreshed_at=refreshed)

    assert reader.execute("select count(*) from runs").fetchone()[0] == 1  # the open reader: unchanged
    reader.close()
    assert result.snapshot.stat().st_ino != inode  # a new file renamed into place, not written in place
    assert [p.name for p in result.snapshot.parent.iterdir()] == ["segments.duckdb"]
    assert [r[:1] + r[6:7] + r[15:16] for r in snapshot_rows(result.snapshot, "runs")] == [
        ("r1", "published", None),
        ("r2", "failed", "blocking check failed"),
    ]
    for table, rows in published.items():
        assert snapshot_rows(result.snapshot, table) == rows, table
    assert snapshot_rows(result.snapshot, "published_run") == [
        ("r1", date(2026, 1, 1), "v1", "a" * 64, local(datetime(2026, 1, 1, 3)), 2, refreshed)
    ]


def test_without_a_published_run_a_failure_writes_no_snapshot(tmp_path):
    con = duckdb.connect()
    path = tmp_path / "published" / "segments.duckdb"
    record_failed_run(
        con,
        run_id="r1",
        as_of=date(2026, 1, 1),
        failure="x",
        started_at=None,
        finished_at=datetime(2026, 1, 1),
    )
    assert not refresh_snapshot_runs(con, path)
    assert not path.parent.exists()


def test_published_timestamps_have_a_time_zone(tmp_path):
    con = duckdb.connect()
    stage(con, "r1", date(2026, 1, 1), {"c1": "Gold"})
    published_at = datetime(2026, 1, 1, 3, tzinfo=UTC)
    result = publish(
        con, run_id="r1", as_of=date(2026, 1, 1), rules=RULES, snapshot_path=tmp_path / "s.duckdb",
        published_at=published_at,
    )  # fmt: skip
    snapshot = duckdb.connect(str(result.snapshot), read_only=True)
    types = snapshot.execute(
        "select distinct data_type from information_schema.columns where data_type like 'TIMESTAMP%'"
    ).fetchall()
    assert types == [("TIMESTAMP WITH TIME ZONE",)]
    # an instant: the same whatever zone the reader's session is in
    snapshot.execute("set TimeZone = 'America/Los_Angeles'")
    assert snapshot.execute("select published_at, finished_at from runs").fetchone() == (published_at,) * 2
    assert snapshot.execute("select recorded_at from segment_history").fetchone() == (published_at,)


def test_every_published_row_has_a_single_column_key(tmp_path):
    con = duckdb.connect()
    stage(con, "r1", date(2026, 1, 1), {"c1": "Gold", "c2": "Silver"})
    do_publish(con, tmp_path, "r1", date(2026, 1, 1))
    stage(con, "r2", date(2026, 1, 2), {"c1": "Silver", "c2": "Silver"})
    result = do_publish(con, tmp_path, "r2", date(2026, 1, 2))
    snapshot = duckdb.connect(str(result.snapshot), read_only=True)

    def md5(*values):
        return hashlib.md5("\x1f".join(values).encode()).hexdigest()

    # deterministic: the same entity and scheme keep their key from run to run
    assert snapshot.execute("select entity_id, segment_key from customer_segments order by 1").fetchall() == [
        ("c1", md5("tier", "c1")),
        ("c2", md5("tier", "c2")),
    ]
    assert snapshot.execute(
        "select entity_id, valid_from, history_key from segment_history order by 1, 2"
    ).fetchall() == [
        ("c1", date(2026, 1, 1), md5("tier", "c1", "2026-01-01")),
        ("c1", date(2026, 1, 2), md5("tier", "c1", "2026-01-02")),
        ("c2", date(2026, 1, 1), md5("tier", "c2", "2026-01-01")),
    ]
    assert snapshot.execute(
        "select count(distinct change_key), count(*) from segment_changes"
    ).fetchone() == (
        3,
        3,
    )
    declared = snapshot.execute(
        "select table_name, constraint_column_names from duckdb_constraints() where constraint_type = 'PRIMARY KEY'"
    ).fetchall()
    # declared where the index is small; the entity-level keys are unique by construction (see SNAPSHOT_KEYS)
    assert sorted(declared) == [
        ("published_run", ["run_id"]),
        ("rule_versions", ["rule_version"]),
        ("runs", ["run_id"]),
    ]
    for table, key in (("customer_segments", "segment_key"), ("segment_history", "history_key")):
        assert snapshot.execute(f"select count(distinct {key}), count(*) from {table}").fetchone()[0] > 1
        assert snapshot.execute(f"select count(*) - count(distinct {key}) from {table}").fetchone() == (0,)


def test_a_second_run_on_the_same_day_replaces_that_days_history_entry(tmp_path):
    con = duckdb.connect()
    day1, day2 = date(2026, 1, 1), date(2026, 1, 2)
    stage(con, "r1", day1, {"c1": "Gold", "c2": "Gold", "c3": "Gold"})
    do_publish(con, tmp_path, "r1", day1)
    stage(con, "r2", day2, {"c1": "Silver", "c2": "Silver"})  # c3 leaves
    do_publish(con, tmp_path, "r2", day2)
    # rerun of day 2: c1 corrected again, c2 back to what it was before day 2, c3 back in the base
    stage(con, "r3", day2, {"c1": "Bronze", "c2": "Gold", "c3": "Gold"})
    result = do_publish(con, tmp_path, "r3", day2)
    history = con.execute(
        """select entity_id, segment, valid_from, valid_to, run_id from segments.segment_history
           order by entity_id, valid_from"""
    ).fetchall()
    assert history == [
        ("c1", "Gold", day1, day2, "r1"),
        ("c1", "Bronze", day2, None, "r3"),
        ("c2", "Gold", day1, None, "r1"),
        ("c3", "Gold", day1, None, "r1"),
    ]
    assert result.history_entries == 1
    assert snapshot_rows(result.snapshot, "segment_history where valid_from >= valid_to") == []
    # the runs' changes stay on record, each against what was published before it
    assert con.execute(
        "select run_id, entity_id, from_segment, to_segment from segments.segment_changes where run_id <> 'r1' order by 1, 2"
    ).fetchall() == [
        ("r2", "c1", "Gold", "Silver"),
        ("r2", "c2", "Gold", "Silver"),
        ("r2", "c3", "Gold", None),
        ("r3", "c1", "Silver", "Bronze"),
        ("r3", "c2", "Silver", "Gold"),
        ("r3", "c3", None, "Gold"),
    ]


def test_an_older_warehouse_gets_keys_and_zoned_timestamps(tmp_path):
    con = duckdb.connect()
    con.execute("create schema segments")
    for table, ddl in DDL.items():  # the release before: naive timestamps, no key columns
        key = KEYS.get(table, ("-",))[0]
        old = ddl.replace(",\n        updated_at timestamptz", "").replace(", updated_at timestamptz", "")
        old = old.replace("timestamptz", "timestamp").replace(f", {key} varchar not null", "")
        con.execute(f"create table {table} ({old})")
    assert "key" not in " ".join(r[0] for r in con.execute("describe segments.customer_segments").fetchall())
    # two runs on one day (r0, then r0b an hour later) left a zero-length entry in history
    for run, segment, hour in (("r0", "Gold", 3), ("r0b", "Silver", 4)):
        con.execute(
            """insert into segments.segment_history_entries values ('c1', 'tier', ?, 'x', 'act', 'email', 'v1',
               'aa', date '2026-01-01', ?, ?, 'customer', 'c1', null, 'champion', '{}')""",
            [segment, run, datetime(2026, 1, 1, hour)],
        )
    con.execute(
        """insert into segments.customer_segments values ('c1', 'tier', 'Silver', 'x', 'act', 'email', 'sales', 1,
           'v1', 'aa', 'r0b', date '2026-01-01', ?, 'customer', 'c1', null, 'champion', '{}')""",
        [datetime(2026, 1, 1, 4)],
    )
    con.execute(
        """insert into segments.runs (run_id, as_of, status, published_at)
           values ('r0b', date '2026-01-01', 'published', ?)""",
        [datetime(2026, 1, 1, 4)],
    )
    migrate(con)

    assert con.execute("select published_at from segments.runs").fetchone() == (
        local(datetime(2026, 1, 1, 4)),
    )
    assert con.execute("select assigned_at, segment_key from segments.customer_segments").fetchone() == (
        local(datetime(2026, 1, 1, 4)),
        hashlib.md5(b"tier\x1fc1").hexdigest(),
    )
    # the superseded same-day entry is gone (it was never in force); the one that stood has its key
    assert con.execute(
        "select segment, run_id, valid_to, history_key from segments.segment_history"
    ).fetchall() == [("Silver", "r0b", None, hashlib.md5(b"tier\x1fc1\x1f2026-01-01").hexdigest())]
    stage(con, "r1", date(2026, 1, 2), {"c1": "Gold"})
    result = do_publish(con, tmp_path, "r1", date(2026, 1, 2))
    assert result.changes == 1
    history = snapshot_rows(result.snapshot, "segment_history", "valid_from")
    assert [(r[2], r[8], r[9]) for r in history] == [
        ("Silver", date(2026, 1, 1), date(2026, 1, 2)),
        ("Gold", date(2026, 1, 2), None),
    ]


# A publish in its own process, killed (SIGKILL) just before or just after the snapshot's rename.
KILLED_PUBLISH = """
import os, signal, sys
from datetime import date
from pathlib import Path
import duckdb
from segments.publish import snapshot as module
from tests.unit.test_publish import do_publish, stage

folder, when = Path(sys.argv[1]), sys.argv[2]
real_replace = os.replace


def replace(src, dst):
    if when == "after":
        real_replace(src, dst)
    os.kill(os.getpid(), signal.SIGKILL)


module.os.replace = replace
con = duckdb.connect(str(folder / "warehouse.duckdb"))
stage(con, "r2", date(2026, 1, 2), {"c1": "Silver"})
do_publish(con, folder, "r2", date(2026, 1, 2))
"""


@pytest.mark.parametrize("when", ["before", "after"])
def test_kill_9_at_the_snapshot_rename_leaves_the_old_snapshot_or_the_whole_new_one(tmp_path, when):
    import signal
    import subprocess
    import sys

    from segments.guard import claim
    from segments.lock import held_by_this_process
    from segments.preflight import PreflightError
    from segments.settings import Settings

    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    stage(con, "r1", date(2026, 1, 1), {"c1": "Gold"})
    do_publish(con, tmp_path, "r1", date(2026, 1, 1))
    con.close()
    snapshot = tmp_path / "published" / "segments.duckdb"
    before = snapshot.read_bytes()
    killed = subprocess.run([sys.executable, "-c", KILLED_PUBLISH, str(tmp_path), when])
    assert killed.returncode == -signal.SIGKILL
    segments = duckdb.connect(str(snapshot), read_only=True)
    published = segments.execute("select run_id, segment from customer_segments").fetchall()
    segments.close()
    if when == "before":
        assert snapshot.read_bytes() == before and published == [("r1", "Gold")]
        assert len(list(snapshot.parent.glob(".*.tmp"))) == 1  # the new file, never renamed
    else:
        assert published == [("r2", "Silver")]
        assert list(snapshot.parent.glob(".*.tmp")) == []
    # the next run removes what the killed one left
    settings = Settings.from_env({"SEGMENTS_WAREHOUSE": str(tmp_path / "warehouse.duckdb")})
    with pytest.raises(
        PreflightError
    ):  # no landing files here: the clean-up before the checks is what counts
        claim(settings, run_id="next", as_of=date(2026, 1, 3))
    assert held_by_this_process(settings.warehouse) is None  # and a refused claim lets the lock go
    assert list(snapshot.parent.glob(".*.tmp")) == []
