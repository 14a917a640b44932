"""Great Expectations suites from ``expectations/`` as blocking asset checks on the raw tables.

A failed ``critical`` expectation fails the check with severity ERROR; because the checks are blocking,
nothing downstream (dbt, segments, publishing) runs. ``warning`` expectations are reported only.
"""

from datetime import datetime

import dagster as dg

from orchestration.quality.suites import Suite, SuiteReport, load_suites, validate
from orchestration.settings import EXPECTATIONS_DIR, Settings
from orchestration.warehouse import connect


def _check_for(suite: Suite) -> dg.AssetChecksDefinition:
    schema, table = suite.table.split(".", 1)

    @dg.asset_check(
        asset=dg.AssetKey([schema, table]),
        name=f"gx_{suite.name}",
        description=suite.definition.get("meta", {}).get("description"),
        blocking=True,
    )
    def run_suite(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
        with connect(Settings.from_env()) as con:
            report = validate(con, suite, now=datetime.now())
        context.log.info(report.summary())
        return check_result(report)

    return run_suite


def check_result(report: SuiteReport) -> dg.AssetCheckResult:
    failed = report.blocking_failures + report.warnings
    table = "| expectation | column | severity | unexpected rows |\n|---|---|---|---|\n" + "\n".join(
        f"| {o.expectation} | {o.column or ''} | {o.severity} | {o.unexpected_count:,} of {o.element_count:,} |"
        for o in report.outcomes
    )
    return dg.AssetCheckResult(
        passed=not failed,
        severity=dg.AssetCheckSeverity.ERROR if report.blocking_failures else dg.AssetCheckSeverity.WARN,
        description=report.summary(),
        metadata={
            "rows": report.rows,
            "expectations": len(report.outcomes),
            "failed_blocking": len(report.blocking_failures),
            "failed_warning": len(report.warnings),
            "results": dg.MetadataValue.md(table),
        },
    )


quality_checks = [_check_for(suite) for suite in load_suites(EXPECTATIONS_DIR).values()]
