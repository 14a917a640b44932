"""Who may read which published table on PostgreSQL: the two roles ``segments grant`` makes
(``segments.publish.roles``), and the grants the contract's migrations renew when they create tables.

``segments_reader`` is for the tools that act on segments (marketing automation, reverse ETL): the current
assignments, their changes and sizes. ``segments_auditor`` also reads how they came about: history, rule
versions and their measured impact, runs, quality results, value-model fits, experiment arms. Neither reads
anything outside schema ``segments``: raw and accepted landing rows, dbt's staging, intermediate and marts
schemas (names, emails, org numbers) and ``segments_staging`` (a run's unaudited output) stay the job's.
"""

from __future__ import annotations

READER = "segments_reader"
AUDITOR = "segments_auditor"

READER_TABLES = ("customer_segments", "segment_changes", "segment_sizes")
AUDITOR_TABLES = (
    *READER_TABLES, "segment_history", "segment_history_entries", "rule_versions", "rule_version_impact",
    "runs", "quality_results", "clv_fits", "experiment_assignments",
)  # fmt: skip
ROLE_TABLES = {READER: READER_TABLES, AUDITOR: AUDITOR_TABLES}


def renew_grants(con) -> list[str]:
    """On PostgreSQL, SELECT on each role's tables that exist, for the roles that exist (``segments grant``
    made them): the auditor's default privileges cover tables made later, the reader's named tables cannot be
    covered so, hence this after every migration that creates tables. Returns the statements run."""
    roles = [
        name
        for (name,) in con.execute_native(
            "select rolname from pg_roles where rolname = any(%s)", [list(ROLE_TABLES)]
        ).fetchall()
    ]
    existing = {
        name
        for (name,) in con.execute_native(
            "select table_name from information_schema.tables where table_schema = 'segments'"
        ).fetchall()
    }
    statements = []
    for role in sorted(roles):
        tables = [f"segments.{t}" for t in ROLE_TABLES[role] if t in existing]
        if tables:
            statements.append(f"grant select on {', '.join(tables)} to {role}")
    for statement in statements:
        con.execute_native(statement)
    return statements
