"""Segment-size drift: the last gate before publishing.

If the rule version is the one the last published run used, segments should move slowly: a segment that
grows or shrinks by more than ``max_share`` overnight points at the data (a half-empty export, a broken join),
not at the customers. Then the publish is blocked and the message says which segment moved how much; a
person who knows the change is real runs ``segments run --accept-drift``, which is recorded with the run.
A new rule version is expected to move segments (its impact is measured in ``rule_version_impact``), so it is
not compared. Segments smaller than ``min_entities`` on both nights are ignored: 3 -> 6 is not news.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from segments import formatting
from segments.quality.suites import Outcome, Suite, SuiteReport

SUITE_NAME = "segment_size_drift"
DESCRIPTION = (
    "With the rule version unchanged since the last publish, no segment's size moves by more than the limit "
    "(unless a person accepted it with --accept-drift)."
)


def segment_size_drift(
    con: duckdb.DuckDBPyConnection,
    staged_table: str,
    *,
    rule_version: str,
    max_share: float,
    min_entities: int,
    accept: bool = False,
) -> SuiteReport:
    suite = Suite(
        name=SUITE_NAME,
        table=staged_table,
        path=Path(f"{SUITE_NAME}.json"),
        definition={"expectations": [], "meta": {"description": DESCRIPTION}},
        derived_columns={},
    )
    entities = con.execute(f"select count(*) from {staged_table}").fetchone()[0]
    kwargs = {"max_share": max_share, "min_entities": min_entities}
    last = con.execute(
        """select run_id, rule_version from segments.runs where status = 'published'
           order by as_of desc, finished_at desc limit 1"""
    ).fetchone()
    if last is None or last[1] != rule_version:
        why = "first published run" if last is None else f"rule version changed ({last[1]} → {rule_version})"
        note = f"{why}: segment sizes are expected to move, so they are not compared"
        return SuiteReport(suite, entities, [_outcome(None, True, entities, kwargs, note, note, accept)])
    moves = con.execute(
        f"""with now as (select scheme, segment, count(*) as n from {staged_table} group by all),
            before as (select scheme, segment, sum(entities) as n from segments.segment_sizes
                       where run_id = ? group by all)
        select scheme, segment, coalesce(b.n, 0) as before, coalesce(w.n, 0) as after
        from now w full outer join before b using (scheme, segment)
        where greatest(coalesce(b.n, 0), coalesce(w.n, 0)) >= ?
        order by scheme, segment""",
        [last[0], min_entities],
    ).fetchall()
    outcomes = []
    largest = None
    for scheme, segment, before, after in moves:
        change = (after - before) / before if before else float("inf")
        if largest is None or abs(change) > abs(largest[2]):
            largest = (scheme, segment, change)
        if abs(change) > max_share:
            observed = f"{before:,} → {after:,} ({formatting.change(change, infinite='new')})"
            note = (
                f"segment {scheme}/{segment} moved {observed} with rule version {rule_version} unchanged "
                f"(limit ±{100 * max_share:.0f} %); if that is real, publish with `segments run --accept-drift`"
            )
            outcomes.append(_outcome(f"{scheme}/{segment}", False, entities, kwargs, observed, note, accept))
    if not outcomes:
        observed = (
            f"{len(moves)} segments compared; largest move {largest[0]}/{largest[1]} {formatting.change(largest[2], infinite='new')}"
            if largest
            else "no segment reaches the size compared"
        )
        outcomes.append(_outcome(None, True, entities, kwargs, observed, observed, accept))
    return SuiteReport(suite, entities, outcomes)


def _outcome(
    segment: str | None, ok: bool, entities: int, kwargs: dict, observed: str, note: str, accept: bool
) -> Outcome:
    return Outcome(
        expectation="segment_size_change",
        column=segment,
        severity="block",
        success=ok,
        element_count=entities,
        unexpected_count=0,
        kwargs=kwargs,
        observed_value=observed,
        blocks=not ok,
        accepted=accept and not ok,
        note=note,
    )
