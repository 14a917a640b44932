"""Runs shared by the integration tests: each is built once per session; a test that changes anything works
on a private copy (``copy_data``)."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from orchestration.runner import RunOutcome, run_job
from segments.settings import (
    DBT_EXECUTABLE,
    DBT_PROJECT_DIR,
    DEFAULT_RULES_DIR,
    Settings,
    postgres_profile_environ,
)
from tests.conftest import point_settings_at
from tests.fixtures import handcrafted


@dataclass(frozen=True)
class SharedRun:
    data: Path  # the data folder: landing files, warehouse, published snapshot
    outcome: RunOutcome
    settings: Settings


@pytest.fixture(scope="session")
def handcrafted_run(tmp_path_factory) -> SharedRun:
    """One published run of the default rules on the hand-crafted customers, as of handcrafted.AS_OF."""
    data = tmp_path_factory.mktemp("handcrafted_run") / "data"
    with pytest.MonkeyPatch.context() as env:
        point_settings_at(env, data, DEFAULT_RULES_DIR)
        handcrafted.write_landing(data / "landing")
        outcome = run_job(as_of=handcrafted.AS_OF)
        assert outcome.success, outcome.failure
        return SharedRun(data, outcome, Settings.from_env())


def copy_data(run: SharedRun, into: Path) -> Path:
    """A private copy of a shared run's data folder, for a test that changes it."""
    shutil.copytree(run.data, into)
    return into


def run_dbt(warehouse: Path, target: Path, *command: str) -> subprocess.CompletedProcess:
    """dbt ``command`` on ``warehouse`` (a test's own copy), its artifacts in ``target``; never raises on
    dbt's exit code (the caller reads its artifacts)."""
    target.mkdir()
    parsed = DBT_PROJECT_DIR / "target" / "partial_parse.msgpack"
    if parsed.exists():  # dbt checks it still matches the project
        shutil.copyfile(parsed, target / parsed.name)
    env = {**os.environ, "SEGMENTS_WAREHOUSE": str(warehouse), "SEGMENTS_DUCKDB_MEMORY_LIMIT": "1GB"}
    return _dbt(env, target, *command)


def run_dbt_postgres(dsn: str, target: Path, *command: str) -> subprocess.CompletedProcess:
    """dbt ``command`` on the Postgres database of ``dsn`` (profiles.yml's ``postgres`` target), its artifacts
    in ``target`` (kept between calls, so a second call re-uses the first one's parse); never raises on dbt's
    exit code."""
    target.mkdir(exist_ok=True)
    env = {**os.environ, **postgres_profile_environ(dsn), "SEGMENTS_TARGET": "postgres"}
    return _dbt(env, target, *command, "--target", "postgres", "--log-path", str(target))


def _dbt(env: dict[str, str], target: Path, *command: str) -> subprocess.CompletedProcess:
    project = ["--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)]
    return subprocess.run(
        [str(DBT_EXECUTABLE), *command, "--target-path", str(target), *project],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
