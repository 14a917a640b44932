"""Load anomalies, freshness and segment-size drift: what blocks, what is only compared, what a person accepts."""

from __future__ import annotations

import html
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from segments.contract import migrate
from segments.quality import anomalies
from segments.quality.drift import segment_size_drift
from segments.quality.suites import Suite

NOW = datetime(2026, 11, 22, 3, 0)


def suite(**meta) -> Suite:
    return Suite(
        name="raw_sales_order_lines",
        table="raw.sales_order_lines",
        path=Path("raw_sales_order_lines.json"),
        definition={"expectations": [], "meta": meta},
        derived_columns={},
        entity="sales_order_lines",
        anomalies=meta.get("anomalies", {}),
        freshness=meta.get("freshness"),
    )


ANOMALIES = {
    "row_count_change": 0.5,
    "null_rate_rise": 0.1,
    "measures": {"revenue": {"sql": "sum(quantity * unit_price)", "max_shift": 0.3}},
}


def load(con, loaded_at: datetime, rows: list[tuple[int, float | None]]) -> None:
    """A load of order lines: (quantity, unit_price) rows, recorded in raw._loads."""
    con.execute("create schema if not exists raw")
    con.execute("create or replace table raw.sales_order_lines (quantity integer, unit_price decimal(12, 2))")
    con.executemany("insert into raw.sales_order_lines values (?, ?)", rows)
    con.execute(
        "create table if not exists raw._loads (entity varchar, file_name varchar, sha256 varchar, rows bigint, "
        "loaded_at timestamp, run_id varchar, encoding varchar)"
    )
    con.execute(
        "insert into raw._loads values ('sales_order_lines', 'f.csv', ?, ?, ?, 'r', 'utf-8')",
        [loaded_at.isoformat(), len(rows), loaded_at],
    )
    migrate(con)


def check(con, s: Suite) -> list:
    load = anomalies.current_load(con, s.entity)
    current = anomalies.profile(con, s, ["quantity", "unit_price"], load, now=NOW)
    previous = anomalies.previous_profile(con, s.entity, load)
    return anomalies.compare(s, current, previous[1] if previous else None)


def test_first_load_has_nothing_to_compare():
    con = duckdb.connect()
    load(con, NOW, [(1, 10.0)] * 10)
    assert check(con, suite(anomalies=ANOMALIES)) == []


def test_steady_loads_pass_and_sudden_changes_block():
    con = duckdb.connect()
    s = suite(anomalies=ANOMALIES)
    load(con, NOW - timedelta(days=1), [(1, 10.0)] * 100)
    check(con, s)
    load(con, NOW, [(1, 10.0)] * 110)
    assert all(o.success for o in check(con, s))

    load(con, NOW + timedelta(hours=1), [(1, 10.0)] * 30 + [(1, None)] * 20)
    failed = {(o.expectation, o.column): o for o in check(con, s) if not o.success}
    assert set(failed) == {
        ("row_count_change", None),
        ("null_rate_rise", "unit_price"),
        ("revenue_shift", None),
    }
    assert failed[("row_count_change", None)].observed_value == "110 → 50 rows (-54.5 %)"
    assert all(o.blocks for o in failed.values())
    assert "null rate 0.0 % → 40.0 %" in failed[("null_rate_rise", "unit_price")].note


def test_row_count_limit_is_a_share_of_the_previous_load():
    con = duckdb.connect()
    s = suite(anomalies={"row_count_change": 0.5, "severity": "warn"})
    load(con, NOW - timedelta(days=1), [(1, 1.0)] * 100)
    check(con, s)
    load(con, NOW, [(1, 1.0)] * 251)
    (outcome,) = check(con, s)
    assert not outcome.success and not outcome.blocks and outcome.severity == "warn"
    assert outcome.observed_value == "100 → 251 rows (+151.0 %)"


def test_a_profile_is_computed_once_per_load():
    con = duckdb.connect()
    s = suite(anomalies=ANOMALIES)
    load(con, NOW, [(1, 1.0)] * 5)
    check(con, s)
    con.execute("insert into raw.sales_order_lines values (1, 1.0)")  # same load: the stored profile counts
    check(con, s)
    assert con.execute("select count(*) from raw._load_profiles where measure = 'rows'").fetchone()[0] == 1


@pytest.mark.parametrize(("age_hours", "ok"), [(10, True), (71, True), (73, False)])
def test_freshness_is_the_age_of_the_last_change(age_hours, ok):
    s = suite(freshness={"max_age_hours": 72})
    outcome = anomalies.freshness(s, NOW - timedelta(hours=age_hours), now=NOW)
    assert outcome.success is ok and outcome.blocks is not ok
    if not ok:
        assert "has not changed for more than 72 h" in outcome.note


def published(con, run_id: str, version: str, sizes: dict[str, int], as_of=date(2026, 11, 1)) -> None:
    con.execute(
        "insert into segments.runs (run_id, as_of, rule_version, status, finished_at) values (?, ?, ?, 'published', ?)",
        [run_id, as_of, version, NOW],
    )
    for segment, n in sizes.items():
        con.execute(
            "insert into segments.segment_sizes values (?, ?, 'rfm', 'customer', ?, 'champion', ?)",
            [run_id, as_of, segment, n],
        )


def staged(con, sizes: dict[str, int]) -> None:
    con.execute("create or replace table staged (scheme varchar, segment varchar)")
    for segment, n in sizes.items():
        con.execute("insert into staged select 'rfm', ? from range(?)", [segment, n])


@pytest.fixture
def con():
    connection = duckdb.connect()
    migrate(connection)
    yield connection
    connection.close()


def drift(con, version="v1", accept=False):
    return segment_size_drift(
        con, "staged", rule_version=version, max_share=0.25, min_entities=100, accept=accept
    )


def test_segment_sizes_moving_beyond_the_limit_block_with_the_segment_named(con):
    published(con, "r1", "v1", {"Champions": 400, "Lost": 1000, "Tiny": 3})
    staged(con, {"Champions": 600, "Lost": 1100, "Tiny": 9, "New": 150})
    report = drift(con)
    moved = {o.column: o.observed_value for o in report.blocking_failures}
    assert moved == {"rfm/Champions": "400 → 600 (+50.0 %)", "rfm/New": "0 → 150 (new)"}
    assert "with rule version v1 unchanged (limit ±25 %)" in report.summary()
    assert "--accept-drift" in report.summary()


def test_accepted_drift_passes_and_says_so(con):
    published(con, "r1", "v1", {"Champions": 400})
    staged(con, {"Champions": 800})
    report = drift(con, accept=True)
    assert report.passed and [o.accepted for o in report.outcomes] == [True]


def test_a_new_rule_version_or_a_first_run_is_not_compared(con):
    staged(con, {"Champions": 800})
    assert drift(con).passed and "first published run" in drift(con).outcomes[0].note
    published(con, "r1", "v1", {"Champions": 100})
    report = drift(con, version="v2")
    assert report.passed and "rule version changed (v1 → v2)" in report.outcomes[0].note


def test_small_moves_pass(con):
    published(con, "r1", "v1", {"Champions": 400, "Lost": 1000})
    staged(con, {"Champions": 440, "Lost": 850})
    report = drift(con)
    assert report.passed
    assert report.outcomes[0].observed_value == "2 segments compared; largest move rfm/Lost -15.0 %"


def test_results_are_stored_per_run_and_rendered_as_data_docs(con, tmp_path):
    from segments.quality import drift as drift_module
    from segments.quality.results import record, reports_for_run
    from segments.reports.data_docs import write_data_docs

    published(con, "r1", "v1", {"Champions": 400})
    staged(con, {"Champions": 800})
    report = drift(con)
    record(con, "r2", [report], checked_at=NOW)
    record(con, "r2", [report], checked_at=NOW)  # a retried step replaces, never doubles
    (again,) = reports_for_run(con, "r2")
    assert again.outcomes == report.outcomes
    index = write_data_docs(con, "r2", tmp_path)
    assert index == tmp_path / "r2" / "data_docs" / "index.html"
    text = index.read_text(encoding="utf-8")
    assert html.escape(drift_module.DESCRIPTION) in text and "segment_size_drift" in text
    assert "400 → 800 (+100.0 %)" in text
    assert write_data_docs(con, "no-such-run", tmp_path) is None
