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


# what a statement on either engine may raise (DuckDB's own errors; PostgreSQL's, translated)
DatabaseError = (duckdb.Error, PostgresError)


def dialect_of(con) -> str:
    """``duckdb`` or ``postgres``: the SQL dialect of a warehouse connection."""
    return getattr(con, "dialect", "duckdb")
