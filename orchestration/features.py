"""The columns rule expressions may use: customer_features, then customer_behaviour, then dim_customers.

A column present in several of these tables is taken from the first. The catalogue comes from the
warehouse at run time and from dbt's manifest (the enforced contracts) when validating rules offline.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from orchestration.warehouse import quote_ident

FEATURE_TABLES = ("customer_features", "customer_behaviour", "dim_customers")
SCHEMA = "marts"


def catalogue_from_warehouse(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, str]]:
    rows = con.execute(
        """select table_name, column_name, data_type from information_schema.columns
           where table_schema = ? and table_name in (select unnest(?::varchar[]))
           order by table_name, ordinal_position""",
        [SCHEMA, list(FEATURE_TABLES)],
    ).fetchall()
    tables: dict[str, dict[str, str]] = {t: {} for t in FEATURE_TABLES}
    for table, column, data_type in rows:
        tables[table][column] = data_type
    missing = [t for t, cols in tables.items() if not cols]
    if missing:
        raise LookupError(f"warehouse has no {', '.join(f'{SCHEMA}.{t}' for t in missing)}: run dbt first")
    return tables


def catalogue_from_manifest(manifest: Path) -> dict[str, dict[str, str]]:
    nodes = json.loads(manifest.read_text(encoding="utf-8"))["nodes"].values()
    tables: dict[str, dict[str, str]] = {}
    for node in nodes:
        if node.get("resource_type") == "model" and node["name"] in FEATURE_TABLES:
            tables[node["name"]] = {
                name: (col.get("data_type") or "VARCHAR").upper() for name, col in node["columns"].items()
            }
    missing = [t for t in FEATURE_TABLES if t not in tables]
    if missing:
        raise LookupError(f"{manifest}: no model {', '.join(missing)}")
    return {t: tables[t] for t in FEATURE_TABLES}


def flatten(tables: dict[str, dict[str, str]]) -> dict[str, str]:
    columns: dict[str, str] = {}
    for table in FEATURE_TABLES:
        for name, data_type in tables[table].items():
            columns.setdefault(name, data_type)
    return columns


def source_sql(tables: dict[str, dict[str, str]]) -> str:
    """One row per customer with every feature column, for the rule engine."""
    aliases = dict(zip(FEATURE_TABLES, ("f", "b", "d"), strict=True))
    seen: set[str] = set()
    select = []
    for table in FEATURE_TABLES:
        for name in tables[table]:
            if name not in seen:
                seen.add(name)
                select.append(f"{aliases[table]}.{quote_ident(name)}")
    return (
        f"select {', '.join(select)} from {SCHEMA}.customer_features f "
        f"join {SCHEMA}.customer_behaviour b using (customer_id) "
        f"join {SCHEMA}.dim_customers d using (customer_id)"
    )


CUSTOMERS_SQL = f"select customer_id from {SCHEMA}.dim_customers"
