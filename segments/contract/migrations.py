"""Numbered migrations of the tables Python owns, and the schema version each warehouse records.

A warehouse records every migration applied to it in ``segments.schema_migrations``; its schema version is the
highest number there. A run applies what is pending once, under the warehouse lock, before its first write
(``segments.guard.claim``); ``segments migrate`` does the same on demand. Readers open the warehouse
read-only and cannot migrate it: they check the version once (``require_current``) and say what to run.

To change the contract: edit ``tables.py`` (the tables as they are now) and append a migration here that takes
a warehouse at the previous version there. Migration 1 creates missing tables as ``tables.py`` declares them
now, so a new warehouse already has what later migrations add: write those idempotent (``add column if not
exists``, updates that find nothing to change). Never edit or renumber a migration that has been released.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata

import duckdb

from segments.contract.privileges import renew_grants
from segments.contract.tables import DDL, HISTORY_VIEW, KEYS, TABLES, UPDATED_AT, columns, key_sql
from segments.engines import dialect_of
from segments.engines.dialect import ANY_VALUE_DDL
from segments.engines.functions import FUNCTIONS_DDL
from segments.errors import SegmentsError

MIGRATIONS_TABLE = "segments.schema_migrations"
_MIGRATIONS_DDL = """
    version integer not null primary key, description varchar not null, applied_at timestamptz not null,
    release varchar"""


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    apply: Callable[[duckdb.DuckDBPyConnection], None]
    # In one transaction with its version row, all or none. DuckDB cannot update a table that was altered
    # in the same transaction: a migration that must is idempotent instead, and one stopped midway (a
    # killed process) is applied again from the start, as its version was not recorded.
    transactional: bool = True


class SchemaVersionError(SegmentsError):
    """A warehouse at a schema version this release cannot read as it is."""


# --- 1: the tables of the releases before schema versions, brought up to date -----------------------------
# Those releases upgraded their tables on every write, appending columns as they went: this migration does
# the same once, so it takes a new warehouse and a warehouse of any earlier release alike.

# Type migrations: (its type as DuckDB reports it, the contract's type). Naive timestamps were written as the
# writing machine's local time (datetime.now()); DuckDB reads them in its session time zone, which is the
# machine's own unless TimeZone is set, so they keep their instant.
_MIGRATED_TYPES = {("TIMESTAMP", "timestamptz")}
# Before history_key is backfilled: drop the zero-length entries older releases left when a day had two runs
# (the earlier run's entry, valid_from = valid_to). No date's answer changes: such an entry was never in
# force. The runs and their segment_changes keep the record.
_SUPERSEDED_SAME_DAY = """
delete from segments.segment_history_entries where rowid in (
    select rowid from segments.segment_history_entries
    qualify row_number() over (partition by scheme, entity_id, valid_from
                               order by recorded_at desc, rowid desc) > 1)"""
# Values for rows written before a column existed.
_BACKFILL = {
    "segments.customer_segments": {"entity": "'customer'", "entity_id": "customer_id", "arm": "'champion'"},
    "segments.segment_history_entries": {"entity": "'customer'", "entity_id": "customer_id"},
    "segments.segment_changes": {"entity": "'customer'", "entity_id": "customer_id"},
    "segments.rule_versions": {"role": "'champion'"},
}
for _table, (_column, _natural) in KEYS.items():
    _BACKFILL[_table][_column] = key_sql(*_natural)


def _tables_up_to_date(con: duckdb.DuckDBPyConnection) -> None:
    for schema in ("raw", "segments", "segments_staging"):
        con.execute(f"create schema if not exists {schema}")
    if (
        dialect_of(con) == "postgres"
    ):  # no PostgreSQL warehouse predates this migration: it can make them here
        for statement in ANY_VALUE_DDL:  # what the SQL generated for PostgreSQL calls (engines.dialect)
            con.raw.execute(statement)
    for table, ddl in TABLES.items():
        con.execute(f"create table if not exists {table} ({ddl})")
        schema, name = table.split(".")
        existing = {
            column: (nullable, type_)
            for column, nullable, type_ in con.execute(
                "select column_name, is_nullable, data_type from information_schema.columns "
                "where table_schema = ? and table_name = ?",
                [schema, name],
            ).fetchall()
        }
        for column, type_, not_null in columns(ddl):
            if column not in existing:
                if column == "history_key":
                    con.execute(_SUPERSEDED_SAME_DAY)
                con.execute(f"alter table {table} add column {column} {type_}")
                fill = _BACKFILL.get(table, {}).get(column)
                if fill:
                    con.execute(f"update {table} set {column} = {fill} where {column} is null")
                continue
            nullable, old_type = existing[column]
            if table in DDL and (old_type, type_) in _MIGRATED_TYPES:
                con.execute(f"alter table {table} alter column {column} type {type_}")
            if not not_null and nullable == "NO":
                con.execute(f"alter table {table} alter column {column} drop not null")
    con.execute(HISTORY_VIEW)


# --- 2: updated_at beside each published key; PostgreSQL's functions for DuckDB's semantics ---------------
# Rows published before it get the best time on record: a customer_segments row the time of its key's latest
# history entry (history gets an entry whenever segment, rule, action, channel, version or arm changes), else
# its assigned_at; history entries and changes their recorded_at.


def _updated_at(con: duckdb.DuckDBPyConnection) -> None:
    if dialect_of(con) == "postgres":  # what the SQL generated for PostgreSQL calls (engines.functions)
        for statement in FUNCTIONS_DDL:
            con.raw.execute(statement)
    for table in KEYS:
        con.execute(f"alter table {table} add column if not exists {UPDATED_AT} timestamptz")
    con.execute(
        f"""update segments.customer_segments set {UPDATED_AT} = latest.recorded_at
        from (select scheme, entity_id, max(recorded_at) as recorded_at from segments.segment_history_entries
              group by scheme, entity_id) latest
        where customer_segments.{UPDATED_AT} is null and latest.scheme = customer_segments.scheme
          and latest.entity_id = customer_segments.entity_id"""
    )
    con.execute(
        f"update segments.customer_segments set {UPDATED_AT} = assigned_at where {UPDATED_AT} is null"
    )
    for table in ("segments.segment_history_entries", "segments.segment_changes"):
        con.execute(f"update {table} set {UPDATED_AT} = recorded_at where {UPDATED_AT} is null")
    con.execute(HISTORY_VIEW)


MIGRATIONS: list[Migration] = [
    Migration(
        1,
        "the tables of the releases before schema versions, brought up to date",
        _tables_up_to_date,
        transactional=False,  # alters tables, then backfills them; idempotent
    ),
    Migration(
        2,
        "updated_at on customer_segments, segment_history and segment_changes (for tools that sync changed rows)",
        _updated_at,
        transactional=False,  # adds columns, then fills them (DuckDB: not in one transaction); idempotent
    ),
]
SCHEMA_VERSION = MIGRATIONS[-1].version


def schema_version(con: duckdb.DuckDBPyConnection) -> int | None:
    """The warehouse's schema version: 0 for tables of a release before schema versions, None when it holds
    none of the tables Python owns (a new warehouse, or a file that is not a warehouse, like the snapshot)."""
    names = [table.split(".") for table in (*TABLES, MIGRATIONS_TABLE)]
    found = {
        f"{schema}.{name}"
        for schema, name in con.execute(
            "select table_schema, table_name from information_schema.tables",
        ).fetchall()
        if [schema, name] in names
    }
    if MIGRATIONS_TABLE in found:
        return con.execute(f"select coalesce(max(version), 0) from {MIGRATIONS_TABLE}").fetchone()[0]
    return 0 if found else None


def migrate(con: duckdb.DuckDBPyConnection, *, applied_at: datetime | None = None) -> list[Migration]:
    """Apply the pending migrations, each with its version row; returns them. Call it outside a transaction.
    A warehouse already at ``SCHEMA_VERSION`` costs one query."""
    version = schema_version(con) or 0
    if version > SCHEMA_VERSION:
        raise SchemaVersionError(_newer(version))
    pending = [m for m in MIGRATIONS if m.version > version]
    if not pending:
        return []
    con.execute("create schema if not exists segments")
    con.execute(f"create table if not exists {MIGRATIONS_TABLE} ({_MIGRATIONS_DDL})")
    for migration in pending:
        if migration.transactional:
            con.execute("begin transaction")
        try:
            migration.apply(con)
            con.execute(
                f"insert into {MIGRATIONS_TABLE} values (?, ?, ?, ?)",
                [migration.version, migration.description, applied_at or datetime.now(UTC), _release()],
            )
            if migration.transactional:
                con.execute("commit")
        except BaseException:
            if migration.transactional:
                con.execute("rollback")
            raise
    if dialect_of(con) == "postgres":  # tables a migration made are readable by the roles at once
        renew_grants(con)
    return pending


def require_current(con: duckdb.DuckDBPyConnection, where: object) -> None:
    """For readers: a clear error when ``where`` (the warehouse's path) is at another schema version. A file
    with none of the tables (a new warehouse, the snapshot) passes: there is nothing to read wrongly."""
    version = schema_version(con)
    if version is None or version == SCHEMA_VERSION:
        return
    if version > SCHEMA_VERSION:
        raise SchemaVersionError(f"{where}: {_newer(version)}")
    raise SchemaVersionError(
        f"{where} was written by an older release (schema version {version}, this release reads version "
        f"{SCHEMA_VERSION}): run `segments migrate --warehouse {where}` (the next `segments run` also does)"
    )


def _newer(version: int) -> str:
    return (
        f"the warehouse is at schema version {version}, newer than this release knows ({SCHEMA_VERSION}): "
        "install the release that wrote it"
    )


def _release() -> str | None:
    try:
        return metadata.version("segments")
    except metadata.PackageNotFoundError:
        return None
