"""``dbt source freshness`` on a warehouse a run has built: what dbt_project/README.md says it does."""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timedelta

import duckdb
import pytest

from tests.integration.conftest import run_dbt

pytestmark = pytest.mark.integration


def _freshness(warehouse, target) -> dict[str, str]:
    """``{source table: dbt's status}``"""
    run_dbt(warehouse, target, "source", "freshness")
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
