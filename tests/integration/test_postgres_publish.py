"""Write-audit-publish on PostgreSQL: all or nothing, readers who never wait and never see a mix, and the roles
tools read with (``segments grant``)."""

from __future__ import annotations

import threading
import time
from datetime import date, datetime, timedelta

import psycopg
import pyarrow as pa
import pytest

from segments.cli import main
from segments.contract import migrate
from segments.engines.postgres import PostgresConnection
from segments.publish import write_audit_publish as wap
from segments.publish.roles import grant_roles
from segments.publish.write_audit_publish import STAGED, RuleVersionInfo, publish
from segments.rules import OUTPUT_COLUMNS

pytestmark = pytest.mark.integration
RULES = RuleVersionInfo("v1", "a" * 64, "v1.yaml", "version: v1", date(2026, 1, 1), "me", "first")
PUBLISHED = (
    "customer_segments",
    "segment_history",
    "segment_changes",
    "segment_sizes",
    "runs",
    "rule_versions",
)


def _stage(con, run_id: str, as_of: date, customers: int, segment: str) -> None:
    """The rule engine's output for ``customers`` customers, all in ``segment`` (COPY'd in, for speed)."""
    con.execute(f"drop table if exists {STAGED}")
    con.execute(f"create table {STAGED} ({', '.join(f'{c} {t}' for c, t in OUTPUT_COLUMNS.items())})")
    ids = [f"c{i:06d}" for i in range(customers)]
    values = {
        "customer_id": ids, "scheme": "tier", "segment": segment, "rule_id": segment.lower(), "next_action": "act",
        "action_channel": "email", "action_owner": "sales", "action_priority": 1, "rule_version": RULES.version,
        "rules_sha256": RULES.sha256, "run_id": run_id, "as_of": as_of, "assigned_at": datetime(2026, 1, 1),
        "entity": "customer", "entity_id": ids, "experiment": None, "arm": "champion", "evidence": "{}",
    }  # fmt: skip
    columns = {c: v if isinstance(v, list) else [v] * customers for c, v in values.items()}
    columns["experiment"] = pa.array(columns["experiment"], pa.string())
    con.register("staged_rows", pa.table(columns))
    con.execute(f"insert into {STAGED} select * from staged_rows")
    con.unregister("staged_rows")


def _publish(con, tmp_path, run_id: str, as_of: date):
    return publish(
        con, run_id=run_id, as_of=as_of, rules=RULES, snapshot_path=tmp_path / "published" / "segments.duckdb",
        published_at=datetime.combine(as_of, datetime.min.time()) + timedelta(hours=3),
    )  # fmt: skip


def _published(con) -> dict[str, list[tuple]]:
    return {t: sorted(con.execute(f"select * from segments.{t}").fetchall(), key=repr) for t in PUBLISHED}


@pytest.fixture
def warehouse(postgres_dsn):
    con = PostgresConnection(postgres_dsn)
    migrate(con)
    yield con
    con.close()


def test_a_failure_mid_publish_leaves_the_published_tables_as_they_were(warehouse, tmp_path, monkeypatch):
    _stage(warehouse, "r1", date(2026, 1, 1), 50, "Gold")
    _publish(warehouse, tmp_path, "r1", date(2026, 1, 1))
    before = _published(warehouse)
    snapshot = (tmp_path / "published" / "segments.duckdb").read_bytes()

    swap = wap._swap_assignments

    def swap_then_fail(*args, **kwargs):  # after history, changes and the new segments are written
        swap(*args, **kwargs)
        raise RuntimeError("disk full")

    monkeypatch.setattr(wap, "_swap_assignments", swap_then_fail)
    _stage(warehouse, "r2", date(2026, 1, 2), 60, "Silver")
    with pytest.raises(RuntimeError, match="disk full"):
        _publish(warehouse, tmp_path, "r2", date(2026, 1, 2))
    assert _published(warehouse) == before
    assert (tmp_path / "published" / "segments.duckdb").read_bytes() == snapshot
    monkeypatch.setattr(wap, "_swap_assignments", swap)
    assert (
        _publish(warehouse, tmp_path, "r2", date(2026, 1, 2)).assignments == 60
    )  # nothing was left half-done


def test_a_reader_never_waits_and_sees_one_run_per_read(
    warehouse, postgres_dsn, logins, tmp_path, monkeypatch
):
    """A marketing tool's read-only login (segments_reader, by `segments grant`) polls during a publish."""
    _stage(warehouse, "r1", date(2026, 1, 1), 5_000, "Gold")
    _publish(warehouse, tmp_path, "r1", date(2026, 1, 1))
    tool = logins[0]
    grant_roles(warehouse, readers=[tool])
    _stage(warehouse, "r2", date(2026, 1, 2), 6_000, "Silver")
    swap = wap._swap_assignments
    holding = threading.Event()

    def swap_and_hold(*args, **kwargs):  # the publish transaction stays open, holding its locks, for a while
        rows = swap(*args, **kwargs)
        holding.set()
        time.sleep(1.5)
        return rows

    monkeypatch.setattr(wap, "_swap_assignments", swap_and_hold)
    reads: list[tuple[float, list[tuple], bool]] = []
    errors: list[BaseException] = []
    done = threading.Event()

    def read() -> None:
        try:
            with psycopg.connect(
                psycopg.conninfo.make_conninfo(postgres_dsn, user=tool), autocommit=True
            ) as reader:
                reader.execute("set statement_timeout = '1s'")  # waiting for a lock would fail the read
                while not done.is_set():
                    started = time.monotonic()
                    rows = reader.execute(
                        "select run_id, count(*), count(distinct segment) from segments.customer_segments "
                        "group by run_id"
                    ).fetchall()
                    reads.append((time.monotonic() - started, rows, holding.is_set()))
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=read)
    thread.start()
    try:
        _publish(warehouse, tmp_path, "r2", date(2026, 1, 2))
        time.sleep(0.2)
    finally:
        done.set()
        thread.join()
    assert errors == []
    assert {tuple(rows) for _, rows, _ in reads} == {(("r1", 5_000, 1),), (("r2", 6_000, 1),)}
    during = [rows for _, rows, held in reads if held and rows == [("r1", 5_000, 1)]]
    assert len(during) > 5  # read while the publish held its transaction open: the previous run, whole
    assert max(elapsed for elapsed, _, _ in reads) < 0.5
    assert reads[-1][1] == [("r2", 6_000, 1)]


def _can(dsn: str, role: str, sql: str) -> bool:
    with psycopg.connect(psycopg.conninfo.make_conninfo(dsn, user=role), autocommit=True) as con:
        try:
            con.execute(sql)
            return True
        except psycopg.errors.InsufficientPrivilege:
            return False


def _privileges(con) -> list[tuple]:
    """Every table privilege the two roles hold, in every schema."""
    return con.execute_native(
        """select grantee, table_schema, table_name, privilege_type from information_schema.role_table_grants
           where grantee in ('segments_reader', 'segments_auditor') order by 1, 2, 3, 4"""
    ).fetchall()


@pytest.fixture
def logins(postgres_dsn):
    names = [f"tool_{time.monotonic_ns()}", f"audit_{time.monotonic_ns()}"]
    with psycopg.connect(postgres_dsn, autocommit=True) as admin:
        for name in names:
            admin.execute(f'create role "{name}" login')
    yield names
    with psycopg.connect(postgres_dsn, autocommit=True) as admin:
        for name in names:
            admin.execute(f'drop role "{name}"')


def test_segments_grant_gives_readers_the_published_tables_only(
    warehouse, postgres_dsn, logins, pipeline_env, monkeypatch, capsys, tmp_path
):
    tool, auditor = logins
    _stage(warehouse, "r1", date(2026, 1, 1), 3, "Gold")
    _publish(warehouse, tmp_path, "r1", date(2026, 1, 1))
    for schema in ("accepted", "marts", "staging"):  # what the job keeps beside the published tables
        warehouse.execute(f"create schema {schema}")
        warehouse.execute(
            f"create table {schema}.customers as select 'Ada' as name, 'ada@example.com' as email"
        )
    if not warehouse.execute_native("select 1 from pg_roles where rolname = 'segments_reader'").fetchone():
        warehouse.execute_native("create role segments_reader nologin")
    warehouse.execute_native("grant usage on schema marts to segments_reader")  # left over: revoked below
    warehouse.execute_native("grant select on marts.customers, segments.runs to segments_reader")
    monkeypatch.setenv("SEGMENTS_TARGET", "postgres")
    monkeypatch.setenv("SEGMENTS_POSTGRES_DSN", postgres_dsn)

    assert main(["grant", "--login", tool, "--auditor", auditor]) == 0
    first = capsys.readouterr().out
    granted = _privileges(warehouse)
    assert main(["grant", "--login", tool, "--auditor", auditor]) == 0
    assert _privileges(warehouse) == granted  # the same again: nothing added, nothing lost
    assert capsys.readouterr().out == first.replace("(created)", "(updated)")
    assert "segments_reader (updated): select on 3 tables" in first  # it existed (with too much)
    assert "segments_auditor (" in first and "select on 11 tables" in first
    assert {(schema, table) for grantee, schema, table, _ in granted if grantee == "segments_reader"} == {
        ("segments", "customer_segments"), ("segments", "segment_changes"), ("segments", "segment_sizes"),
    }  # fmt: skip
    assert {privilege for *_, privilege in granted} == {"SELECT"}

    assert _can(postgres_dsn, tool, "select * from segments.customer_segments")
    assert _can(
        postgres_dsn, auditor, "select * from segments.segment_history join segments.runs using (run_id)"
    )
    refused = [
        "select * from segments.runs",
        "insert into segments.segment_sizes select * from segments.segment_sizes",
        "delete from segments.customer_segments",
        "update segments.customer_segments set segment = 'x'",
        "create table segments.mine (x int)",
        "select * from raw._loads",
        "select * from accepted.customers",
        "select * from marts.customers",
        "select * from staging.customers",
        f"select * from {STAGED}",
    ]
    assert [sql for sql in refused if _can(postgres_dsn, tool, sql)] == []
    assert [sql for sql in refused[1:] if _can(postgres_dsn, auditor, sql)] == []


def test_roles_granted_before_the_first_run_read_its_tables(postgres_dsn, logins, pipeline_env, monkeypatch):
    tool, auditor = logins
    monkeypatch.setenv("SEGMENTS_TARGET", "postgres")
    monkeypatch.setenv("SEGMENTS_POSTGRES_DSN", postgres_dsn)
    assert main(["grant", "--login", tool, "--auditor", auditor]) == 0  # an empty database: no tables yet
    with PostgresConnection(postgres_dsn) as con:
        migrate(con)  # the first run's migrations make the tables
    assert _can(postgres_dsn, tool, "select * from segments.customer_segments")
    assert not _can(postgres_dsn, tool, "select * from segments.quality_results")
    assert _can(postgres_dsn, auditor, "select * from segments.quality_results")


def test_grant_on_duckdb_points_at_the_snapshot(pipeline_env, capsys):
    assert main(["grant", "--login", "someone"]) == 1
    error = capsys.readouterr().err
    assert "roles are a PostgreSQL feature" in error
    assert str(pipeline_env / "published" / "segments.duckdb") in error
