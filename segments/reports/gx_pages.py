"""Great Expectations' own page for each suite of a run, with the pipeline's row-weighted statistics.

Why the validation results are rebuilt rather than taken from GX: the pipeline never validates a table directly.
``validation.validate`` hands GX a reduced frame (one representative value per verdict, weighted by the rows it stands
for) and turns GX's verdict back into table rows. GX's own result counts frame rows ("2 unexpected values of 3"),
which would mislead an auditor. So each ``Outcome`` becomes an ``ExpectationValidationResult`` with row-weighted
statistics: ``element_count`` and ``unexpected_count`` are table rows, ``partial_unexpected_list`` holds the
examples, ``observed_value`` what aggregate checks measured; the severity is kept in ``meta``. Checks the pipeline
runs itself (load anomalies, freshness, segment drift: not GX types) are rendered in the same pages, through a
render-only GX expectation class registered under their name, whose description states the check's parameters.

Rendering is GX's own, called directly: ``ValidationResultsPageRenderer`` makes the document (``render_page``),
GX's ``DefaultJinjaPageView`` the HTML (``segments.reports.data_docs`` writes it). GX is imported inside the
functions: it takes seconds, and only writing docs needs it.
"""

from __future__ import annotations

import html
import json
import re
import threading
from collections import Counter
from datetime import datetime
from typing import Any

from segments.quality.suites import Outcome, SuiteReport

__all__ = ["SEVERITY_ORDER", "blocks", "pipeline_detail", "render_page", "severity_key"]

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


def render_page(report: SuiteReport, *, run_id: str, run_time: datetime, gx_version: str):
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
        meta={"severity": outcome.severity, "pipeline": pipeline_detail(outcome)},
        exception_info=exception_info,
    )


def blocks(outcome: Outcome) -> bool:
    """A failure that stops the run and nobody accepted (fields of newer ``Outcome``s; absent means no)."""
    return (
        not outcome.success
        and bool(getattr(outcome, "blocks", False))
        and not getattr(outcome, "accepted", False)
    )


def pipeline_detail(outcome: Outcome) -> str:
    """What the pipeline did about the outcome, in words: blocked, accepted, quarantined, and its note."""
    parts = []
    if blocks(outcome):
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
        ["Blocks the run", "yes" if any(blocks(o) for o in report.outcomes) else "no"],
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


def severity_key(severity: str) -> tuple[int, str]:
    lowered = str(severity).lower()
    return (SEVERITY_ORDER.index(lowered) if lowered in SEVERITY_ORDER else len(SEVERITY_ORDER), lowered)


def _severity_text(counts: Counter) -> str:
    return ", ".join(f"{severity}: {counts[severity]:,}" for severity in sorted(counts, key=severity_key))
