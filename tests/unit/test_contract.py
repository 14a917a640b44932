"""The contract of the tables Python owns: numbered migrations, the schema version a warehouse records, and
readers that name the command to run instead of guessing around an older schema."""

from __future__ import annotations

from datetime import datetime

import duckdb
import pytest

from segments.cli import main
from segments.contract import SCHEMA_VERSION, SchemaVersionError, migrate, require_current, schema_version
from segments.contract import migrations as contract_migrations
from segments.contract.migrations import MIGRATIONS_TABLE, Migration
from segments.contract.tables import TABLES, columns, readable
from segments.errors import SegmentsError
from segments.warehouse import open_read_only
from tests.conftest import held_elsewhere, query


def tables(con) -> set[str]:
    return {
        f"{schema}.{name}"
        for schema, name in con.execute(
            "select table_schema, table_name from information_schema.tables"
        ).fetchall()
    }


def older_release(path) -> None:
    """A warehouse as a release before schema versions left it: raw._loads without its encoding column,
    runs without most of today's columns."""
    with duckdb.connect(str(path)) as con:
        con.execute("create schema raw")
        con.execute(
            "create table raw._loads (entity varchar not null, file_name varchar not null, sha256 varchar not null, "
            "rows bigint not null, loaded_at timestamp not null, run_id varchar)"
        )
        con.execute(
            "insert into raw._loads values ('crm_accounts', 'a.csv', 'ab', 3, '2026-10-01 02:00', 'r0')"
        )
        con.execute("create schema segments")
        con.execute(
            "create table segments.runs (run_id varchar not null primary key, as_of date not null, "
            "status varchar not null, published_at timestamp)"
        )
        con.execute("insert into segments.runs values ('r0', '2026-10-01', 'published', '2026-10-01 02:30')")


def test_a_new_warehouse_gets_every_table_at_the_current_version_once():
    con = duckdb.connect()
    assert schema_version(con) is None
    applied = migrate(con, applied_at=datetime(2026, 12, 1, 2))
    assert [m.version for m in applied] == list(range(1, SCHEMA_VERSION + 1))
    assert set(TABLES) | {MIGRATIONS_TABLE} <= tables(con)
    assert schema_version(con) == SCHEMA_VERSION
    assert migrate(con) == []  # applied once: a later run finds nothing to do
    assert con.execute(f"select count(*) from {MIGRATIONS_TABLE}").fetchone() == (SCHEMA_VERSION,)


def test_an_older_release_is_version_0_and_migrates_keeping_its_rows(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    older_release(path)
    with duckdb.connect(str(path)) as con:
        assert schema_version(con) == 0
        migrate(con)
        assert schema_version(con) == SCHEMA_VERSION
        assert con.execute("select entity, rows, encoding from raw._loads").fetchall() == [
            ("crm_accounts", 3, None)
        ]
        assert con.execute("select run_id, status, failure from segments.runs").fetchall() == [
            ("r0", "published", None)
        ]


def test_readers_name_the_command_for_an_older_warehouse_and_migrate_fixes_it(tmp_path, capsys):
    path = tmp_path / "warehouse.duckdb"
    older_release(path)
    with pytest.raises(SegmentsError) as refused, open_read_only(path):
        pass
    assert str(refused.value) == (
        f"{path} was written by an older release (schema version 0, this release reads version "
        f"{SCHEMA_VERSION}): run `segments migrate --warehouse {path}` (the next `segments run` also does)"
    )
    assert main(["runs", "--warehouse", str(path)]) == 1
    assert "segments migrate" in capsys.readouterr().err

    assert main(["migrate", "--warehouse", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == f"{path}: schema version 0 -> {SCHEMA_VERSION}"
    assert "1  the tables of the releases before schema versions, brought up to date" in out
    with open_read_only(path) as con:
        assert schema_version(con) == SCHEMA_VERSION
    assert main(["runs", "--warehouse", str(path)]) == 0
    assert "r0" in capsys.readouterr().out
    assert main(["migrate", "--warehouse", str(path)]) == 0
    assert capsys.readouterr().out == f"{path}: at schema version {SCHEMA_VERSION} already, nothing to do\n"


def test_a_file_without_the_tables_is_read_as_it_is():
    con = duckdb.connect()  # a warehouse no run has used, or the published snapshot
    con.execute("create table customer_segments (customer_id varchar)")
    require_current(con, "snapshot.duckdb")


def test_a_newer_warehouse_is_refused_by_readers_and_by_migrate():
    con = duckdb.connect()
    migrate(con)
    con.execute(
        f"insert into {MIGRATIONS_TABLE} values (?, 'from the future', now(), '9.0')", [SCHEMA_VERSION + 1]
    )
    for attempt in (lambda: require_current(con, "wh.duckdb"), lambda: migrate(con)):
        with pytest.raises(SchemaVersionError, match=f"schema version {SCHEMA_VERSION + 1}, newer than"):
            attempt()


def test_a_failing_migration_leaves_the_warehouse_at_its_version(monkeypatch):
    con = duckdb.connect()
    migrate(con)

    def half_done(c):
        c.execute("alter table segments.runs add column half_done varchar")
        raise RuntimeError("stopped")

    broken = Migration(SCHEMA_VERSION + 1, "adds a column, then fails", half_done)
    monkeypatch.setattr(contract_migrations, "MIGRATIONS", [*contract_migrations.MIGRATIONS, broken])
    monkeypatch.setattr(contract_migrations, "SCHEMA_VERSION", broken.version)
    with pytest.raises(RuntimeError, match="stopped"):
        migrate(con)
    assert schema_version(con) == SCHEMA_VERSION  # the module's own constant: the version before
    columns = [r[0] for r in con.execute("describe segments.runs").fetchall()]
    assert "half_done" not in columns


def test_migrate_waits_for_no_run_it_refuses_while_one_holds_the_warehouse(tmp_path, capsys):
    path = tmp_path / "warehouse.duckdb"
    older_release(path)
    with held_elsewhere(path, "nightly-run"):
        assert main(["migrate", "--warehouse", str(path)]) == 1
    assert "nightly-run" in capsys.readouterr().err
    assert query(
        path, "select count(*) from information_schema.tables where table_name = 'schema_migrations'"
    ) == [(0,)]


def test_migrate_needs_a_warehouse(tmp_path, capsys):
    assert main(["migrate", "--warehouse", str(tmp_path / "none.duckdb")]) == 1
    assert (
        capsys.readouterr().err
        == f"error: no DuckDB file at {tmp_path / 'none.duckdb'}: nothing to migrate\n"
    )


def test_a_reader_of_a_warehouse_no_run_has_used_gets_empty_tables_with_the_contracts_columns():
    con = duckdb.connect()
    runs = readable(con, "segments.runs")
    assert con.execute(f"select run_id, as_of, failure from {runs}").fetchall() == []
    assert [d[0] for d in con.execute(f"select * from {runs}").description] == [
        c for c, _, _ in columns(TABLES["segments.runs"])
    ]
    migrate(con)
    assert readable(con, "segments.runs") == "segments.runs"
