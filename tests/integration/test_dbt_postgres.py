"""The dbt project on PostgreSQL gives the marts it gives on DuckDB, from the same inputs.

The DuckDB warehouse is built the normal way (the whole job on a small demo). What dbt's sources read is copied
into a fresh Postgres database (tests/postgres_copy.py); there dbt builds everything the value models read, the
value step (segments.value.step) builds marts.clv_fit and marts.customer_value, and dbt builds the rest. Every
mart is then compared column by column and row by row: floating point to 1e-9 relative, everything else exactly.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from orchestration.assets.transform import NIGHTLY_BUILD
from orchestration.runner import run_job
from segments.dbt_manifest import ensure_manifest
from segments.demo.generator import generate
from segments.engines.cluster import server_bin
from segments.settings import Settings
from segments.value.step import (
    DOWNSTREAM_SELECTION,
    UPSTREAM_SELECTION,
    build_value_tables,
    terms_from_manifest,
)
from tests.conftest import point_settings_at, postgres_database
from tests.integration.conftest import run_dbt_postgres
from tests.postgres_copy import copy_sources

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(server_bin() is None, reason="no PostgreSQL server is installed"),
]
psycopg = pytest.importorskip("psycopg")

AS_OF = date(2026, 12, 1)
CUSTOMERS = 600
RELATIVE_TOLERANCE = 1e-9
NOT_COMPARED = {"clv_fit": {"fitted_at"}}  # when the models were fitted: the clock, not the data
# DuckDB's type names as Postgres' format_type() spells them
POSTGRES_TYPES = {
    "VARCHAR": "character varying",
    "BOOLEAN": "boolean",
    "INTEGER": "integer",
    "BIGINT": "bigint",
    "DOUBLE": "double precision",
    "DATE": "date",
    "TIMESTAMP": "timestamp without time zone",
}


@dataclass(frozen=True)
class Engines:
    warehouse: Path  # DuckDB, built by the job
    dsn: str  # Postgres, built by dbt, the value step and dbt again
    database: str
    target: Path  # dbt's artifacts of the Postgres builds (and its parse, for the next invocation)


@pytest.fixture(scope="module")
def engines(postgres_cluster, tmp_path_factory) -> Engines:
    root = tmp_path_factory.mktemp("dbt_postgres")
    with pytest.MonkeyPatch.context() as env:
        point_settings_at(env, root / "data")
        generate(root / "data" / "landing", customers=CUSTOMERS, seed=42, as_of=AS_OF)
        outcome = run_job(as_of=AS_OF)
        assert outcome.success, outcome.failure
        warehouse = Settings.from_env().warehouse
    database = "dbt_equivalence"
    dsn = postgres_database(postgres_cluster, database)
    copy_sources(warehouse, dsn)
    target = root / "target"
    upstream = run_dbt_postgres(dsn, target, *NIGHTLY_BUILD, *UPSTREAM_SELECTION)
    assert upstream.returncode == 0, upstream.stdout[-4000:]
    with psycopg.connect(dsn, autocommit=True) as con:
        written = build_value_tables(con, terms=terms_from_manifest(ensure_manifest()))
    assert written["marts.clv_fit"] == 2
    downstream = run_dbt_postgres(dsn, target, *NIGHTLY_BUILD, *DOWNSTREAM_SELECTION)
    assert downstream.returncode == 0, downstream.stdout[-4000:]
    assert "PASS=10 " in downstream.stdout  # the value models' 6 tests, customer_features and its 3
    return Engines(warehouse, dsn, database, target)


def test_every_mart_is_the_same_on_both_engines(engines):
    with duckdb.connect(str(engines.warehouse), read_only=True) as duck, psycopg.connect(engines.dsn) as pg:
        duck_tables = _duckdb_columns(duck)
        pg_tables = _postgres_columns(pg)
        assert sorted(pg_tables) == sorted(duck_tables)
        assert len(duck_tables) >= 14
        mismatches = []
        for table, columns in sorted(duck_tables.items()):
            assert pg_tables[table] == [(name, _postgres_type(kind)) for name, kind in columns], table
            names = [name for name, _ in columns if name not in NOT_COMPARED.get(table, ())]
            select = f"select {', '.join(names)} from marts.{table}"
            duck_rows = sorted(duck.execute(select).fetchall(), key=_sort_key)
            pg_rows = sorted(pg.execute(select).fetchall(), key=_sort_key)
            assert len(duck_rows) == len(pg_rows) > 0, table
            for duck_row, pg_row in zip(duck_rows, pg_rows, strict=True):
                mismatches += [
                    f"{table}.{name}: {duck_value!r} (DuckDB) != {pg_value!r} (Postgres), row {duck_row}"
                    for name, duck_value, pg_value in zip(names, duck_row, pg_row, strict=True)
                    if not _same(duck_value, pg_value)
                ]
        assert mismatches == [], f"{len(mismatches)} differences, first: " + "\n".join(mismatches[:10])
        # the comparison covers the interesting parts: fitted models, priced buyers, potential segments
        assert pg.execute("select count(*) from marts.clv_fit where converged").fetchone()[0] == 2
        assert pg.execute("select count(predicted_clv) from marts.customer_value").fetchone()[0] > 100
        assert pg.execute("select count(*) from marts.potential_segments").fetchone()[0] > 0


def test_dbt_unit_tests_pass_on_postgres(engines):
    result = run_dbt_postgres(engines.dsn, engines.target, "test", "--select", "test_type:unit")
    results = json.loads((engines.target / "run_results.json").read_text())["results"]
    failed = {r["unique_id"]: r["message"] for r in results if r["status"] != "pass"}
    assert not failed, result.stdout[-4000:]
    assert result.returncode == 0 and len(results) >= 10, result.stdout[-4000:]


def test_the_value_step_keeps_a_row_per_model_and_as_of_date(engines, postgres_cluster):
    dsn = postgres_database(postgres_cluster, "value_step_rerun", template=engines.database)
    later = AS_OF + timedelta(days=7)
    with psycopg.connect(dsn, autocommit=True) as con:
        con.execute("alter table marts.clv_fit drop column note")  # a table from before a column was added
        build_value_tables(con, fitted_at=datetime(2030, 1, 1))  # the same as-of date again: replaced
        con.execute("update pipeline.run_context set as_of = %s", [later])
        build_value_tables(con, fitted_at=datetime(2030, 1, 2))  # a later one: added
        fits = con.execute(
            "select model, as_of_date, fitted_at, note from marts.clv_fit order by 2, 1"
        ).fetchall()
        values = con.execute("select as_of_date, count(*) from marts.customer_value group by 1").fetchall()
        customers = con.execute("select count(*) from marts.dim_customers").fetchone()[0]
    assert fits == [
        ("bgnbd", AS_OF, datetime(2030, 1, 1), None),
        ("gamma_gamma", AS_OF, datetime(2030, 1, 1), None),
        ("bgnbd", later, datetime(2030, 1, 2), None),
        ("gamma_gamma", later, datetime(2030, 1, 2), None),
    ]
    assert values == [(later, customers)]


def _duckdb_columns(con) -> dict[str, list[tuple[str, str]]]:
    tables: dict[str, list[tuple[str, str]]] = {}
    for table, column, kind in con.execute(
        "select table_name, column_name, data_type from information_schema.columns "
        "where table_schema = 'marts' order by table_name, ordinal_position"
    ).fetchall():
        tables.setdefault(table, []).append((column, kind))
    return tables


def _postgres_columns(con) -> dict[str, list[tuple[str, str]]]:
    tables: dict[str, list[tuple[str, str]]] = {}
    for table, column, kind in con.execute(
        """select c.relname, a.attname, format_type(a.atttypid, a.atttypmod)
           from pg_attribute as a
           join pg_class as c on c.oid = a.attrelid
           join pg_namespace as n on n.oid = c.relnamespace
           where n.nspname = 'marts' and c.relkind in ('r', 'v') and a.attnum > 0 and not a.attisdropped
           order by c.relname, a.attnum"""
    ).fetchall():
        tables.setdefault(table, []).append((column, kind))
    return tables


def _postgres_type(duckdb_type: str) -> str:
    if duckdb_type.endswith("[]"):
        return _postgres_type(duckdb_type[:-2]) + "[]"
    decimal = re.fullmatch(r"DECIMAL\((\d+),(\d+)\)", duckdb_type)
    return f"numeric({decimal[1]},{decimal[2]})" if decimal else POSTGRES_TYPES[duckdb_type]


def _sort_key(row: tuple) -> tuple:
    """Rows in the same order on both engines: by every value but the floating-point ones (which may differ
    in their last digits); nulls first."""
    return tuple((value is not None, "" if isinstance(value, float) else repr(value)) for value in row)


def _same(duck_value, pg_value) -> bool:
    if isinstance(duck_value, float) and isinstance(pg_value, float):
        if math.isnan(duck_value) or math.isnan(pg_value):
            return math.isnan(duck_value) and math.isnan(pg_value)
        return math.isclose(duck_value, pg_value, rel_tol=RELATIVE_TOLERANCE, abs_tol=0.0)
    return type(duck_value) is type(pg_value) and duck_value == pg_value
