"""The columns rule expressions may use, per entity level, and the queries that feed the rule engine.

- ``customer`` (the buying unit: a B2B account, a B2C person or a guest): customer_features, then
  customer_behaviour, then dim_customers; a column present in several of these tables is taken from the first.
- ``account``: the same columns, B2B accounts only.
- ``contact``: contact_features, one row per person in the CRM (B2C customers and the contacts at accounts).

The catalogue comes from the warehouse at run time and from dbt's manifest (the enforced contracts) when
validating rules offline.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from segments.engines import duckdb_type_name
from segments.errors import SegmentsError
from segments.warehouse import quote_ident

CUSTOMER_TABLES = ("customer_features", "customer_behaviour", "dim_customers")
CONTACT_TABLE = "contact_features"
FEATURE_TABLES = (*CUSTOMER_TABLES, CONTACT_TABLE)
SCHEMA = "marts"
ENTITY_KEYS = {"customer": "customer_id", "account": "customer_id", "contact": "contact_id"}


def catalogue_from_warehouse(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, str]]:
    """``{table: {column: type}}`` of the feature tables in the warehouse."""
    rows = con.execute(
        """select table_name, column_name, data_type from information_schema.columns
           where table_schema = ? and table_name in (select unnest(cast(? as varchar[])))
           order by table_name, ordinal_position""",
        [SCHEMA, list(FEATURE_TABLES)],
    ).fetchall()
    tables: dict[str, dict[str, str]] = {t: {} for t in FEATURE_TABLES}
    for table, column, data_type in rows:
        tables[table][column] = duckdb_type_name(data_type)  # the rule engine's type names
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
    """The customer-level columns: customer_features, then customer_behaviour, then dim_customers."""
    columns: dict[str, str] = {}
    for table in CUSTOMER_TABLES:
        for name, data_type in tables[table].items():
            columns.setdefault(name, data_type)
    return columns


def entity_columns(tables: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    """``{entity: {column: type}}`` for the rule loader."""
    customer = flatten(tables)
    return {"customer": customer, "account": dict(customer), "contact": dict(tables[CONTACT_TABLE])}


def source_sql(tables: dict[str, dict[str, str]]) -> str:
    """One row per customer with every customer-level feature column."""
    aliases = dict(zip(CUSTOMER_TABLES, ("f", "b", "d"), strict=True))
    seen: set[str] = set()
    select = []
    for table in CUSTOMER_TABLES:
        for name in tables[table]:
            if name not in seen:
                seen.add(name)
                select.append(f"{aliases[table]}.{quote_ident(name)}")
    return (
        f"select {', '.join(select)} from {SCHEMA}.customer_features f "
        f"join {SCHEMA}.customer_behaviour b using (customer_id) "
        f"join {SCHEMA}.dim_customers d using (customer_id)"
    )


def sources(tables: dict[str, dict[str, str]]) -> dict[str, str]:
    """``{entity: query}`` for the rule engine: ``entity_id``, ``customer_id`` and every feature column."""
    customers = source_sql(tables)
    return {
        "customer": f"select customer_id as entity_id, * from ({customers})",
        "account": f"select customer_id as entity_id, * from ({customers}) where customer_type = 'b2b'",
        "contact": f"select contact_id as entity_id, * from {SCHEMA}.{CONTACT_TABLE}",
    }


ENTITIES_SQL = {
    "customer": f"select customer_id as entity_id from {SCHEMA}.dim_customers",
    "account": f"select customer_id as entity_id from {SCHEMA}.dim_customers where customer_type = 'b2b'",
    "contact": f"select contact_id as entity_id from {SCHEMA}.{CONTACT_TABLE}",
}


def built_by(con: duckdb.DuckDBPyConnection, *, allow_unpublished: bool = False) -> str | None:
    """Which run built the feature tables, as a line for the user; refuse tables a run left behind.

    A run writes its as-of date (``pipeline.run_context``) before dbt rebuilds the marts, so after a run
    that failed or was stopped the marts hold that run's day (or a mix, if dbt stopped half-way), not what the
    snapshot says. Commands that evaluate rules on them (diff, lint, experiment reports) say what they read,
    and refuse the leftovers of a run that did not publish unless ``allow_unpublished``. None: the warehouse
    has no run records (built by hand, or by dbt alone), so there is nothing to say."""
    has = con.execute(
        "select count(*) from information_schema.tables where table_schema || '.' || table_name in "
        "('pipeline.run_context', 'segments.runs')"
    ).fetchone()[0]
    if has < 2:
        return None
    row = con.execute(
        """select c.run_id, c.as_of, r.status, r.failure,
                  (select max(as_of) from segments.runs where status = 'published')
           from pipeline.run_context c left join segments.runs r using (run_id)"""
    ).fetchone()
    if row is None:
        return None
    run_id, as_of, status, failure, last_published = row
    if status == "published":
        return f"features as of {as_of} (built by run {run_id}, published)"
    why = f"{status}: {failure}" if status else "unfinished: it is still running or its process died"
    line = (
        f"features as of {as_of} were built by run {run_id}, which did not publish ({why}); the last "
        f"published run is as of {last_published or 'never'}"
    )
    if not allow_unpublished:
        raise SegmentsError(
            f"{line}. Run `segments run` again, or pass --allow-unpublished to evaluate them anyway"
        )
    return line
