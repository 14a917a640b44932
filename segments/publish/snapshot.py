"""The read-only snapshot file tools read (``published/segments.duckdb``): schema ``segments`` exported to a new
file and renamed into place, after every publish and after a failed run (so its ``runs`` list that run too).

On PostgreSQL the file is the export of the published tables for tools that read DuckDB files: each table is
read in one REPEATABLE READ transaction (all tables as of one moment), streamed by COPY and parsed into
Arrow tables as it arrives, into a new DuckDB file with the types the DuckDB warehouse would have given it.
"""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from segments.contract import migrate
from segments.contract.tables import SNAPSHOT_KEYS
from segments.engines import dialect_of, duckdb_type_name
from segments.errors import PublishError
from segments.warehouse import quote_ident, quote_literal

SNAPSHOT_TABLES = (
    "customer_segments",
    "rule_versions",
    "segment_history",
    "segment_changes",
    "runs",
    "segment_sizes",
    "rule_version_impact",
    "experiment_assignments",
    "clv_fits",
    "quality_results",
)
# The snapshot's own table: one row saying which published run it holds and when the file was last written
# (after that run's publish, or after a later run failed: see refresh_snapshot_runs).
PUBLISHED_RUN = """
    run_id varchar not null primary key, as_of date not null, rule_version varchar not null,
    rules_sha256 varchar not null, published_at timestamptz not null, customers bigint not null,
    refreshed_at timestamptz not null"""


def export_snapshot(
    con: duckdb.DuckDBPyConnection, path: Path, *, run_id: str, refreshed_at: datetime | None = None
) -> None:
    """Write schema ``segments`` to a new file next to ``path`` and rename it into place (atomic on POSIX).

    ``run_id``: the published run schema ``segments`` holds (its ``published_run`` row). Readers that opened
    the old file keep reading it; the next open sees the new one. Never written in place.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    if dialect_of(con) == "postgres":
        try:
            _export_from_postgres(con, tmp, run_id=run_id, refreshed_at=refreshed_at or datetime.now(UTC))
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        os.replace(tmp, path)
        return
    alias = "segments_snapshot"
    con.execute(f"attach {quote_literal(str(tmp))} as {alias}")
    try:
        for table in SNAPSHOT_TABLES:
            con.execute(f"create table {alias}.main.{table} as select * from segments.{table}")
            if table in SNAPSHOT_KEYS:
                con.execute(f"alter table {alias}.main.{table} add primary key ({SNAPSHOT_KEYS[table]})")
        con.execute(f"create table {alias}.main.published_run ({PUBLISHED_RUN})")
        inserted = con.execute(
            f"""insert into {alias}.main.published_run
            select run_id, as_of, rule_version, rules_sha256, published_at, customers, ?
            from segments.runs where run_id = ? and status = 'published'""",
            [refreshed_at or datetime.now(UTC), run_id],
        ).fetchone()[0]
        if inserted != 1:
            raise PublishError(f"run {run_id} is not a published run; the snapshot was left as it was")
    except Exception:
        con.execute(f"detach {alias}")
        tmp.unlink(missing_ok=True)
        raise
    con.execute(f"detach {alias}")
    os.replace(tmp, path)


def _export_from_postgres(con, tmp: Path, *, run_id: str, refreshed_at: datetime) -> None:
    snapshot = duckdb.connect(str(tmp))
    con.raw.execute("begin isolation level repeatable read read only")
    con.raw.execute("set local timezone = 'UTC'")  # instants written as +00, which Arrow's parser reads
    try:
        for table in SNAPSHOT_TABLES:
            columns = con.execute(
                """select column_name, data_type from information_schema.columns
                   where table_schema = 'segments' and table_name = ? order by ordinal_position""",
                [table],
            ).fetchall()
            names = ", ".join(quote_ident(name) for name, _ in columns)
            snapshot.execute(
                f"create table main.{table} ("
                + ", ".join(f"{quote_ident(name)} {duckdb_type_name(type_)}" for name, type_ in columns)
                + ")"
            )
            for batch in con.arrow_batches(f"select {names} from segments.{table}"):
                snapshot.register("snapshot_batch", batch)
                snapshot.execute(f"insert into main.{table} select * from snapshot_batch")
                snapshot.unregister("snapshot_batch")
            if table in SNAPSHOT_KEYS:
                snapshot.execute(f"alter table main.{table} add primary key ({SNAPSHOT_KEYS[table]})")
        row = con.execute(
            """select run_id, as_of, rule_version, rules_sha256, published_at, customers
            from segments.runs where run_id = ? and status = 'published'""",
            [run_id],
        ).fetchone()
        if row is None:
            raise PublishError(f"run {run_id} is not a published run; the snapshot was left as it was")
        snapshot.execute(f"create table main.published_run ({PUBLISHED_RUN})")
        snapshot.execute("insert into main.published_run values (?, ?, ?, ?, ?, ?, ?)", [*row, refreshed_at])
    finally:
        con.raw.execute("rollback")  # it only read
        snapshot.close()


def refresh_snapshot_runs(
    con: duckdb.DuckDBPyConnection, path: Path, *, refreshed_at: datetime | None = None
) -> bool:
    """After a failed run: rewrite the snapshot so its ``runs`` (and ``quality_results``) include that run, its
    published data unchanged. Write-audit-publish leaves schema ``segments`` holding the last published run
    after a failure, so the snapshot is exported from it again, to a new file renamed into place like after a
    publish. False (nothing written) when no run has been published or no snapshot exists yet: the first
    publish carries the failed runs before it."""
    if not path.exists():
        return False
    migrate(con)
    last = con.execute(
        """select run_id from segments.runs where status = 'published'
           order by as_of desc, published_at desc limit 1"""
    ).fetchone()
    if last is None:
        return False
    export_snapshot(con, path, run_id=last[0], refreshed_at=refreshed_at)
    return True
