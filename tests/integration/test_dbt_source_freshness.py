"""``dbt source freshness`` on a warehouse a run has built: what dbt_project/README.md says it does."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import datetime, timedelta

import duckdb
import pytest

from segments.settings import DBT_EXECUTABLE, DBT_PROJECT_DIR

pytestmark = pytest.mark.integration


def _freshness(warehouse, target) -> dict[str, str]:
    """``{source table: dbt's status}``"""
    target.mkdir()
    parsed = DBT_PROJECT_DIR / "target" / "partial_parse.msgpack"
    if parsed.exists():  # dbt checks it still matches the project
        shutil.copyfile(parsed, target / parsed.name)
    env = {**os.environ, "SEGMENTS_WAREHOUSE": str(warehouse), "SEGMENTS_DUCKDB_MEMORY_LIMIT": "1GB"}
    project = ["--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)]
    subprocess.run(
        [str(DBT_EXECUTABLE), "source", "freshness", "--target-path", str(target), *project],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    results = json.loads((target / "sources.json").read_text())["results"]
    return {r["unique_id"].removeprefix("source.segments."): r["status"] for r in results}


def test_source_freshness_passes_after_a_run_and_names_a_stale_load(handcrafted_run, tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copyfile(handcrafted_run.settings.warehouse, warehouse)
    checked = ["crm.accounts", "crm.contacts", "crm.interactions", "sales.order_lines", "sales.orders"]
    assert _freshness(warehouse, tmp_path / "fresh") == dict.fromkeys(checked, "pass")

    # loads as old as just past the gate's limits (local time without a zone, as the loader writes them)
    con = duckdb.connect(str(warehouse))
    for table, hours in [("crm_accounts", 169), ("crm_contacts", 73), ("crm_interactions", 71)]:
        con.execute(f"update raw.{table} set _loaded_at = ?", [datetime.now() - timedelta(hours=hours)])
    con.close()
    statuses = _freshness(warehouse, tmp_path / "stale")
    assert statuses == {
        **dict.fromkeys(checked, "pass"),
        "crm.accounts": "warn",  # the gate warns after 168 h
        "crm.contacts": "error",  # and blocks after 72 h
    }
