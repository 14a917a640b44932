"""The job's resources besides dbt: the warehouse every step reads and writes."""

from __future__ import annotations

import os
from contextlib import AbstractContextManager
from pathlib import Path

import dagster as dg
import duckdb
from pydantic import PrivateAttr

from segments import guard, lock
from segments.settings import Settings
from segments.warehouse import connect

# What each optional field of the resource overrides: the same variables every command reads.
_OVERRIDES = {
    "path": "SEGMENTS_WAREHOUSE",
    "landing_dir": "SEGMENTS_LANDING_DIR",
    "rules_dir": "SEGMENTS_RULES_DIR",
    "published_dir": "SEGMENTS_PUBLISHED_DIR",
    "reports_dir": "SEGMENTS_REPORTS_DIR",
    "target": "SEGMENTS_TARGET",
    "postgres_dsn": "SEGMENTS_POSTGRES_DSN",
}


class Warehouse(dg.ConfigurableResource):
    """The warehouse a run works on, with the folders that belong to it, and its lock.

    Every field left empty comes from the environment (``SEGMENTS_WAREHOUSE`` and friends, see
    ``segments.settings``), so the UI, the schedule and ``segments run`` need no configuration; a test or
    a backfill passes a path to ``materialize(resources={"warehouse": Warehouse(path=...)})``.

    The in-process executor sets a resource up once per run: it takes the warehouse's lock for the whole run
    and runs the preflight checks before the first step. A run started by ``segments run`` already holds the
    lock (taken before Dagster started); a run launched from the UI or the schedule takes it here, and a second
    run fails at once, before any step, naming the run that holds the warehouse."""

    path: str | None = None
    landing_dir: str | None = None
    rules_dir: str | None = None
    published_dir: str | None = None
    reports_dir: str | None = None
    target: str | None = None  # duckdb | postgres
    postgres_dsn: str | None = None  # a connection URL without password (PGPASSWORD or ~/.pgpass)

    _settings: Settings | None = PrivateAttr(default=None)
    _locked: Path | None = PrivateAttr(default=None)

    @property
    def settings(self) -> Settings:
        """The run's settings: this resource's fields over the environment's, read once when the run sets
        the resource up (so every step of a run sees the same folders)."""
        if self._settings is not None:
            return self._settings
        given = {_OVERRIDES[name]: str(value) for name, value in self._fields().items()}
        return Settings.from_env({**os.environ, **given})

    def connect(self) -> AbstractContextManager[duckdb.DuckDBPyConnection]:
        return connect(self.settings)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        settings = self._settings = self.settings
        settings.export_to_environ()  # dbt's profiles.yml and its Python models read the same variables
        run = context.dagster_run
        tags = run.tags if run else {}
        guard.claim(
            settings,
            run_id=context.run_id or "unknown",
            as_of=settings.resolve_as_of(tags),
            accept_drift=Settings.accept_drift(tags),
        )
        self._locked = settings.warehouse

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        self._settings = None
        if self._locked is not None:
            lock.release(self._locked)
            self._locked = None

    def _fields(self) -> dict[str, str]:
        return {name: getattr(self, name) for name in _OVERRIDES if getattr(self, name)}


WAREHOUSE_KEY = "warehouse"
