"""What a run does before its first write, and who may write at all.

``claim`` takes the warehouse's lock (a second run is refused at once, naming the holder), brings the
warehouse's tables to this release's schema version (``contract.migrate``), runs the preflight checks
(``preflight.check``), and tidies up after a run whose process died: it is recorded as
failed ("interrupted"), and temporary files it left next to the snapshot and the reports are removed.
A run refused because the warehouse was locked cannot write to it (the holder does), nor can the failure of a
run that is recorded while another run holds it: such records are kept in ``<warehouse>.unrecorded.jsonl``
and moved into ``segments.runs`` by the next run that holds the lock.

Used by ``runner.run_job`` (the CLI, the benchmark, the tests) before Dagster starts, and by the job's
``warehouse`` resource for runs launched from the UI or the schedule.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from segments import lock, preflight
from segments.contract import migrate, schema_version
from segments.contract.migrations import Migration
from segments.engines import DatabaseError
from segments.publish.snapshot import refresh_snapshot_runs
from segments.publish.write_audit_publish import record_failed_run
from segments.reports.data_docs import write_data_docs
from segments.settings import Settings
from segments.warehouse import connect

log = logging.getLogger(__name__)


def unrecorded_path(warehouse: Path) -> Path:
    return warehouse.with_name(warehouse.name + ".unrecorded.jsonl")


@contextmanager
def claimed(settings: Settings, *, run_id: str, as_of: date, accept_drift: bool = False) -> Iterator[None]:
    claim(settings, run_id=run_id, as_of=as_of, accept_drift=accept_drift)
    try:
        yield
    finally:
        lock.release(settings.warehouse)


def claim(settings: Settings, *, run_id: str, as_of: date, accept_drift: bool = False) -> None:
    """Hold the warehouse for ``run_id`` and check the run can work; raises ``lock.WarehouseLocked`` or
    ``preflight.PreflightError`` (both recorded as refused), the lock released again."""
    already_mine = lock.held_by_this_process(settings.warehouse) is not None
    try:
        interrupted = _acquire(settings, run_id=run_id, as_of=as_of.isoformat())
    except lock.WarehouseLocked as exc:
        keep_for_later(
            settings.warehouse,
            run_id=run_id,
            as_of=as_of,
            status="refused",
            reason=str(exc),
            accept_drift=accept_drift,
        )
        raise
    if already_mine:  # the CLI claimed it before Dagster started; the job's resource finds it claimed
        return
    try:
        _recover(settings, interrupted)
        with connect(settings) as con:  # once per run, before anything reads the tables Python owns
            migrate(con)
        preflight.check(settings, as_of)
    except preflight.PreflightError as exc:
        _record_refusal(settings, run_id=run_id, as_of=as_of, reason=str(exc), accept_drift=accept_drift)
        lock.release(settings.warehouse)
        raise
    except BaseException:
        lock.release(settings.warehouse)
        raise


def _acquire(settings: Settings, *, run_id: str, as_of: str | None = None) -> lock.Holder | None:
    """The warehouse's lock: the lock file beside it, and on PostgreSQL an advisory lock in the database."""
    dsn = settings.postgres_url if settings.target == "postgres" else None
    return lock.acquire(settings.warehouse, run_id=run_id, as_of=as_of, postgres_dsn=dsn)


def migrate_warehouse(settings: Settings) -> tuple[int | None, list[Migration]]:
    """``segments migrate``: under the lock, like a run (a run holding it refuses this at once, naming the
    run), bring the warehouse to this release's schema version. Returns the version it was at and the
    migrations applied. A run that died holding the lock is recorded first, as the next run would."""
    interrupted = _acquire(settings, run_id="segments-migrate")
    try:
        _recover(settings, interrupted)
        with connect(settings) as con:
            before = schema_version(con)
            return before, migrate(con)
    finally:
        lock.release(settings.warehouse)


def keep_for_later(
    warehouse: Path, *, run_id: str, as_of: date, status: str, reason: str, accept_drift: bool,
    started_at: datetime | None = None,
) -> None:  # fmt: skip
    """A run that did not publish, for the next run holding the lock to record (``status``: refused |
    failed)."""
    now = datetime.now(UTC)
    entry = {
        "run_id": run_id,
        "as_of": as_of.isoformat(),
        "status": status,
        "started_at": (started_at or now).astimezone(UTC).isoformat(),
        "finished_at": now.isoformat(),
        "reason": reason,
        "accept_drift": accept_drift,
    }
    try:
        with unrecorded_path(warehouse).open("a", encoding="utf-8") as journal:
            journal.write(json.dumps(entry) + "\n")  # one short line: concurrent appends stay whole
    except OSError as exc:
        log.warning(f"could not keep the record of run {run_id}: {exc}")


def unrecorded_runs(warehouse: Path) -> list[dict]:
    """Runs kept for later (``keep_for_later``), oldest first, not yet in ``segments.runs``."""
    journal = unrecorded_path(warehouse)
    if not journal.is_file():
        return []
    entries = []
    for line in journal.read_text(encoding="utf-8").splitlines():
        try:
            entries.append(json.loads(line))
        except ValueError:
            continue  # a line cut off by a crash mid-append: nothing to record
    return entries


def _record_refusal(settings: Settings, *, run_id: str, as_of: date, reason: str, accept_drift: bool) -> None:
    """A run refused by the preflight holds the lock: its refusal goes straight into ``segments.runs`` (of an
    existing warehouse: a wrong ``--warehouse`` path must not create one)."""
    if not settings.warehouse.is_file():
        return
    now = datetime.now()  # local time, like every timestamp in segments.runs
    try:
        with connect(settings) as con:
            record_failed_run(
                con, run_id=run_id, as_of=as_of, failure=reason, started_at=now, finished_at=now,
                accept_drift=accept_drift, status="refused",
            )  # fmt: skip
            refresh_snapshot_runs(con, settings.published_segments)  # tools see the refusal too
    except (*DatabaseError, OSError) as exc:
        log.warning(f"could not record the refusal of run {run_id}: {exc}")


def _recover(settings: Settings, interrupted: lock.Holder | None) -> None:
    """Under the lock: record the runs kept for later while another run held it and the run a dead process
    left unfinished, and remove the temporary files such a run leaves."""
    kept = unrecorded_runs(settings.warehouse)
    if settings.warehouse.is_file() and (kept or interrupted):
        with connect(settings) as con:
            for entry in kept:
                record_failed_run(
                    con, run_id=entry["run_id"], as_of=date.fromisoformat(entry["as_of"]),
                    failure=entry["reason"], started_at=_local(entry["started_at"]),
                    finished_at=_local(entry["finished_at"]), accept_drift=bool(entry.get("accept_drift")),
                    status=entry["status"],
                )  # fmt: skip
            if interrupted is not None:
                _record_interrupted(con, interrupted)
    unrecorded_path(settings.warehouse).unlink(missing_ok=True)
    for folder in (settings.published_dir, settings.reports_dir):
        if folder.is_dir():
            for leftover in folder.rglob(".*.tmp"):
                leftover.unlink(missing_ok=True)


def _local(text: str) -> datetime:
    """An ISO instant as local wall-clock time, like the other timestamps ``record_failed_run`` is given."""
    return datetime.fromisoformat(text).astimezone().replace(tzinfo=None)


def _record_interrupted(con: duckdb.DuckDBPyConnection, holder: lock.Holder) -> None:
    """The run a dead process left holding the lock, as failed (unless it got as far as recording itself)."""
    started = datetime.fromisoformat(holder.started_at).astimezone().replace(tzinfo=None)
    record_failed_run(
        con,
        run_id=holder.run_id,
        as_of=date.fromisoformat(holder.as_of) if holder.as_of else started.date(),
        failure=f"interrupted: its process (pid {holder.pid} on {holder.host}) ended without finishing; "
        "nothing was published",
        started_at=started,
        finished_at=None,
    )


def record_failure(
    settings: Settings,
    *,
    run_id: str,
    as_of: date,
    failure: str,
    started_at: float | None,
    accept_drift: bool = False,
) -> None:
    """Keep a failed run in ``segments.runs`` and render the Data Docs of the checks it ran; never raises
    (the run's own error is what matters)."""
    started = datetime.fromtimestamp(started_at) if started_at else None
    try:  # re-entrant for run_job, which holds the lock; the UI's failure sensor takes it here
        _acquire(settings, run_id=f"recording {run_id}")
    except lock.WarehouseLocked:  # another run is writing: the next run to hold the lock records this one
        keep_for_later(
            settings.warehouse, run_id=run_id, as_of=as_of, status="failed", reason=failure,
            accept_drift=accept_drift, started_at=started.astimezone() if started else None,
        )  # fmt: skip
        return
    try:
        with connect(settings) as con:
            record_failed_run(
                con,
                run_id=run_id,
                as_of=as_of,
                failure=failure,
                started_at=started,
                finished_at=datetime.now(),
                accept_drift=accept_drift,
            )
            refresh_snapshot_runs(con, settings.published_segments)  # tools see the failed run too
            write_data_docs(con, run_id, settings.reports_dir)
    except (*DatabaseError, OSError) as exc:  # e.g. the warehouse is locked by another process
        log.warning(f"could not record failed run {run_id}: {exc}")
    except Exception as exc:  # Data Docs are evidence, not the run: never hide the run's own failure
        log.warning(f"could not write the Data Docs of run {run_id}: {exc}")
    finally:
        lock.release(settings.warehouse)
