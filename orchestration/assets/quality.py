"""Group ``accepted``: the quality gate between the landing tables and dbt, and the checks on the features.

``accepted_tables`` runs the suites of every landing entity in one step (parents first, so a quarantined
order takes its lines with it), sets failing rows of ``quarantine`` expectations aside in ``raw._quarantine``
and materializes ``accepted.<entity>`` views that dbt's sources read. Each entity's suite, load anomalies and
freshness are one blocking asset check: a ``block`` failure (or a quarantine beyond its limit, an anomaly
not accepted, a stale file) fails it with severity ERROR and nothing downstream runs.

Suites on dbt marts (``customer_features``) are blocking checks on those assets. Every result is stored in
``segments.quality_results`` as it is known, so a stopped run still has its evidence.
"""

from datetime import datetime

import dagster as dg

from orchestration.assets.ingest import raw_asset_key
from orchestration.resources import Warehouse
from segments.ingest.schemas import ENTITIES
from segments.quality import results
from segments.quality.gate import run_gate
from segments.quality.suites import Suite, SuiteReport, load_suites
from segments.quality.validation import validate
from segments.reports import md_table
from segments.settings import EXPECTATIONS_DIR, Settings

SUITES = load_suites(EXPECTATIONS_DIR)
RAW_SUITES = {s.entity: s for s in SUITES.values() if s.entity}  # by landing entity


def accepted_key(entity_name: str) -> dg.AssetKey:
    return dg.AssetKey(["accepted", entity_name])


ACCEPTED_KEYS = [accepted_key(name) for name in ENTITIES]


def check_name(suite: Suite) -> str:
    return f"gx_{suite.name}"


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            accepted_key(entity.name),
            deps=[raw_asset_key(entity.name)],
            group_name="accepted",
            description=f"{entity.description} Rows the quality gate accepted (a view over raw.{entity.name} "
            "without this run's quarantined rows).",
            kinds={"duckdb"},
        )
        for entity in ENTITIES.values()
    ],
    check_specs=[
        dg.AssetCheckSpec(
            check_name(suite),
            asset=accepted_key(entity),
            description=suite.definition.get("meta", {}).get("description"),
            blocking=True,
        )
        for entity, suite in RAW_SUITES.items()
    ],
    can_subset=False,
)
def accepted_tables(context: dg.AssetExecutionContext, warehouse: Warehouse):
    now = datetime.now()
    with warehouse.connect() as con:
        reports = run_gate(
            con,
            SUITES,
            run_id=context.run_id,
            now=now,
            accept_drift=Settings.accept_drift(context.run.tags),
        )
        results.record(con, context.run_id, list(reports.values()), checked_at=now)
        accepted_rows = {
            entity: con.execute(f"select count(*) from accepted.{entity}").fetchone()[0]
            for entity in ENTITIES
        }
    for entity in ENTITIES:
        report = reports.get(entity)
        metadata = {"dagster/row_count": accepted_rows[entity]}
        if report is not None:
            metadata["quarantined_rows"] = report.quarantined
            if report.quarantined:
                context.log.info(f"accepted.{entity}: {report.quarantined:,} rows quarantined")
        yield dg.MaterializeResult(asset_key=accepted_key(entity), metadata=metadata)
    for entity, report in reports.items():
        context.log.info(report.summary())
        yield check_result(report, asset_key=accepted_key(entity), check=check_name(report.suite))


def _feature_check(suite: Suite) -> dg.AssetChecksDefinition:
    schema, table = suite.table.split(".", 1)

    @dg.asset_check(
        asset=dg.AssetKey([schema, table]),
        name=check_name(suite),
        description=suite.definition.get("meta", {}).get("description"),
        blocking=True,
    )
    def run_suite(context: dg.AssetCheckExecutionContext, warehouse: Warehouse) -> dg.AssetCheckResult:
        now = datetime.now()
        with warehouse.connect() as con:
            report = validate(con, suite, now=now)
            results.record(con, context.op_execution_context.run_id, [report], checked_at=now)
        context.log.info(report.summary())
        return check_result(report)

    return run_suite


def check_result(
    report: SuiteReport, *, asset_key: dg.AssetKey | None = None, check: str | None = None
) -> dg.AssetCheckResult:
    failed = report.blocking_failures + report.warnings
    table = md_table(
        ["check", "column", "severity", "observed", "quarantined"],
        [
            [o.expectation, o.column or "", f"{o.severity}{' (blocks)' if o.blocks else ''}",
             "ok" if o.success else (o.note or o.observed_value or ""), f"{o.quarantined:,}"]
            for o in report.outcomes
        ],
        align="llllr",
    )  # fmt: skip
    return dg.AssetCheckResult(
        passed=not failed,
        severity=dg.AssetCheckSeverity.ERROR if report.blocking_failures else dg.AssetCheckSeverity.WARN,
        description=report.summary(),
        metadata={
            "rows": report.rows,
            "checks": len(report.outcomes),
            "failed_blocking": len(report.blocking_failures),
            "failed_other": len(report.warnings),
            "quarantined_rows": report.quarantined,
            "results": dg.MetadataValue.md(table),
        },
        asset_key=asset_key,
        check_name=check,
    )


quality_checks = [_feature_check(suite) for suite in SUITES.values() if not suite.entity]
