"""dbt models as Dagster assets: one ``dbt build`` per run; each model is an asset, dbt tests are checks.

Before the build, the asset ``pipeline/run_context`` writes the run's id and as-of date into the warehouse
(``pipeline.run_context``, read by the macro ``as_of_date()``). The date is data rather than a dbt var, so the
project's SQL is the same every night and dbt re-uses its partial parse (``partial_parse.msgpack``, carried
from one build to the next) instead of parsing the whole project again.

The nightly build leaves out dbt's unit tests (they check the SQL, not the night's data: ``make test`` runs
them, tests/integration/test_dbt_unit_tests.py) and writes no JSON artifacts (dbt would write the whole
manifest twice a run); every model and data test reports to Dagster as it finishes, tables with their row
count (logged by dbt itself, so Dagster never opens the warehouse while dbt holds it).
"""

import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from datetime import date, datetime
from functools import cached_property
from importlib import metadata
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliInvocation,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)
from packaging import version

from orchestration.assets.quality import ACCEPTED_KEYS
from orchestration.resources import Warehouse
from segments.dbt_manifest import ensure_manifest
from segments.errors import TransformError
from segments.settings import DBT_EXECUTABLE, DBT_PROJECT_DIR
from segments.value import step as value_step

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR)
# `dagster dev`: re-parse on reload when the dbt project changed. Not dagster-dbt's prepare_if_dev(): it runs
# the `dbt` found on PATH, which is not there unless the venv is activated (the code location then fails).
if dbt_project.preparer.using_dagster_dev():
    ensure_manifest()

RUN_CONTEXT_KEY = dg.AssetKey(["pipeline", "run_context"])
RUN_CONTEXT_TABLE = "pipeline.run_context"
NIGHTLY_BUILD = ["build", "--exclude-resource-type", "unit_test", "--no-write-json"]
PARTIAL_PARSE = "partial_parse.msgpack"
ROW_COUNT_LOG = "segments row_count: "  # logged by macros/log_row_count.sql
KEEP_TARGETS = 5  # dbt target folders of the last runs kept for debugging (dbt.log, compiled SQL)


class SegmentsDbtTranslator(DagsterDbtTranslator):
    """Models are keyed by their warehouse schema (marts/customer_features), grouped by layer: the first folder
    under models/ (fqn[1]), so the folders inside a layer (marts/core, marts/features, ...) change neither."""

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


class SegmentsDbtCliResource(DbtCliResource):
    """dagster-dbt's resource without two start-up costs this project never needs (about 7 s a run,
    measured): asking the dbt executable for its version (``dbt --version``, a second dbt start-up) and
    building an in-process dbt adapter, which only ``fetch_row_counts()`` and ``fetch_column_metadata()``
    use. dbt-core is installed beside this interpreter, so its version is the package's; row counts are
    read after the build."""

    @cached_property
    def _cli_version(self) -> version.Version:
        return version.parse(metadata.version("dbt-core"))

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> None:
        return None


@dg.asset(
    key=RUN_CONTEXT_KEY,
    deps=ACCEPTED_KEYS,
    group_name="pipeline",
    description="The run that builds the marts and the as-of date they are computed for (one row, read by "
    "dbt's as_of_date() macro). Written after the quality gate, right before dbt, so it names the run the "
    "marts were built by.",
    kinds={"duckdb"},
)
def run_context(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    as_of = warehouse.settings.resolve_as_of(context.run.tags)
    with warehouse.connect() as con:
        write_run_context(con, run_id=context.run_id, as_of=as_of, written_at=datetime.now())
    return dg.MaterializeResult(metadata={"as_of": as_of.isoformat(), "dagster/row_count": 1})


def write_run_context(
    con: duckdb.DuckDBPyConnection, *, run_id: str, as_of: date, written_at: datetime
) -> None:
    con.execute("create schema if not exists pipeline")
    con.execute(
        f"create table if not exists {RUN_CONTEXT_TABLE} (run_id varchar not null, as_of date not null, "
        "written_at timestamp not null)"
    )
    # emptied and refilled, never dropped: on PostgreSQL the staging view that reads it would forbid a drop
    con.execute("begin transaction")
    try:
        con.execute(f"delete from {RUN_CONTEXT_TABLE}")
        con.execute(f"insert into {RUN_CONTEXT_TABLE} values (?, ?, ?)", [run_id, as_of, written_at])
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    dagster_dbt_translator=translator,
)
def dbt_models(
    context: dg.AssetExecutionContext,
    dbt: DbtCliResource,
    warehouse: Warehouse,
) -> Iterator[Any]:
    settings = warehouse.settings
    settings.export_to_environ()  # profiles.yml reads SEGMENTS_WAREHOUSE: same file as every Python step
    context.log.info(f"dbt build as of {settings.resolve_as_of(context.run.tags)}")
    target = ["--target", settings.target]
    if settings.target == "postgres":  # dbt-postgres runs no Python models: the value step goes between
        builds = [[*NIGHTLY_BUILD, *target, *value_step.UPSTREAM_SELECTION]]
        builds.append([*NIGHTLY_BUILD, *target, *value_step.DOWNSTREAM_SELECTION])
    else:
        builds = [[*NIGHTLY_BUILD, *target]]
    counts = {"models": 0, "tests": 0, "failed": 0}
    for number, args in enumerate(builds):
        if number == 1:
            yield from _value_step(context, warehouse)
            counts["models"] += len(VALUE_MODELS)
            # without the context: dagster-dbt would add the asset selection's `--select fqn:*`, which, as the
            # later flag, would replace this build's --select (its events are still this step's, see below)
            invocation = dbt.cli(args, manifest=dbt_project.manifest_path, dagster_dbt_translator=translator,
                                 raise_on_error=False)  # fmt: skip
        else:
            invocation = dbt.cli(args, context=context, raise_on_error=False)
        yield from _counted(_stream_with_row_counts(invocation, context), counts)
        target_path = Path(invocation.target_path)
        _keep_partial_parse(target_path)
        _prune_targets(target_path)
        failures = [] if invocation.is_successful() else dbt_failures(target_path / "dbt.log")
        if failures:
            _log_counts(context, counts)
            more = (
                f" (and {len(failures) - 1} more; see {target_path / 'dbt.log'})" if len(failures) > 1 else ""
            )
            raise TransformError(f"dbt {failures[0]}{more}")
        if not invocation.is_successful():
            raise TransformError(f"dbt build failed without naming a node; see {target_path / 'dbt.log'}")
    _log_counts(context, counts)


VALUE_MODELS = ("clv_fit", "customer_value")


def _value_step(context: dg.AssetExecutionContext, warehouse: Warehouse) -> Iterator[dg.Output]:
    """PostgreSQL: the customer value marts, computed by the library between the two dbt builds (the dbt
    Python models on DuckDB); one Dagster output each, as dbt's models have."""
    with warehouse.connect() as con:
        written = value_step.build_value_tables(
            con.raw, terms=value_step.terms_from_manifest(dbt_project.manifest_path)
        )
    context.log.info(
        "value models: " + ", ".join(f"{table} {rows:,} rows" for table, rows in written.items())
    )
    for name in VALUE_MODELS:
        key = mart_key(name)
        if key in context.selected_asset_keys:
            rows = written.get(f"marts.{name}")
            yield dg.Output(
                None,
                output_name=context.assets_def.get_output_name_for_asset_key(key),
                metadata={"dagster/row_count": rows} if rows is not None else {},
            )


def _counted(events: Iterator[Any], counts: dict[str, int]) -> Iterator[Any]:
    for event in events:
        if isinstance(event, dg.Output):
            counts["models"] += 1
        elif isinstance(event, dg.AssetCheckResult):
            counts["tests"] += 1
            counts["failed"] += not event.passed
        yield event


def _log_counts(context: dg.AssetExecutionContext, counts: dict[str, int]) -> None:
    context.log.info(
        f"dbt built {counts['models']} models and seeds; {counts['tests']} tests, {counts['failed']} failed"
    )


def _stream_with_row_counts(invocation: DbtCliInvocation, context: dg.AssetExecutionContext) -> Iterator[Any]:
    """dagster-dbt's events as each node finishes (Dagster records them while dbt goes on), a table's
    materialization with the row count its post-hook logged (macros/log_row_count.sql)."""
    row_counts: dict[str, int] = {}
    for raw in invocation.stream_raw_events():
        info = raw.raw_event["info"]
        unique_id = raw.raw_event["data"].get("node_info", {}).get("unique_id")
        if info["name"] == "JinjaLogInfo" and info["msg"].startswith(ROW_COUNT_LOG) and unique_id:
            row_counts[unique_id] = int(info["msg"].removeprefix(ROW_COUNT_LOG))
            continue
        for event in raw.to_default_asset_events(
            manifest=invocation.manifest,
            dagster_dbt_translator=invocation.dagster_dbt_translator,
            context=context,
            target_path=invocation.target_path,
            project=invocation.project,
        ):
            if isinstance(event, dg.Output) and unique_id in row_counts:
                event = event.with_metadata({**event.metadata, "dagster/row_count": row_counts[unique_id]})
            yield event


def dbt_failures(log_path: Path) -> list[str]:
    """What failed in a dbt build, one phrase per node (``model marts.customer_features: <dbt's message>``),
    from dbt's JSON log; errors before any node ran (a compilation error) come last."""
    failed: list[str] = []
    general: list[str] = []
    try:
        lines = log_path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    for line in lines:
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        info, data = event.get("info", {}), event.get("data", {})
        if info.get("name") == "NodeFinished":
            result = data.get("run_result", {})
            if result.get("status") in ("error", "fail"):
                node = data.get("node_info", {})
                relation = node.get("node_relation") or {}
                kind = node.get("resource_type") or "node"
                name = (
                    f"{relation['schema']}.{relation['alias']}"
                    if kind == "model" and relation.get("alias")
                    else node.get("node_name", "?")
                )
                message = " ".join(str(result.get("message") or result.get("status")).split())
                failed.append(f"{kind} {name}: {message}")
        elif info.get("level") == "error" and info.get("name") in ("RunResultError", "MainEncounteredError"):
            general.append(" ".join(str(info.get("msg", "")).split()))
    return failed + [g for g in general if g and not any(g in f for f in failed)]


def _keep_partial_parse(target: Path) -> None:
    """Carry this build's parse to the next: dagster-dbt copies the project's ``target/partial_parse.msgpack``
    into each new target folder. dbt itself checks that it still matches the project, profile and vars."""
    parsed = target / PARTIAL_PARSE
    if not parsed.exists():
        return
    shared = Path(dbt_project.project_dir) / dbt_project.target_path / PARTIAL_PARSE
    handle, tmp = tempfile.mkstemp(prefix=f".{PARTIAL_PARSE}.", dir=shared.parent)
    os.close(handle)
    shutil.copyfile(parsed, tmp)
    os.replace(tmp, shared)  # a concurrent reader sees the old file or the new one


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


dbt_resource = SegmentsDbtCliResource(project_dir=dbt_project, dbt_executable=str(DBT_EXECUTABLE))
