"""The run report people look at after every published run: ``<reports_dir>/<run_id>/index.html``.

One self-contained HTML file (inline CSS and SVG; no script, no CDN, no web font: it works offline and can be
archived or mailed as is) with the run's facts (``segments.runs``) and five charts:

- ``pareto``: cumulative share of revenue over buyers ranked by revenue, with the top-20% point;
- ``segment-sizes`` (per scheme): each segment's share of the scheme's entities and of its revenue;
- ``clv`` (per scheme): the spread of predicted CLV per segment (box: 25-75%, whiskers: 10-90%, line: median,
  dot: mean), or a note when the warehouse has no CLV yet;
- ``movements`` (per scheme): the most frequent segment moves of this run (``segments.segment_changes``);
- ``potential-segments``: prospects and potential value of ``marts.potential_segments``, or a note.

``reports_dir/latest.html`` is a small page that redirects (relative link) to the newest report. Every chart is
an ``<svg class="chart" data-chart="NAME">`` whose data marks have class ``mark`` (tests measure them).
``fetch_run_report`` reads the warehouse into dataclasses; the page is ``templates/run_report.html`` (its
"Data quality" section is ``quality.html``) and the redirect ``latest.html``.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import quote

import duckdb

from segments.contract.tables import readable
from segments.formatting import count, money, noun, number
from segments.reports import mart, write_text_atomic
from segments.reports.charts import bar_chart, clv_chart, pareto_chart
from segments.reports.html import Html
from segments.reports.profiles import (
    Pareto,
    SegmentProfile,
    by_scheme,
    facts_text,
    pareto,
    segment_profiles,
    shares_text,
)
from segments.reports.quality import DATA_DOCS_HREF, QualitySection, fetch_quality, verdict
from segments.reports.render import render
from segments.warehouse import table_exists

__all__ = [
    "LATEST_NAME",
    "Move",
    "PotentialSegment",
    "RunFacts",
    "RunReport",
    "fetch_run_report",
    "latest_page",
    "render_run_report",
    "write_run_report",
]

LATEST_NAME = "latest.html"
INDEX_NAME = "index.html"
TOP_MOVES = 12
NEW, LEFT = "(new)", "(left)"  # labels of a NULL from/to segment: entered or left the scheme
_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")  # safe as a folder name and in a relative URL

POTENTIAL_COLUMNS = (  # what is read of marts.potential_segments
    "potential_segment", "customer_type", "buyers", "average_value", "prospects", "potential_value",
)  # fmt: skip
TOP_POTENTIAL = 15


@dataclass(frozen=True)
class RunFacts:
    run_id: str
    as_of: date | None
    status: str | None
    rule_version: str | None
    rules_sha256: str | None
    customers: int | None
    assignments: int | None
    published_at: datetime | None
    input_fingerprint: str | None
    output_fingerprint: str | None
    experiment: str | None
    challenger_version: str | None
    previous_run_id: str | None  # the published run before it
    previous_as_of: date | None


@dataclass(frozen=True)
class Move:
    scheme: str
    change: str  # moved | entered | left
    from_segment: str | None
    to_segment: str | None
    entities: int


@dataclass(frozen=True)
class PotentialSegment:
    label: str
    customer_type: str | None
    buyers: int | None  # existing buyers of the cell the prospects resemble
    average_value: float | None  # their average value (EUR)
    prospects: int | None
    potential_value: float | None  # prospects x average value (EUR)


@dataclass(frozen=True)
class RunReport:
    run_id: str
    generated_at: datetime
    run: RunFacts | None  # None: the run is not in segments.runs
    assignments_run_ids: tuple[str, ...]  # run id(s) of the current segments.customer_segments
    profiles: list[SegmentProfile]
    pareto: Pareto
    moves: list[Move]  # all of this run's changes, grouped; largest first per scheme
    potential: list[PotentialSegment] | None  # None: marts.potential_segments does not exist
    clv_available: bool  # marts.customer_features has a predicted_clv (the CLV models could be fitted)
    quality: QualitySection | None = None  # None: no segments.quality_results (older warehouse)

    @property
    def profiles_by_scheme(self) -> dict[str, list[SegmentProfile]]:
        """The profiles per scheme, in their order (schemes by name, segments largest first)."""
        return by_scheme(self.profiles)

    @property
    def moves_by_scheme(self) -> dict[str, list[Move]]:
        """This run's moves per scheme, largest first."""
        moves: dict[str, list[Move]] = defaultdict(list)
        for m in self.moves:
            moves[m.scheme].append(m)
        return dict(moves)


def fetch_run_report(
    con: duckdb.DuckDBPyConnection, run_id: str, *, generated_at: datetime | None = None
) -> RunReport:
    runs = readable(con, "segments.runs")
    order = "as_of, coalesce(published_at, finished_at, started_at) nulls first, run_id"
    row = con.execute(
        f"""with ordered as (
                select *, lag(run_id) over w as previous_run_id, lag(as_of) over w as previous_as_of
                from {runs} where status = 'published' or run_id = ?
                window w as (order by {order}))
            select run_id, as_of, status, rule_version, rules_sha256, customers, assignments, published_at,
                   input_fingerprint, output_fingerprint, experiment, challenger_version,
                   previous_run_id, previous_as_of
            from ordered where run_id = ?""",
        [run_id, run_id],
    ).fetchone()
    assigned = readable(con, "segments.customer_segments")
    current = tuple(
        r[0] for r in con.execute(f"select distinct run_id from {assigned} order by 1").fetchall()
    )
    moves = con.execute(
        f"""select scheme, change, from_segment, to_segment, count(*) as entities
            from {readable(con, "segments.segment_changes")} where run_id = ?
            group by all order by scheme, entities desc, change, from_segment nulls first, to_segment""",
        [run_id],
    ).fetchall()
    potential = None
    if table_exists(con, "marts.potential_segments"):
        potential = [
            PotentialSegment(*row)
            for row in con.execute(
                f"""select coalesce(potential_segment, '?') as label, customer_type, buyers,
                          average_value::double, prospects, potential_value::double as value
                   from {mart(con, "marts.potential_segments", POTENTIAL_COLUMNS)}
                   order by value desc nulls last, label"""
            ).fetchall()
        ]
    profiles = segment_profiles(con)  # first: of an older customer_features, it names every column it lacks
    features = mart(con, "marts.customer_features", ("predicted_clv",))
    (clv,) = con.execute(f"select exists (from {features} where predicted_clv is not null)").fetchone()
    return RunReport(
        run_id=run_id,
        generated_at=generated_at or datetime.now().replace(microsecond=0),
        run=RunFacts(*row) if row else None,
        assignments_run_ids=current,
        profiles=profiles,
        pareto=pareto(con),
        moves=[Move(*m) for m in moves],
        potential=potential,
        clv_available=bool(clv),
        quality=fetch_quality(con, run_id),
    )


def write_run_report(
    con: duckdb.DuckDBPyConnection, run_id: str, reports_dir: Path, *, report: RunReport | None = None
) -> Path:
    """Write ``reports_dir/<run_id>/index.html``, then point ``reports_dir/latest.html`` at it (each file is
    replaced atomically). Returns the report's path. ``report``: the run's report when the caller has
    already fetched it (its profiles scan every customer: at 1M customers, seconds)."""
    if not _RUN_ID.fullmatch(run_id):
        raise ValueError(
            f"run id {run_id!r} cannot name a report folder: letters, digits, '.', '_', '-' only"
        )
    if report is None:
        report = fetch_run_report(con, run_id)
    elif report.run_id != run_id:
        raise ValueError(f"the report given is of run {report.run_id}, not of run {run_id}")
    path = write_text_atomic(reports_dir / run_id / INDEX_NAME, render_run_report(report))
    write_text_atomic(
        reports_dir / LATEST_NAME, latest_page(run_id, report.run.as_of if report.run else None)
    )
    return path


def latest_page(run_id: str, as_of: date | None = None) -> str:
    """A page that sends the browser on to ``<run_id>/index.html`` (relative, so the folder can move)."""
    return render(
        "latest.html",
        title="Latest run report",
        href=f"{quote(run_id)}/{INDEX_NAME}",
        run_id=run_id,
        as_of=as_of,
    )


# --- the document (templates/run_report.html) -----------------------------------------------------------


def render_run_report(report: RunReport) -> str:
    """The report as one self-contained HTML document."""
    return render(
        "run_report.html",
        title=f"Segmentation run {report.run_id}",
        report=report,
        # The run's Data Docs are written into <run_id>/data_docs/ by the same job (next to this report), so
        # the relative link is given whenever the run has results; this renderer does not know reports_dir.
        data_docs_href=DATA_DOCS_HREF,
        verdict=verdict,
        shares_text=shares_text,
        facts_text=facts_text,
        charts=_CHARTS,
        top_moves=TOP_MOVES,
        top_potential=TOP_POTENTIAL,
    )


def _entities(entity: str) -> str:
    """What a scheme segments, in the plural: ``contacts``; ``entities`` when that is several kinds."""
    return noun(entity) if entity and "," not in entity else "entities"


def _whole_or_tenths(value: float) -> str:
    return number(value, 0 if float(value).is_integer() else 1)


def _segments_chart(scheme: str, rows: list[SegmentProfile]) -> Html:
    return bar_chart(
        "segment-sizes",
        f"Share of entities and of revenue per segment: {scheme}",
        [p.segment for p in rows],
        [
            (f"share of {_entities(rows[0].entity)}", [100 * p.share for p in rows]),
            ("share of revenue", [None if p.revenue_share is None else 100 * p.revenue_share for p in rows]),
        ],
        fmt=lambda v: f"{v:.1f}%",
        tick_fmt=lambda v: f"{v:g}%",
        scheme=scheme,
    )


def _movements_chart(scheme: str, top: list[Move]) -> Html:
    return bar_chart(
        "movements",
        f"Most frequent segment moves: {scheme}",
        [f"{m.from_segment if m.from_segment is not None else NEW} → {m.to_segment or LEFT}" for m in top],
        [("entities", [m.entities for m in top])],
        fmt=_whole_or_tenths,
        integer=True,
        scheme=scheme,
    )


def _potential_chart(top: list[PotentialSegment]) -> Html:
    return bar_chart(
        "potential-segments",
        "Potential value per potential segment",
        [f"{p.label} ({count(p.prospects)} prospects)" for p in top],
        [("potential value (EUR)", [p.potential_value for p in top])],
        fmt=money,
    )


_CHARTS = SimpleNamespace(
    pareto=pareto_chart,
    segments=_segments_chart,
    clv=clv_chart,
    movements=_movements_chart,
    potential=_potential_chart,
)
