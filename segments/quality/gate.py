"""The quality gate between the landing tables (``raw``) and everything built from them (``accepted``).

For each landing entity, parents before children (accounts, contacts, interactions, products, orders, lines):

1. ``quarantine`` expectations run on the whole load; the rows GX fails are written to ``raw._quarantine``
   (entity, natural key, expectation, offending value, source file and line, run id): found by the keys of
   the frame rows GX failed, so the rows set aside are the rows counted, whatever the text;
2. ``accepted.<entity>`` becomes a view of the load without this run's quarantined rows: dbt's sources read
   it, so quarantined rows never reach a feature or a segment, while ``raw`` keeps the file as it came;
3. ``block`` and ``warn`` expectations run on the accepted rows: derived columns that look up a parent
   (``order_id in (select order_id from accepted.sales_orders)``) see only accepted parents, so an order
   set aside takes its lines with it instead of leaving orphans;
4. the load is compared with the previous one (anomalies.py) and its freshness checked.

Nothing here decides to stop the run: the caller turns blocking failures into failed Dagster checks.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import duckdb

from segments.contract import migrate
from segments.ingest.schemas import ENTITIES
from segments.quality import anomalies
from segments.quality.suites import Outcome, Suite, SuiteReport
from segments.quality.validation import Verdict, judge, unexpected_rows, validate
from segments.warehouse import quote_literal

QUARANTINE_TABLE = "raw._quarantine"
ACCEPTED_SCHEMA = "accepted"
LINEAGE = ("_source_file", "_source_row", "_loaded_at")


def accepted_relation(entity: str) -> str:
    return f"{ACCEPTED_SCHEMA}.{entity}"


def run_gate(
    con: duckdb.DuckDBPyConnection,
    suites: dict[str, Suite],
    *,
    run_id: str,
    now: datetime,
    accept_drift: bool = False,
) -> dict[str, SuiteReport]:
    """Check every landing entity; returns a report per entity (quarantine, expectations, anomalies)."""
    migrate(con)
    con.execute(f"create schema if not exists {ACCEPTED_SCHEMA}")
    con.execute(f"delete from {QUARANTINE_TABLE} where run_id = ?", [run_id])  # a retried step starts over
    reports = {}
    for entity in ENTITIES.values():  # the contract lists parents before children
        suite = suites.get(entity.table)
        if suite is None:
            con.execute(
                f"create or replace view {accepted_relation(entity.name)} as select * from {entity.table}"
            )
            continue
        reports[entity.name] = check_entity(con, suite, run_id=run_id, now=now, accept_drift=accept_drift)
    return reports


def check_entity(
    con: duckdb.DuckDBPyConnection, suite: Suite, *, run_id: str, now: datetime, accept_drift: bool = False
) -> SuiteReport:
    entity = ENTITIES[suite.entity]
    rows, verdicts = judge(con, suite, now=now, expectations=suite.with_severity("quarantine"))
    outcomes: dict[int, Outcome] = {}
    for verdict in verdicts:
        outcome = verdict.outcome
        if outcome.unexpected_count:
            moved = _quarantine_rows(con, suite, verdict, key=entity.key, run_id=run_id, now=now)
            share = moved / rows if rows else 0.0
            over = share > suite.quarantine_limit
            outcome = replace(
                outcome,
                quarantined=moved,
                blocks=over,
                note=(
                    f"{moved:,} of {rows:,} rows ({100 * share:.1f} %) fail; more than the quarantine limit of "
                    f"{100 * suite.quarantine_limit:.0f} % is not a few bad rows, so the run stops"
                )
                if over
                else None,
            )
        outcomes[verdict.expectation.number] = outcome
    _create_accepted_view(con, entity.name, run_id, any(o.quarantined for o in outcomes.values()))
    checked = validate(
        con,
        suite,
        now=now,
        relation=accepted_relation(entity.name),
        expectations=suite.with_severity("block", "warn"),
    )
    for expectation, outcome in zip(suite.with_severity("block", "warn"), checked.outcomes, strict=True):
        outcomes[expectation.number] = outcome
    load = anomalies.current_load(con, entity.name)
    current = anomalies.profile(con, suite, list(entity.columns), load, now=now)
    previous = anomalies.previous_profile(con, entity.name, load)
    extra = anomalies.compare(suite, current, previous[1] if previous else None)
    fresh = anomalies.freshness(suite, load[0] if load else None, now=now)
    extra += [fresh] if fresh else []
    if accept_drift:  # a person vouched for the change; stale files are not drift
        extra = [
            replace(o, accepted=True) if o.blocks and o.expectation != "source_freshness" else o
            for o in extra
        ]
    ordered = [outcomes[n] for n in sorted(outcomes)] + extra
    return SuiteReport(suite=suite, rows=rows, outcomes=ordered)


def _quarantine_rows(
    con: duckdb.DuckDBPyConnection, suite: Suite, verdict: Verdict, *, key: str, run_id: str, now: datetime
) -> int:
    line = "case when lower(_source_file) like '%.csv' then _source_row + 1 end"
    with unexpected_rows(con, suite, verdict, suite.table, lineage=(key, *LINEAGE)) as failing:
        return con.execute(
            f"""insert into {QUARANTINE_TABLE}
            select $run_id, $entity, {key}::varchar, $expectation, $column, value::varchar, _source_file, {line},
                   _source_row, _loaded_at, $now
            from ({failing})""",
            {
                "run_id": run_id,
                "entity": suite.entity,
                "expectation": verdict.expectation.type,
                "column": verdict.expectation.column,
                "now": now,
            },
        ).fetchone()[0]


def _create_accepted_view(con: duckdb.DuckDBPyConnection, entity: str, run_id: str, filtered: bool) -> None:
    source = f"raw.{entity}"
    if not filtered:
        con.execute(f"create or replace view {accepted_relation(entity)} as select * from {source}")
        return
    con.execute(
        f"""create or replace view {accepted_relation(entity)} as
        select * from {source} r
        where not exists (select 1 from {QUARANTINE_TABLE} q
                          where q.run_id = {quote_literal(run_id)} and q.entity = {quote_literal(entity)}
                            and q.source_row = r._source_row)"""
    )
