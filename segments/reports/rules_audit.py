"""The rules audit: every rule version the job has seen, what it changed and what it did to the segments.

``segments report rules [--out DIR]`` writes ``rules_report.html`` (self-contained, works offline) and
``rules_report.md`` (for a pull request or an audit file). Both come from the published contract in schema
``segments`` (see ``segments.publish.contract.DDL``):

- ``rule_versions``: each version's file text, hash, author, effective date and role;
- ``runs``: the published runs that used it (as champion, or as challenger of an experiment);
- ``rule_version_impact``: its measured impact at first use (previous version's segment -> new segment);
- ``segment_sizes``: segment sizes of every published run.

``fetch_rules_audit`` reads the warehouse into plain dataclasses; ``render_html``/``render_markdown`` turn them
into documents without touching a database. A fresh warehouse (tables missing or empty) gives a short report.
"""

from __future__ import annotations

import difflib
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import duckdb

from segments.formatting import minute, plural, share
from segments.reports import md_code, md_fence, md_table, md_text, relation, write_text_atomic
from segments.reports.html import Html, esc, html_table, line_chart, page

__all__ = [
    "HTML_NAME",
    "MD_NAME",
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

IN_USE = "in use"
USED_BEFORE = "used before"
NOT_USED_YET = "not used yet"
CHALLENGER = "challenger"

ABSENT = "(absent)"  # label of a NULL segment in the impact matrix: the scheme is missing in that version


@dataclass(frozen=True)
class RunRef:
    run_id: str
    as_of: date


@dataclass(frozen=True)
class ImpactMatrix:
    """Entities of one scheme by the previous version's segment (rows) and the new version's (columns),
    measured on the data of the version's first run. ``None`` stands for "scheme absent in that version"."""

    scheme: str
    previous_version: str
    run: RunRef
    cells: dict[tuple[str | None, str | None], int]

    @property
    def from_segments(self) -> list[str | None]:
        return _segment_order({f for f, _ in self.cells})

    @property
    def to_segments(self) -> list[str | None]:
        return _segment_order({t for _, t in self.cells})

    def cell(self, from_segment: str | None, to_segment: str | None) -> int:
        return self.cells.get((from_segment, to_segment), 0)

    @property
    def total(self) -> int:
        return sum(self.cells.values())

    @property
    def changed(self) -> int:
        """Entities whose segment differs between the two versions."""
        return sum(n for (f, t), n in self.cells.items() if f != t)


@dataclass(frozen=True)
class VersionAudit:
    version: str
    file_name: str
    author: str | None
    effective_from: date
    description: str | None
    sha256: str
    role: str  # champion | challenger
    status: str  # IN_USE | USED_BEFORE | NOT_USED_YET | CHALLENGER
    status_note: str  # one sentence explaining the status
    recorded_at: datetime | None
    first_run: RunRef | None
    last_run: RunRef | None
    runs: int  # published runs that used it (as champion, or as challenger for a challenger)
    experiment: str | None  # the experiment of its latest run, if that run had one
    diff_base: str | None  # version the diff is against; None: the first version
    diff: str  # unified diff against diff_base ("" if the texts are equal or there is no base)
    impact: list[ImpactMatrix] = field(default_factory=list)


@dataclass(frozen=True)
class SizeSeries:
    """Segment sizes of one scheme over the published runs (all arms together)."""

    scheme: str
    entity: str  # what the scheme segments (customer, account, contact; comma-separated if it changed)
    runs: list[RunRef]
    rule_versions: list[str | None]  # champion version of each run
    segments: list[str]  # largest in the latest run first
    entities: dict[str, list[int]]  # segment -> entities per run (aligned with ``runs``; 0 if absent)


@dataclass(frozen=True)
class RulesAudit:
    generated_at: datetime
    today: date
    versions: list[VersionAudit]
    sizes: list[SizeSeries]
    published_runs: int
    failed_runs: int
    latest_run: RunRef | None


# Columns the report reads, with what stands in for each in a warehouse that lacks it (see ``relation``).
_V, _D, _T, _N = "null::varchar", "null::date", "null::timestamp", "null::bigint"
RULE_VERSION_COLUMNS = {
    "rule_version": _V,
    "rules_sha256": _V,
    "file_name": _V,
    "file_text": _V,
    "effective_from": _D,
    "author": _V,
    "description": _V,
    "role": "'champion'",  # releases before experiments had champions only
    "first_used_run_id": _V,
    "first_used_as_of": _D,
    "recorded_at": _T,
}
RUN_COLUMNS = {
    "run_id": _V,
    "as_of": _D,
    "rule_version": _V,
    "status": _V,
    "published_at": _T,
    "started_at": _T,
    "finished_at": _T,
    "experiment": _V,
    "challenger_version": _V,
}
IMPACT_COLUMNS = {
    "rule_version": _V,
    "previous_version": _V,
    "run_id": _V,
    "as_of": _D,
    "scheme": _V,
    "from_segment": _V,
    "to_segment": _V,
    "entities": _N,
}
SIZE_COLUMNS = {"run_id": _V, "scheme": _V, "entity": _V, "segment": _V, "arm": _V, "entities": _N}


# --- fetching -----------------------------------------------------------------------------------------


def fetch_rules_audit(
    con: duckdb.DuckDBPyConnection, *, today: date | None = None, generated_at: datetime | None = None
) -> RulesAudit:
    """Read the audit from schema ``segments``; missing tables count as empty (nothing is created)."""
    today = today or date.today()
    generated_at = generated_at or datetime.now().replace(microsecond=0)
    runs = relation(con, "segments.runs", RUN_COLUMNS)
    versions = con.execute(
        f"""select rule_version, rules_sha256, file_name, file_text, effective_from, author, description,
                   coalesce(role, 'champion') as role, first_used_run_id, first_used_as_of, recorded_at
            from {relation(con, "segments.rule_versions", RULE_VERSION_COLUMNS)}
            order by effective_from, case role when 'challenger' then 1 else 0 end, rule_version"""
    ).fetchall()
    usage, latest, counts = _run_usage(con, runs)
    impact = _impact(con, relation(con, "segments.rule_version_impact", IMPACT_COLUMNS))
    sizes = _sizes(con, relation(con, "segments.segment_sizes", SIZE_COLUMNS), runs)

    texts = {row[0]: row[3] for row in versions}
    files = {row[0]: row[2] for row in versions}
    champions = [(row[4], row[0]) for row in versions if row[7] == "champion"]
    audits = []
    for version, sha, file_name, text, eff, author, desc, role, first_id, first_as_of, recorded in versions:
        use = usage.get((version, role))
        first = use.first if use else (RunRef(first_id, first_as_of) if first_id else None)
        last = use.last if use else first
        base = _diff_base(version, role, eff, champions, use)
        status, note = _status(version, role, eff, first, last, use, latest, champions, today)
        audits.append(
            VersionAudit(
                version=version,
                file_name=file_name,
                author=author,
                effective_from=eff,
                description=desc,
                sha256=sha,
                role=role,
                status=status,
                status_note=note,
                recorded_at=recorded,
                first_run=first,
                last_run=last,
                runs=use.runs if use else 0,
                experiment=use.experiment if use else None,
                diff_base=base,
                diff=unified_diff(texts[base], text, f"{files[base]} ({base})", f"{file_name} ({version})")
                if base is not None
                else "",
                impact=impact.get(version, []),
            )
        )
    return RulesAudit(
        generated_at=generated_at,
        today=today,
        versions=audits,
        sizes=sizes,
        published_runs=counts[0],
        failed_runs=counts[1],
        latest_run=RunRef(latest[0], latest[1]) if latest else None,
    )


@dataclass(frozen=True)
class _Usage:
    runs: int
    first: RunRef
    last: RunRef
    experiment: str | None
    last_champion: str | None  # for a challenger: the champion version of its latest run


def _run_order(alias: str = "", *, desc: bool = False) -> str:
    """SQL order of runs: as-of date, then the time it was published (or finished, or started), then id."""
    p = f"{alias}." if alias else ""
    at = f"coalesce({p}published_at, {p}finished_at, {p}started_at)"
    if desc:
        return f"{p}as_of desc, {at} desc nulls last, {p}run_id desc"
    return f"{p}as_of, {at} nulls first, {p}run_id"


_RUN_ORDER = _run_order()
_RUN_ORDER_DESC = _run_order(desc=True)


def _run_usage(con: duckdb.DuckDBPyConnection, runs: str):
    """Per (version, role): runs, first and last published run; the latest run; (published, failed) counts."""
    rows = con.execute(
        f"""with published as (select * from {runs} where status = 'published'),
            uses as (
                select rule_version as version, 'champion' as used_as, run_id, as_of, published_at,
                       finished_at, started_at, experiment, null::varchar as champion
                from published where rule_version is not null
                union all
                select challenger_version, 'challenger', run_id, as_of, published_at, finished_at,
                       started_at, experiment, rule_version
                from published where challenger_version is not null)
            select version, used_as, count(*) over (partition by version, used_as), run_id, as_of,
                   experiment, champion,
                   row_number() over (partition by version, used_as order by {_RUN_ORDER}) as rn_first,
                   row_number() over (partition by version, used_as order by {_RUN_ORDER_DESC}) as rn_last
            from uses
            qualify rn_first = 1 or rn_last = 1"""
    ).fetchall()
    first: dict[tuple[str, str], RunRef] = {}
    usage: dict[tuple[str, str], _Usage] = {}
    for version, used_as, _, run_id, as_of, _, _, rn_first, _ in rows:
        if rn_first == 1:
            first[(version, used_as)] = RunRef(run_id, as_of)
    for version, used_as, n, run_id, as_of, experiment, champion, _, rn_last in rows:
        if rn_last == 1:
            key = (version, used_as)
            usage[key] = _Usage(n, first[key], RunRef(run_id, as_of), experiment, champion)
    latest = con.execute(
        f"""select run_id, as_of, rule_version, challenger_version from {runs}
            where status = 'published' order by {_RUN_ORDER_DESC} limit 1"""
    ).fetchone()
    counts = con.execute(
        f"select count(*) filter (status = 'published'), count(*) filter (status = 'failed') from {runs}"
    ).fetchone()
    return usage, latest, counts


def _impact(con: duckdb.DuckDBPyConnection, impact: str) -> dict[str, list[ImpactMatrix]]:
    rows = con.execute(
        f"""select rule_version, previous_version, run_id, as_of, scheme, from_segment, to_segment,
                  sum(entities)::bigint
           from {impact}
           group by all order by rule_version, as_of, run_id, scheme"""
    ).fetchall()
    grouped: dict[tuple, dict[tuple[str | None, str | None], int]] = defaultdict(dict)
    for version, previous, run_id, as_of, scheme, from_seg, to_seg, n in rows:
        grouped[(version, scheme, previous, run_id, as_of)][(from_seg, to_seg)] = int(n)
    result: dict[str, list[ImpactMatrix]] = defaultdict(list)
    for (version, scheme, previous, run_id, as_of), cells in grouped.items():
        result[version].append(ImpactMatrix(scheme, previous, RunRef(run_id, as_of), cells))
    return dict(result)


def _sizes(con: duckdb.DuckDBPyConnection, sizes: str, runs: str) -> list[SizeSeries]:
    rows = con.execute(
        f"""with sized as (
                select s.scheme, s.segment, s.run_id, sum(s.entities)::bigint as entities
                from {sizes} s
                where s.run_id in (select run_id from {runs} where status = 'published')
                group by all)
            select sized.scheme, sized.run_id, r.as_of, r.rule_version, sized.segment, sized.entities,
                   dense_rank() over (partition by sized.scheme order by {_run_order("r")}) as run_index
            from sized join {runs} r using (run_id)
            order by sized.scheme, run_index, sized.segment"""
    ).fetchall()
    entities = dict(
        con.execute(
            f"""select scheme, string_agg(distinct entity, ', ' order by entity) from {sizes}
               where run_id in (select run_id from {runs} where status = 'published')
               group by scheme"""
        ).fetchall()
    )
    by_scheme: dict[str, list[tuple]] = defaultdict(list)
    for row in rows:
        by_scheme[row[0]].append(row)
    series = []
    for scheme in sorted(by_scheme):
        runs: list[RunRef] = []
        versions: list[str | None] = []
        values: dict[str, dict[int, int]] = defaultdict(dict)
        for _, run_id, as_of, version, segment, n, run_index in by_scheme[scheme]:
            if run_index > len(runs):
                runs.append(RunRef(run_id, as_of))
                versions.append(version)
            values[segment][run_index - 1] = int(n)
        last = len(runs) - 1
        segments = sorted(values, key=lambda s: (-values[s].get(last, 0), -sum(values[s].values()), s))
        series.append(
            SizeSeries(
                scheme=scheme,
                entity=entities.get(scheme) or "",
                runs=runs,
                rule_versions=versions,
                segments=segments,
                entities={s: [values[s].get(i, 0) for i in range(len(runs))] for s in segments},
            )
        )
    return series


def _diff_base(
    version: str, role: str, eff: date, champions: list[tuple[date, str]], use: _Usage | None
) -> str | None:
    """The champion a version is compared with: for a champion the previous champion (by effective_from);
    for a challenger the champion of its latest run, else the latest champion effective by its date."""
    if role == "challenger":
        if use and use.last_champion and any(v == use.last_champion for _, v in champions):
            return use.last_champion
        earlier = [v for e, v in champions if e <= eff]
    else:
        earlier = [v for e, v in champions if e < eff and v != version]
    return earlier[-1] if earlier else None


def _status(
    version: str,
    role: str,
    eff: date,
    first: RunRef | None,
    last: RunRef | None,
    use: _Usage | None,
    latest: tuple | None,
    champions: list[tuple[date, str]],
    today: date,
) -> tuple[str, str]:
    if role == "challenger":
        experiment = f" {use.experiment}" if use and use.experiment else ""
        if latest and latest[3] == version:
            return (
                CHALLENGER,
                f"tested in experiment{experiment} by the latest run ({latest[0]}, {latest[1]})",
            )
        if first and last:
            return (
                CHALLENGER,
                f"tested in experiment{experiment} from {first.as_of} to {last.as_of}; not in the latest run",
            )
        return CHALLENGER, "not used yet: no published run has tested it"
    if latest and latest[2] == version:
        return IN_USE, f"used by the latest published run ({latest[0]}, {latest[1]})"
    if first and last:
        return USED_BEFORE, f"superseded; last used by run {last.run_id} ({last.as_of})"
    if eff > today:
        return NOT_USED_YET, f"takes effect on {eff} (in the future)"
    later = [(e, v) for e, v in champions if e > eff and e <= today]
    if later:
        return NOT_USED_YET, (
            f"never used: version {later[0][1]} took effect on {later[0][0]} before a published run used it"
        )
    return NOT_USED_YET, f"effective since {eff}; no published run has used it yet"


def _segment_order(segments: set[str | None]) -> list[str | None]:
    return sorted(segments, key=lambda s: (s is None, s or ""))


def unified_diff(old: str, new: str, old_name: str, new_name: str) -> str:
    """``diff -u`` of two rule file texts ("" if they are equal)."""
    old_lines = [line.rstrip("\r\n") for line in old.splitlines()]
    new_lines = [line.rstrip("\r\n") for line in new.splitlines()]
    return "\n".join(difflib.unified_diff(old_lines, new_lines, old_name, new_name, lineterm=""))


# --- rendering: shared ----------------------------------------------------------------------------------


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


def _matrix_rows(m: ImpactMatrix) -> tuple[list[str | None], list[str | None], list[list[int]]]:
    rows, cols = m.from_segments, m.to_segments
    return rows, cols, [[m.cell(f, t) for t in cols] for f in rows]


TITLE = "Segment rules audit"


def _summary_line(audit: RulesAudit) -> str:
    latest = f"; latest published run {_run_text(audit.latest_run)}" if audit.latest_run else ""
    return (
        f"{plural(len(audit.versions), 'rule version')}, {plural(audit.published_runs, 'published run')}, "
        f"{plural(audit.failed_runs, 'failed run')}{latest}. Generated {minute(audit.generated_at)}."
    )


# --- rendering: HTML ------------------------------------------------------------------------------------


def _anchor(index: int, version: str) -> str:
    return f"v{index}-" + re.sub(r"[^A-Za-z0-9_-]+", "-", version).strip("-")


def _status_badge(status: str) -> Html:
    cls = "status-" + status.replace(" ", "-")
    return Html(f'<span class="status {cls}">{esc(status)}</span>')


def _diff_html(diff: str) -> Html:
    lines = []
    for line in diff.splitlines():
        if line.startswith(("+++", "---")):
            lines.append(f"<b>{esc(line)}</b>")
        elif line.startswith("@@"):
            lines.append(f'<span class="hunk">{esc(line)}</span>')
        elif line.startswith("+"):
            lines.append(f'<span class="add">{esc(line)}</span>')
        elif line.startswith("-"):
            lines.append(f'<span class="del">{esc(line)}</span>')
        else:
            lines.append(esc(line))
    return Html('<pre class="diff"><code>' + "\n".join(lines) + "</code></pre>")


def _matrix_html(m: ImpactMatrix) -> Html:
    """The migration matrix; unchanged cells (the diagonal) and non-empty moves are shaded."""
    rows, cols, values = _matrix_rows(m)
    head = "".join(f'<th scope="col" class="num">{esc(_label(c))}</th>' for c in cols)
    lines = [
        '<table class="matrix"><thead><tr><th scope="col">from \\ to</th>'
        f'{head}<th scope="col" class="num">total</th></tr></thead><tbody>'
    ]
    for f, row in zip(rows, values, strict=True):
        cells = "".join(
            f'<td class="num{" same" if f == t else (" moved" if n else "")}">{n:,}</td>'
            for t, n in zip(cols, row, strict=True)
        )
        lines.append(
            f'<tr><th scope="row">{esc(_label(f))}</th>{cells}<td class="num">{sum(row):,}</td></tr>'
        )
    totals = "".join(f'<td class="num">{sum(r[j] for r in values):,}</td>' for j in range(len(cols)))
    lines.append(f'<tr><th scope="row">total</th>{totals}<td class="num">{m.total:,}</td></tr>')
    lines.append("</tbody></table>")
    return Html("\n".join(lines))


def _version_html(index: int, v: VersionAudit) -> str:
    facts = [
        ("Version", Html(f"<code>{esc(v.version)}</code>")),
        ("Role", v.role),
        ("Status", Html(f"{_status_badge(v.status)} {esc(v.status_note)}")),
        ("File", Html(f"<code>{esc(v.file_name)}</code>")),
        ("Author", v.author or "—"),
        ("Effective from", v.effective_from),
        ("Description", v.description or "—"),
        ("SHA-256", Html(f"<code>{esc(v.sha256)}</code>")),
        ("First run", _run_text(v.first_run)),
        ("Last run", _run_text(v.last_run)),
        ("Published runs", f"{v.runs:,}"),
    ]
    if v.experiment:
        facts.insert(2, ("Experiment", v.experiment))
    parts = [
        f'<section id="{_anchor(index, v.version)}">',
        f"<h2>{esc(v.version)} <small>({esc(v.role)})</small></h2>",
        html_table(None, facts, cls="facts", row_header=True),
        "<h3>Changes to the rule file</h3>",
    ]
    if v.diff_base is None:
        parts.append("<p>First version: nothing to compare with.</p>")
    elif not v.diff:
        parts.append(f"<p>Same text as version <code>{esc(v.diff_base)}</code>.</p>")
    else:
        parts.append(f"<p>Against version <code>{esc(v.diff_base)}</code>:</p>")
        parts.append(_diff_html(v.diff))
    parts.append("<h3>Impact at first use</h3>")
    if not v.impact:
        parts.append(f"<p>{esc(_no_impact(v))}</p>")
    for m in v.impact:
        parts.append(
            f'<h4>{esc(m.scheme)}</h4><p class="meta">Version <code>{esc(m.previous_version)}</code> → '
            f"<code>{esc(v.version)}</code> on the data of run {esc(_run_text(m.run))}: "
            f"{m.changed:,} of {m.total:,} entities ({share(m.changed, m.total)}) change segment.</p>"
        )
        parts.append(_matrix_html(m))
    if any(None in key for m in v.impact for key in m.cells):
        parts.append(f'<p class="meta">{esc(ABSENT)}: the scheme does not exist in that version.</p>')
    parts.append("</section>")
    return "\n".join(parts)


def _sizes_html(s: SizeSeries) -> str:
    labels = [str(r.as_of) for r in s.runs]
    chart = line_chart(
        labels,
        [(seg, s.entities[seg]) for seg in s.segments],
        title=f"Segment sizes over time: {s.scheme}",
        point_titles=[f"{r.run_id}, {r.as_of}" for r in s.runs],
    )
    header = ["as of", "run", "version", *s.segments, "total"]
    rows = []
    for i, run in enumerate(s.runs):
        values = [s.entities[seg][i] for seg in s.segments]
        rows.append(
            [
                run.as_of,
                run.run_id,
                s.rule_versions[i] or "—",
                *(f"{n:,}" for n in values),
                f"{sum(values):,}",
            ]
        )
    table = html_table(header, rows, numeric=range(3, len(header)))
    entity = f" ({esc(s.entity)})" if s.entity else ""
    return f"<h3>{esc(s.scheme)}{entity}</h3>\n<figure>{chart}</figure>\n{table}"


def render_html(audit: RulesAudit) -> str:
    """The audit as one self-contained HTML document (inline CSS and SVG; no scripts, no external files)."""
    body = [
        f"<h1>{esc(TITLE)}</h1>",
        f'<p class="meta">{esc(_summary_line(audit))}</p>',
    ]
    if not audit.versions:
        body.append("<p>No rule versions recorded yet: the nightly job has not run on this warehouse.</p>")
    else:
        overview = [
            [
                Html(f'<a href="#{_anchor(i, v.version)}"><code>{esc(v.version)}</code></a>'),
                v.role,
                _status_badge(v.status),
                v.effective_from,
                v.author or "—",
                _run_text(v.first_run),
                _run_text(v.last_run),
                f"{v.runs:,}",
            ]
            for i, v in enumerate(audit.versions)
        ]
        body.append("<h2>Rule versions</h2>")
        body.append(
            html_table(
                ["version", "role", "status", "effective from", "author", "first run", "last run", "runs"],
                overview,
                numeric=[7],
            )
        )
        body.extend(_version_html(i, v) for i, v in enumerate(audit.versions))
    body.append('<h2 id="sizes">Segment sizes over time</h2>')
    if not audit.sizes:
        body.append(f"<p>{esc(_no_sizes(audit))}</p>")
    else:
        body.append(
            '<p class="meta">Entities per segment in each published run, all experiment arms together.</p>'
        )
        body.extend(_sizes_html(s) for s in audit.sizes)
    return page(TITLE, "\n".join(body))


# --- rendering: Markdown --------------------------------------------------------------------------------


def _matrix_md(m: ImpactMatrix) -> str:
    rows, cols, values = _matrix_rows(m)
    header = ["from \\\\ to", *(md_text(_label(c)) for c in cols), "total"]
    body = [
        [f"**{md_text(_label(f))}**", *(f"{n:,}" for n in row), f"{sum(row):,}"]
        for f, row in zip(rows, values, strict=True)
    ]
    totals = [sum(values[i][j] for i in range(len(rows))) for j in range(len(cols))]
    body.append(["**total**", *(f"{n:,}" for n in totals), f"{m.total:,}"])
    return md_table(header, body, align="l" + "r" * (len(cols) + 1))


def _version_md(v: VersionAudit) -> str:
    facts = [
        ("Role", md_text(v.role)),
        ("Status", f"**{md_text(v.status)}**: {md_text(v.status_note)}"),
        ("File", md_code(v.file_name)),
        ("Author", md_text(v.author) or "—"),
        ("Effective from", str(v.effective_from)),
        ("Description", md_text(v.description) or "—"),
        ("SHA-256", md_code(v.sha256)),
        ("First run", md_text(_run_text(v.first_run))),
        ("Last run", md_text(_run_text(v.last_run))),
        ("Published runs", f"{v.runs:,}"),
    ]
    if v.experiment:
        facts.insert(1, ("Experiment", md_code(v.experiment)))
    parts = [f"## Version {md_code(v.version)} ({md_text(v.role)})", "", md_table(["", ""], facts), ""]
    parts.append("### Changes to the rule file")
    parts.append("")
    if v.diff_base is None:
        parts.append("First version: nothing to compare with.")
    elif not v.diff:
        parts.append(f"Same text as version {md_code(v.diff_base)}.")
    else:
        parts += [f"Against version {md_code(v.diff_base)}:", "", md_fence(v.diff, "diff")]
    parts += ["", "### Impact at first use", ""]
    if not v.impact:
        parts.append(md_text(_no_impact(v)))
    for m in v.impact:
        parts += [
            f"#### {md_text(m.scheme)}",
            "",
            f"Version {md_code(m.previous_version)} → {md_code(v.version)} on the data of run "
            f"{md_text(_run_text(m.run))}: {m.changed:,} of {m.total:,} entities "
            f"({share(m.changed, m.total)}) change segment. Rows: previous segment; columns: new segment.",
            "",
            _matrix_md(m),
            "",
        ]
    if any(None in key for m in v.impact for key in m.cells):
        parts.append(f"{md_text(ABSENT)}: the scheme does not exist in that version.")
    return "\n".join(parts).rstrip() + "\n"


def _sizes_md(s: SizeSeries) -> str:
    header = ["as of", "run", "version", *(md_text(seg) for seg in s.segments), "total"]
    rows = []
    for i, run in enumerate(s.runs):
        values = [s.entities[seg][i] for seg in s.segments]
        rows.append(
            [
                str(run.as_of),
                md_code(run.run_id),
                md_code(s.rule_versions[i]) or "—",
                *(f"{n:,}" for n in values),
                f"{sum(values):,}",
            ]
        )
    entity = f" ({md_text(s.entity)})" if s.entity else ""
    return f"### {md_text(s.scheme)}{entity}\n\n" + md_table(
        header, rows, align="lll" + "r" * (len(header) - 3)
    )


def render_markdown(audit: RulesAudit) -> str:
    """The audit as GitHub-flavoured Markdown (no charts; the tables carry the same numbers)."""
    parts = [f"# {TITLE}", "", md_text(_summary_line(audit)), ""]
    if not audit.versions:
        parts += ["No rule versions recorded yet: the nightly job has not run on this warehouse.", ""]
    else:
        overview = [
            [
                md_code(v.version),
                md_text(v.role),
                md_text(v.status),
                str(v.effective_from),
                md_text(v.author) or "—",
                md_text(_run_text(v.first_run)),
                md_text(_run_text(v.last_run)),
                f"{v.runs:,}",
            ]
            for v in audit.versions
        ]
        parts += [
            "## Rule versions",
            "",
            md_table(
                ["version", "role", "status", "effective from", "author", "first run", "last run", "runs"],
                overview,
                align="lllllllr",
            ),
            "",
        ]
        parts += [_version_md(v) for v in audit.versions]
    parts += ["## Segment sizes over time", ""]
    if not audit.sizes:
        parts.append(md_text(_no_sizes(audit)))
    else:
        parts += ["Entities per segment in each published run, all experiment arms together.", ""]
        parts += [_sizes_md(s) + "\n" for s in audit.sizes]
    return "\n".join(parts).rstrip() + "\n"


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
