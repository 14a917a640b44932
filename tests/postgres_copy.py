"""Test helper: copy what dbt's sources read from a DuckDB warehouse into PostgreSQL, so the dbt project can be
built on both engines from the same inputs. A stand-in for the real Postgres loader: every relation named in
``dbt_project/models/staging/*/_*__sources.yml`` becomes a table of the same schema, name, columns and
(equivalent) types, filled with COPY."""

from __future__ import annotations

from pathlib import Path

import duckdb
import psycopg
import yaml

from segments.settings import DBT_PROJECT_DIR
from segments.sql import quote_identifier as q
from segments.value.step import postgres_type  # the value step's DuckDB -> PostgreSQL types

_BATCH = 10_000


def source_relations(project_dir: Path = DBT_PROJECT_DIR) -> list[tuple[str, str]]:
    """(schema, table) of every dbt source table, as the sources files declare them."""
    relations = []
    for path in sorted((project_dir / "models" / "staging").glob("*/_*__sources.yml")):
        for source in yaml.safe_load(path.read_text())["sources"]:
            schema = source.get("schema", source["name"])
            relations += [(schema, table.get("identifier", table["name"])) for table in source["tables"]]
    return relations


def copy_sources(warehouse: Path, dsn: str) -> dict[str, int]:
    """Replace the source tables in the database at ``dsn`` by those of ``warehouse``; rows per relation."""
    copied = {}
    with duckdb.connect(str(warehouse), read_only=True) as duck, psycopg.connect(dsn, autocommit=True) as pg:
        for schema, table in source_relations():
            columns = duck.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_schema = ? and table_name = ? order by ordinal_position",
                [schema, table],
            ).fetchall()
            target = f"{q(schema)}.{q(table)}"
            ddl = ", ".join(f"{q(name)} {postgres_type(kind)}" for name, kind in columns)
            with pg.transaction():
                pg.execute(f"create schema if not exists {q(schema)}")
                pg.execute(f"drop table if exists {target} cascade")
                pg.execute(f"create table {target} ({ddl})")
                names = ", ".join(q(name) for name, _ in columns)
                result = duck.execute(f"select {names} from {target}")
                with pg.cursor().copy(f"copy {target} ({names}) from stdin") as copy:
                    while rows := result.fetchmany(_BATCH):
                        for row in rows:
                            copy.write_row(row)
            copied[f"{schema}.{table}"] = pg.execute(f"select count(*) from {target}").fetchone()[0]
    return copied
