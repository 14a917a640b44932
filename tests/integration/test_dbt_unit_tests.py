"""dbt's unit tests (``unit_tests:`` in the model YAML files): they check the models' SQL on fixed inputs, not
the night's data, so the nightly build leaves them out and they run here, on the shared warehouse (dbt reads
the column types of the inputs from it)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from segments.settings import DBT_EXECUTABLE, DBT_PROJECT_DIR

pytestmark = pytest.mark.integration


def test_every_dbt_unit_test_passes(handcrafted_run, tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copyfile(handcrafted_run.settings.warehouse, warehouse)
    target = tmp_path / "target"
    target.mkdir()
    parsed = DBT_PROJECT_DIR / "target" / "partial_parse.msgpack"
    if parsed.exists():  # dbt checks it still matches the project
        shutil.copyfile(parsed, target / parsed.name)
    env = {**os.environ, "SEGMENTS_WAREHOUSE": str(warehouse), "SEGMENTS_DUCKDB_MEMORY_LIMIT": "1GB"}
    project = ["--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)]
    result = subprocess.run(
        [str(DBT_EXECUTABLE), "test", "--select", "test_type:unit", "--target-path", str(target), *project],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    results = json.loads((target / "run_results.json").read_text())["results"]
    manifest = json.loads((target / "manifest.json").read_text())
    expected = {unique_id for unique_id in manifest["unit_tests"]}
    failed = {r["unique_id"]: r["message"] for r in results if r["status"] != "pass"}
    assert not failed, result.stdout[-4000:]
    assert result.returncode == 0, result.stdout[-4000:]
    assert {r["unique_id"] for r in results} == expected and len(expected) >= 10
