"""DuckDB and PostgreSQL give the same answers from the same feature tables: the rule statement's rows
(segments, experiment arms, evidence text to the character), the published tables, the output fingerprint and
the snapshot file.

The feature tables are those of one DuckDB run on generated demo data, copied into a new DuckDB file and
into a new PostgreSQL database, so both engines start from the same rows and nothing else."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from orchestration.runner import run_job
from segments import features
from segments.contract import migrate
from segments.demo.generator import generate
from segments.engines.postgres import PostgresConnection, postgres_type
from segments.publish.snapshot import SNAPSHOT_TABLES
from segments.publish.write_audit_publish import STAGED, RuleVersionInfo, audit_staged, publish
from segments.rules import (
    REQUIRED_SCHEMES,
    RuleSet,
    active_version,
    assign_segments,
    challenger_for,
    load_rule_versions,
)
from segments.settings import DEFAULT_RULES_DIR, Settings
from tests.conftest import point_settings_at, postgres_database

pytestmark = pytest.mark.integration
AS_OF = date(2026, 12, 1)  # rule version 2026-12-01 is in force, with its win-back experiment
RUNS = (
    ("parity-1", AS_OF, datetime(2026, 12, 1, 3)),
    ("parity-2", date(2026, 12, 2), datetime(2026, 12, 2, 3)),
)


@pytest.fixture(scope="module")
def demo_warehouse(tmp_path_factory) -> Path:
    """A DuckDB warehouse the job built from 400 generated customers."""
    data = tmp_path_factory.mktemp("parity") / "data"
    with pytest.MonkeyPatch.context() as env:
        point_settings_at(env, data, DEFAULT_RULES_DIR)
        env.setenv("SEGMENTS_DUCKDB_MEMORY_LIMIT", "1GB")
        generate(data / "landing", customers=400, seed=7, as_of=AS_OF)
        outcome = run_job(as_of=AS_OF)
        assert outcome.success, outcome.failure
        return Settings.from_env().warehouse


def _feature_tables(demo: Path) -> dict[str, pa.Table]:
    with duckdb.connect(str(demo), read_only=True) as con:
        return {t: con.execute(f"select * from marts.{t}").to_arrow_table() for t in features.FEATURE_TABLES}


def _without_lists(table: pa.Table) -> pa.Table:
    """List columns as text (COPY's CSV has no lists; no rule reads one)."""
    for i, field in enumerate(table.schema):
        if pa.types.is_list(field.type):
            values = [None if v is None else str(v) for v in table.column(i).to_pylist()]
            table = table.set_column(i, field.name, pa.array(values, pa.string()))
    return table


def _load_duckdb(path: Path, tables: dict[str, pa.Table]):
    con = duckdb.connect(str(path))
    con.execute("create schema marts")
    for name, table in tables.items():
        con.register("feature_table", table)
        con.execute(f"create table marts.{name} as select * from feature_table")
        con.unregister("feature_table")
    return con


def _load_postgres(dsn: str, tables: dict[str, pa.Table]) -> PostgresConnection:
    con = PostgresConnection(dsn)
    con.execute("create schema marts")
    for name, table in tables.items():
        table = _without_lists(table)
        columns = ", ".join(f'"{f.name}" {postgres_type(f.type)}' for f in table.schema)
        con.execute_native(f"create table marts.{name} ({columns})")
        con.copy_arrow(f"marts.{name}", table)
    return con


def _versions(con) -> tuple[RuleSet, RuleSet | None]:
    tables = features.catalogue_from_warehouse(con)
    rule_sets = load_rule_versions(
        DEFAULT_RULES_DIR, features.entity_columns(tables), required_schemes=REQUIRED_SCHEMES
    )
    rules = active_version(rule_sets, AS_OF)
    return rules, challenger_for(rule_sets, rules)


def _info(rule_set: RuleSet) -> RuleVersionInfo:
    return RuleVersionInfo(
        rule_set.version, rule_set.sha256, rule_set.path.name, rule_set.text, rule_set.effective_from,
        rule_set.author, rule_set.description, rule_set.role,
    )  # fmt: skip


def _run(con, snapshot: Path) -> list[list[tuple]]:
    """Two nights on each engine: assign, audit, publish (the second night with a few segments moved)."""
    migrate(con)
    rules, challenger = _versions(con)
    assert rules.experiment is not None and challenger is not None  # the arms' hash is exercised
    tables = features.catalogue_from_warehouse(con)
    staged = []
    for run_id, as_of, at in RUNS:
        assign_segments(
            con, rules, source_sql=features.sources(tables), target_table=STAGED, run_id=run_id,
            as_of=as_of, assigned_at=at, challenger=challenger,
        )  # fmt: skip
        expected = {name: features.ENTITIES_SQL[s.entity] for name, s in rules.schemes.items()}
        assert audit_staged(con, expected=expected, run_id=run_id) == []
        staged.append(con.execute(f"select * from {STAGED} order by scheme, entity_id").fetchall())
        if run_id == "parity-2":
            con.execute(
                f"""update {STAGED} set segment = 'Moved ' || segment
                    where entity_id in (select entity_id from {STAGED} order by entity_id limit 5)"""
            )
        publish(
            con, run_id=run_id, as_of=as_of, rules=_info(rules), snapshot_path=snapshot, published_at=at,
            seen_versions=[_info(rules), _info(challenger)], challenger=_info(challenger),
            experiment=rules.experiment.name,
        )  # fmt: skip
    return staged


@pytest.fixture(scope="module")
def both(demo_warehouse, postgres_cluster, tmp_path_factory):
    folder = tmp_path_factory.mktemp("engines")
    tables = _feature_tables(demo_warehouse)
    duck = _load_duckdb(folder / "warehouse.duckdb", tables)
    pg = _load_postgres(postgres_database(postgres_cluster, "parity"), tables)
    try:
        staged = {
            "duckdb": _run(duck, folder / "duckdb.duckdb"),
            "postgres": _run(pg, folder / "postgres.duckdb"),
        }
        yield staged, duck, pg, folder
    finally:
        duck.close()
        pg.close()


def test_the_rule_statement_gives_the_same_rows_on_both_engines(both):
    staged, *_ = both
    duckdb_rows, postgres_rows = staged["duckdb"], staged["postgres"]
    assert len(duckdb_rows[0]) > 1000
    for night in range(len(RUNS)):
        assert postgres_rows[night] == duckdb_rows[night]  # every column, evidence text included
    rows = duckdb_rows[0]
    arms = {row[16] for row in rows}
    assert arms == {"champion", "challenger", "holdout"}
    evidence = [json.loads(row[17]) for row in rows]
    doubles = {value for e in evidence for value in e.values() if isinstance(value, float)}
    assert len(doubles) > 100  # doubles with fractions, whole doubles (100.0) and decimals were all compared
    assert any(float(v).is_integer() for v in doubles) and any(not float(v).is_integer() for v in doubles)


def test_published_tables_fingerprints_and_snapshots_are_the_same(both):
    _, duck, pg, folder = both
    query = "select run_id, output_fingerprint, assignments, customers from segments.runs order by as_of"
    assert pg.execute(query).fetchall() == duck.execute(query).fetchall()
    for table in ("customer_segments", "segment_history", "segment_changes", "segment_sizes"):
        assert (
            pg.execute(f"select count(*) from segments.{table}").fetchone()
            == duck.execute(f"select count(*) from segments.{table}").fetchone()
        )
    # the second night's rows that changed (moved, or new) got its time; the others kept the first night's
    changed = (
        "select count(*) filter (where updated_at = assigned_at), count(*) from segments.customer_segments"
    )
    assert pg.execute(changed).fetchone() == duck.execute(changed).fetchone()
    assert 5 <= duck.execute(changed).fetchone()[0] < duck.execute(changed).fetchone()[1]
    with (
        duckdb.connect(str(folder / "duckdb.duckdb"), read_only=True) as from_duckdb,
        duckdb.connect(str(folder / "postgres.duckdb"), read_only=True) as from_postgres,
    ):
        for table in (*SNAPSHOT_TABLES, "published_run"):
            layout = f"select column_name, data_type from information_schema.columns where table_name = '{table}' order by ordinal_position"
            assert from_postgres.execute(layout).fetchall() == from_duckdb.execute(layout).fetchall(), table
            rows = f"select * from {table} order by all"
            assert from_postgres.execute(rows).fetchall() == from_duckdb.execute(rows).fetchall(), table


# Conditions a rule may write whose PostgreSQL spelling or semantics differ from DuckDB's: integer division,
# division by zero (guarded), rounding halves, NULLs, date parts, string tests, list membership.
EXPRESSIONS = [
    "i / 2", "i / nullif(j, 0)", "n / 3", "round(x)", "round(x, 1)", "round(n, 1)", "round(i, -1)", "floor(x)",
    "ceil(x)", "abs(i)", "least(i, j)", "greatest(x, i)", "coalesce(i, 0)", "nullif(i, 1)", "i % 3",
    "date_diff('day', d1, d2)", "date_diff('month', d1, d2)", "date_diff('year', d1, d2)", "year(d1)",
    "month(d2)", "starts_with(s, 'A')", "ends_with(s, 'c')", "contains(s, 'b')", "length(s)", "lower(s)",
    "s ilike 'a%'", "s like '%b%'", "i between 0 and 2", "list_contains([1, 2], i)", "i in (1, 2)",
    "x is null", "not (i > 0)", "i > 0 or j > 0", "i > 0 and j > 0", "if(i > 0, 'pos', 'neg')",
]  # fmt: skip
ROWS = """(values (1, 2, 2.5::double, 12.25::decimal(18,2), 'Abc', date '2024-01-31', date '2024-03-01'),
                  (-7, 0, -2.5::double, -0.15::decimal(18,2), 'abc', date '2023-12-31', date '2024-01-01'),
                  (15, -4, 0.285::double, 1.05::decimal(18,2), '', date '2024-02-29', date '2025-02-28'),
                  (null, null, null, null, null, null, null)) as t(i, j, x, n, s, d1, d2)"""


def test_rule_expressions_mean_the_same_on_both_engines(postgres_dsn):
    with PostgresConnection(postgres_dsn) as pg, duckdb.connect() as duck:
        migrate(pg)  # the functions the PostgreSQL spelling calls
        for expression in EXPRESSIONS:
            query = f"select {expression} from {ROWS}"
            assert pg.execute(query).fetchall() == duck.execute(query).fetchall(), expression


def test_unpivot_gives_the_same_rows_on_both_engines(postgres_dsn):
    facts = "(values ('s1', 'retail', 'north'), ('s2', null, 'south'), ('s3', null, null)) as f(id, industry, region)"
    query = f"""with facts as (select * from {facts})
        select id, fact, fact_value from facts unpivot (fact_value for fact in (industry, region))
        order by id, fact"""
    with PostgresConnection(postgres_dsn) as pg, duckdb.connect() as duck:
        expected = [("s1", "industry", "retail"), ("s1", "region", "north"), ("s2", "region", "south")]
        assert duck.execute(query).fetchall() == expected
        assert pg.execute(query).fetchall() == expected
