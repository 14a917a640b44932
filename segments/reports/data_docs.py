"""Great Expectations Data Docs (static HTML) for one pipeline run: a page per suite and an index.

Each suite's page is GX's own (``segments.quality.gx_pages``: why it is rebuilt from the pipeline's outcomes),
laid out as a GX site lays out validation pages (``validations/<suite>/<run>/<run time>/<table>.html``) so the
pages' own links back to ``index.html`` work; ``context.build_data_docs()`` is not used, as it would need a
context with stores and its index is filled in by JavaScript from a CDN. The index is ours
(``templates/data_docs.html``): plain HTML with no scripts, readable without network, listing every suite with
its status, failures by severity and a link to its page. The GX pages load CSS/JS from CDNs; their content is
readable without them.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from segments.quality import drift
from segments.quality.results import reports_for_run
from segments.quality.suites import Outcome, SuiteReport, load_suites
from segments.reports.gx_pages import blocks, pipeline_detail, render_page, severity_key
from segments.reports.render import render
from segments.settings import EXPECTATIONS_DIR


def render_data_docs(reports: list[SuiteReport], out_dir: Path, *, run_id: str, run_time: datetime) -> Path:
    """Write Data Docs for ``reports`` into ``out_dir`` (replacing it) and return ``out_dir/index.html``.

    The docs are rendered into a temporary folder beside ``out_dir`` and renamed into place, so readers see the
    previous docs or the new ones, never a half-written folder. A naive ``run_time`` is taken as local time
    (as GX does); pages show it in UTC.
    """
    import great_expectations as gx  # heavy import (~3 s): only when docs are written
    from great_expectations.render.view import DefaultJinjaPageView

    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    run_time = run_time.astimezone(UTC)
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".tmp", dir=out_dir.parent))
    try:
        staging.chmod(0o755)  # mkdtemp makes it private; the docs are meant to be read
        view = DefaultJinjaPageView()
        pages: list[tuple[SuiteReport, str]] = []
        used: set[str] = set()
        for report in reports:
            relative = _page_path(report, run_id, run_time, used)
            document = render_page(report, run_id=run_id, run_time=run_time, gx_version=gx.__version__)
            target = staging / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(view.render(document), encoding="utf-8")
            pages.append((report, relative))
        (staging / "index.html").write_text(
            _index_html(pages, run_id=run_id, run_time=run_time, gx_version=gx.__version__), encoding="utf-8"
        )
        _swap_into_place(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out_dir / "index.html"


# --- layout and index ----------------------------------------------------------------------------------------


def _safe(part: str) -> str:
    part = re.sub(r"[^0-9A-Za-z_.=-]+", "_", part).strip(".")
    return part or "_"


def _page_path(report: SuiteReport, run_id: str, run_time: datetime, used: set[str]) -> str:
    """GX's validation page layout: the page's relative links assume one folder per dot in the suite name."""
    folders = [_safe(p) for p in report.suite.name.split(".")]
    folders += [_safe(run_id), run_time.strftime("%Y%m%dT%H%M%S.%fZ")]
    stem = _safe(report.suite.table)
    relative = "/".join(["validations", *folders, f"{stem}.html"])
    number = 1
    while relative in used:
        number += 1
        relative = "/".join(["validations", *folders, f"{stem}-{number}.html"])
    used.add(relative)
    return relative


@dataclass(frozen=True)
class _SuiteRow:
    """One suite in the index."""

    name: str
    link: str  # its page, relative to the index
    table: str
    description: str
    failed: Counter  # severity -> failed expectations
    blocks: bool
    rows: int
    quarantined: int
    expectations: int


@dataclass(frozen=True)
class _FailureRow:
    """One failed expectation in the index."""

    suite: str
    link: str
    expectation: str
    column: str | None
    severity: str
    unexpected: int
    rows: int
    detail: str


def _index_html(
    pages: list[tuple[SuiteReport, str]], *, run_id: str, run_time: datetime, gx_version: str
) -> str:
    """The index (templates/data_docs.html): every suite with its status and a link to its page."""
    suites = [
        _SuiteRow(
            name=report.suite.name,
            link=link,
            table=report.suite.table,
            description=str((report.suite.definition.get("meta") or {}).get("description") or ""),
            failed=Counter(o.severity for o in report.outcomes if not o.success),
            blocks=any(blocks(o) for o in report.outcomes),
            rows=report.rows,
            quarantined=sum(getattr(o, "quarantined", 0) or 0 for o in report.outcomes),
            expectations=len(report.outcomes),
        )
        for report, link in pages
    ]
    failures = [
        _FailureRow(
            report.suite.name, link, o.expectation, o.column, str(o.severity), o.unexpected_count,
            o.element_count, _failure_detail(o),
        )
        for report, link in pages
        for o in report.outcomes
        if not o.success
    ]  # fmt: skip
    return render(
        "data_docs.html",
        title=f"Data Docs: run {run_id}",
        run_time=run_time,
        gx_version=gx_version,
        suites=suites,
        severities=sorted({s for suite in suites for s in suite.failed}, key=severity_key),
        failures=failures,
    )


def _failure_detail(outcome: Outcome) -> str:
    if outcome.error:
        return f"could not run: {outcome.error}"
    detail = pipeline_detail(outcome)
    details = [detail] if detail else []
    if outcome.observed_value is not None:
        observed = outcome.observed_value
        details.append(
            f"observed {observed if isinstance(observed, str) else json.dumps(observed, default=str)}"
        )
    if outcome.examples:
        details.append("e.g. " + ", ".join(repr(v) for v in outcome.examples[:3]))
    return "; ".join(details)


def _swap_into_place(staging: Path, out_dir: Path) -> None:
    """Rename the finished docs to ``out_dir``; an existing ``out_dir`` is moved aside first, then removed."""
    old = None
    if out_dir.exists() or out_dir.is_symlink():
        old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".old", dir=out_dir.parent))
        old.rmdir()
        out_dir.rename(old)
    try:
        staging.rename(out_dir)
    except BaseException:
        if old is not None:
            old.rename(out_dir)
        raise
    if old is not None:
        if old.is_dir() and not old.is_symlink():
            shutil.rmtree(old, ignore_errors=True)
        else:
            old.unlink()


def write_data_docs(con: duckdb.DuckDBPyConnection, run_id: str, reports_dir: Path) -> Path | None:
    """Render the run's Data Docs into ``reports_dir/<run_id>/data_docs``; None if the run has no results."""
    descriptions = {
        s.name: s.definition.get("meta", {}).get("description")
        for s in load_suites(EXPECTATIONS_DIR).values()
    }
    reports = reports_for_run(con, run_id, descriptions={**descriptions, drift.SUITE_NAME: drift.DESCRIPTION})
    if not reports:
        return None
    return render_data_docs(
        reports, reports_dir / run_id / "data_docs", run_id=run_id, run_time=datetime.now()
    )
