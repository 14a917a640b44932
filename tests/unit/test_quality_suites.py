"""The suites in expectations/ and the quality gate: severities, quarantine with lineage, cascades, limits."""

from __future__ import annotations

import json
from datetime import datetime

import duckdb
import pytest

from segments.contract import migrate
from segments.errors import QualityError
from segments.ingest.schemas import ENTITIES
from segments.quality.gate import check_entity, run_gate
from segments.quality.suites import load_suite, load_suites
from segments.quality.validation import judge, unexpected_rows, validate
from segments.settings import EXPECTATIONS_DIR

NOW = datetime(2026, 11, 1, 12, 0)
LOADED = datetime(2026, 11, 1, 2, 0)


@pytest.fixture(scope="module")
def suites():
    return load_suites(EXPECTATIONS_DIR)


def test_one_suite_per_raw_entity_and_one_for_the_features(suites):
    raw = sorted(s.table for s in suites.values() if s.entity)
    assert raw == sorted(e.table for e in ENTITIES.values())
    assert "marts.customer_features" in suites
    for suite in suites.values():
        if suite.entity:
            unknown = set(suite.columns) - set(ENTITIES[suite.entity].columns)
            assert not unknown, f"{suite.path.name} uses columns not in the landing contract: {unknown}"
        assert {e.severity for e in suite.expectations} <= {"block", "quarantine", "warn"}


def raw_table(con, entity: str, rows: list[tuple], file_name: str | None = None):
    """raw.<entity> as the loader writes it: contract columns plus lineage; a load recorded in raw._loads."""
    spec = ENTITIES[entity]
    con.execute("create schema if not exists raw")
    con.execute("create schema if not exists accepted")
    columns = ", ".join(f"{c} {t}" for c, t in spec.columns.items())
    con.execute(
        f"create or replace table raw.{entity} ({columns}, _source_file varchar, _source_row bigint, _loaded_at timestamp)"
    )
    marks = ", ".join("?" * (len(spec.columns) + 3))
    name = file_name or f"{entity}.csv"
    if rows:
        con.executemany(
            f"insert into raw.{entity} values ({marks})",
            [(*r, name, i, LOADED) for i, r in enumerate(rows, 1)],
        )
    con.execute(
        "create table if not exists raw._loads (entity varchar, file_name varchar, sha256 varchar, rows bigint, "
        "loaded_at timestamp, run_id varchar, encoding varchar)"
    )
    con.execute(
        "insert into raw._loads values (?, ?, 'sha', ?, ?, 'r0', 'utf-8')", [entity, name, len(rows), LOADED]
    )


def order(
    order_id, currency="SEK", ordered_at="2026-10-01 10:00:00", ref=None, channel="webshop", email="k@x.se"
):
    return (order_id, ref, email, None, ordered_at, channel, currency)


@pytest.fixture
def con():
    connection = duckdb.connect()
    connection.execute("create schema accepted")
    for entity in ENTITIES:  # empty until a test fills one
        raw_table(connection, entity, [])
        connection.execute(f"create view accepted.{entity} as select * from raw.{entity}")
    migrate(connection)
    yield connection
    connection.close()


def quarantined(con, entity):
    return con.execute(
        f"""select natural_key, expectation, column_name, offending_value, source_file, source_line
            from raw._quarantine where entity = '{entity}' order by source_row, expectation"""
    ).fetchall()


def test_clean_orders_pass(con, suites):
    raw_table(con, "sales_orders", [order("O1"), order("O2", "NOK", email=" Åsa.Berg@Example.se ")])
    report = check_entity(con, suites["raw.sales_orders"], run_id="r1", now=NOW)
    assert report.passed and not report.warnings, report.summary()
    assert report.rows == 2 and quarantined(con, "sales_orders") == []


def test_quarantine_sets_bad_rows_aside_with_file_line_and_value(con, suites):
    """20 good orders, a few bad ones: the bad rows go to raw._quarantine, accepted.sales_orders has the rest."""
    rows = [order(f"O{i}") for i in range(1, 21)]
    rows += [order("O5", ordered_at="2026-10-03 10:00:00")]  # duplicate id (line 22): the later copy goes
    rows += [order("O30", "USD")]  # unknown currency (line 23)
    rows += [order("O31", ordered_at="2027-01-01 10:00:00")]  # future date (line 24)
    rows += [order(None)]  # null key (line 25)
    raw_table(con, "sales_orders", rows)
    suite = suites["raw.sales_orders"]
    suite = type(suite)(**{**suite.__dict__, "quarantine_limit": 0.25})
    report = check_entity(con, suite, run_id="r1", now=NOW)
    assert report.passed, report.summary()
    assert quarantined(con, "sales_orders") == [
        ("O5", "expect_column_values_to_be_unique", "order_id", "O5", "sales_orders.csv", 22),
        ("O30", "expect_column_values_to_be_in_set", "currency", "USD", "sales_orders.csv", 23),
        (
            "O31",
            "expect_column_values_to_be_in_set",
            "ordered_at_is_in_future",
            "true",
            "sales_orders.csv",
            24,
        ),
        (None, "expect_column_values_to_not_be_null", "order_id", None, "sales_orders.csv", 25),
    ]
    accepted = con.execute("select count(*), count(distinct order_id) from accepted.sales_orders").fetchone()
    assert accepted == (20, 20)
    assert report.quarantined == 4
    unique = next(o for o in report.outcomes if o.expectation.endswith("unique"))
    assert (unique.unexpected_count, unique.quarantined, unique.blocks) == (
        2,
        1,
        False,
    )  # GX counts both copies


def test_quarantine_beyond_its_limit_blocks(con, suites):
    raw_table(con, "sales_orders", [order("O1"), order("O2", "USD"), order("O3", "GBP"), order("O4")])
    report = check_entity(con, suites["raw.sales_orders"], run_id="r1", now=NOW)
    assert not report.passed
    (failure,) = report.blocking_failures
    assert failure.column == "currency" and failure.quarantined == 2
    assert "2 of 4 rows (50.0 %) fail; more than the quarantine limit of 5 %" in report.summary()


def test_a_quarantined_order_takes_its_lines_with_it(con, suites):
    """Lines are checked against accepted orders: an order set aside leaves no orphan lines downstream."""
    raw_table(con, "sales_products", [("P1", "Kaffe", "product", "Food", "2024-01-01", 10)])
    raw_table(con, "sales_orders", [order(f"O{i}") for i in range(1, 30)] + [order("O99", "USD")])
    lines = [(f"L{i}", f"O{i}", "P1", 1, 10, 0) for i in range(1, 30)]
    lines += [("L99", "O99", "P1", 2, 10, 0), ("L98", "O1", "P1", -1, 10, 0), ("L97", "O2", "P1", 0, 10, 0)]
    raw_table(con, "sales_order_lines", lines)
    reports = run_gate(con, suites, run_id="r1", now=NOW)
    assert all(r.passed for r in reports.values()), [r.summary() for r in reports.values()]
    got = {(k, c) for k, _, c, *_ in quarantined(con, "sales_order_lines")}
    assert got == {("L99", "order_exists"), ("L98", "negative_quantity_in_purchase"), ("L97", "quantity")}
    assert con.execute("select count(*) from accepted.sales_order_lines").fetchone()[0] == 29


def test_returns_are_orders_whose_lines_are_all_negative(con, suites):
    raw_table(con, "sales_products", [("P1", "Kaffe", "product", "Food", "2024-01-01", 10)])
    raw_table(con, "sales_orders", [order("O1"), order("O2")])
    raw_table(con, "sales_order_lines", [("L1", "O1", "P1", 3, 10, 0), ("L2", "O2", "P1", -1, 10, 0)])
    reports = run_gate(con, suites, run_id="r1", now=NOW)
    assert reports["sales_order_lines"].passed and quarantined(con, "sales_order_lines") == []


def test_block_and_warn_severities(con, suites):
    raw_table(con, "sales_products", [("P1", "Kaffe", "product", "Food", "2024-01-01", -10)])
    report = check_entity(con, suites["raw.sales_products"], run_id="r1", now=NOW)
    assert [(o.column, o.severity) for o in report.blocking_failures] == [("list_price", "block")]
    raw_table(con, "sales_orders", [order(f"O{i}") for i in range(1, 10)] + [order("O10", channel="pigeon")])
    report = check_entity(con, suites["raw.sales_orders"], run_id="r1", now=NOW)
    assert report.passed and [(o.column, o.severity) for o in report.warnings] == [("sales_channel", "warn")]


def test_row_predicates_agree_with_great_expectations(tmp_path):
    """For every supported expectation the query that picks quarantined rows finds exactly the rows GX counts."""
    expectations = [
        ("not_be_null", {}),
        ("be_in_set", {"value_set": ["a", "b"]}),
        ("not_be_in_set", {"value_set": ["c"]}),
        ("be_between", {"min_value": 2, "max_value": 4}),
        ("be_between", {"min_value": 2, "strict_min": True}),
        ("match_regex", {"regex": "^[ab]"}),
        ("not_match_regex", {"regex": "z$"}),
    ]
    columns = {"be_between": "n", "not_be_null": "s"}
    items = [
        {
            "type": f"expect_column_values_to_{kind}",
            "kwargs": {"column": columns.get(kind, "s"), **kwargs},
            "severity": "quarantine",
        }
        for kind, kwargs in expectations
    ]
    items[3]["kwargs"]["column"] = items[4]["kwargs"]["column"] = "n"
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"name": "t", "meta": {"table": "raw.t"}, "expectations": items}))
    suite = load_suite(path)
    con = duckdb.connect()
    con.execute("create schema raw")
    con.execute(
        "create table raw.t as select * from (values ('a', 1), ('b', 2), ('c', 3), (null, 4), ('az', 5), "
        "('bz', null), ('d', 2)) v(s, n)"
    )
    con.execute("alter table raw.t add column _source_row bigint default 0")
    report = validate(con, suite, now=NOW)
    _, verdicts = judge(con, suite, now=NOW)
    for expectation, outcome, verdict in zip(suite.expectations, report.outcomes, verdicts, strict=True):
        with unexpected_rows(con, suite, verdict, "raw.t", lineage=("_source_row",)) as sql:
            rows = con.execute(f"select count(*) from ({sql})").fetchone()[0]
        assert rows == outcome.unexpected_count, expectation.label


def test_value_counts_give_row_level_results(tmp_path):
    """Distinct values are judged once but counted per row: duplicates, NULLs and `mostly` behave as row-level GX."""
    suite_file = tmp_path / "t.json"
    warn = "warn"
    suite_file.write_text(
        json.dumps(
            {
                "name": "t",
                "meta": {"table": "main.t"},
                "expectations": [
                    {
                        "type": "expect_column_values_to_be_unique",
                        "kwargs": {"column": "id"},
                        "severity": warn,
                    },
                    {
                        "type": "expect_column_values_to_not_be_null",
                        "kwargs": {"column": "id"},
                        "severity": warn,
                    },
                    {
                        "type": "expect_column_values_to_be_in_set",
                        "kwargs": {"column": "c", "value_set": ["a"]},
                        "severity": warn,
                    },
                    {
                        "type": "expect_column_values_to_be_in_set",
                        "kwargs": {"column": "c", "value_set": ["a"], "mostly": 0.5},
                        "severity": warn,
                    },
                    {
                        "type": "expect_column_values_to_be_in_set",
                        "kwargs": {"column": "c", "value_set": ["a"], "mostly": 0.9},
                        "severity": "block",
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
        (o.expectation.removeprefix("expect_column_values_to_"), o.unexpected_count, o.success, o.blocks)
        for o in report.outcomes
    ]
    assert got == [
        ("be_unique", 2, False, False),
        ("not_be_null", 3, False, False),
        ("be_in_set", 2, False, False),
        ("be_in_set", 2, True, False),  # 4 of 6 non-null rows are 'a' >= 50 %
        ("be_in_set", 2, False, True),
    ]
    assert report.rows == 7
    assert report.outcomes[0].examples == [1]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"severity": "fatal"}, "severity 'fatal'; allowed: block, quarantine, warn"),
        ({"type": "expect_table_row_count_to_equal"}, "is not supported"),
    ],
)
def test_suite_file_errors_name_file_and_line(tmp_path, change, message):
    item = {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "id"}, "severity": "warn"}
    path = tmp_path / "s.json"
    text = json.dumps(
        {"name": "s", "meta": {"table": "raw.t"}, "expectations": [item, {**item, **change}]}, indent=2
    )
    path.write_text(text)
    with pytest.raises(QualityError, match=message) as error:
        load_suite(path)
    line = [n for n, x in enumerate(text.splitlines(), 1) if '"type"' in x][1]
    assert f"s.json:{line}: expectation 2" in str(error.value)


def test_quarantine_needs_a_landing_table(tmp_path):
    path = tmp_path / "f.json"
    item = {
        "type": "expect_column_values_to_not_be_null",
        "kwargs": {"column": "id"},
        "severity": "quarantine",
    }
    path.write_text(json.dumps({"name": "f", "meta": {"table": "marts.f"}, "expectations": [item]}))
    with pytest.raises(QualityError, match="quarantine needs a landing table"):
        load_suite(path)
