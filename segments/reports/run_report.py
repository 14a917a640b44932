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
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from urllib.parse import quote

import duckdb

from segments.formatting import count, money, noun, number, percent
from segments.reports import relation, write_text_atomic
from segments.reports.charts import bar_chart, clv_chart, pareto_chart
from segments.reports.html import Html, esc, html_table, page
from segments.reports.profiles import (
    FACTS,
    Pareto,
    SegmentProfile,
    pareto,
    segment_profiles,
    shares_text,
)
from segments.reports.quality import DATA_DOCS_HREF, QualitySection, fetch_quality, quality_html
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

_V, _D, _T = "null::varchar", "null::date", "null::timestamp"
RUN_COLUMNS = {
    "run_id": _V, "as_of": _D, "status": _V, "rule_version": _V, "rules_sha256": _V, "customers": "null::bigint",
    "assignments": "null::bigint", "published_at": _T, "started_at": _T, "finished_at": _T,
    "input_fingerprint": _V, "output_fingerprint": _V, "experiment": _V, "challenger_version": _V,
}  # fmt: skip
CHANGE_COLUMNS = {"run_id": _V, "scheme": _V, "change": _V, "from_segment": _V, "to_segment": _V}
# marts.potential_segments names a segment in potential_segment (``label`` in early drafts: either is read).
POTENTIAL_COLUMNS = {
    "potential_segment": _V, "label": _V, "customer_type": _V, "buyers": "null::bigint",
    "average_value": "null::double", "prospects": "null::bigint", "potential_value": "null::double",
}  # fmt: skip
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
    clv_available: bool  # marts.customer_features has predicted_clv
    quality: QualitySection | None = None  # None: no segments.quality_results (older warehouse)


def fetch_run_report(
    con: duckdb.DuckDBPyConnection, run_id: str, *, generated_at: datetime | None = None
) -> RunReport:
    runs = relation(con, "segments.runs", RUN_COLUMNS)
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
    assigned = relation(con, "segments.customer_segments", {"run_id": _V})
    current = tuple(
        r[0] for r in con.execute(f"select distinct run_id from {assigned} order by 1").fetchall()
    )
    moves = con.execute(
        f"""select scheme, change, from_segment, to_segment, count(*) as entities
            from {relation(con, "segments.segment_changes", CHANGE_COLUMNS)} where run_id = ?
            group by all order by scheme, entities desc, change, from_segment nulls first, to_segment""",
        [run_id],
    ).fetchall()
    potential = None
    if table_exists(con, "marts.potential_segments"):
        potential = [
            PotentialSegment(*row)
            for row in con.execute(
                f"""select coalesce(potential_segment, label, '?') as label, customer_type, buyers,
                          average_value::double, prospects, potential_value::double as value
                   from {relation(con, "marts.potential_segments", POTENTIAL_COLUMNS)}
                   order by value desc nulls last, label"""
            ).fetchall()
        ]
    clv = con.execute(
        """select count(*) from information_schema.columns
           where table_schema = 'marts' and table_name = 'customer_features' and column_name = 'predicted_clv'"""
    ).fetchone()[0]
    return RunReport(
        run_id=run_id,
        generated_at=generated_at or datetime.now().replace(microsecond=0),
        run=RunFacts(*row) if row else None,
        assignments_run_ids=current,
        profiles=segment_profiles(con),
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
    href = esc(f"{quote(run_id)}/{INDEX_NAME}")
    when = f" (as of {esc(as_of)})" if as_of else ""
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="refresh" content="0; url={href}">\n<title>Latest run report</title>\n</head>\n'
        f'<body>\n<p>Latest run report: <a href="{href}">run {esc(run_id)}</a>{when}.</p>\n</body>\n</html>\n'
    )


# --- the document ---------------------------------------------------------------------------------------


def _move_label(m: Move) -> str:
    return f"{m.from_segment if m.from_segment is not None else NEW} → {m.to_segment or LEFT}"


def _facts_html(report: RunReport) -> list[str]:
    r = report.run
    if r is None:
        return [f"<p>Run <code>{esc(report.run_id)}</code> is not recorded in segments.runs.</p>"]
    previous = f"{r.previous_run_id} ({r.previous_as_of})" if r.previous_run_id else "— (first run)"
    rows = [
        ("Run", Html(f"<code>{esc(r.run_id)}</code>")),
        ("Status", r.status),
        ("As of", r.as_of),
        ("Rule version", Html(f"<code>{esc(r.rule_version)}</code>")),
        ("Rules SHA-256", Html(f"<code>{esc(r.rules_sha256)}</code>")),
        ("Input fingerprint", Html(f"<code>{esc(r.input_fingerprint or '—')}</code>")),
        ("Output fingerprint", Html(f"<code>{esc(r.output_fingerprint or '—')}</code>")),
        ("Customers", "—" if r.customers is None else f"{r.customers:,}"),
        ("Assignments", "—" if r.assignments is None else f"{r.assignments:,}"),
        ("Published at", r.published_at or "—"),
        ("Previous run", previous),
    ]
    if r.experiment:
        rows.insert(4, ("Experiment", f"{r.experiment} (challenger {r.challenger_version or '—'})"))
    parts = [html_table(None, rows, cls="facts", row_header=True)]
    others = [run for run in report.assignments_run_ids if run != report.run_id]
    if others:
        parts.append(
            f'<p class="meta">Note: the current segment assignments come from run {esc(", ".join(others))}; '
            "the profiles below describe them.</p>"
        )
    return parts


def _segments_html(scheme: str, rows: list[SegmentProfile]) -> list[str]:
    chart = bar_chart(
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
    numbers = html_table(
        ["segment", "entities", "customers", "share", "revenue (EUR)", "revenue share", "avg CLV", "median CLV",
         "p alive"],
        [[p.segment, f"{p.entities:,}", f"{p.customers:,}", percent(p.share), money(p.revenue), percent(p.revenue_share),
          money(p.avg_clv), money(p.median_clv), percent(p.mean_p_alive, 0)] for p in rows],
        numeric=range(1, 9),
    )  # fmt: skip
    who = html_table(
        ["segment", "top categories", "preferred channels", "action channels", "facts mix"],
        [
            [
                p.segment,
                shares_text(p.top_categories) or "—",
                shares_text(p.preferred_channels) or "—",
                shares_text(p.action_channels) or "—",
                "; ".join(
                    f"{fact.replace('_', ' ')}: {shares_text(p.facts[fact])}"
                    for fact in FACTS
                    if fact in p.facts
                )
                or "—",
            ]
            for p in rows
        ],
    )
    entity = f" ({esc(rows[0].entity)})" if rows[0].entity else ""
    return [f"<h3>{esc(scheme)}{entity}</h3>", f"<figure>{chart}</figure>", numbers, who]


def render_run_report(report: RunReport) -> str:
    """The report as one self-contained HTML document."""
    title = f"Segmentation run {report.run_id}"
    as_of = f"as of {report.run.as_of}, " if report.run and report.run.as_of else ""
    body = [
        f"<h1>{esc(title)}</h1>",
        f'<p class="meta">{esc(as_of)}generated {esc(f"{report.generated_at:%Y-%m-%d %H:%M}")}.</p>',
        '<nav><ol><li><a href="#run">Run</a></li><li><a href="#quality">Data quality</a></li>'
        '<li><a href="#pareto">Revenue concentration</a></li>'
        '<li><a href="#segments">Segments</a></li><li><a href="#clv">Customer lifetime value</a></li>'
        '<li><a href="#movements">Movements since the previous run</a></li>'
        '<li><a href="#potential">Potential segments</a></li></ol></nav>',
        '<h2 id="run">Run</h2>',
        *_facts_html(report),
        # The run's Data Docs are written into <run_id>/data_docs/ by the same job (next to this report), so
        # the relative link is given whenever the run has results; this renderer does not know reports_dir.
        *quality_html(report.quality, DATA_DOCS_HREF),
        '<h2 id="pareto">Revenue concentration</h2>',
    ]
    p = report.pareto
    if not p.points:
        body.append("<p>No buyers with revenue yet: no Pareto curve.</p>")
    else:
        eighty = (
            f"; 80% of revenue comes from the top {p.buyers_for_80pct:,} buyers ({percent(p.buyers_for_80pct / p.buyers)})"
            if p.buyers_for_80pct
            else ""
        )
        body.append(
            f"<p>The top 20% of buyers ({p.top20_buyers:,} of {p.buyers:,}) bring <strong>{esc(percent(p.top20_share))}"
            f"</strong> of revenue ({esc(money(p.revenue))} EUR, negative revenue counted as 0){esc(eighty)}.</p>"
        )
        body.append(f"<figure>{pareto_chart(p)}</figure>")
    by_scheme: dict[str, list[SegmentProfile]] = defaultdict(list)
    for profile in report.profiles:
        by_scheme[profile.scheme].append(profile)
    body.append('<h2 id="segments">Segments</h2>')
    if not by_scheme:
        body.append("<p>No published segments yet.</p>")
    else:
        body.append(
            '<p class="meta">Revenue is net EUR; a customer\'s revenue is split over its entities in a contact '
            "scheme. CLV, p alive, channels and facts count each customer once.</p>"
        )
    for scheme, rows in by_scheme.items():
        body.extend(_segments_html(scheme, rows))
    body.append('<h2 id="clv">Customer lifetime value</h2>')
    if not report.clv_available:
        body.append(
            "<p>No CLV in this warehouse yet (marts.customer_features has no predicted_clv): nothing to show.</p>"
        )
    elif by_scheme:
        body.append(
            '<p class="meta">Box: 25–75% of predicted CLV; whiskers: 10–90%; line: median; dot: mean.</p>'
        )
        body.extend(
            f"<h3>{esc(s)}</h3><figure>{clv_chart(s, rows)}</figure>" for s, rows in by_scheme.items()
        )
    body.extend(_movements_html(report))
    body.extend(_potential_html(report.potential))
    return page(title, "\n".join(body))


def _movements_html(report: RunReport) -> list[str]:
    previous = report.run.previous_run_id if report.run else None
    since = f"run {previous}" if previous else "the start (this is the first run: every entity entered)"
    parts = [
        '<h2 id="movements">Movements since the previous run</h2>',
        f'<p class="meta">Since {esc(since)}.</p>',
    ]
    if not report.moves:
        return [*parts, "<p>No entity changed segment in this run.</p>"]
    by_scheme: dict[str, list[Move]] = defaultdict(list)
    for m in report.moves:
        by_scheme[m.scheme].append(m)
    totals = [
        [
            scheme,
            *(f"{sum(m.entities for m in moves if m.change == c):,}" for c in ("moved", "entered", "left")),
        ]
        for scheme, moves in by_scheme.items()
    ]
    parts.append(html_table(["scheme", "moved", "entered", "left"], totals, numeric=[1, 2, 3]))
    for scheme, moves in by_scheme.items():
        top = moves[:TOP_MOVES]
        chart = bar_chart(
            "movements",
            f"Most frequent segment moves: {scheme}",
            [_move_label(m) for m in top],
            [("entities", [m.entities for m in top])],
            fmt=_whole_or_tenths,
            integer=True,
            scheme=scheme,
        )
        more = f" (top {TOP_MOVES} of {len(moves)} moves)" if len(moves) > TOP_MOVES else ""
        parts.append(f"<h3>{esc(scheme)}{esc(more)}</h3><figure>{chart}</figure>")
    return parts


def _potential_html(potential: list[PotentialSegment] | None) -> list[str]:
    parts = ['<h2 id="potential">Potential segments</h2>']
    if potential is None:
        return [
            *parts,
            "<p>No potential segments in this warehouse yet (marts.potential_segments is missing).</p>",
        ]
    if not potential:
        return [*parts, "<p>marts.potential_segments is empty.</p>"]
    top = potential[:TOP_POTENTIAL]
    chart = bar_chart(
        "potential-segments",
        "Potential value per potential segment",
        [f"{p.label} ({count(p.prospects)} prospects)" for p in top],
        [("potential value (EUR)", [p.potential_value for p in top])],
        fmt=money,
    )
    more = f" (the {TOP_POTENTIAL} largest of {len(potential)})" if len(potential) > TOP_POTENTIAL else ""
    table = html_table(
        ["potential segment", "type", "prospects", "like buyers", "average value (EUR)", "potential value (EUR)"],
        [
            [p.label, p.customer_type or "—", count(p.prospects), count(p.buyers),
             money(p.average_value), money(p.potential_value)]
            for p in potential
        ],
        numeric=[2, 3, 4, 5],
    )  # fmt: skip
    note = (
        '<p class="meta">Prospects that resemble a cell of high-value buyers; potential value = prospects x '
        f"the cell's average value per buyer{esc(more)}.</p>"
    )
    return [*parts, note, f"<figure>{chart}</figure>", table]


def _entities(entity: str) -> str:
    """What a scheme segments, in the plural: ``contacts``; ``entities`` when that is several kinds."""
    return noun(entity) if entity and "," not in entity else "entities"


def _whole_or_tenths(value: float) -> str:
    return number(value, 0 if float(value).is_integer() else 1)
