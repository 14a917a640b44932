"""The tables Python owns (the landing bookkeeping in schema ``raw`` and the published contract in schema
``segments``), as they are at the current schema version (``segments.contract.migrations`` gets a warehouse
there).

Marketing tools and auditors depend on these names and types: columns are only ever appended, never renamed or
reordered, and a type changes only by a numbered migration.
"""

from __future__ import annotations

import re

import duckdb

from segments.sql import table_exists

# What the job keeps beside the landing tables in schema raw (written by ingest and the quality gate; never
# published). Timestamps here are naive local time, as the landing files' loaded_at.
RAW_DDL: dict[str, str] = {
    # One row per loaded landing file (an unchanged file is not loaded again).
    "raw._loads": """
        entity varchar not null, file_name varchar not null, sha256 varchar not null,
        rows bigint not null, loaded_at timestamp not null, run_id varchar, encoding varchar""",
    # Rows the quality gate set aside. source_line: the line in a CSV file (header = 1), NULL for Parquet;
    # source_row: 1-based data row.
    "raw._quarantine": """
        run_id varchar not null, entity varchar not null, natural_key varchar, expectation varchar not null,
        column_name varchar not null, offending_value varchar, source_file varchar not null,
        source_line bigint, source_row bigint not null, loaded_at timestamp not null,
        quarantined_at timestamp not null""",
    # Per load, the measures the anomaly checks compare with earlier loads.
    "raw._load_profiles": """
        entity varchar not null, loaded_at timestamp not null, sha256 varchar not null,
        measure varchar not null, value double, profiled_at timestamp not null""",
}

# The published contract. Marketing tools and auditors depend on these names and types. Columns are only ever
# appended (a warehouse made by an older release gets them with ALTER TABLE), never renamed or reordered; a
# type changes only by a numbered migration (e.g. timestamp -> timestamptz), in place.
# "key" columns are NOT NULL in a new warehouse; columns added later are nullable in a migrated one.
# Timestamps are timestamptz: an instant, whatever the reader's zone.
DDL: dict[str, str] = {
    # One row per segmented entity and scheme. No primary key in the warehouse: (scheme, entity_id) is unique
    # by the audit before publishing, and an index on millions of text keys would cost more than the audit;
    # segment_key (md5 of scheme and entity_id, see KEYS) is its single-column key, unique by that audit.
    # customer_id is the buying unit (for a contact: its account, or the person itself for B2C);
    # entity/entity_id is what the scheme segments (customer, account or contact).
    # evidence: JSON of the values of every column the scheme's rules read, for this entity in this run.
    # updated_at: when the row's published values last changed (see UPDATED_AT).
    "segments.customer_segments": """
        customer_id varchar not null, scheme varchar not null, segment varchar not null,
        rule_id varchar not null, next_action varchar not null, action_channel varchar not null,
        action_owner varchar not null, action_priority integer not null, rule_version varchar not null,
        rules_sha256 varchar not null, run_id varchar not null, as_of date not null,
        assigned_at timestamptz not null, entity varchar not null, entity_id varchar not null,
        experiment varchar, arm varchar not null, evidence varchar, segment_key varchar not null,
        updated_at timestamptz""",
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
        experiment varchar, arm varchar, evidence varchar, history_key varchar not null,
        updated_at timestamptz""",
    "segments.segment_changes": """
        run_id varchar not null, as_of date not null, customer_id varchar not null, scheme varchar not null,
        change varchar not null, from_segment varchar, to_segment varchar, rule_version varchar not null,
        recorded_at timestamptz not null, entity varchar not null, entity_id varchar not null,
        change_key varchar not null, updated_at timestamptz""",
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
       run_id, recorded_at, entity, entity_id, experiment, arm, evidence, history_key, updated_at
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
# updated_at, beside each key: a tool that copies the published rows elsewhere (reverse ETL) asks for the rows
# with updated_at after its last sync. A customer_segments row gets the publish time when a value in
# UPDATED_WHEN differs from the row it replaces (or it is new), else keeps its updated_at: run_id, as_of,
# assigned_at and evidence change every night and are provenance, not news. History entries and changes
# are written once (a same-day rerun replaces its day's entries, with a new updated_at).
UPDATED_AT = "updated_at"
UPDATED_WHEN = (
    "customer_id", "segment", "rule_id", "next_action", "action_channel", "action_owner", "action_priority",
    "rule_version", "rules_sha256", "entity", "experiment", "arm",
)  # fmt: skip

# Primary keys the snapshot declares (DuckDB checks them while the file is written). The KEYS columns are unique
# by construction (the audit, same-day replacement) but not declared: DuckDB's index on 6M md5 keys made the
# snapshot 4x larger (127 -> 550 MiB) and its export 50 s slower, more than the whole publish takes at 1M.
SNAPSHOT_KEYS = {"runs": "run_id", "rule_versions": "rule_version"}

# Every table Python owns, in the order a new warehouse creates them.
TABLES: dict[str, str] = {**RAW_DDL, **DDL}


def columns(ddl: str) -> list[tuple[str, str, bool]]:
    """(name, type, not null) of a DDL column list (constraints like ``primary key (..)`` skipped)."""
    found = []
    for part in re.split(r",(?![^()]*\))", ddl):
        words = part.split()
        if not words or words[0] == "primary":
            continue
        found.append((words[0], words[1], "not null" in part))
    return found


def readable(con: duckdb.DuckDBPyConnection, table: str) -> str:
    """``table`` to read from: the table itself, or, in a warehouse no run has used yet, an empty relation with
    its columns. Older warehouses never get here: ``require_current`` stops their readers first."""
    if table_exists(con, table):
        return table
    return (
        "(select "
        + ", ".join(f"null::{type_} as {column}" for column, type_, _ in columns(TABLES[table]))
        + " where false)"
    )
