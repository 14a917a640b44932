"""How Dagster meets the project outside tests: the code location as `dagster dev` (`make ui`) loads it, the
instance `segments run` records its runs in, and the progress lines it prints."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from orchestration import runner
from orchestration.cli import main
from orchestration.definitions import defs, progress_logger
from orchestration.runner import DAGSTER_YAML, STAGES, _ProgressHandler, dagster_instance
from segments.dbt_manifest import MANIFEST
from segments.settings import PROGRESS_LOGGER, PROJECT_ROOT, Settings


def test_the_code_location_loads_under_dagster_dev_without_the_venv_on_path(tmp_path):
    """`make ui` from a fresh clone: nothing on PATH, and dbt's manifest older than the project (dev mode
    re-parses it). dagster-dbt's prepare_if_dev() looked for `dbt` on PATH and the location showed Failed."""
    venv_bin = Path(sys.executable).parent
    path = os.pathsep.join(
        p for p in os.environ.get("PATH", "").split(os.pathsep) if p and Path(p) != venv_bin
    )
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "DAGSTER_HOME")},
        "PATH": path,
        "DAGSTER_IS_DEV_CLI": "1",  # what `dagster dev` sets for the processes that load the code
        "PYTHONPATH": str(PROJECT_ROOT),
        "SEGMENTS_DATA_DIR": str(tmp_path / "data"),
    }
    if shutil.which("dbt", path=path):
        pytest.skip("a dbt outside the project's venv is on PATH")
    os.utime(MANIFEST, (0, 0))  # stale: loading in dev mode must run dbt parse, with the venv's dbt
    load = (
        "from orchestration.definitions import defs; print(defs.resolve_job_def('nightly_segmentation').name)"
    )
    result = subprocess.run(
        [sys.executable, "-c", load], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "nightly_segmentation"
    assert MANIFEST.stat().st_mtime > 0  # parsed again


def test_runs_are_recorded_in_the_data_dirs_dagster_home_with_telemetry_off(pipeline_env):
    assert "DAGSTER_HOME" not in os.environ
    instance = dagster_instance(Settings.from_env())
    home = pipeline_env / "dagster"
    assert Path(instance.root_directory) == home
    assert instance.is_persistent and not instance.telemetry_enabled
    assert (home / "dagster.yaml").read_text(encoding="utf-8") == DAGSTER_YAML
    assert "DAGSTER_HOME" not in os.environ  # nothing set behind the caller's back


def test_an_empty_dagster_yaml_gets_telemetry_off_and_a_configured_one_is_kept(pipeline_env, monkeypatch):
    home = pipeline_env / "dagster"
    home.mkdir(parents=True)
    (home / "dagster.yaml").touch()  # as earlier versions of `make run` left it
    assert not dagster_instance(Settings.from_env()).telemetry_enabled
    own = pipeline_env / "my-dagster"
    own.mkdir()
    (own / "dagster.yaml").write_text("telemetry:\n  enabled: true\n", encoding="utf-8")
    monkeypatch.setenv("DAGSTER_HOME", str(own))
    instance = dagster_instance(Settings.from_env())
    assert Path(instance.root_directory) == own and instance.telemetry_enabled
    assert (own / "dagster.yaml").read_text(encoding="utf-8") == "telemetry:\n  enabled: true\n"


class _Stop(Exception):
    pass


def test_segments_run_uses_that_instance(pipeline_env, monkeypatch):
    """The CLI's wiring, without running the job: `segments run` -> run_job -> dagster_instance(settings)."""
    landing = pipeline_env / "landing"
    landing.mkdir(parents=True)
    (landing / "crm_accounts.csv").write_text("account_id\n", encoding="utf-8")
    homes = []

    def instance(settings):
        homes.append(settings.dagster_home)
        raise _Stop

    monkeypatch.setattr(runner, "dagster_instance", instance)
    with pytest.raises(_Stop):
        main(["run", "--as-of", "2026-11-01"])
    assert homes == [pipeline_env / "dagster"]


def test_every_step_has_a_stage_name():
    assert set(defs.resolve_job_def("nightly_segmentation").graph.node_names()) == set(STAGES)


def test_progress_names_stages_and_a_failure_is_one_line():
    """A real Dagster cascade: the first step fails, the steps after it are left out."""

    @dg.op
    def raw_tables(context) -> int:
        context.log.info("raw.crm_accounts: 3 rows from crm_accounts.csv, loaded")
        raise ValueError("bad file")

    @dg.op
    def accepted_tables(rows: int) -> int:
        return rows

    @dg.op
    def dbt_models(rows: int) -> int:
        return rows

    @dg.job(logger_defs={"progress": progress_logger})
    def job():
        dbt_models(accepted_tables(raw_tables()))

    lines: list[str] = []
    handler = _ProgressHandler(lines.append)
    logging.getLogger(PROGRESS_LOGGER).addHandler(handler)
    try:
        result = job.execute_in_process(raise_on_error=False, run_config={"loggers": {"progress": {}}})
    finally:
        logging.getLogger(PROGRESS_LOGGER).removeHandler(handler)
    assert not result.success
    assert lines == [
        "load landing files …",
        "  raw.crm_accounts: 3 rows from crm_accounts.csv, loaded",
        "load landing files FAILED",
    ]
