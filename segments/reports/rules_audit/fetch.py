"""Reading the rules audit from the published contract (schema ``segments``) into ``model`` dataclasses.

Missing tables count as empty and columns a warehouse of an older release lacks read as NULL (nothing is
created: reports open the warehouse read-only).
"""

from __future__ import annotations

import difflib
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime

import duckdb

from segments.contract.tables import readable
from segments.reports.rules_audit.model import (
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


def fetch_rules_audit(
    con: duckdb.DuckDBPyConnection, *, today: date | None = None, generated_at: datetime | None = None
) -> RulesAudit:
    """Read the audit from schema ``segments``; missing tables count as empty (nothing is created)."""
    today = today or date.today()
    generated_at = generated_at or datetime.now().replace(microsecond=0)
    runs = readable(con, "segments.runs")
    versions = con.execute(
        f"""select rule_version, rules_sha256, file_name, file_text, effective_from, author, description,
                   coalesce(role, 'champion') as role, first_used_run_id, first_used_as_of, recorded_at
            from {readable(con, "segments.rule_versions")}
            order by effective_from, case role when 'challenger' then 1 else 0 end, rule_version"""
    ).fetchall()
    usage, latest, counts = _run_usage(con, runs)
    impact = _impact(con, readable(con, "segments.rule_version_impact"))
    sizes = _sizes(con, readable(con, "segments.segment_sizes"), runs)

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


def unified_diff(old: str, new: str, old_name: str, new_name: str) -> str:
    """``diff -u`` of two rule file texts ("" if they are equal)."""
    old_lines = [line.rstrip("\r\n") for line in old.splitlines()]
    new_lines = [line.rstrip("\r\n") for line in new.splitlines()]
    return "\n".join(difflib.unified_diff(old_lines, new_lines, old_name, new_name, lineterm=""))
