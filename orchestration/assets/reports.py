"""Group ``reports``: the run report people look at, written after every publish.

``data/reports/<run_id>/index.html`` (charts as inline SVG, works offline) and ``data/reports/latest.html``;
the same key figures (Pareto, segment profiles) as asset metadata.
"""

import dagster as dg

from orchestration.assets.segments import PUBLISHED_KEY
from orchestration.resources import Warehouse
from segments.reports.data_docs import write_data_docs
from segments.reports.profiles import pareto_markdown, profiles_markdown
from segments.reports.run_report import fetch_run_report, write_run_report

REPORT_KEY = dg.AssetKey(["reports", "run_report"])


@dg.asset(
    key=REPORT_KEY,
    deps=[PUBLISHED_KEY],
    group_name="reports",
    description="The run report: data quality (quarantine, warnings, link to the Great Expectations Data Docs), "
    "Pareto curve, segment sizes and revenue, CLV per segment, movements since the previous run, potential "
    "segments (HTML with inline SVG charts, no CDN).",
    kinds={"html"},
)
def run_report(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    reports_dir = warehouse.settings.reports_dir
    with warehouse.connect() as con:
        docs = write_data_docs(con, context.run_id, reports_dir)
        # fetched once: the page and the metadata show the same figures
        report = fetch_run_report(con, context.run_id)
        path = write_run_report(con, context.run_id, reports_dir, report=report)
    context.log.info(f"report {path}; Data Docs {docs}")
    return dg.MaterializeResult(
        metadata={
            "report": dg.MetadataValue.path(str(path)),
            "data_docs": dg.MetadataValue.path(str(docs)) if docs else "",
            "pareto": dg.MetadataValue.md(pareto_markdown(report.pareto)),
            "segment_profiles": dg.MetadataValue.md(profiles_markdown(report.profiles)),
        }
    )
