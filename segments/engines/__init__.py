"""The warehouse engines: DuckDB (embedded, the default) and PostgreSQL (``SEGMENTS_TARGET=postgres``).

The stages speak DuckDB's connection API and DuckDB's SQL; on PostgreSQL a ``PostgresConnection``
(``segments.engines.postgres``) offers the same calls and generates each statement for PostgreSQL from its
syntax tree (``segments.engines.dialect``). ``segments.warehouse.connect`` picks the engine from the settings.
What the engines do differently, and cannot hide behind one call, asks ``dialect_of(con)``.
"""

from __future__ import annotations

import duckdb

from segments.errors import SegmentsError

__all__ = ["DatabaseError", "PostgresError", "dialect_of"]


class PostgresError(SegmentsError):
    """A statement PostgreSQL refused, with its message (and SQLSTATE in ``sqlstate``)."""

    def __init__(self, message: str, sqlstate: str | None = None):
        super().__init__(message)
        self.sqlstate = sqlstate
        self.statement: str | None = None  # the statement as sent to PostgreSQL


# what a statement on either engine may raise (DuckDB's own errors; PostgreSQL's, translated)
DatabaseError = (duckdb.Error, PostgresError)


def dialect_of(con) -> str:
    """``duckdb`` or ``postgres``: the SQL dialect of a warehouse connection."""
    return getattr(con, "dialect", "duckdb")


# information_schema.columns.data_type as PostgreSQL names it -> as DuckDB does (what the rule engine's type
# checks and the contract compare with)
_DUCKDB_TYPE_NAMES = {
    "character varying": "VARCHAR",
    "text": "VARCHAR",
    "character": "VARCHAR",
    "double precision": "DOUBLE",
    "real": "FLOAT",
    "smallint": "SMALLINT",
    "integer": "INTEGER",
    "bigint": "BIGINT",
    "numeric": "DECIMAL",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "timestamp without time zone": "TIMESTAMP",
    "timestamp with time zone": "TIMESTAMP WITH TIME ZONE",
    "json": "JSON",
    "jsonb": "JSON",
}


def duckdb_type_name(data_type: str) -> str:
    """A column's type as DuckDB's information_schema names it, whichever engine reported it."""
    return _DUCKDB_TYPE_NAMES.get(data_type.lower(), data_type.upper()) if data_type else data_type
