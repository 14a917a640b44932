"""The customer value marts on Postgres, where dbt runs no Python models: a step between two dbt builds.

    dbt build ... UPSTREAM_SELECTION       everything the value models read (and nothing that reads them)
    build_value_tables(con)                marts.clv_fit and marts.customer_value, as the dbt Python models
    dbt build ... DOWNSTREAM_SELECTION     the value models' tests and everything downstream of them

The step reads the inputs with the same SQL the dbt Python models run on DuckDB, computes both tables with the
same library functions (:mod:`segments.value.marts`, in an in-memory DuckDB) and writes them in one
transaction: ``marts.clv_fit`` keeps its rows across runs with one row per model and as-of date (the dbt
model's incremental delete+insert on (model, as_of_date), new columns appended), ``marts.customer_value`` is
replaced. Column types are the DuckDB tables' in their Postgres spelling.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pandas as pd

from segments.sql import quote_identifier
from segments.value import marts

if TYPE_CHECKING:  # psycopg is needed only where the warehouse is Postgres
    import psycopg

# dbt selection arguments of the two builds around the step (after `dbt build --exclude-resource-type unit_test`).
# The second needs --indirect-selection empty: the value models' tests are selected as their descendants, and
# with dbt's default (eager) excluding a model would exclude its tests too.
VALUE_MODELS = "clv_fit customer_value"
UPSTREAM_SELECTION = ["--exclude", "clv_fit+ customer_value+"]
DOWNSTREAM_SELECTION = [
    "--select", "clv_fit+ customer_value+", "--exclude", VALUE_MODELS, "--indirect-selection", "empty",
]  # fmt: skip

CLV_FIT = "marts.clv_fit"
CUSTOMER_VALUE = "marts.customer_value"
FCT_ORDERS = "marts.fct_orders"
DIM_CUSTOMERS = "marts.dim_customers"
RUN_CONTEXT = "staging.stg_pipeline__run_context"
CLV_FIT_KEY = ("model", "as_of_date")  # the dbt model's unique_key

_TYPES = {
    "VARCHAR": "varchar",
    "BOOLEAN": "boolean",
    "INTEGER": "integer",
    "BIGINT": "bigint",
    "DOUBLE": "double precision",
    "DATE": "date",
    "TIMESTAMP": "timestamp",
}


def build_value_tables(
    con: psycopg.Connection, *, terms: marts.ValueTerms | None = None, fitted_at: datetime | None = None
) -> dict[str, int]:
    """Fit, score and write both tables on the Postgres connection ``con`` (psycopg 3); rows written per table.

    ``terms`` default to the dbt vars' defaults (see :func:`terms_from_manifest` for the project's own);
    ``fitted_at`` (UTC) to now."""
    terms = terms or marts.ValueTerms()
    fitted_at = fitted_at or datetime.now(UTC).replace(tzinfo=None)
    (as_of,) = _one_row(con, f"select as_of_date from {RUN_CONTEXT}")
    summary = marts.purchase_summary(_frame(con, marts.purchase_summary_sql(FCT_ORDERS, as_of)))
    customers = _frame(con, marts.customers_sql(DIM_CUSTOMERS, FCT_ORDERS, terms.gross_margin))
    customers = customers.astype({"acquisition_cost": "float64", "historical_clv": "float64"})
    with duckdb.connect() as engine:
        fit = marts.clv_fit_relation(engine, marts.fit_rows(summary, as_of, fitted_at=fitted_at))
        value = marts.customer_value_relation(engine, customers, summary, fit.df(), as_of=as_of, terms=terms)
        with con.transaction():
            fits = _merge(con, CLV_FIT, fit, CLV_FIT_KEY)
            values = _replace(con, CUSTOMER_VALUE, value)
    return {CLV_FIT: fits, CUSTOMER_VALUE: values}


def terms_from_manifest(manifest: Path) -> marts.ValueTerms:
    """The terms customer_value prices with in this project (its meta, rendered from the dbt vars)."""
    nodes = json.loads(manifest.read_text(encoding="utf-8"))["nodes"]
    return marts.ValueTerms.from_meta(nodes["model.segments.customer_value"]["config"]["meta"])


def postgres_type(duckdb_type: str) -> str:
    decimal = re.fullmatch(r"DECIMAL\((\d+),(\d+)\)", duckdb_type)
    if decimal:
        return f"numeric({decimal[1]},{decimal[2]})"
    return _TYPES[duckdb_type]


def _one_row(con, sql: str) -> tuple:
    rows = con.execute(sql).fetchall()
    if len(rows) != 1:
        raise ValueError(f"{sql}: expected one row, got {len(rows)}")
    return rows[0]


def _frame(con, sql: str) -> pd.DataFrame:
    cursor = con.execute(sql)
    return pd.DataFrame(cursor.fetchall(), columns=[column.name for column in cursor.description])


def _columns(relation) -> list[tuple[str, str]]:
    return [
        (name, postgres_type(str(kind))) for name, kind in zip(relation.columns, relation.types, strict=True)
    ]


def _create(con, table: str, columns: list[tuple[str, str]], *, if_not_exists: bool = False) -> None:
    schema = table.partition(".")[0]
    con.execute(f"create schema if not exists {quote_identifier(schema)}")
    ddl = ", ".join(f"{quote_identifier(name)} {kind}" for name, kind in columns)
    con.execute(f"create table {'if not exists ' if if_not_exists else ''}{table} ({ddl})")


def _copy(con, table: str, columns: list[tuple[str, str]], rows: list[tuple[Any, ...]]) -> int:
    names = ", ".join(quote_identifier(name) for name, _ in columns)
    with con.cursor().copy(f"copy {table} ({names}) from stdin") as copy:
        for row in rows:
            copy.write_row(row)
    return len(rows)


def _replace(con, table: str, relation) -> int:
    columns = _columns(relation)
    con.execute(f"drop table if exists {table}")
    _create(con, table, columns)
    return _copy(con, table, columns, relation.fetchall())


def _merge(con, table: str, relation, key: tuple[str, ...]) -> int:
    """dbt's incremental delete+insert: rows with the new rows' keys replaced, columns the table lacks added
    (on_schema_change: append_new_columns), every other row kept."""
    columns = _columns(relation)
    _create(con, table, columns, if_not_exists=True)
    schema, _, name = table.partition(".")
    existing = {
        column
        for (column,) in con.execute(
            "select column_name from information_schema.columns where table_schema = %s and table_name = %s",
            [schema, name],
        ).fetchall()
    }
    for column, kind in columns:
        if column not in existing:
            con.execute(f"alter table {table} add column {quote_identifier(column)} {kind}")
    rows = relation.fetchall()
    positions = [relation.columns.index(column) for column in key]
    keys = sorted({tuple(row[i] for i in positions) for row in rows})
    where = " and ".join(f"{quote_identifier(column)} = %s" for column in key)
    with con.cursor() as cursor:
        cursor.executemany(f"delete from {table} where {where}", keys)
    return _copy(con, table, columns, rows)
