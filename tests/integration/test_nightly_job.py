"""The whole nightly job on hand-crafted customers, in a temporary folder."""

from __future__ import annotations

import hashlib
import shutil
from datetime import date
from pathlib import Path

import dagster as dg
import pytest

from orchestration.cli import main as cli
from orchestration.runner import run_job
from segments.rules import rule_files
from segments.settings import DEFAULT_RULES_DIR, Settings
from tests.conftest import query
from tests.fixtures import handcrafted

pytestmark = pytest.mark.integration


def run(as_of: date = handcrafted.AS_OF):
    return run_job(as_of=as_of)


def published(settings: Settings, sql: str, params=None):
    """What tools read: the snapshot file."""
    return query(settings.published_segments, sql, params)


def warehouse(settings: Settings, sql: str, params=None):
    return query(settings.warehouse, sql, params)


@pytest.fixture(scope="module")
def first_run(handcrafted_run):
    """One published run on the hand-crafted data (shared by the session); tests that change things start
    from a copy of it."""
    return handcrafted_run.data, handcrafted_run.outcome, handcrafted_run.settings


@pytest.fixture
def landing(first_run, pipeline_env: Path) -> Path:
    """A private copy of the first run's data folder (landing files, warehouse, snapshot)."""
    shutil.copytree(first_run[0], pipeline_env)
    return pipeline_env / "landing"


def test_hand_computed_segments_next_actions_and_provenance(first_run):
    _, outcome, settings = first_run

    rows = published(settings, "select customer_id, scheme, segment from customer_segments")
    got: dict[str, dict[str, str]] = {}
    for customer, scheme, segment in rows:
        got.setdefault(customer, {})[scheme] = segment
    assert {c: (s["rfm_lifecycle"], s["value_tier"]) for c, s in got.items()} == handcrafted.EXPECTED

    channels = dict(
        published(
            settings,
            "select customer_id, action_channel from customer_segments where scheme = 'rfm_lifecycle'",
        )
    )
    assert channels == handcrafted.EXPECTED_RFM_CHANNEL

    provenance = published(
        settings,
        "select distinct rule_version, rules_sha256, run_id, as_of from customer_segments",
    )
    rules_file = DEFAULT_RULES_DIR / "2026-11-01.yaml"

    assert provenance == [
        ("2026-11-01", hashlib.sha256(rules_file.read_bytes()).hexdigest(), outcome.run_id, handcrafted.AS_OF)
    ]
    assert published(
        settings, "select file_name, first_used_run_id from rule_versions where first_used_run_id is not null"
    ) == [("2026-11-01.yaml", outcome.run_id)]
    # the later versions in the folder are validated and recorded, not used before their date
    unused = len(rule_files(DEFAULT_RULES_DIR)) - 1
    assert published(settings, "select count(*) from rule_versions where first_used_run_id is null") == [
        (unused,)
    ]
    # every customer entered every scheme once; history opens one period each
    assert published(settings, "select change, count(*) from segment_changes group by all") == [
        ("entered", 22)
    ]
    assert published(settings, "select count(*), count(valid_to) from segment_history") == [(22, 0)]

    # features the segments were computed from (spot checks of the hand-made numbers)
    features = dict(
        (r[0], r[1:])
        for r in warehouse(
            settings,
            "select customer_id, recency_days, frequency, monetary::double, r_score, f_score, m_score "
            "from marts.customer_features",
        )
    )
    assert features["C0000008"] == (300, 3, 250.0, 2, 2, 2)
    assert features["A0000001"] == (500, 8, 5000.0, 1, 5, 5)
    assert features["C0000012"] == (None, 0, 0.0, None, None, None)
    methods = dict(warehouse(settings, "select match_method, orders from marts.identity_match_summary"))
    assert methods["email"] == 1 and methods["org_number"] == 1 and methods["guest_email"] == 2


ADDRESS = r"[a-z0-9._%+-]+@[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,}"  # an email address (not a regex for one)


def test_no_email_address_reaches_the_published_tables(first_run):
    """Guest ids are pseudonyms: the address stays in the warehouse's CRM-side tables (marts.dim_customers)."""
    _, _, settings = first_run
    address = handcrafted.GUEST_EMAIL.strip().lower()
    assert "guest:" + hashlib.sha256(address.encode()).hexdigest() == handcrafted.GUEST_ID
    assert warehouse(
        settings, "select email from marts.dim_customers where customer_id = ?", [handcrafted.GUEST_ID]
    ) == [(address,)]
    columns = published(
        settings,
        "select table_name, column_name from information_schema.columns where data_type = 'VARCHAR'",
    )
    assert len(columns) > 50
    for table, column in columns:
        hits = published(
            settings, f"select count(*) from {table} where regexp_matches(lower({column}), ?)", [ADDRESS]
        )[0][0]
        assert hits == 0, f"{table}.{column}"


def test_every_table_reports_its_row_count_to_dagster(first_run):
    """dbt's tables count their rows in a post-hook (macros/log_row_count.sql); the materialization says so."""
    _, outcome, settings = first_run
    tables = warehouse(
        settings,
        "select table_schema, table_name from information_schema.tables where table_type = 'BASE TABLE' "
        "and table_schema in ('intermediate', 'marts', 'reference')",
    )
    assert len(tables) > 10
    for schema, name in tables:
        rows = warehouse(settings, f"select count(*) from {schema}.{name}")[0][0]
        assert outcome.row_counts[f"{schema}/{name}"] == rows, f"{schema}.{name}"
    # views are not counted (counting one runs its query)
    assert "staging/stg_sales__orders" not in outcome.row_counts


def test_second_run_records_history_and_changes(landing):
    settings = Settings.from_env()
    # a week later B2 (New Customers) has not bought again; B4 buys twice more
    later = date(2026, 11, 8)
    orders = (landing / "sales_orders.csv").read_text(encoding="utf-8")
    lines = (landing / "sales_order_lines.csv").read_text(encoding="utf-8")
    orders += "O00009001,C0000004,,,2026-11-05 10:00:00,webshop,EUR\nO00009002,C0000004,,,2026-11-06 10:00:00,webshop,EUR\n"
    lines += "L000009001,O00009001,P0002,1,500.00,0.00\nL000009002,O00009002,P0002,1,500.00,0.00\n"
    (landing / "sales_orders.csv").write_text(orders, encoding="utf-8")
    (landing / "sales_order_lines.csv").write_text(lines, encoding="utf-8")
    second = run(later)
    assert second.success, second.failure

    moved = published(
        settings,
        "select customer_id, scheme, from_segment, to_segment from segment_changes where run_id = ? order by 1, 2",
        [second.run_id],
    )
    assert ("C0000004", "rfm_lifecycle", "Promising", "Potential Loyalists") in moved
    assert all(change[2] != change[3] for change in moved)
    # history answers "which segment on date D" for both periods
    on = """select segment from segment_history where customer_id = 'C0000004' and scheme = 'rfm_lifecycle'
            and valid_from <= ? and (valid_to is null or valid_to > ?)"""
    assert published(settings, on, [date(2026, 11, 3)] * 2) == [("Promising",)]
    assert published(settings, on, [later] * 2) == [("Potential Loyalists",)]
    assert published(settings, "select count(*) from runs") == [(2,)]


# What a failed run must not change in the snapshot: everything but the run records (runs, quality_results,
# published_run.refreshed_at), which a failed run refreshes so tools can tell a later night failed.
PUBLISHED_DATA = ("customer_segments", "segment_history", "segment_changes", "rule_versions", "segment_sizes")


def snapshot_state(settings: Settings):
    return (
        published(settings, "select run_id, count(*) from customer_segments group by all"),
        warehouse(settings, "select run_id, count(*) from segments.customer_segments group by all"),
        {t: published(settings, f"select * from {t} order by all") for t in PUBLISHED_DATA},
        published(settings, "select * exclude (refreshed_at) from published_run"),
    )


def assert_failed_run_in_snapshot(settings: Settings, outcome, status: str = "failed") -> None:
    """The snapshot's runs say the night failed (or was refused at start-up); its published_run still names
    the run it holds."""
    assert published(settings, "select status, failure from runs where run_id = ?", [outcome.run_id]) == [
        (status, outcome.failure)
    ]
    held, refreshed = published(settings, "select run_id, refreshed_at from published_run")[0]
    assert held != outcome.run_id
    assert refreshed > published(settings, "select published_at from runs where run_id = ?", [held])[0][0]


def test_failed_blocking_quality_check_leaves_published_results_untouched(landing):
    settings = Settings.from_env()
    before = snapshot_state(settings)
    products = (landing / "sales_products.csv").read_text(encoding="utf-8").splitlines()
    products[2] = products[2].rsplit(",", 1)[0] + ",-5"  # the catalogue's problems are systemic: block
    (landing / "sales_products.csv").write_text("\n".join(products) + "\n", encoding="utf-8")

    outcome = run(date(2026, 11, 2))
    assert not outcome.success
    assert "gx_raw_sales_products" in outcome.failure
    assert "expect_column_values_to_be_between(list_price): 1 of" in outcome.failure
    assert "nothing was published" in outcome.failure
    assert snapshot_state(settings) == before
    assert_failed_run_in_snapshot(settings, outcome)


def test_broken_rule_file_leaves_published_results_untouched(landing, tmp_path, monkeypatch):
    settings = Settings.from_env()
    before = snapshot_state(settings)
    rules = tmp_path / "rules"
    shutil.copytree(DEFAULT_RULES_DIR, rules)
    broken = (rules / "2026-11-01.yaml").read_text(encoding="utf-8")
    (rules / "2026-11-02.yaml").write_text(
        broken.replace('version: "2026-11-01"', 'version: "2026-11-02"')
        .replace("effective_from: 2026-11-01", "effective_from: 2026-11-02")
        .replace("when: r_score = 2\n", "when: r_score = 2 or drop_table(1)\n"),
        encoding="utf-8",
    )
    monkeypatch.setenv("SEGMENTS_RULES_DIR", str(rules))
    outcome = run(date(2026, 11, 2))
    assert not outcome.success
    assert "2026-11-02.yaml:" in outcome.failure and "drop_table" in outcome.failure
    # found by the preflight, before anything ran: refused in its first seconds
    assert outcome.failure.startswith("the run cannot start: ") and outcome.step_seconds == {}
    assert snapshot_state(settings) == before
    assert_failed_run_in_snapshot(settings, outcome, status="refused")


def test_cli_run_prints_summary_and_fails_with_one_line(landing, capsys):
    assert cli(["run", "--as-of", "2026-11-02"]) == 0
    out = capsys.readouterr().out
    assert "Rule version 2026-11-01 (2026-11-01.yaml" in out
    assert "Can't Lose Them" in out and "customer_success" in out
    # 47 orders: 1 matched by email, 1 by org number, 2 from a guest
    assert "Orders matched to a CRM customer: 95.7 % (crm_id 91.5 %, email 2.1 %, org_number 2.1 %)" in out

    (landing / "crm_accounts.csv").write_text("account_id,name\nA1,x\n", encoding="utf-8")
    assert cli(["run", "--as-of", "2026-11-03"]) == 1
    err = capsys.readouterr().err.strip().splitlines()  # progress lines, then the reason
    assert "Traceback" not in "\n".join(err)
    assert err[-1].startswith("error: step raw_tables failed: ")
    assert "crm_accounts.csv:1: column 'org_number': missing column" in err[-1]
    # progress in the words of the stages; the failure is one line, not a line per step it left out
    assert err[-2].endswith("  load landing files FAILED") and err[0].endswith("  load landing files …")
    assert not any("Dependencies for step" in line or "raw_tables" in line for line in err[:-1])
    # both runs are in the Dagster instance `make ui` shows: DAGSTER_HOME was not set
    instance = dg.DagsterInstance.from_config(str(landing.parent / "dagster"))
    assert [r.status for r in instance.get_runs(limit=2)] == [
        dg.DagsterRunStatus.FAILURE,
        dg.DagsterRunStatus.SUCCESS,
    ]
