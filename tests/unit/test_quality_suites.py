"""The Great Expectations suites in expectations/ run against DuckDB tables and report per expectation."""

from __future__ import annotations

import json
from datetime import datetime

import duckdb
import pytest

from orchestration.ingest.schemas import ENTITIES
from orchestration.quality.suites import load_suites, validate
from orchestration.settings import EXPECTATIONS_DIR

NOW = datetime(2026, 11, 1, 12, 0)


@pytest.fixture(scope="module")
def suites():
    return load_suites(EXPECTATIONS_DIR)


def test_one_suite_per_raw_entity(suites):
    assert sorted(suites) == sorted(e.table for e in ENTITIES.values())
    for suite in suites.values():
        entity = ENTITIES[suite.table.split(".")[1]]
        unknown = set(suite.columns) - set(entity.columns)
        assert not unknown, f"{suite.path.name} uses columns not in the landing contract: {unknown}"


def orders_table(con, rows):
    con.execute("create schema raw")
    con.execute(
        "create table raw.sales_orders (order_id varchar, customer_ref varchar, email varchar, org_number varchar, "
        "ordered_at timestamp, sales_channel varchar, currency varchar)"
    )
    con.executemany("insert into raw.sales_orders values (?, ?, ?, ?, ?, ?, ?)", rows)


def test_clean_orders_pass(suites):
    con = duckdb.connect()
    orders_table(
        con,
        [
            ("O1", "C1", None, None, "2026-10-01 10:00:00", "webshop", "SEK"),
            ("O2", None, " Åsa.Berg@Example.se ", None, "2026-10-02 10:00:00", "webshop", "NOK"),
        ],
    )
    report = validate(con, suites["raw.sales_orders"], now=NOW)
    assert report.passed and not report.warnings, report.summary()
    assert report.rows == 2


def test_blocking_failures_say_which_expectation_and_how_many_rows(suites):
    con = duckdb.connect()
    orders_table(
        con,
        [
            ("O1", "C1", None, None, "2026-10-01 10:00:00", "webshop", "SEK"),
            ("O2", "C2", None, None, "2026-10-01 10:00:00", "webshop", "USD"),
            ("O3", "C3", None, None, "2026-10-01 10:00:00", "webshop", "GBP"),
            ("O3", "C4", None, None, "2027-01-01 10:00:00", "carrier_pigeon", "SEK"),
        ],
    )
    report = validate(con, suites["raw.sales_orders"], now=NOW)
    assert not report.passed
    failed = {(o.expectation, o.column): o.unexpected_count for o in report.blocking_failures}
    assert failed == {
        ("expect_column_values_to_be_in_set", "currency"): 2,
        ("expect_column_values_to_be_unique", "order_id"): 2,
        ("expect_column_values_to_be_in_set", "ordered_at_is_in_future"): 1,
    }
    assert [(o.column, o.unexpected_count) for o in report.warnings] == [("sales_channel", 1)]
    assert "currency): 2 of 4 rows unexpected" in report.summary()


def test_referential_integrity_via_derived_columns(suites):
    con = duckdb.connect()
    orders_table(con, [("O1", "C1", None, None, "2026-10-01 10:00:00", "webshop", "SEK")])
    con.execute("create table raw.sales_products (product_id varchar)")
    con.execute("insert into raw.sales_products values ('P1')")
    con.execute(
        "create table raw.sales_order_lines as select * from (values "
        "('L1', 'O1', 'P1', 2, 10.0, 0.0), ('L2', 'O9', 'P1', -1, 10.0, 0.0), ('L3', 'O1', 'P7', 0, 10.0, 150.0)) "
        "t(order_line_id, order_id, product_id, quantity, unit_price, discount_pct)"
    )
    report = validate(con, suites["raw.sales_order_lines"], now=NOW)
    failed = {o.column: o.unexpected_count for o in report.blocking_failures}
    assert failed == {"order_exists": 1, "product_exists": 1, "quantity": 1, "discount_pct": 1}


def test_value_counts_give_row_level_results(tmp_path):
    """Distinct values are judged once but counted per row: duplicates, NULLs and `mostly` behave as row-level GX."""
    suite_file = tmp_path / "t.json"
    suite_file.write_text(
        json.dumps(
            {
                "name": "t",
                "meta": {"table": "main.t"},
                "expectations": [
                    {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "id"}},
                    {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "id"}},
                    {
                        "type": "expect_column_values_to_be_in_set",
                        "kwargs": {"column": "c", "value_set": ["a"]},
                    },
                    {
                        "type": "expect_column_values_to_be_in_set",
                        "kwargs": {"column": "c", "value_set": ["a"], "mostly": 0.5},
                    },
                    {
                        "type": "expect_column_values_to_be_in_set",
                        "kwargs": {"column": "c", "value_set": ["a"], "mostly": 0.9},
                    },
                ],
            }
        )
    )
    con = duckdb.connect()
    # ids: 1 twice, 2 once, NULL three times; c: 'a' x4, 'b' x2 (one NULL is not judged by in_set)
    con.execute(
        "create table t as select * from (values (1, 'a'), (1, 'a'), (2, 'a'), (null, 'b'), (null, 'b'), (null, 'a'), "
        "(3, null)) v(id, c)"
    )
    report = validate(con, load_suites(tmp_path)["main.t"], now=NOW)
    got = [
        (o.expectation.removeprefix("expect_column_values_to_"), o.unexpected_count, o.success)
        for o in report.outcomes
    ]
    assert got == [
        ("be_unique", 2, False),
        ("not_be_null", 3, False),
        ("be_in_set", 2, False),
        ("be_in_set", 2, True),  # 4 of 6 non-null rows are 'a' >= 50 %
        ("be_in_set", 2, False),
    ]
    assert report.rows == 7
    assert report.outcomes[0].examples == [1]
