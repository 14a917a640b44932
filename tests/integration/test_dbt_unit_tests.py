"""dbt's unit tests (``unit_tests:`` in the model YAML files): they check the models' SQL on fixed inputs, not
the night's data, so the nightly build leaves them out and they run here, on the shared warehouse (dbt reads
the column types of the inputs from it)."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.integration.conftest import run_dbt

pytestmark = pytest.mark.integration


def test_every_dbt_unit_test_passes(handcrafted_run, tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copyfile(handcrafted_run.settings.warehouse, warehouse)
    target = tmp_path / "target"
    result = run_dbt(warehouse, target, "test", "--select", "test_type:unit")
    results = json.loads((target / "run_results.json").read_text())["results"]
    manifest = json.loads((target / "manifest.json").read_text())
    expected = {unique_id for unique_id in manifest["unit_tests"]}
    failed = {r["unique_id"]: r["message"] for r in results if r["status"] != "pass"}
    assert not failed, result.stdout[-4000:]
    assert result.returncode == 0, result.stdout[-4000:]
    assert {r["unique_id"] for r in results} == expected and len(expected) >= 10
