"""The one Definitions object: what it wires together and the policies set on it."""

from datetime import datetime
from zoneinfo import ZoneInfo

import dagster as dg

from orchestration.assets.ingest import raw_tables
from orchestration.definitions import defs, nightly_segmentation_schedule
from orchestration.resources import WAREHOUSE_KEY, Warehouse
from segments import lock
from segments.settings import AS_OF_TAG
from tests.conftest import query
from tests.fixtures import handcrafted


def test_job_covers_every_stage():
    keys = {key.to_user_string() for key in defs.resolve_asset_graph().get_all_asset_keys()}
    for expected in (
        "raw/crm_accounts",
        "raw/sales_order_lines",
        "staging/stg_sales__orders",
        "intermediate/int_orders_identity_matched",
        "marts/dim_customers",
        "marts/customer_behaviour",
        "marts/customer_features",
        "segments_staging/customer_segments",
        "segments/customer_segments",
    ):
        assert expected in keys
    job = defs.resolve_job_def("nightly_segmentation")
    assert job.executor_def is dg.in_process_executor  # DuckDB: one writer at a time


def test_dbt_models_are_keyed_by_schema_and_grouped_by_layer_whatever_their_folder():
    graph = defs.resolve_asset_graph()
    groups = {key.to_user_string(): graph.get(key).group_name for key in graph.get_all_asset_keys()}
    # marts/core/dim_customers.sql and marts/features/customer_features.sql: one group, keyed by schema
    for layer, model in (
        ("staging", "stg_crm__interactions"),
        ("intermediate", "int_orders_identity_matched"),
        ("marts", "dim_customers"),
        ("marts", "customer_features"),
        ("marts", "customer_value"),
        ("marts", "potential_segments"),
    ):
        assert groups[f"{layer}/{model}"] == layer
    assert {group for key, group in groups.items() if key.startswith("marts/")} == {"marts"}


def test_quality_checks_are_blocking_and_dbt_tests_are_checks():
    checks = list(defs.resolve_asset_graph().asset_check_keys)
    gx = [c for c in checks if c.name.startswith("gx_raw_")]
    assert len(gx) == 6
    specs = {spec.key: spec for ad in defs.resolve_asset_graph().assets_defs for spec in ad.check_specs}
    assert all(specs[c].blocking for c in gx)
    assert specs[
        dg.AssetCheckKey(dg.AssetKey(["segments_staging", "customer_segments"]), "assignments_complete")
    ].blocking
    assert any(
        c.asset_key == dg.AssetKey(["marts", "customer_features"]) and "unique" in c.name for c in checks
    )


def test_schedule_runs_nightly_with_the_scheduled_day_as_as_of():
    assert nightly_segmentation_schedule.cron_schedule == "0 2 * * *"
    tick = datetime(2026, 11, 22, 2, 0, tzinfo=ZoneInfo(nightly_segmentation_schedule.execution_timezone))
    context = dg.build_schedule_context(scheduled_execution_time=tick)
    request = nightly_segmentation_schedule.evaluate_tick(context).run_requests[0]
    assert request.tags[AS_OF_TAG] == "2026-11-22"
    assert request.run_key == "2026-11-22"


def test_the_warehouse_is_a_resource_that_materialize_is_given(pipeline_env, tmp_path):
    """A test or a backfill names the warehouse and its landing folder on the resource; nothing is read from
    or written to the environment's warehouse, and the run's lock is released when it ends."""
    assert isinstance(defs.resources[WAREHOUSE_KEY], Warehouse)
    landing = handcrafted.write_landing(tmp_path / "elsewhere" / "landing")
    warehouse = tmp_path / "elsewhere" / "wh.duckdb"
    result = dg.materialize(
        [raw_tables],
        resources={WAREHOUSE_KEY: Warehouse(path=str(warehouse), landing_dir=str(landing))},
        tags={AS_OF_TAG: handcrafted.AS_OF.isoformat()},
    )
    assert result.success
    assert query(warehouse, "select count(*) from raw.crm_accounts") == [(len(handcrafted.ACCOUNTS),)]
    assert not (pipeline_env / "warehouse.duckdb").exists()
    assert lock.read_holder(warehouse) is None
