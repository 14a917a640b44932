"""The run report's "Data quality" section: what the quality gate checked, set aside and let through.

``fetch_quality`` reads the run's ``segments.quality_results`` (every check: Great Expectations suites, load
anomalies, freshness, segment-size drift), the rows it quarantined (``raw._quarantine``) and whether a person
accepted drift (``segments.runs``); ``quality_html`` renders it. A warehouse of a release without quality
checks has no ``segments.quality_results``: ``fetch_quality`` returns None and the section says so.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from segments.contract.tables import readable
from segments.formatting import plural
from segments.quality.gate import QUARANTINE_TABLE
from segments.quality.results import RESULTS_TABLE, quarantine_counts
from segments.quality.suites import SEVERITIES
from segments.reports.render import render
from segments.warehouse import table_exists

__all__ = [
    "DATA_DOCS_HREF",
    "FailedCheck",
    "QualitySection",
    "QuarantineReason",
    "fetch_quality",
    "quality_html",
    "verdict",
]

DATA_DOCS_HREF = "data_docs/index.html"  # relative to <reports_dir>/<run_id>/index.html


@dataclass(frozen=True)
class FailedCheck:
    suite: str
    expectation: str
    column: str | None
    severity: str  # block | quarantine | warn
    observed: str | None
    unexpected: int | None
    quarantined: int | None
    blocks: bool  # this failure stops the run ...
    accepted: bool  # ... unless a person let it through (--accept-drift)
    note: str | None

    @property
    def outcome(self) -> str:
        """In words: what the failure did to the run."""
        if self.blocks and self.accepted:
            return "accepted (--accept-drift)"
        if self.blocks:
            return "blocked the run"
        if self.severity == "quarantine":
            return "rows quarantined"
        return "warning"


@dataclass(frozen=True)
class QuarantineReason:
    entity: str
    expectation: str
    column: str | None
    rows: int


@dataclass(frozen=True)
class QualitySection:
    run_id: str
    counts: dict[str, tuple[int, int]]  # severity -> (passed, failed), in SEVERITIES order
    failed: list[FailedCheck]  # blocking first, then quarantine, then warnings
    quarantine: list[QuarantineReason]  # largest first
    accept_drift: bool | None  # the run was started with --accept-drift (None: not recorded)
    accepted_drift: str | None  # what was accepted, as recorded in segments.runs

    @property
    def quarantine_source(self) -> str:
        """The table the quarantine counts come from (migration 1 gives every warehouse one)."""
        return QUARANTINE_TABLE

    @property
    def checks(self) -> int:
        return sum(passed + failed for passed, failed in self.counts.values())

    @property
    def passed(self) -> int:
        return sum(passed for passed, _ in self.counts.values())

    @property
    def quarantined_rows(self) -> int:
        return sum(r.rows for r in self.quarantine)


def fetch_quality(con: duckdb.DuckDBPyConnection, run_id: str) -> QualitySection | None:
    """The run's quality evidence; None if the warehouse has no ``segments.quality_results`` (older release)."""
    if not table_exists(con, RESULTS_TABLE):
        return None
    results = readable(con, RESULTS_TABLE)
    counts: dict[str, tuple[int, int]] = {}
    for severity, passed, failed in con.execute(
        f"""select severity, count(*) filter (where success), count(*) filter (where not success)
            from {results} where run_id = ? group by severity""",
        [run_id],
    ).fetchall():
        counts[severity] = (passed, failed)
    counts = {s: counts[s] for s in sorted(counts, key=_severity_order)}
    failed = [
        FailedCheck(*row[:7], bool(row[7]), bool(row[8]), row[9])
        for row in con.execute(
            f"""select suite, expectation, column_name, severity, observed_value, unexpected_count,
                       quarantined_rows, blocks, accepted, note
                from {results} where run_id = ? and not success
                order by coalesce(blocks and not accepted, blocks, false) desc, coalesce(blocks, false) desc,
                         case severity when 'block' then 0 when 'quarantine' then 1 else 2 end,
                         checked_at, suite, expectation, column_name""",
            [run_id],
        ).fetchall()
    ]
    run = con.execute(
        f"select accept_drift, accepted_drift from {readable(con, 'segments.runs')} where run_id = ?",
        [run_id],
    ).fetchone()
    return QualitySection(
        run_id=run_id,
        counts=counts,
        failed=failed,
        quarantine=[QuarantineReason(*r) for r in quarantine_counts(con, run_id)],
        accept_drift=run[0] if run else None,
        accepted_drift=run[1] if run else None,
    )


def _severity_order(severity: str) -> tuple[int, str]:
    return (SEVERITIES.index(severity) if severity in SEVERITIES else len(SEVERITIES), severity)


def verdict(section: QualitySection) -> str:
    """One line: did the gate pass, what did it set aside, what did a person let through."""
    if not section.checks:
        return "No quality checks were recorded for this run."
    blocking = sum(f.blocks and not f.accepted for f in section.failed)
    accepted = sum(f.blocks and f.accepted for f in section.failed)
    warnings = sum(not f.blocks and f.severity != "quarantine" for f in section.failed)
    if blocking:
        head = f"Blocked: {blocking:,} blocking check{'s' if blocking != 1 else ''} failed, so nothing was published."
    elif not section.failed:
        head = "The one check passed." if section.checks == 1 else f"All {section.checks:,} checks passed."
    else:
        head = f"{section.passed:,} of {section.checks:,} checks passed."
    parts = [head]
    quarantined = section.quarantined_rows
    parts.append(
        f"{plural(quarantined, 'row')} quarantined (set aside, not used for features or segments)."
        if quarantined
        else "No rows were quarantined."
    )
    if accepted:
        parts.append(
            f"{accepted:,} blocking drift check{'s were' if accepted != 1 else ' was'} accepted with --accept-drift."
        )
    if warnings:
        parts.append(f"{warnings:,} warning{'s' if warnings != 1 else ''}.")
    return " ".join(parts)


def quality_html(section: QualitySection | None, data_docs_href: str | None) -> list[str]:
    """The lines of the ``<h2 id="quality">`` section (templates/quality.html, which the run report includes);
    ``data_docs_href``: link to the run's Great Expectations Data Docs."""
    return render(
        "quality.html", section=section, data_docs_href=data_docs_href, verdict=verdict
    ).splitlines()
