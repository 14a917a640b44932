"""Same inputs, same answers: the whole nightly job on PostgreSQL publishes what it publishes on DuckDB, for the
hand-crafted customers and for demo data (segments, next actions, evidence, history, changes, fingerprints)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest

from orchestration.runner import run_job
from segments.demo.generator import generate
from segments.engines.postgres import PostgresConnection
from tests.conftest import point_settings_at, postgres_database
from tests.fixtures import handcrafted

DEMO_AS_OF = date(2026, 12, 1)
# what a run publishes, without what names the run or the clock (run_id, timestamps)
PUBLISHED = {
    "segments.customer_segments": "customer_id, scheme, segment, rule_id, next_action, action_channel, "
    "action_owner, action_priority, rule_version, rules_sha256, as_of, entity, entity_id, experiment, arm, "
    "evidence, segment_key",
    "segments.segment_history_entries": "customer_id, scheme, segment, rule_id, next_action, action_channel, "
    "rule_version, rules_sha256, valid_from, entity, entity_id, experiment, arm, evidence, history_key",
    "segments.segment_changes": "as_of, customer_id, scheme, change, from_segment, to_segment, rule_version, "
    "entity, entity_id",
    "segments.segment_sizes": "as_of, scheme, entity, segment, arm, entities",
    "segments.runs": "as_of, rule_version, rules_sha256, customers, assignments, status, input_fingerprint, "
    "output_fingerprint, rows_per_scheme, experiment, challenger_version, quarantined_rows",
}


def published(con) -> dict[str, list[tuple]]:
    return {
        table: sorted(con.execute(f"select {columns} from {table}").fetchall(), key=repr)
        for table, columns in PUBLISHED.items()
    }


def both_engines(tmp: Path, landing: Path, as_of: date, dsn: str) -> tuple[dict, dict]:
    found = []
    for target in ("duckdb", "postgres"):
        data = tmp / target
        with pytest.MonkeyPatch.context() as env:
            point_settings_at(env, data)
            env.setenv("SEGMENTS_LANDING_DIR", str(landing))
            env.setenv("SEGMENTS_TARGET", target)
            env.setenv("SEGMENTS_POSTGRES_DSN", dsn)
            outcome = run_job(as_of=as_of)
            assert outcome.success, f"{target}: {outcome.failure}"
        if target == "duckdb":
            con = duckdb.connect(str(data / "warehouse.duckdb"), read_only=True)
        else:
            con = PostgresConnection(dsn)
        try:
            found.append(published(con))
        finally:
            con.close()
    return found[0], found[1]


@pytest.mark.parametrize("inputs", ["hand-crafted", "demo"])
def test_the_job_publishes_the_same_on_duckdb_and_postgres(inputs, postgres_cluster, tmp_path):
    landing = tmp_path / "landing"
    if inputs == "hand-crafted":
        handcrafted.write_landing(landing)
        as_of = handcrafted.AS_OF
    else:
        generate(landing, customers=400, seed=11, as_of=DEMO_AS_OF)
        as_of = DEMO_AS_OF
    dsn = postgres_database(postgres_cluster, f"equivalence_{inputs.replace('-', '_')}")
    on_duckdb, on_postgres = both_engines(tmp_path, landing, as_of, dsn)
    assert on_duckdb["segments.customer_segments"], "nothing was published"
    for table in PUBLISHED:
        assert on_postgres[table] == on_duckdb[table], table
