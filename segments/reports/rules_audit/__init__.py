"""The rules audit: every rule version the job has seen, what it changed and what it did to the segments.

``segments report rules [--out DIR]`` writes ``rules_report.html`` (self-contained, works offline) and
``rules_report.md`` (for a pull request or an audit file). Both come from the published contract in schema
``segments`` (see ``segments.contract.tables.DDL``):

- ``rule_versions``: each version's file text, hash, author, effective date and role;
- ``runs``: the published runs that used it (as champion, or as challenger of an experiment);
- ``rule_version_impact``: its measured impact at first use (previous version's segment -> new segment);
- ``segment_sizes``: segment sizes of every published run.

``fetch_rules_audit`` (``fetch.py``) reads the warehouse into the plain dataclasses of ``model.py``;
``render_html``/``render_markdown`` turn them into documents without touching a database, from the templates
``rules_audit.html`` and ``rules_audit.md``. A fresh warehouse (tables missing or empty) gives a short report.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import duckdb

from segments.formatting import minute, plural
from segments.reports import write_text_atomic
from segments.reports.html import Html, line_chart
from segments.reports.render import render
from segments.reports.rules_audit.fetch import fetch_rules_audit, unified_diff
from segments.reports.rules_audit.model import (
    ABSENT,
    CHALLENGER,
    IN_USE,
    NOT_USED_YET,
    USED_BEFORE,
    ImpactMatrix,
    RulesAudit,
    RunRef,
    SizeSeries,
    VersionAudit,
)

__all__ = [
    "CHALLENGER",
    "HTML_NAME",
    "IN_USE",
    "MD_NAME",
    "NOT_USED_YET",
    "USED_BEFORE",
    "ImpactMatrix",
    "RulesAudit",
    "RunRef",
    "SizeSeries",
    "VersionAudit",
    "fetch_rules_audit",
    "render_html",
    "render_markdown",
    "unified_diff",
    "write_rules_report",
]

HTML_NAME = "rules_report.html"
MD_NAME = "rules_report.md"


# --- rendering (templates/rules_audit.html and rules_audit.md) --------------------------------------------

TITLE = "Segment rules audit"


def _label(segment: str | None) -> str:
    return ABSENT if segment is None else segment


def _run_text(run: RunRef | None) -> str:
    return f"{run.run_id} ({run.as_of})" if run else "—"


def _no_impact(v: VersionAudit) -> str:
    if v.role == "challenger":
        return "A challenger is measured by its experiment, not at first use: see segments report experiment."
    if v.first_run is None:
        return "Not used yet: no impact measured."
    if v.diff_base is None:
        return "First version: there is no previous version to compare with."
    return "No impact recorded for this version."


def _no_sizes(audit: RulesAudit) -> str:
    if audit.published_runs == 0:
        return "No published runs yet."
    return "No segment sizes recorded for the published runs (a release before segment_sizes made them)."


def _summary_line(audit: RulesAudit) -> str:
    latest = f"; latest published run {_run_text(audit.latest_run)}" if audit.latest_run else ""
    return (
        f"{plural(len(audit.versions), 'rule version')}, {plural(audit.published_runs, 'published run')}, "
        f"{plural(audit.failed_runs, 'failed run')}{latest}. Generated {minute(audit.generated_at)}."
    )


def _anchor(index: int, version: str) -> str:
    return f"v{index}-" + re.sub(r"[^A-Za-z0-9_-]+", "-", version).strip("-")


def _sizes_chart(s: SizeSeries) -> Html:
    return line_chart(
        [str(r.as_of) for r in s.runs],
        [(seg, s.entities[seg]) for seg in s.segments],
        title=f"Segment sizes over time: {s.scheme}",
        point_titles=[f"{r.run_id}, {r.as_of}" for r in s.runs],
    )


def _context(audit: RulesAudit) -> dict[str, object]:
    return {
        "title": TITLE,
        "audit": audit,
        "summary": _summary_line(audit),
        "no_sizes": _no_sizes(audit),
        "no_impact": _no_impact,
        "run_text": _run_text,
        "label": _label,
        "absent": ABSENT,
    }


def render_html(audit: RulesAudit) -> str:
    """The audit as one self-contained HTML document (inline CSS and SVG; no scripts, no external files)."""
    return render("rules_audit.html", **_context(audit), anchor=_anchor, chart=_sizes_chart)


def render_markdown(audit: RulesAudit) -> str:
    """The audit as GitHub-flavoured Markdown (no charts; the tables carry the same numbers)."""
    return render("rules_audit.md", **_context(audit))


# --- writing --------------------------------------------------------------------------------------------


def write_rules_report(
    con: duckdb.DuckDBPyConnection, out_dir: Path, *, today: date | None = None
) -> tuple[Path, Path]:
    """Write ``rules_report.html`` and ``rules_report.md`` to ``out_dir`` (each atomically); returns both."""
    audit = fetch_rules_audit(con, today=today)
    out_dir = Path(out_dir)
    html_path = write_text_atomic(out_dir / HTML_NAME, render_html(audit))
    md_path = write_text_atomic(out_dir / MD_NAME, render_markdown(audit))
    return html_path, md_path
