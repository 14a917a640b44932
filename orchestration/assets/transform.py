"""dbt models as Dagster assets: one ``dbt build`` per run; each model is an asset, dbt tests are checks."""

import json
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)

from orchestration.settings import DBT_EXECUTABLE, DBT_PROJECT_DIR, Settings
from orchestration.warehouse import connect

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR)
dbt_project.prepare_if_dev()  # `dagster dev`: re-parse on reload; no effect elsewhere


class SegmentsDbtTranslator(DagsterDbtTranslator):
    """Models are keyed by their warehouse schema (marts/customer_features), grouped by layer."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] in ("model", "seed", "snapshot"):
            return dg.AssetKey([dbt_resource_props["schema"], dbt_resource_props["name"]])
        return super().get_asset_key(dbt_resource_props)

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "model":
            return dbt_resource_props["fqn"][1] if len(dbt_resource_props["fqn"]) > 2 else "models"
        if dbt_resource_props["resource_type"] == "seed":
            return "reference"
        return super().get_group_name(dbt_resource_props)


translator = SegmentsDbtTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))


@dbt_assets(manifest=dbt_project.manifest_path, project=dbt_project, dagster_dbt_translator=translator)
def dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource) -> Iterator[Any]:
    settings = Settings.from_env()
    settings.export_to_environ()  # profiles.yml reads SEGMENTS_WAREHOUSE: same file as every Python step
    as_of = settings.resolve_as_of(context.run.tags)
    context.log.info(f"dbt build as of {as_of}")
    # Events are held until dbt exits: row counts need the warehouse, which dbt has open until then.
    invocation = dbt.cli(["build", "--vars", json.dumps({"as_of": as_of.isoformat()})], context=context)
    events = list(invocation.stream())
    _prune_targets(Path(invocation.target_path))
    with connect(settings, read_only=True) as con:
        row_counts = {
            dg.AssetKey([schema, name]): con.execute(f"select count(*) from {schema}.{name}").fetchone()[0]
            for schema, name in con.execute(
                "select table_schema, table_name from information_schema.tables "
                "where table_type = 'BASE TABLE' and table_schema in ('intermediate', 'marts', 'reference')"
            ).fetchall()
        }
    outputs = [e for e in events if isinstance(e, dg.Output)]
    tests = [e for e in events if isinstance(e, dg.AssetCheckResult)]
    failed = sum(not t.passed for t in tests)
    context.log.info(f"dbt built {len(outputs)} models and seeds; {len(tests)} tests, {failed} failed")
    for event in events:
        if isinstance(event, dg.Output):
            key = context.asset_key_for_output(event.output_name)
            if key in row_counts:
                event = event.with_metadata({**event.metadata, "dagster/row_count": row_counts[key]})
        yield event


KEEP_TARGETS = 5  # dbt target folders of the last runs kept for debugging (run_results.json, logs)


def _prune_targets(current: Path) -> None:
    """dagster-dbt gives every invocation its own target folder (several MB): keep only the latest ones."""
    siblings = sorted(
        (p for p in current.parent.glob("dbt_models-*") if p.is_dir() and p != current),
        key=lambda p: p.stat().st_mtime,
    )
    for old in siblings[: max(0, len(siblings) - (KEEP_TARGETS - 1))]:
        shutil.rmtree(old, ignore_errors=True)


def mart_key(name: str) -> dg.AssetKey:
    return dg.AssetKey(["marts", name])


dbt_resource = DbtCliResource(project_dir=dbt_project, dbt_executable=str(DBT_EXECUTABLE))
