"""Great Expectations Data Docs (static HTML) for one pipeline run.

Why the validation results are rebuilt rather than taken from GX: the pipeline never validates a table directly.
``suites.validate`` hands GX a reduced frame (one representative value per verdict, weighted by the rows it stands
for) and turns GX's verdict back into table rows. GX's own result counts frame rows ("2 unexpected values of 3"),
which would mislead an auditor. So each ``Outcome`` becomes an ``ExpectationValidationResult`` with row-weighted
statistics: ``element_count`` and ``unexpected_count`` are table rows, ``partial_unexpected_list`` holds the
examples, ``observed_value`` what aggregate checks measured; the severity is kept in ``meta``. Checks the pipeline
runs itself (load anomalies, freshness, segment drift: not GX types) are rendered in the same pages, through a
render-only GX expectation class registered under their name, whose description states the check's parameters.

Rendering is GX's own, called directly (``context.build_data_docs()`` would need a context with stores, and its
index is filled in by JavaScript from a CDN): ``ValidationResultsPageRenderer`` makes the document,
``DefaultJinjaPageView`` the HTML, one page per suite, laid out as a GX site lays out validation pages
(``validations/<suite>/<run>/<run time>/<table>.html``) so the pages' own links back to ``index.html`` work. The
index is ours: plain HTML with no scripts, readable without network, listing every suite with its status, failures
by severity and a link to its page. The GX pages load CSS/JS from CDNs; their content is readable without them.
"""

from __future__ import annotations

import html
import json
import logging
import re
import shutil
import tempfile
import threading
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from segments.quality.suites import Outcome, SuiteReport

TABLE_LEVEL = "Table-Level Expectations"  # GX's section name for expectations without a column
SEVERITY_ORDER = ("block", "critical", "quarantine", "warning", "warn", "info")
GX_SEVERITY = {  # GX 1.x's own FailureSeverity (critical | warning | info) for the pipeline's words
    "block": "critical",
    "critical": "critical",
    "quarantine": "warning",
    "warning": "warning",
    "warn": "warning",
    "info": "info",
}
FALLBACK_TYPE = "pipeline_check"  # for a GX type whose recorded kwargs GX will not accept
_register_lock = threading.Lock()
_render_only_types: set[str] = set()  # types registered here, described in words rather than by GX


def write_data_docs(reports: list[SuiteReport], out_dir: Path, *, run_id: str, run_time: datetime) -> Path:
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
            document = _render_document(report, run_id=run_id, run_time=run_time, gx_version=gx.__version__)
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


# --- validation results --------------------------------------------------------------------------------------


def _render_document(report: SuiteReport, *, run_id: str, run_time: datetime, gx_version: str):
    """GX's rendered document for one suite, with a severity column and a run overview added."""
    from great_expectations.core import ExpectationSuiteValidationResult
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.render.renderer import ValidationResultsPageRenderer

    results = [_validation_result(outcome) for outcome in report.outcomes]
    passed = sum(bool(o.success) for o in report.outcomes)
    suite_result = ExpectationSuiteValidationResult(
        success=passed == len(report.outcomes),
        results=results,
        suite_name=report.suite.name,
        statistics={
            "evaluated_expectations": len(report.outcomes),
            "successful_expectations": passed,
            "unsuccessful_expectations": len(report.outcomes) - passed,
            "success_percent": 100.0 * passed / len(report.outcomes) if report.outcomes else None,
        },
        meta={
            "run_id": RunIdentifier(run_name=run_id, run_time=run_time),
            "great_expectations_version": gx_version,
            "batch_spec": {"data_asset_name": report.suite.table, "table_rows": report.rows},
        },
    )
    document = ValidationResultsPageRenderer().render(suite_result)
    document.page_title = html.escape(document.page_title, quote=False)  # the template does not escape it
    _annotate_rows(document, results)
    _add_run_overview(document, report, run_id=run_id, run_time=run_time)
    _unlink_suite_page(document)
    return document


def _validation_result(outcome: Outcome):
    """GX's result for one outcome, with the row-weighted statistics.

    GX 1.24 puts sampled values, non-numeric observed values and tracebacks into the page unescaped, so those
    (data, in the case of sampled values) are HTML-escaped here.
    """
    from great_expectations.core import ExpectationValidationResult

    percent = 100.0 * outcome.unexpected_count / outcome.element_count if outcome.element_count else 0.0
    result: dict[str, Any] = {
        "element_count": outcome.element_count,
        "unexpected_count": outcome.unexpected_count,
        "unexpected_percent": percent,
        "unexpected_percent_total": percent,
        "partial_unexpected_list": [_escaped(v) for v in outcome.examples],
    }
    if outcome.observed_value is not None:
        result["observed_value"] = _escaped(outcome.observed_value)
    exception_info = {"raised_exception": False, "exception_message": None, "exception_traceback": None}
    if outcome.error:
        exception_info = {
            "raised_exception": True,
            "exception_message": outcome.error,  # GX escapes this one
            "exception_traceback": html.escape(outcome.error, quote=False),
        }
    return ExpectationValidationResult(
        success=bool(outcome.success),
        expectation_config=_expectation_config(outcome),
        result=result,
        meta={"severity": outcome.severity, "pipeline": _pipeline_detail(outcome)},
        exception_info=exception_info,
    )


def _blocks(outcome: Outcome) -> bool:
    """A failure that stops the run and nobody accepted (fields of newer ``Outcome``s; absent means no)."""
    return (
        not outcome.success
        and bool(getattr(outcome, "blocks", False))
        and not getattr(outcome, "accepted", False)
    )


def _pipeline_detail(outcome: Outcome) -> str:
    """What the pipeline did about the outcome, in words: blocked, accepted, quarantined, and its note."""
    parts = []
    if _blocks(outcome):
        parts.append("blocks the run")
    elif not outcome.success and getattr(outcome, "accepted", False):
        parts.append("accepted (let through by a person)")
    quarantined = getattr(outcome, "quarantined", 0) or 0
    if quarantined:
        parts.append(f"{quarantined:,} rows quarantined")
    note = getattr(outcome, "note", None)
    if note:
        parts.append(str(note))
    return "; ".join(parts)


def _escaped(value: Any) -> Any:
    if hasattr(value, "item") and hasattr(value, "dtype"):  # numpy scalar
        value = value.item()
    if value is None or isinstance(value, bool | int | float):
        return value
    text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
    return html.escape(text, quote=False)


def _expectation_config(outcome: Outcome):
    """The outcome's expectation as GX configuration, renderable by GX's page renderer.

    GX's renderer builds the expectation object from the configuration (``to_domain_obj``), so a type GX does
    not know is registered as a render-only expectation first and described in words; a GX type whose recorded
    kwargs GX rejects is shown as a described ``pipeline_check`` rather than breaking the page.
    """
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    kwargs = dict(outcome.kwargs)
    if outcome.column is not None and "column" not in kwargs:
        kwargs["column"] = outcome.column
    common = {
        "meta": {"severity": outcome.severity},
        "severity": GX_SEVERITY.get(str(outcome.severity).lower(), "critical"),
    }
    description = html.escape(_describe(outcome.expectation, kwargs), quote=False)
    column_only = {"column": kwargs["column"]} if isinstance(kwargs.get("column"), str) else {}
    if _is_gx_type(outcome.expectation):
        candidates = [(outcome.expectation, kwargs, None)]
    else:
        candidates = [(outcome.expectation, kwargs, description)]
    candidates.append((FALLBACK_TYPE, column_only, description))
    for kind, arguments, text in candidates:
        if text is not None:
            _register_render_only(kind)
        config = ExpectationConfiguration(type=kind, kwargs=arguments, description=text, **common)
        try:
            config.to_domain_obj()
        except Exception:
            continue
        return config
    return config  # unreachable in practice: the fallback takes any column


def _is_gx_type(kind: str) -> bool:
    from great_expectations.exceptions import ExpectationNotFoundError
    from great_expectations.expectations.registry import get_expectation_impl

    if kind in _render_only_types:
        return False
    try:
        get_expectation_impl(kind)
    except ExpectationNotFoundError:
        return False
    return True


def _describe(kind: str, kwargs: dict[str, Any]) -> str:
    params = ", ".join(
        f"{k} = {json.dumps(v, default=str, ensure_ascii=False)}" for k, v in kwargs.items() if k != "column"
    )
    return f"{kind}: {params}" if params else kind


def _register_render_only(type_name: str) -> None:
    """Register ``type_name`` as a GX expectation that can be rendered, never validated.

    GX registers an expectation class, and its renderers, under the snake-cased class name; where that cannot
    spell ``type_name`` (or would shadow a GX type) the class gets another name and is registered by hand.
    """
    from great_expectations.compatibility import pydantic
    from great_expectations.exceptions import ExpectationNotFoundError
    from great_expectations.expectations.expectation import BatchExpectation
    from great_expectations.expectations.registry import (
        get_expectation_impl,
        register_expectation,
        register_renderer,
    )
    from great_expectations.util import camel_to_snake

    def registered(name: str) -> bool:
        try:
            get_expectation_impl(name)
        except ExpectationNotFoundError:
            return False
        return True

    with _register_lock:
        if type_name in _render_only_types or registered(type_name):
            return
        class_name = "".join(
            part[:1].upper() + part[1:] for part in re.split(r"[^0-9A-Za-z]+", type_name) if part
        )
        if not class_name or not class_name[0].isalpha():
            class_name = "Check" + class_name
        if camel_to_snake(class_name) != type_name and registered(camel_to_snake(class_name)):
            class_name = "RenderOnly" + class_name

        class Config:
            extra = pydantic.Extra.allow  # the check's own parameters

        def _validate(self, metrics, runtime_configuration=None, execution_engine=None):
            raise NotImplementedError(f"{type_name} is computed by the pipeline; GX only renders it")

        cls = type(
            class_name,
            (BatchExpectation,),
            {
                "__module__": __name__,
                "__doc__": f"Render-only stand-in for the pipeline check {type_name!r}.",
                "Config": Config,
                "_validate": _validate,
            },
        )
        if cls.expectation_type != type_name:
            cls.expectation_type = type_name
            register_expectation(cls)
            for attribute in dir(cls):
                function = getattr(cls, attribute, None)
                if function is not None and hasattr(function, "_renderer_type"):
                    register_renderer(object_name=type_name, parent_class=cls, renderer_fn=function)
        _render_only_types.add(type_name)


# --- additions to GX's document ------------------------------------------------------------------------------


def _string(text: str, detail: str | None = None, **extra: Any):
    """GX text content; GX escapes the params, so ``text`` and ``detail`` may hold anything."""
    from great_expectations.render import RenderedStringTemplateContent

    template = {"template": "$value", "params": {"value": text}, **extra}
    if detail:
        template["template"] = "$value<br>$detail"
        template["params"]["detail"] = detail
    return RenderedStringTemplateContent(content_block_type="string_template", string_template=template)


def _annotate_rows(document, results) -> None:
    """Add words to GX's per-column tables: the status (GX shows only a web-font icon) and the severity
    (GX 1.24 cannot render expectation meta: its ``meta_properties_to_render`` breaks ``to_domain_obj``)."""
    groups: dict[str, list] = {}
    for result in results:
        column = result.expectation_config.kwargs.get("column")
        groups.setdefault(column if isinstance(column, str) else TABLE_LEVEL, []).append(result)
    for section in document.sections:
        members = groups.get(section.section_name)
        if not members:
            continue
        for block in section.content_blocks:
            header = getattr(block, "header_row", None)
            rows = getattr(block, "table", None)
            if (
                header
                and header[:3] == ["Status", "Expectation", "Observed Value"]
                and len(rows) == len(members)
            ):
                block.header_row = [*header, "Severity"]
                for row, result in zip(rows, members, strict=True):
                    _add_status_text(row[0], result)
                    row.append(
                        _string(str(result.meta.get("severity", "")), detail=result.meta.get("pipeline"))
                    )


def _add_status_text(cell, result) -> None:
    template = getattr(cell, "string_template", None)
    if not isinstance(template, dict) or template.get("template") != "$icon":
        return
    raised = bool((result.exception_info or {}).get("raised_exception"))
    template["template"] = "$icon $status"
    template.setdefault("params", {})["status"] = (
        "Error" if raised else "Passed" if result.success else "Failed"
    )


def _add_run_overview(document, report: SuiteReport, *, run_id: str, run_time: datetime) -> None:
    from great_expectations.render import RenderedTableContent

    failed = Counter(o.severity for o in report.outcomes if not o.success)
    description = (report.suite.definition.get("meta") or {}).get("description") or ""
    rows = [
        ["Table", report.suite.table],
        ["Table rows", f"{report.rows:,}"],
        ["Run", run_id],
        ["Run time", run_time.strftime("%Y-%m-%dT%H:%M:%SZ")],
        ["Failed by severity", _severity_text(failed) or "none"],
        ["Blocks the run", "yes" if any(_blocks(o) for o in report.outcomes) else "no"],
        ["Quarantined rows", f"{sum(getattr(o, 'quarantined', 0) or 0 for o in report.outcomes):,}"],
        ["Row counts", "table rows (each validated value is weighted by the rows it stands for)"],
    ]
    if description:
        rows.insert(1, ["Description", description])
    table = RenderedTableContent(
        content_block_type="table",
        header=_string("Pipeline run", tag="h6", styling={"classes": ["m-0"]}),
        table=[[_string(str(key)), _string(str(value))] for key, value in rows],
        styling={
            "classes": ["col-6", "table-responsive", "mt-1", "p-1"],
            "body": {"classes": ["table", "table-sm"]},
        },
    )
    overview = document.sections[0]
    overview.content_blocks.insert(min(2, len(overview.content_blocks)), table)


def _unlink_suite_page(document) -> None:
    """GX links the suite name to an expectation-suite page; these docs have none."""
    for block in document.sections[0].content_blocks:
        subheader = getattr(block, "subheader", None)
        template = getattr(subheader, "string_template", None) or {}
        (template.get("styling") or {}).get("params", {}).pop("expectation_suite_name", None)


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


def _severity_key(severity: str) -> tuple[int, str]:
    lowered = str(severity).lower()
    return (SEVERITY_ORDER.index(lowered) if lowered in SEVERITY_ORDER else len(SEVERITY_ORDER), lowered)


def _severity_text(counts: Counter) -> str:
    return ", ".join(f"{severity}: {counts[severity]:,}" for severity in sorted(counts, key=_severity_key))


INDEX_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; }
table { border-collapse: collapse; margin: 1rem 0 2rem; }
th, td { border: 1px solid #ccc; padding: 0.3rem 0.6rem; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.passed { color: #1a7f37; font-weight: 600; }
.failed { color: #c62828; font-weight: 600; }
.note { color: #555; max-width: 60rem; }
"""


def _index_html(
    pages: list[tuple[SuiteReport, str]], *, run_id: str, run_time: datetime, gx_version: str
) -> str:
    e = html.escape
    severities = sorted(
        {o.severity for report, _ in pages for o in report.outcomes if not o.success}, key=_severity_key
    )
    head = "".join(f"<th>failed: {e(str(s))}</th>" for s in severities)
    rows = []
    for report, link in pages:
        failed = Counter(o.severity for o in report.outcomes if not o.success)
        success = not failed
        blocking = any(_blocks(o) for o in report.outcomes)
        quarantined = sum(getattr(o, "quarantined", 0) or 0 for o in report.outcomes)
        description = (report.suite.definition.get("meta") or {}).get("description") or ""
        rows.append(
            "<tr>"
            f'<td><a href="{e(link)}">{e(report.suite.name)}</a></td>'
            f"<td>{e(report.suite.table)}</td>"
            f"<td>{e(str(description))}</td>"
            f'<td class="{"passed" if success else "failed"}">{"Passed" if success else "Failed"}</td>'
            f'<td class="{"failed" if blocking else ""}">{"yes" if blocking else "no"}</td>'
            f'<td class="num">{report.rows:,}</td>'
            f'<td class="num">{quarantined:,}</td>'
            f'<td class="num">{len(report.outcomes):,}</td>'
            + "".join(f'<td class="num">{failed.get(s, 0):,}</td>' for s in severities)
            + "</tr>"
        )
    failures = [
        "<tr>"
        f'<td><a href="{e(link)}">{e(report.suite.name)}</a></td>'
        f"<td>{e(o.expectation)}</td><td>{e(o.column or '')}</td><td>{e(str(o.severity))}</td>"
        f'<td class="num">{o.unexpected_count:,} of {o.element_count:,}</td>'
        f"<td>{e(_failure_detail(o))}</td>"
        "</tr>"
        for report, link in pages
        for o in report.outcomes
        if not o.success
    ]
    failed_suites = sum(any(not o.success for o in report.outcomes) for report, _ in pages)
    title = f"Data Docs: run {run_id}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{e(title)}</title><style>{INDEX_STYLE}</style></head><body>",
        f"<h1>{e(title)}</h1>",
        f"<p>Run time {e(run_time.strftime('%Y-%m-%d %H:%M:%S UTC'))}; {len(pages)} suites, "
        f"{failed_suites} with failed expectations. Rendered with Great Expectations {e(gx_version)}.</p>",
        '<p class="note">Counts are table rows: the pipeline validates a reduced frame of representative values, '
        "each weighted by the number of table rows it stands for.</p>",
        "<h2>Suites</h2>",
        "<table><thead><tr><th>suite</th><th>table</th><th>description</th><th>status</th>"
        f"<th>blocks the run</th><th>rows</th><th>quarantined rows</th><th>expectations</th>{head}</tr></thead>"
        "<tbody>",
        *rows,
        "</tbody></table>",
    ]
    if failures:
        parts += [
            "<h2>Failed expectations</h2>",
            "<table><thead><tr><th>suite</th><th>expectation</th><th>column</th><th>severity</th>"
            "<th>unexpected rows</th><th>detail</th></tr></thead><tbody>",
            *failures,
            "</tbody></table>",
        ]
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _failure_detail(outcome: Outcome) -> str:
    if outcome.error:
        return f"could not run: {outcome.error}"
    detail = _pipeline_detail(outcome)
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
