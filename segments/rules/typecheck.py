"""Type-check rule conditions by letting DuckDB bind them against the feature catalogue's column types."""

from __future__ import annotations

from collections.abc import Mapping

import duckdb

from segments.sql import quote_identifier

from .expressions import Condition

_FORBIDDEN_IN_TYPES = (";", "--", "/*")


def type_check(conditions: Mapping[str, Condition], columns: Mapping[str, str]) -> dict[str, str]:
    """Bind every condition in a fresh in-memory DuckDB; returns ``{key: message}`` for those that fail.

    Each condition runs against a one-row relation of NULLs typed like the columns it reads (``NULL::T AS c``),
    so DuckDB binds it (type errors) and folds its constants (``recency_days > 'abc'``) without any data.
    The result must be BOOLEAN: a number or text is not a condition.
    """
    by_name = {name.lower(): (name, type_) for name, type_ in columns.items()}
    for name, type_ in columns.items():
        if not type_.strip() or any(bad in type_ for bad in _FORBIDDEN_IN_TYPES):
            raise ValueError(f"column {name!r}: {type_!r} is not a DuckDB type")
    failures: dict[str, str] = {}
    con = duckdb.connect(":memory:")
    try:
        for key, condition in conditions.items():
            used = [by_name[c.lower()] for c in sorted(condition.columns) if c.lower() in by_name]
            relation = ", ".join(f"NULL::{t} AS {quote_identifier(n)}" for n, t in used) or "NULL AS _"
            query = f"SELECT ({condition.sql}) AS matched FROM (SELECT {relation}) AS features"
            try:
                rel = con.sql(query)
                kind = str(rel.types[0])
                if kind != "BOOLEAN":
                    failures[key] = f"the condition must be true/false, but it is of type {kind}"
                    continue
                rel.fetchall()
            except duckdb.Error as exc:
                failures[key] = _duckdb_message(exc)
    finally:
        con.close()
    return failures


def _duckdb_message(exc: Exception) -> str:
    text = str(exc).split("\nLINE ")[0].strip()
    return "DuckDB cannot evaluate it: " + " ".join(text.split())
