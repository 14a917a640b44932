"""Write-audit-publish for segment assignments.

1. write: the rule engine writes the run's assignments to ``segments_staging.customer_segments``;
2. audit: ``audit_staged`` checks them (one row per customer and scheme, provenance filled in, ...);
3. publish: ``publish`` swaps them into schema ``segments`` in ONE transaction, together with the history,
   the changes and the rule version, then replaces the read-only snapshot file atomically.

A reader of the warehouse sees the previous run or the new one, never a mix; a reader of the snapshot file
(``data/published/segments.duckdb``) keeps the file it opened until it reopens.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import duckdb

from orchestration.errors import PublishError
from orchestration.warehouse import quote_literal

STAGED = "segments_staging.customer_segments"

# The published contract. Marketing tools and auditors depend on these names and types.
DDL = {
    # No primary key: (customer_id, scheme) is unique by the audit before publishing, and an index on
    # millions of text keys would cost more than the audit.
    "segments.customer_segments": """
        customer_id varchar not null, scheme varchar not null, segment varchar not null,
        rule_id varchar not null, next_action varchar not null, action_channel varchar not null,
        action_owner varchar not null, action_priority integer not null, rule_version varchar not null,
        rules_sha256 varchar not null, run_id varchar not null, as_of date not null,
        assigned_at timestamp not null""",
    "segments.rule_versions": """
        rule_version varchar not null, rules_sha256 varchar not null, file_name varchar not null,
        file_text varchar not null, effective_from date not null, author varchar, description varchar,
        first_used_run_id varchar not null, recorded_at timestamp not null,
        primary key (rule_version)""",
    # Append-only: a row each time a customer's assignment in a scheme changes (segment NULL: the customer
    # left the customer base). The view segment_history adds valid_to.
    "segments.segment_history_entries": """
        customer_id varchar not null, scheme varchar not null, segment varchar, rule_id varchar,
        next_action varchar, action_channel varchar, rule_version varchar not null,
        rules_sha256 varchar not null, valid_from date not null, run_id varchar not null,
        recorded_at timestamp not null""",
    "segments.segment_changes": """
        run_id varchar not null, as_of date not null, customer_id varchar not null, scheme varchar not null,
        change varchar not null, from_segment varchar, to_segment varchar, rule_version varchar not null,
        recorded_at timestamp not null""",
    "segments.runs": """
        run_id varchar not null primary key, as_of date not null, rule_version varchar not null,
        rules_sha256 varchar not null, customers bigint not null, assignments bigint not null,
        status varchar not null, published_at timestamp not null""",
}

HISTORY_VIEW = """
create or replace view segments.segment_history as
select customer_id, scheme, segment, rule_id, next_action, action_channel, rule_version, rules_sha256,
       valid_from,
       lead(valid_from) over (partition by customer_id, scheme order by valid_from, recorded_at) as valid_to,
       run_id, recorded_at
from segments.segment_history_entries
"""

# Columns whose change makes a new history entry.
TRACKED = ("segment", "rule_id", "next_action", "action_channel", "rule_version")


@dataclass(frozen=True)
class RuleVersionInfo:
    version: str
    sha256: str
    file_name: str
    text: str
    effective_from: date
    author: str | None
    description: str | None


@dataclass(frozen=True)
class PublishResult:
    run_id: str
    as_of: date
    assignments: int
    customers: int
    changes: int
    history_entries: int
    snapshot: Path


def ensure_contract(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("create schema if not exists segments")
    con.execute("create schema if not exists segments_staging")
    for table, columns in DDL.items():
        con.execute(f"create table if not exists {table} ({columns})")
    con.execute(HISTORY_VIEW)


def check_rule_version_unchanged(con: duckdb.DuckDBPyConnection, rules: RuleVersionInfo) -> None:
    """A rule version, once used, is immutable: auditors rely on version -> text."""
    ensure_contract(con)
    row = con.execute(
        "select rules_sha256, first_used_run_id from segments.rule_versions where rule_version = ?",
        [rules.version],
    ).fetchone()
    if row and row[0] != rules.sha256:
        raise PublishError(
            f"{rules.file_name}: rule version {rules.version} was already used (run {row[1]}) with sha256 "
            f"{row[0][:12]}…, but the file now hashes to {rules.sha256[:12]}…; published versions are "
            f"immutable: save the change as a new version file"
        )


def audit_staged(
    con: duckdb.DuckDBPyConnection, *, customers_sql: str, schemes: list[str], run_id: str
) -> list[str]:
    """Problems with the staged assignments; empty means they may be published."""
    problems = []
    expected = con.execute(f"select count(*) from ({customers_sql})").fetchone()[0]
    for scheme in schemes:
        rows, distinct = con.execute(
            f"select count(*), count(distinct customer_id) from {STAGED} where scheme = ?", [scheme]
        ).fetchone()
        if rows != distinct:
            problems.append(f"scheme {scheme}: {rows - distinct:,} customers have more than one row")
        missing = con.execute(
            f"select count(*) from ({customers_sql}) c where not exists "
            f"(select 1 from {STAGED} s where s.customer_id = c.customer_id and s.scheme = ?)",
            [scheme],
        ).fetchone()[0]
        if missing:
            problems.append(f"scheme {scheme}: {missing:,} of {expected:,} customers have no segment")
    unknown = con.execute(
        f"select distinct scheme from {STAGED} where scheme not in (select unnest(?::varchar[]))", [schemes]
    ).fetchall()
    if unknown:
        problems.append(f"unexpected schemes: {', '.join(r[0] for r in unknown)}")
    nulls = con.execute(
        f"""select count(*) from {STAGED} where segment is null or rule_id is null or next_action is null
            or action_channel is null or action_owner is null or rule_version is null or rules_sha256 is null
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
) -> PublishResult:
    ensure_contract(con)
    last = con.execute("select max(as_of) from segments.runs").fetchone()[0]
    if last is not None and as_of < last:
        raise PublishError(
            f"as-of {as_of} is before the last published as-of {last}; history is append-only, "
            f"so runs must move forward in time"
        )
    tracked_differs = " or ".join(f"s.{c} is distinct from h.{c}" for c in TRACKED)
    con.execute("begin transaction")
    try:
        changes = con.execute(
            f"""insert into segments.segment_changes
            select ?, ?, coalesce(s.customer_id, p.customer_id), coalesce(s.scheme, p.scheme),
                   case when p.customer_id is null then 'entered'
                        when s.customer_id is null then 'left'
                        else 'moved' end,
                   p.segment, s.segment, ?, ?
            from {STAGED} s
            full outer join segments.customer_segments p using (customer_id, scheme)
            where s.segment is distinct from p.segment""",
            [run_id, as_of, rules.version, published_at],
        ).fetchone()[0]
        latest = """(select * from segments.segment_history_entries
                     qualify row_number() over (partition by customer_id, scheme
                                                order by valid_from desc, recorded_at desc) = 1)"""
        entered = con.execute(
            f"""insert into segments.segment_history_entries
            select s.customer_id, s.scheme, s.segment, s.rule_id, s.next_action, s.action_channel,
                   s.rule_version, s.rules_sha256, ?, ?, ?
            from {STAGED} s left join {latest} h using (customer_id, scheme)
            where h.customer_id is null or {tracked_differs}""",
            [as_of, run_id, published_at],
        ).fetchone()[0]
        departed = con.execute(
            f"""insert into segments.segment_history_entries
            select h.customer_id, h.scheme, null, null, null, null, ?, ?, ?, ?, ?
            from {latest} h
            where h.segment is not null and not exists
                (select 1 from {STAGED} s where s.customer_id = h.customer_id and s.scheme = h.scheme)""",
            [rules.version, rules.sha256, as_of, run_id, published_at],
        ).fetchone()[0]
        con.execute(
            """insert into segments.rule_versions
            select ?, ?, ?, ?, ?, ?, ?, ?, ? where not exists
                (select 1 from segments.rule_versions where rule_version = ?)""",
            [
                rules.version,
                rules.sha256,
                rules.file_name,
                rules.text,
                rules.effective_from,
                rules.author,
                rules.description,
                run_id,
                published_at,
                rules.version,
            ],
        )
        con.execute("delete from segments.customer_segments")
        assignments = con.execute(
            f"insert into segments.customer_segments select * from {STAGED}"
        ).fetchone()[0]
        customers = con.execute(
            "select count(distinct customer_id) from segments.customer_segments"
        ).fetchone()[0]
        con.execute(
            "insert into segments.runs values (?, ?, ?, ?, ?, ?, 'published', ?)",
            [run_id, as_of, rules.version, rules.sha256, customers, assignments, published_at],
        )
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    export_snapshot(con, snapshot_path, run_id=run_id)
    return PublishResult(run_id, as_of, assignments, customers, changes, entered + departed, snapshot_path)


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


SNAPSHOT_TABLES = ("customer_segments", "rule_versions", "segment_history", "segment_changes", "runs")


def export_snapshot(con: duckdb.DuckDBPyConnection, path: Path, *, run_id: str) -> None:
    """Write schema ``segments`` to a new file next to ``path`` and rename it into place (atomic on POSIX).

    Readers that opened the old file keep reading it; the next open sees the new run. Never written in place.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{run_id}.tmp")
    tmp.unlink(missing_ok=True)
    alias = "segments_snapshot"
    con.execute(f"attach {quote_literal(str(tmp))} as {alias}")
    try:
        for table in SNAPSHOT_TABLES:
            con.execute(f"create table {alias}.main.{table} as select * from segments.{table}")
    finally:
        con.execute(f"detach {alias}")
    os.replace(tmp, path)
