"""The tables Python owns in schema ``segments`` (the published contract), and bringing an older warehouse's
tables up to it.

Marketing tools and auditors depend on these names and types: columns are only ever appended, never renamed or
reordered, and a type changes only by a listed migration.
"""

from __future__ import annotations

import re

import duckdb

# The published contract. Marketing tools and auditors depend on these names and types. Columns are only ever
# appended (a warehouse made by an older release gets them with ALTER TABLE), never renamed or reordered; a
# type changes only by a migration listed in MIGRATED_TYPES (e.g. timestamp -> timestamptz), in place.
# "key" columns are NOT NULL in a new warehouse; columns added later are nullable in a migrated one.
# Timestamps are timestamptz: an instant, whatever the reader's zone.
DDL: dict[str, str] = {
    # One row per segmented entity and scheme. No primary key in the warehouse: (scheme, entity_id) is unique
    # by the audit before publishing, and an index on millions of text keys would cost more than the audit;
    # segment_key (md5 of scheme and entity_id, see KEYS) is its single-column key, unique by that audit.
    # customer_id is the buying unit (for a contact: its account, or the person itself for B2C);
    # entity/entity_id is what the scheme segments (customer, account or contact).
    # evidence: JSON of the values of every column the scheme's rules read, for this entity in this run.
    "segments.customer_segments": """
        customer_id varchar not null, scheme varchar not null, segment varchar not null,
        rule_id varchar not null, next_action varchar not null, action_channel varchar not null,
        action_owner varchar not null, action_priority integer not null, rule_version varchar not null,
        rules_sha256 varchar not null, run_id varchar not null, as_of date not null,
        assigned_at timestamptz not null, entity varchar not null, entity_id varchar not null,
        experiment varchar, arm varchar not null, evidence varchar, segment_key varchar not null""",
    # Every rule version the job has seen in the rules folder (validated), used or not yet (first_used_*
    # NULL: e.g. a file whose effective_from is still in the future). role: champion | challenger.
    "segments.rule_versions": """
        rule_version varchar not null, rules_sha256 varchar not null, file_name varchar not null,
        file_text varchar not null, effective_from date not null, author varchar, description varchar,
        first_used_run_id varchar, recorded_at timestamptz not null, role varchar not null,
        first_used_as_of date,
        primary key (rule_version)""",
    # Append-only: a row each time an entity's assignment in a scheme changes (segment NULL: it left the
    # base). The view segment_history adds valid_to. evidence: the values the rules saw at valid_from.
    # One entry per entity, scheme and day: a second run on the same as-of replaces the day's entries.
    "segments.segment_history_entries": """
        customer_id varchar not null, scheme varchar not null, segment varchar, rule_id varchar,
        next_action varchar, action_channel varchar, rule_version varchar not null,
        rules_sha256 varchar not null, valid_from date not null, run_id varchar not null,
        recorded_at timestamptz not null, entity varchar not null, entity_id varchar not null,
        experiment varchar, arm varchar, evidence varchar, history_key varchar not null""",
    "segments.segment_changes": """
        run_id varchar not null, as_of date not null, customer_id varchar not null, scheme varchar not null,
        change varchar not null, from_segment varchar, to_segment varchar, rule_version varchar not null,
        recorded_at timestamptz not null, entity varchar not null, entity_id varchar not null,
        change_key varchar not null""",
    # One row per published run (and per failed run: status 'failed', with the reason).
    # input_fingerprint: sha256 over the loaded landing files' sha256s; output_fingerprint: order-independent
    # hash of the published assignments without run id and timestamps (same inputs + version -> same value).
    # rows_per_scheme: JSON {scheme: rows}.
    "segments.runs": """
        run_id varchar not null primary key, as_of date not null, rule_version varchar,
        rules_sha256 varchar, customers bigint, assignments bigint,
        status varchar not null, published_at timestamptz, input_fingerprint varchar,
        output_fingerprint varchar, started_at timestamptz, finished_at timestamptz, rows_per_scheme varchar,
        experiment varchar, challenger_version varchar, failure varchar, accept_drift boolean,
        accepted_drift varchar, quarantined_rows bigint""",
    # Every check of every run (published or stopped): Great Expectations suites, load anomalies, freshness,
    # segment-size drift. severity: block | quarantine | warn; blocks: this failure stops the run (unless
    # accepted: a person ran with --accept-drift); quarantined_rows: rows set aside into raw._quarantine.
    "segments.quality_results": """
        run_id varchar not null, suite varchar not null, table_name varchar, expectation varchar not null,
        column_name varchar, severity varchar not null, success boolean not null, observed_value varchar,
        unexpected_count bigint, element_count bigint, quarantined_rows bigint, blocks boolean,
        accepted boolean, kwargs varchar, examples varchar, note varchar, checked_at timestamptz not null""",
    # Segment sizes of every published run (for sizes over time).
    "segments.segment_sizes": """
        run_id varchar not null, as_of date not null, scheme varchar not null, entity varchar not null,
        segment varchar not null, arm varchar not null, entities bigint not null""",
    # The measured impact of a rule version at its first use: on that run's data, the previous version's
    # segment (from_segment) against the new one's (to_segment), per scheme. NULL: scheme absent in one.
    "segments.rule_version_impact": """
        rule_version varchar not null, previous_version varchar not null, run_id varchar not null,
        as_of date not null, scheme varchar not null, from_segment varchar, to_segment varchar,
        entities bigint not null""",
    # Which arm of an experiment each customer is in, from the first run that assigned it (arms are a hash of
    # customer id and salt, so they never change; this records since when).
    # The customer value models fitted for each published run (marts.clv_fit of that run's as-of date):
    # BG/NBD r, alpha, a, b; Gamma-Gamma p, q, gamma; log-likelihood and convergence.
    "segments.clv_fits": """
        run_id varchar not null, as_of date not null, model varchar not null, time_unit varchar,
        r double, alpha double, a double, b double, p double, q double, gamma double,
        log_likelihood double, customers integer, converged boolean, iterations integer, note varchar,
        fitted_at timestamptz""",
    "segments.experiment_assignments": """
        experiment varchar not null, customer_id varchar not null, arm varchar not null,
        first_run_id varchar not null, first_as_of date not null,
        primary key (experiment, customer_id)""",
}

HISTORY_VIEW = """
create or replace view segments.segment_history as
select customer_id, scheme, segment, rule_id, next_action, action_channel, rule_version, rules_sha256,
       valid_from,
       lead(valid_from) over (partition by scheme, entity_id order by valid_from, recorded_at) as valid_to,
       run_id, recorded_at, entity, entity_id, experiment, arm, evidence, history_key
from segments.segment_history_entries
"""


def key_sql(*columns: str) -> str:
    """A row's single-column key: md5 (hex) of its natural key's values joined by a unit separator."""
    return "md5(concat_ws(chr(31), " + ", ".join(f"cast({c} as varchar)" for c in columns) + "))"


# Single-column keys of the published rows (table: (key column, natural key)); deterministic, so a tool can
# upsert by them: a segment_key stays the same for an entity and scheme from run to run, a history_key names
# an entity's entry of a day (unique since same-day reruns replace it), a change_key a run's change.
KEYS = {
    "segments.customer_segments": ("segment_key", ("scheme", "entity_id")),
    "segments.segment_history_entries": ("history_key", ("scheme", "entity_id", "valid_from")),
    "segments.segment_changes": ("change_key", ("run_id", "scheme", "entity_id")),
}
# Primary keys the snapshot declares (DuckDB checks them while the file is written). The KEYS columns are unique
# by construction (the audit, same-day replacement) but not declared: DuckDB's index on 6M md5 keys made the
# snapshot 4x larger (127 -> 550 MiB) and its export 50 s slower, more than the whole publish takes at 1M.
SNAPSHOT_KEYS = {"runs": "run_id", "rule_versions": "rule_version"}
# Type migrations of an older warehouse: (its type as DuckDB reports it, the contract's type). Naive timestamps
# were written as the writing machine's local time (datetime.now()); DuckDB reads them in its session time
# zone, which is the machine's own unless TimeZone is set, so they keep their instant.
MIGRATED_TYPES = {("TIMESTAMP", "timestamptz")}
# Before history_key is backfilled: drop the zero-length entries older releases left when a day had two runs
# (the earlier run's entry, valid_from = valid_to). No date's answer changes: such an entry was never in
# force. The runs and their segment_changes keep the record.
_SUPERSEDED_SAME_DAY = """
delete from segments.segment_history_entries where rowid in (
    select rowid from segments.segment_history_entries
    qualify row_number() over (partition by scheme, entity_id, valid_from
                               order by recorded_at desc, rowid desc) > 1)"""

# Values for rows written before a column existed (a warehouse made by an older release).
BACKFILL = {
    "segments.customer_segments": {"entity": "'customer'", "entity_id": "customer_id", "arm": "'champion'"},
    "segments.segment_history_entries": {"entity": "'customer'", "entity_id": "customer_id"},
    "segments.segment_changes": {"entity": "'customer'", "entity_id": "customer_id"},
    "segments.rule_versions": {"role": "'champion'"},
}
for _table, (_column, _natural) in KEYS.items():
    BACKFILL[_table][_column] = key_sql(*_natural)


def _columns(ddl: str) -> list[tuple[str, str, bool]]:
    """(name, type, not null) of a DDL column list (constraints like ``primary key (..)`` skipped)."""
    columns = []
    for part in re.split(r",(?![^()]*\))", ddl):
        words = part.split()
        if not words or words[0] == "primary":
            continue
        columns.append((words[0], words[1], "not null" in part))
    return columns


def ensure_contract(con: duckdb.DuckDBPyConnection) -> None:
    """Create the published tables, or bring those of an older release up to the contract."""
    con.execute("create schema if not exists segments")
    con.execute("create schema if not exists segments_staging")
    for table, ddl in DDL.items():
        con.execute(f"create table if not exists {table} ({ddl})")
        schema, name = table.split(".")
        existing = {
            column: (nullable, type_)
            for column, nullable, type_ in con.execute(
                "select column_name, is_nullable, data_type from information_schema.columns "
                "where table_schema = ? and table_name = ?",
                [schema, name],
            ).fetchall()
        }
        for column, type_, not_null in _columns(ddl):
            if column not in existing:
                if column == "history_key":
                    con.execute(_SUPERSEDED_SAME_DAY)
                con.execute(f"alter table {table} add column {column} {type_}")
                fill = BACKFILL.get(table, {}).get(column)
                if fill:
                    con.execute(f"update {table} set {column} = {fill} where {column} is null")
                continue
            nullable, old_type = existing[column]
            if (old_type, type_) in MIGRATED_TYPES:
                con.execute(f"alter table {table} alter column {column} type {type_}")
            if not not_null and nullable == "NO":
                con.execute(f"alter table {table} alter column {column} drop not null")
    con.execute(HISTORY_VIEW)
