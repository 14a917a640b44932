"""One customer's values as a one-row DuckDB relation, and SQL evaluated over it in an in-memory DuckDB.

Values are parameters (``?::TYPE`` when ``column_types`` gives the column's type, so a date stored as ISO text
compares as a date), and a column type must be a plain DuckDB type name (``DECIMAL(18,2)``,
``TIMESTAMP WITH TIME ZONE``, ``VARCHAR[]``): nothing from a rule file or from customer data is pasted into
SQL as text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import duckdb

from segments.sql import quote_identifier

from .model import Scheme

# A column type is pasted into `?::TYPE`, so only plain type names: INTEGER, DECIMAL(18,2), VARCHAR[],
# TIMESTAMP WITH TIME ZONE (one word or a known phrase; no quotes, nothing that could end the expression).
_TYPE = re.compile(
    r"^[A-Z][A-Z0-9_]*(?: WITH(?:OUT)? TIME ZONE| PRECISION| VARYING)?"
    r"(?:\(\s*\d+\s*(?:,\s*\d+\s*)?\))?(?:\[\d*\])*$",
    re.IGNORECASE,
)


def _lookup(mapping: Mapping[str, Any], name: str) -> tuple[bool, Any]:
    """``mapping[name]``, else the entry whose key equals ``name`` ignoring case (as DuckDB matches)."""
    if name in mapping:
        return True, mapping[name]
    lowered = name.lower()
    for key, value in mapping.items():
        if isinstance(key, str) and key.lower() == lowered:
            return True, value
    return False, None


def one_row_relation(
    columns: list[str], values: Mapping[str, Any], column_types: Mapping[str, str] | None
) -> tuple[str, list[Any], dict[str, str]]:
    """``(SELECT ?::T AS "c", ...)``, its parameters, and the type used for each typed column."""
    items, params, types = [], [], {}
    for name in columns:
        params.append(_lookup(values, name)[1])  # not given: NULL, like a NULL in the warehouse
        found, type_ = _lookup(column_types, name) if column_types is not None else (False, None)
        if found and type_ is not None:
            type_ = " ".join(str(type_).split())
            if not _TYPE.match(type_):
                raise ValueError(f"column {name!r}: {type_!r} is not a plain DuckDB type name")
            types[name] = type_
            items.append(f"?::{type_} AS {quote_identifier(name)}")
        else:
            items.append(f"? AS {quote_identifier(name)}")
    return (
        f"(SELECT {', '.join(items) or 'NULL AS _'}) AS {quote_identifier('rules__features')}",
        params,
        types,
    )


def as_boolean(sql: str) -> str:
    return f"CAST(({sql}) AS BOOLEAN)"  # what CASE WHEN / AND / OR do to a non-boolean operand


def _duckdb_message(exc: Exception) -> str:
    return " ".join(str(exc).split("\nLINE ")[0].split())


def evaluate_one_row(
    scheme: Scheme,
    columns: list[str],
    relation: str,
    params: list[Any],
    types: dict[str, str],
    case_sql: str,
    expressions: list[str],
    *,
    typed: bool,
) -> tuple[list[Any], Any, list[Any]]:
    """(values of ``columns``, the CASE's result, results of ``expressions``) in one SELECT when possible."""
    con = duckdb.connect(":memory:", config={"enable_external_access": False, "threads": 1})
    try:
        select = [*map(quote_identifier, columns), case_sql, *expressions]
        try:
            row = con.execute(f"SELECT {', '.join(select)} FROM {relation}", params).fetchone()
            assert row is not None
            n = len(columns)
            return list(row[:n]), row[n], list(row[n + 1 :])
        except duckdb.Error:
            pass  # find out what failed, one expression at a time
        for name, value in zip(columns, params, strict=True):
            if name in types:
                try:
                    con.execute(f"SELECT ?::{types[name]}", [value]).fetchall()
                except duckdb.Error as exc:
                    raise ValueError(
                        f"scheme {scheme.name}: cannot read {name} = {value!r} as {types[name]}: "
                        f"{_duckdb_message(exc)}"
                    ) from None

        def one(sql: str) -> Any:
            row = con.execute(f"SELECT {sql} FROM {relation}", params).fetchone()
            return row[0] if row else None

        try:
            read = [one(quote_identifier(c)) for c in columns]
            matched = one(case_sql)
        except duckdb.Error as exc:
            hint = "" if typed else " (pass column_types so the values are read with the warehouse's types)"
            raise ValueError(
                f"scheme {scheme.name}: DuckDB cannot evaluate the rules on these values: "
                f"{_duckdb_message(exc)}{hint}"
            ) from None
        results: list[Any] = []
        for sql in expressions:
            try:
                results.append(one(sql))
            except duckdb.Error:  # e.g. a cast that fails on its own but not within its condition
                results.append(None)
        return read, matched, results
    finally:
        con.close()
