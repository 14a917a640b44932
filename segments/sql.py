"""Quoting names and text into SQL, and asking the catalogue whether a table exists: the one place, used by
the rule compiler, the contract and every module that builds a statement (DuckDB's and Postgres' quoting
rules agree on these)."""

from __future__ import annotations

import duckdb


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_string(value: str) -> str:
    if "\x00" in value:
        raise ValueError("NUL characters cannot be used in SQL text")
    return "'" + value.replace("'", "''") + "'"


def table_exists(con: duckdb.DuckDBPyConnection, qualified: str) -> bool:
    schema, _, table = qualified.rpartition(".")
    return bool(
        con.execute(
            "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
            [schema or "main", table],
        ).fetchone()[0]
    )
