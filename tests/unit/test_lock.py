"""One run per warehouse: the lock refuses a second process at once, names its holder, and is taken over
(naming the interrupted run) when its holder was killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from segments import lock

HOLD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from segments import lock
    lock.acquire(Path(sys.argv[1]), run_id="first-run", as_of="2026-11-30")
    print("held", flush=True)
    time.sleep(600)
    """
)


@pytest.fixture
def holder(tmp_path: Path):
    """Another process holding the lock of tmp_path/warehouse.duckdb."""
    warehouse = tmp_path / "warehouse.duckdb"
    child = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(warehouse)], stdout=subprocess.PIPE, text=True, cwd=Path.cwd()
    )
    assert child.stdout.readline().strip() == "held"
    yield warehouse, child
    child.kill()
    child.wait()


def test_a_second_process_is_refused_at_once_naming_the_holder(holder):
    warehouse, child = holder
    started = time.monotonic()
    with pytest.raises(lock.WarehouseLocked) as refused:
        lock.acquire(warehouse, run_id="second-run")
    assert time.monotonic() - started < 1
    message = str(refused.value)
    assert "another run (run first-run, started at " in message
    assert f"pid {child.pid} on " in message
    assert str(warehouse.resolve()) in message
    assert lock.held_by_this_process(warehouse) is None


def test_a_killed_holders_lock_is_taken_over_and_names_the_interrupted_run(holder):
    warehouse, child = holder
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    with lock.warehouse_lock(warehouse, run_id="next-run") as interrupted:
        assert interrupted is not None
        assert (interrupted.run_id, interrupted.pid, interrupted.as_of) == (
            "first-run",
            child.pid,
            "2026-11-30",
        )
        assert lock.read_holder(warehouse).run_id == "next-run"
    # released cleanly: the next run finds no interrupted one
    with lock.warehouse_lock(warehouse, run_id="third-run") as interrupted:
        assert interrupted is None


def test_the_lock_is_reentrant_within_a_process_and_held_until_the_outermost_release(tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    lock.acquire(warehouse, run_id="cli")
    lock.acquire(warehouse, run_id="resource")  # the job's resource, in the same process
    lock.release(warehouse)
    assert lock.held_by_this_process(warehouse).run_id == "cli"
    probe = subprocess.run(
        [sys.executable, "-c", "import sys; from pathlib import Path; from segments import lock\n"
         "try:\n    lock.acquire(Path(sys.argv[1]), run_id='other')\nexcept lock.WarehouseLocked:\n"
         "    sys.exit(3)", str(warehouse)],
        cwd=Path.cwd(),
    )  # fmt: skip
    assert probe.returncode == 3
    lock.release(warehouse)
    assert lock.held_by_this_process(warehouse) is None
