"""Write-audit-publish for segment assignments.

1. write: the rule engine writes the run's assignments to ``segments_staging.customer_segments``;
2. audit: ``audit_staged`` checks them (one row per customer and scheme, provenance filled in, ...);
3. publish: ``publish`` swaps them into schema ``segments`` in ONE transaction, together with the history,
   the changes and the rule version, then replaces the read-only snapshot file atomically (``snapshot.py``).

A reader of the warehouse sees the previous run or the new one, never a mix; a reader of the snapshot file
(``data/published/segments.duckdb``) keeps the file it opened until it reopens.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import duckdb

from segments.contract import migrate
from segments.contract.tables import UPDATED_AT, UPDATED_WHEN, key_sql
from segments.errors import PublishError
from segments.publish.fingerprints import FINGERPRINTED, input_fingerprint, output_fingerprint
from segments.publish.snapshot import export_snapshot
from segments.rules import OUTPUT_COLUMNS, RuleSet, load_rule_file
from segments.warehouse import table_exists

__all__ = [  # the fingerprints live in their own module; their names stay importable from here
    "FINGERPRINTED", "STAGED", "PublishResult", "RuleVersionInfo", "audit_staged", "check_rule_version_unchanged",
    "input_fingerprint", "next_actions", "output_fingerprint", "publish", "record_failed_run",
    "recorded_rule_version", "segment_sizes",
]  # fmt: skip

STAGED = "segments_staging.customer_segments"
CLV_FIT = "marts.clv_fit"  # dbt keeps one row per model and as-of date

# Columns whose change makes a new history entry.
TRACKED = ("segment", "rule_id", "next_action", "action_channel", "rule_version", "arm")


@dataclass(frozen=True)
class RuleVersionInfo:
    version: str
    sha256: str
    file_name: str
    text: str
    effective_from: date
    author: str | None
    description: str | None
    role: str = "champion"


@dataclass(frozen=True)
class PublishResult:
    run_id: str
    as_of: date
    assignments: int
    customers: int
    changes: int
    history_entries: int
    snapshot: Path
    output_fingerprint: str
    input_fingerprint: str | None


def recorded_rule_version(
    con: duckdb.DuckDBPyConnection, version: str, *, schema: str = "segments"
) -> tuple[RuleSet, str] | None:
    """A rule version as ``rule_versions`` recorded it (its file may have changed or left the folder since):
    the parsed rule set and the file name; None if it was never recorded. ``schema=""`` reads a snapshot."""
    table = f"{schema}.rule_versions" if schema else "rule_versions"
    row = con.execute(
        f"select file_name, file_text from {table} where rule_version = ?", [version]
    ).fetchone()
    if row is None:
        return None
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / row[0]
        path.write_text(row[1], encoding="utf-8")
        return load_rule_file(path), row[0]


def check_rule_version_unchanged(con: duckdb.DuckDBPyConnection, rules: RuleVersionInfo) -> None:
    """A rule version, once used, is immutable: auditors rely on version -> text."""
    migrate(con)
    row = con.execute(
        "select rules_sha256, first_used_run_id from segments.rule_versions where rule_version = ?",
        [rules.version],
    ).fetchone()
    if row and row[1] is not None and row[0] != rules.sha256:
        raise PublishError(
            f"{rules.file_name}: rule version {rules.version} was already used (run {row[1]}) with sha256 "
            f"{row[0][:12]}…, but the file now hashes to {rules.sha256[:12]}…; published versions are "
            f"immutable: save the change as a new version file"
        )


def audit_staged(con: duckdb.DuckDBPyConnection, *, expected: dict[str, str], run_id: str) -> list[str]:
    """Problems with the staged assignments; empty means they may be published.

    ``expected`` maps every scheme to a query returning the ``entity_id`` of each entity it must cover.
    """
    problems = []
    for scheme, entities_sql in expected.items():
        rows, distinct = con.execute(
            f"select count(*), count(distinct entity_id) from {STAGED} where scheme = ?", [scheme]
        ).fetchone()
        if rows != distinct:
            problems.append(f"scheme {scheme}: {rows - distinct:,} entities have more than one row")
        wanted, missing = con.execute(
            f"""select count(*), count(*) filter (where not exists
                (select 1 from {STAGED} s where s.entity_id = c.entity_id and s.scheme = ?))
                from ({entities_sql}) c""",
            [scheme],
        ).fetchone()
        if missing:
            problems.append(f"scheme {scheme}: {missing:,} of {wanted:,} entities have no segment")
        extra = rows - (wanted - missing) if rows == distinct else 0
        if extra > 0:
            problems.append(f"scheme {scheme}: {extra:,} rows for entities that are not in its source")
    unknown = con.execute(
        f"select distinct scheme from {STAGED} where scheme not in (select unnest(cast(? as varchar[])))",
        [list(expected)],
    ).fetchall()
    if unknown:
        problems.append(f"unexpected schemes: {', '.join(r[0] for r in unknown)}")
    nulls = con.execute(
        f"""select count(*) from {STAGED} where segment is null or rule_id is null or next_action is null
            or action_channel is null or action_owner is null or rule_version is null or rules_sha256 is null
            or entity is null or entity_id is null or customer_id is null or arm is null
            or run_id is distinct from ?""",
        [run_id],
    ).fetchone()[0]
    if nulls:
        problems.append(f"{nulls:,} rows lack a segment, next action or provenance for run {run_id}")
    return problems


def publish(
    con: duckdb.DuckDBPyConnection,
    *,
    run_id: str,
    as_of: date,
    rules: RuleVersionInfo,
    snapshot_path: Path,
    published_at: datetime,
    seen_versions: Sequence[RuleVersionInfo] = (),
    challenger: RuleVersionInfo | None = None,
    experiment: str | None = None,
    impact_table: str | None = None,
    started_at: datetime | None = None,
    accept_drift: bool = False,
) -> PublishResult:
    """Swap the staged assignments in, in ONE transaction with history, changes, rule versions, sizes, the
    version's measured impact (``impact_table``, staged by the caller) and the run record; then the snapshot.

    ``seen_versions``: every valid rule file of the folder (recorded, used or not); ``rules`` is the champion
    used, ``challenger`` the challenger of its ``experiment``. ``accept_drift``: a person ran with
    ``--accept-drift``; what it let through (from this run's quality results) is recorded with the run.
    """
    migrate(con)
    last = con.execute("select max(as_of) from segments.runs where status = 'published'").fetchone()[0]
    if last is not None and as_of < last:
        raise PublishError(
            f"as-of {as_of} is before the last published as-of {last}; history is append-only, "
            f"so runs must move forward in time"
        )
    fingerprint = output_fingerprint(con, STAGED)
    inputs = input_fingerprint(con)
    rows_per_scheme = json.dumps(
        dict(
            con.execute(f"select scheme, count(*) from {STAGED} group by scheme order by scheme").fetchall()
        ),
        sort_keys=True,
    )
    accepted = con.execute(
        """select string_agg(suite || ': ' || expectation || coalesce('(' || column_name || ')', '')
                             || coalesce(' ' || observed_value, ''), '; ' order by checked_at)
           from segments.quality_results where run_id = ? and accepted""",
        [run_id],
    ).fetchone()[0]
    quarantined = _quarantined_rows(con, run_id)
    key = "scheme, entity_id"
    tracked_differs = " or ".join(f"s.{c} is distinct from h.{c}" for c in TRACKED)
    con.execute("begin transaction")
    try:
        # a second run on the same as-of replaces the day's history entries (one entry per entity, scheme and
        # day; otherwise the first run's would be zero-length, valid_from = valid_to); compared with what
        # history held before that day, an entity whose state is back to it gets no entry at all
        con.execute("delete from segments.segment_history_entries where valid_from = ?", [as_of])
        changes = con.execute(
            f"""insert into segments.segment_changes
            select ?, ?, coalesce(s.customer_id, p.customer_id), coalesce(s.scheme, p.scheme),
                   case when p.entity_id is null then 'entered'
                        when s.entity_id is null then 'left'
                        else 'moved' end,
                   p.segment, s.segment, ?, ?, coalesce(s.entity, p.entity), coalesce(s.entity_id, p.entity_id),
                   {key_sql("?", "coalesce(s.scheme, p.scheme)", "coalesce(s.entity_id, p.entity_id)")}, ?
            from {STAGED} s
            full outer join segments.customer_segments p using ({key})
            where s.segment is distinct from p.segment""",
            [run_id, as_of, rules.version, published_at, run_id, published_at],
        ).fetchone()[0]
        latest = f"""(select * from segments.segment_history_entries
                     qualify row_number() over (partition by {key}
                                                order by valid_from desc, recorded_at desc) = 1)"""
        entered = con.execute(
            f"""insert into segments.segment_history_entries
            select s.customer_id, s.scheme, s.segment, s.rule_id, s.next_action, s.action_channel,
                   s.rule_version, s.rules_sha256, ?, ?, ?, s.entity, s.entity_id, s.experiment, s.arm,
                   s.evidence, {key_sql("s.scheme", "s.entity_id", "?")}, ?
            from {STAGED} s left join {latest} h using ({key})
            where h.entity_id is null or {tracked_differs}""",
            [as_of, run_id, published_at, as_of, published_at],
        ).fetchone()[0]
        departed = con.execute(
            f"""insert into segments.segment_history_entries
            select h.customer_id, h.scheme, null, null, null, null, ?, ?, ?, ?, ?, h.entity, h.entity_id,
                   null, null, null, {key_sql("h.scheme", "h.entity_id", "?")}, ?
            from {latest} h
            where h.segment is not null and not exists
                (select 1 from {STAGED} s where s.entity_id = h.entity_id and s.scheme = h.scheme)""",
            [rules.version, rules.sha256, as_of, run_id, published_at, as_of, published_at],
        ).fetchone()[0]
        _record_versions(con, [*seen_versions, rules, *([challenger] if challenger else [])], published_at)
        for used in [rules, *([challenger] if challenger else [])]:
            con.execute(
                """update segments.rule_versions set first_used_run_id = ?, first_used_as_of = ?
                   where rule_version = ? and first_used_run_id is null""",
                [run_id, as_of, used.version],
            )
        if impact_table:
            con.execute(
                f"""insert into segments.rule_version_impact
                select ?, previous_version, ?, ?, scheme, from_segment, to_segment, entities from {impact_table}
                where not exists (select 1 from segments.rule_version_impact where rule_version = ?)""",
                [rules.version, run_id, as_of, rules.version],
            )
        assignments = _swap_assignments(con, run_id, published_at)
        customers = con.execute(
            "select count(distinct customer_id) from segments.customer_segments"
        ).fetchone()[0]
        con.execute(
            """insert into segments.segment_sizes
            select ?, ?, scheme, entity, segment, arm, count(*) from segments.customer_segments group by all""",
            [run_id, as_of],
        )
        if table_exists(con, CLV_FIT):
            con.execute(
                f"""insert into segments.clv_fits
                select ?, as_of_date, model, time_unit, r, alpha, a, b, p, q, gamma, log_likelihood, customers,
                       converged, iterations, note, fitted_at
                from {CLV_FIT} where as_of_date = ?""",
                [run_id, as_of],
            )
        if experiment:
            con.execute(
                """insert into segments.experiment_assignments
                select distinct ?, customer_id, arm, ?, ? from segments.customer_segments s
                where experiment = ? and not exists (select 1 from segments.experiment_assignments a
                    where a.experiment = ? and a.customer_id = s.customer_id)""",
                [experiment, run_id, as_of, experiment, experiment],
            )
        con.execute(
            f"""insert into segments.runs ({RUN_COLUMNS})
            values (?, ?, ?, ?, ?, ?, 'published', ?, ?, ?, ?, ?, ?, ?, ?, null, ?, ?, ?)""",
            [
                run_id, as_of, rules.version, rules.sha256, customers, assignments, published_at, inputs,
                fingerprint, started_at, published_at, rows_per_scheme, experiment,
                challenger.version if challenger else None, accept_drift, accepted, quarantined,
            ],
        )  # fmt: skip
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    export_snapshot(con, snapshot_path, run_id=run_id, refreshed_at=published_at)
    return PublishResult(
        run_id, as_of, assignments, customers, changes, entered + departed, snapshot_path, fingerprint, inputs
    )


def _swap_assignments(con: duckdb.DuckDBPyConnection, run_id: str, published_at: datetime) -> int:
    """The staged assignments in, the previous run's out, inside the caller's transaction: the new rows are
    inserted first (each keeps the updated_at of the row it replaces unless a value in UPDATED_WHEN differs),
    then the previous run's rows are deleted. Row locks only: on PostgreSQL, INSERT and DELETE take ROW
    EXCLUSIVE on the table, which does not conflict with a reader's ACCESS SHARE, so readers never wait, and
    MVCC shows each of their statements the rows committed when it started: the previous run's until COMMIT,
    the new run's after (TRUNCATE, DROP or a rename swap would take ACCESS EXCLUSIVE and make readers wait for
    the job's commit). A run id is published once (segments.runs' primary key), so the previous rows are
    exactly those of another run id."""
    columns = [*OUTPUT_COLUMNS, "segment_key", UPDATED_AT]
    changed = " or ".join(f"s.{c} is distinct from p.{c}" for c in UPDATED_WHEN)
    assignments = con.execute(
        f"""insert into segments.customer_segments ({", ".join(columns)})
        select {", ".join(f"s.{c}" for c in OUTPUT_COLUMNS)}, {key_sql("s.scheme", "s.entity_id")},
               case when p.entity_id is null or {changed} then cast(? as timestamptz) else p.{UPDATED_AT} end
        from {STAGED} s left join segments.customer_segments p
            on p.scheme = s.scheme and p.entity_id = s.entity_id and p.run_id <> ?""",
        [published_at, run_id],
    ).fetchone()[0]
    con.execute("delete from segments.customer_segments where run_id <> ?", [run_id])
    return assignments


RUN_COLUMNS = (
    "run_id, as_of, rule_version, rules_sha256, customers, assignments, status, published_at, "
    "input_fingerprint, output_fingerprint, started_at, finished_at, rows_per_scheme, experiment, "
    "challenger_version, failure, accept_drift, accepted_drift, quarantined_rows"
)


def _record_versions(con: duckdb.DuckDBPyConnection, versions: list[RuleVersionInfo], now: datetime) -> None:
    """Record every rule version seen; a version not used yet may still change (its row follows the file)."""
    for info in {v.version: v for v in versions}.values():
        con.execute(
            """delete from segments.rule_versions
               where rule_version = ? and first_used_run_id is null and rules_sha256 <> ?""",
            [info.version, info.sha256],
        )
        con.execute(
            """insert into segments.rule_versions
            (rule_version, rules_sha256, file_name, file_text, effective_from, author, description,
             first_used_run_id, recorded_at, role, first_used_as_of)
            select ?, ?, ?, ?, ?, ?, ?, null, ?, ?, null
            where not exists (select 1 from segments.rule_versions where rule_version = ?)""",
            [
                info.version, info.sha256, info.file_name, info.text, info.effective_from, info.author,
                info.description, now, info.role, info.version,
            ],
        )  # fmt: skip


def record_failed_run(
    con: duckdb.DuckDBPyConnection,
    *,
    run_id: str,
    as_of: date,
    failure: str,
    started_at: datetime | None,
    finished_at: datetime,
    accept_drift: bool = False,
    status: str = "failed",
) -> None:
    """Keep a run that did not publish in ``segments.runs`` (and why); published data is not touched.
    ``status``: 'failed' (it started and stopped), or 'refused' (it was stopped before its first write: its
    input fingerprint would be another run's, so none is recorded)."""
    migrate(con)
    inputs = input_fingerprint(con) if status == "failed" else None
    con.execute(
        f"""insert into segments.runs ({RUN_COLUMNS})
        select ?, ?, null, null, null, null, ?, null, ?, null, ?, ?, null, null, null, ?, ?, null, ?
        where not exists (select 1 from segments.runs where run_id = ?)""",
        [
            run_id, as_of, status, inputs, started_at, finished_at, failure, accept_drift,
            _quarantined_rows(con, run_id), run_id,
        ],
    )  # fmt: skip


def _quarantined_rows(con: duckdb.DuckDBPyConnection, run_id: str) -> int | None:
    """Rows the run's quality gate set aside (None: no gate has run in this warehouse yet)."""
    if not table_exists(con, "raw._quarantine"):
        return None
    return con.execute("select count(*) from raw._quarantine where run_id = ?", [run_id]).fetchone()[0]


def segment_sizes(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple[str, str, int, float]]:
    """(scheme, segment, customers, share %) of an assignments table, largest segments first."""
    return con.execute(
        f"""select scheme, segment, count(*) as customers,
                   100.0 * count(*) / sum(count(*)) over (partition by scheme) as share
            from {table} group by scheme, segment order by scheme, customers desc, segment"""
    ).fetchall()


def next_actions(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple[str, str, str, int]]:
    """(owner, action, channel, assignments) of an assignments table, per owner by size."""
    return con.execute(
        f"""select action_owner, next_action, action_channel, count(*) as n from {table}
            group by all order by action_owner, n desc, next_action, action_channel"""
    ).fetchall()
