"""The job's resources besides dbt: the warehouse lock every step holds."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from pydantic import PrivateAttr

from segments import guard, lock
from segments.settings import Settings


class WarehouseLock(dg.ConfigurableResource):
    """Holds the warehouse's lock for the whole run (the in-process executor sets a resource up once per run)
    and runs the preflight checks before the first step. A run started by ``segments run`` already holds
    it (taken before Dagster started); a run launched from the UI or the schedule takes it here, and a second
    run fails at once, before any step, naming the run that holds the warehouse."""

    _warehouse: Path | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        settings = Settings.from_env()
        settings.export_to_environ()
        run = context.dagster_run
        tags = run.tags if run else {}
        guard.claim(
            settings,
            run_id=context.run_id or "unknown",
            as_of=settings.resolve_as_of(tags),
            accept_drift=Settings.accept_drift(tags),
        )
        self._warehouse = settings.warehouse

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._warehouse is not None:
            lock.release(self._warehouse)
            self._warehouse = None


LOCK_KEY = "warehouse_lock"
