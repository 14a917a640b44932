"""Quoting names and text into SQL: the one place, used by the rule compiler and every module that builds
a statement (DuckDB's and Postgres' quoting rules agree on these)."""

from __future__ import annotations


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_string(value: str) -> str:
    if "\x00" in value:
        raise ValueError("NUL characters cannot be used in SQL text")
    return "'" + value.replace("'", "''") + "'"
