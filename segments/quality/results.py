"""Evidence for auditors: every run's validation results in ``segments.quality_results`` and as GX Data Docs.

Results are written as each check runs, also on runs that then stop, so a blocked night can be explained.
The table is part of the published contract (copied into the readers' snapshot with the next publish); the
Data Docs (``reports/<run_id>/data_docs/index.html``) are rendered from it once per run, by the run report on
success or by the failure handler when a check stopped the run.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from segments.contract import migrate
from segments.quality.gate import QUARANTINE_TABLE
from segments.quality.suites import Outcome, Suite, SuiteReport
from segments.warehouse import table_exists

RESULTS_TABLE = "segments.quality_results"
COLUMNS = (
    "run_id, suite, table_name, expectation, column_name, severity, success, observed_value, unexpected_count, "
    "element_count, quarantined_rows, blocks, accepted, kwargs, examples, note, checked_at"
)


def record(
    con: duckdb.DuckDBPyConnection, run_id: str, reports: list[SuiteReport], *, checked_at: datetime
) -> None:
    """Replace this run's rows of these suites (a retried step writes its results once)."""
    migrate(con)
    for report in reports:
        con.execute(
            f"delete from {RESULTS_TABLE} where run_id = ? and suite = ?", [run_id, report.suite.name]
        )
        rows = [
            [
                run_id, report.suite.name, report.suite.table, o.expectation, o.column, o.severity, o.success,
                None if o.observed_value is None else str(o.observed_value), o.unexpected_count, o.element_count,
                o.quarantined, o.blocks, o.accepted, json.dumps(o.kwargs, default=str),
                json.dumps(o.examples, default=str), o.note or o.error, checked_at,
            ]
            for o in report.outcomes
        ]  # fmt: skip
        if rows:
            con.executemany(
                f"insert into {RESULTS_TABLE} ({COLUMNS}) values ({', '.join('?' * len(COLUMNS.split(',')))})",
                rows,
            )


def reports_for_run(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    *,
    table: str = RESULTS_TABLE,
    descriptions: dict[str, str | None] | None = None,
) -> list[SuiteReport]:
    """The run's results as reports again (for Data Docs and the run report), in the order they ran;
    ``descriptions``: what each suite guards, by suite name (the table keeps results, not suite texts)."""
    rows = con.execute(
        f"""select suite, table_name, expectation, column_name, severity, success, observed_value, unexpected_count,
                   element_count, quarantined_rows, blocks, accepted, kwargs, examples, note
            from {table} where run_id = ? order by checked_at, rowid""",
        [run_id],
    ).fetchall()
    grouped: dict[str, tuple[str, list[Outcome]]] = {}
    for suite, table_name, *rest in rows:
        expectation, column, severity, success, observed, unexpected, elements, quarantined = rest[:8]
        blocks, accepted, kwargs, examples, note = rest[8:]
        outcome = Outcome(
            expectation=expectation,
            column=column,
            severity=severity,
            success=success,
            element_count=elements or 0,
            unexpected_count=unexpected or 0,
            examples=_json(examples, []),
            kwargs=_json(kwargs, {}),
            observed_value=observed,
            quarantined=quarantined or 0,
            blocks=blocks,
            accepted=accepted,
            note=note,
        )
        grouped.setdefault(suite, (table_name, []))[1].append(outcome)
    return [
        SuiteReport(
            suite=Suite(
                name,
                table_name,
                Path(f"{name}.json"),
                {"expectations": [], "meta": {"description": (descriptions or {}).get(name)}},
                {},
            ),
            rows=max((o.element_count for o in outcomes), default=0),
            outcomes=outcomes,
        )
        for name, (table_name, outcomes) in grouped.items()
    ]


def quarantine_counts(con: duckdb.DuckDBPyConnection, run_id: str) -> list[tuple[str, str, str, int]]:
    """(entity, expectation, column, rows) a run quarantined, largest first; none before the first gate."""
    if not table_exists(con, QUARANTINE_TABLE):
        return []
    return con.execute(
        f"""select entity, expectation, column_name, count(*) as n from {QUARANTINE_TABLE}
            where run_id = ? group by all order by n desc, entity, expectation, column_name""",
        [run_id],
    ).fetchall()


def _json(text: str | None, default: Any) -> Any:
    return json.loads(text) if text else default
