"""The dbt marts a report reads (``segments.reports.mart``): empty before any run has built them, the columns the
reader names when they are current, and an error saying what to run when an older release built them."""

from __future__ import annotations

from datetime import date

import duckdb
import pytest

from segments.cli import main
from segments.contract import migrate
from segments.errors import SegmentsError
from segments.reports import mart
from segments.reports.run_report import fetch_run_report
from tests.fixtures.report_warehouse import RUN_ID, build_report_warehouse

OLDER = "the marts were built by an older release; `segments run` rebuilds them"


def test_a_mart_no_run_has_built_is_an_empty_relation_with_the_columns():
    con = duckdb.connect()
    relation = mart(con, "marts.fct_orders", ("order_id", "net_amount_eur"))
    rows = con.execute(f"select * from {relation}")
    assert [d[0] for d in rows.description] == ["order_id", "net_amount_eur"] and rows.fetchall() == []
    assert con.execute(f"select count(*), sum(net_amount_eur) from {relation}").fetchone() == (0, None)


def test_a_current_mart_gives_exactly_the_columns_named():
    con = duckdb.connect()
    con.execute("create schema marts")
    con.execute("create table marts.fct_orders as select 'o1' as order_id, 'c1' as buyer, 5.0 as amount")
    rows = con.execute(f"select * from {mart(con, 'marts.fct_orders', ('amount', 'order_id'))}")
    assert [d[0] for d in rows.description] == ["amount", "order_id"]
    assert rows.fetchall() == [(5.0, "o1")]


def test_a_mart_without_a_needed_column_names_it_and_what_to_run():
    con = duckdb.connect()
    con.execute("create schema marts")
    con.execute("create table marts.fct_orders (order_id varchar, customer_id varchar)")
    with pytest.raises(SegmentsError) as raised:
        mart(con, "marts.fct_orders", ("order_id", "order_date", "customer_id", "is_return"))
    assert str(raised.value) == f"marts.fct_orders has no columns order_date, is_return: {OLDER}"
    with pytest.raises(SegmentsError, match=r"^marts\.fct_orders has no column is_return: the marts were"):
        mart(con, "marts.fct_orders", ("order_id", "is_return"))


def test_the_run_report_of_older_marts_says_what_to_run():
    con = duckdb.connect()
    build_report_warehouse(con)
    for column in ("predicted_clv", "p_alive"):  # as a release before the CLV models built it
        con.execute(f"alter table marts.customer_features drop column {column}")
    with pytest.raises(SegmentsError) as raised:
        fetch_run_report(con, RUN_ID)
    assert str(raised.value) == f"marts.customer_features has no columns predicted_clv, p_alive: {OLDER}"


def test_the_experiment_report_of_older_marts_is_a_one_line_error(tmp_path, capsys):
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as con:
        migrate(con)
        con.execute(
            "insert into segments.experiment_assignments values ('exp1', 'c1', 'champion', 'r1', ?)",
            [date(2026, 1, 1)],
        )
        con.execute("create schema marts")
        con.execute(
            "create table marts.fct_orders (order_id varchar, customer_id varchar, order_date date, "
            "net_amount_eur decimal(18, 2))"
        )
    assert main(["report", "experiment", "exp1", "--warehouse", str(path)]) == 1
    assert capsys.readouterr().err == f"error: marts.fct_orders has no column is_return: {OLDER}\n"
