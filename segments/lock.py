"""One run per warehouse: an exclusive lock taken before a run's first write, held until it ends.

DuckDB's own file lock is not enough: the job closes its connection between steps (dbt runs as a
subprocess), so a second run could slip in between two steps and interleave its loads and builds with the
first. The lock is a kernel lock (``flock``) on ``<warehouse>.lock``: the kernel releases it when the holding
process ends, however it ends (``kill -9`` included), so a lock can never outlive its run. The file also
says who holds it (run id, start, pid, host), for the refusal message and for the run that takes over a lock
a killed run left: that run learns which run was interrupted and records it.

Within one process the lock is re-entrant: the CLI takes it before Dagster starts (so a second run fails in
seconds), and the job's ``warehouse`` resource (for runs launched from the UI or the schedule) then finds
it already held by its own process.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from segments.errors import SegmentsError


class WarehouseLocked(SegmentsError):
    """Another run holds the warehouse."""

    def __init__(self, warehouse: Path, holder: Holder | None):
        self.warehouse = warehouse
        self.holder = holder
        who = holder.describe() if holder else "a process that has not said who it is yet"
        super().__init__(
            f"another run ({who}) holds the warehouse {warehouse}; try again when it has finished"
        )


@dataclass(frozen=True)
class Holder:
    """Who holds (or held) a warehouse's lock."""

    run_id: str
    started_at: str  # ISO 8601 with time zone
    pid: int
    host: str
    as_of: str | None = None  # the day the run computes, when it is a nightly run

    def describe(self) -> str:
        return f"run {self.run_id}, started at {self.started_at}, pid {self.pid} on {self.host}"


@dataclass
class _Held:
    fd: int
    holder: Holder
    previous: Holder | None  # what the lock file said when this process took it: a run that did not finish
    depth: int = 1
    session: object | None = None  # PostgreSQL: the connection holding the advisory lock


# PostgreSQL warehouses are also locked in the database, so that job hosts that share no lock file exclude each
# other too: a session-level advisory lock, held by a connection of its own for the whole run. Like the flock,
# the server releases it when that connection ends, however the process ends.
ADVISORY_KEY = 0x5E6D_E275  # pg_advisory_lock(bigint): one warehouse per database
_APPLICATION = "segments lock "  # + run id: how the holding session names its run in pg_stat_activity


_held: dict[Path, _Held] = {}
_guard = threading.Lock()


def lock_path(warehouse: Path) -> Path:
    return warehouse.with_name(warehouse.name + ".lock")


def read_holder(warehouse: Path) -> Holder | None:
    """What the lock file says (the current holder, or the last one if nobody holds it now)."""
    try:
        return _parse(lock_path(warehouse).read_text(encoding="utf-8"))
    except OSError:
        return None


@contextmanager
def warehouse_lock(warehouse: Path, *, run_id: str, as_of: str | None = None) -> Iterator[Holder | None]:
    """Hold ``warehouse``'s lock for the block; raise :class:`WarehouseLocked` at once if another process
    holds it. Yields the holder of a lock that was left behind by a run that ended without releasing it (its
    process died), or None."""
    previous = acquire(warehouse, run_id=run_id, as_of=as_of)
    try:
        yield previous
    finally:
        release(warehouse)


def acquire(
    warehouse: Path, *, run_id: str, as_of: str | None = None, postgres_dsn: str | None = None
) -> Holder | None:
    """Take the lock (re-entrant within this process). Returns the run a dead process left holding it, if any.
    ``postgres_dsn``: the warehouse is that PostgreSQL database, locked there as well."""
    key = warehouse.resolve()
    with _guard:
        held = _held.get(key)
        if held is not None:
            held.depth += 1
            return held.previous
        key.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock_path(key), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise WarehouseLocked(key, read_holder(key)) from None
        previous = _parse(os.pread(fd, 4096, 0).decode("utf-8", "replace"))
        holder = Holder(
            run_id=run_id,
            started_at=datetime.now(UTC).isoformat(timespec="seconds"),
            pid=os.getpid(),
            host=socket.gethostname(),
            as_of=as_of,
        )
        session = None
        if postgres_dsn:
            try:
                session = _advisory_lock(postgres_dsn, run_id, key)
            except BaseException:
                os.close(fd)
                raise
        text = json.dumps(asdict(holder)).encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, text, 0)
        _held[key] = _Held(fd, holder, previous, session=session)
        return previous


def release(warehouse: Path) -> None:
    key = warehouse.resolve()
    with _guard:
        held = _held.get(key)
        if held is None:
            return
        held.depth -= 1
        if held.depth:
            return
        del _held[key]
        try:
            os.ftruncate(held.fd, 0)  # a finished run leaves no holder behind: only a dead one does
        finally:
            os.close(held.fd)  # closing the descriptor releases the flock
            if held.session is not None:
                held.session.close()  # ending the session releases the advisory lock


def held_by_this_process(warehouse: Path) -> Holder | None:
    held = _held.get(warehouse.resolve())
    return held.holder if held else None


def _advisory_lock(dsn: str, run_id: str, warehouse: Path):
    """A connection holding the database's advisory lock, or ``WarehouseLocked`` naming the session that has it."""
    import psycopg  # only for the postgres target

    try:
        session = psycopg.connect(dsn, autocommit=True, application_name=(_APPLICATION + run_id)[:63])
    except psycopg.Error as exc:
        raise SegmentsError(f"cannot connect to PostgreSQL to lock the warehouse ({exc})".strip()) from None
    try:
        (taken,) = session.execute("select pg_try_advisory_lock(%s)", [ADVISORY_KEY]).fetchone()
        if taken:
            return session
        row = session.execute(
            """select a.application_name, a.backend_start, a.pid, coalesce(host(a.client_addr), 'local')
               from pg_locks l join pg_stat_activity a on a.pid = l.pid
               where l.locktype = 'advisory' and l.granted
                 and ((l.classid::bigint << 32) | l.objid::bigint) = %s""",
            [ADVISORY_KEY],
        ).fetchone()
    except BaseException:
        session.close()
        raise
    session.close()
    holder = None
    if row:
        name, started, pid, host = row
        holder = Holder(name.removeprefix(_APPLICATION), started.isoformat(timespec="seconds"), pid, host)
    raise WarehouseLocked(warehouse, holder)


def _parse(text: str) -> Holder | None:
    if not text.strip():
        return None
    try:
        return Holder(**json.loads(text))
    except (ValueError, TypeError):
        return None
