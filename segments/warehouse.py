"""Opening the warehouse: the DuckDB file (the default) or PostgreSQL (``SEGMENTS_TARGET=postgres``).
Connections are short-lived: DuckDB allows one writing process, and dbt runs as a subprocess, so every step
closes its connection before the next one starts."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from segments.contract import require_current
from segments.errors import SegmentsError
from segments.settings import Settings
from segments.sql import quote_identifier as quote_ident
from segments.sql import quote_string as quote_literal
from segments.sql import table_exists

__all__ = [
    "connect",
    "describe",
    "open_for_reading",
    "open_read_only",
    "quote_ident",
    "quote_literal",
    "table_exists",
]


@contextmanager
def connect(settings: Settings, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection to the run's warehouse; on PostgreSQL a ``PostgresConnection``, which takes the same calls."""
    if settings.target == "postgres":
        from segments.engines.postgres import PostgresConnection  # psycopg: only for the postgres target

        con = PostgresConnection(settings.postgres_url, read_only=read_only)
        try:
            yield con
        finally:
            con.close()
        return
    path: Path = settings.warehouse
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(
        str(path),
        read_only=read_only,
        config={"memory_limit": settings.duckdb_memory_limit, "threads": settings.duckdb_threads},
    )
    try:
        con.execute("set enable_progress_bar = false")  # stdout is the summary's, or Dagster's log
        yield con
    finally:
        con.close()


@contextmanager
def open_read_only(path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A warehouse (or the snapshot) read-only, for the commands that read it; a clear error when it is missing,
    is not a DuckDB file, or the nightly job holds it."""
    if not path.is_file():
        raise SegmentsError(f"no DuckDB file at {path}: run `segments run` first, or pass its path")
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.IOException as exc:
        if "not a valid DuckDB database file" in str(exc):
            raise SegmentsError(f"{path} is not a DuckDB file: pass the warehouse or the snapshot") from None
        raise SegmentsError(
            f"cannot open {path} read-only ({str(exc).splitlines()[0]}): a job is probably writing it; "
            "try again when it has finished"
        ) from None
    try:
        con.execute("set enable_progress_bar = false")  # stdout carries the output (JSON, markdown)
        require_current(con, path)  # read-only: an older warehouse cannot be migrated here, only named
        yield con
    finally:
        con.close()


@contextmanager
def open_for_reading(settings: Settings, path: Path | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """The warehouse a reading command works on: ``path`` (a DuckDB warehouse or snapshot file, a command's
    ``--warehouse``) when given; else the run's warehouse, PostgreSQL for the postgres target (read-only
    transactions) or the DuckDB file."""
    if path is None and settings.target == "postgres":
        with connect(settings, read_only=True) as con:
            require_current(con, "the PostgreSQL warehouse")
            yield con
        return
    with open_read_only(path or settings.warehouse) as con:
        yield con


def describe(settings: Settings, path: Path | None = None) -> str:
    """How messages name the warehouse ``open_for_reading`` opens."""
    if path is None and settings.target == "postgres":
        return "the PostgreSQL warehouse"
    return str(path or settings.warehouse)
