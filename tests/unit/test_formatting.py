"""The one definition of each number, money, percent, plural and date format."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from segments.formatting import (
    change,
    count,
    minute,
    money,
    noun,
    number,
    percent,
    plural,
    points,
    share,
    text_table,
)


def test_plurals_and_counts():
    assert (noun("row", 1), noun("row", 2), noun("row")) == ("row", "rows", "rows")
    assert (plural(1, "row"), plural(0, "row"), plural(1234, "rule version")) == (
        "1 row",
        "0 rows",
        "1,234 rule versions",
    )
    assert (count(1234), count(None), count(None, "-")) == ("1,234", "—", "-")
    assert (number(1234.5), number(2.25, 1), number(None, missing="n/a")) == ("1,234", "2.2", "n/a")


def test_money_and_percentages():
    assert (money(1234.5), money(Decimal("1234.5"), 2), money(-3.2, 2, signed=True)) == (
        "1,234",
        "1,234.50",
        "-3.20",
    )
    assert (money(None), percent(0.125), percent(0.5, 0), percent(0.03, signed=True)) == (
        "—",
        "12.5%",
        "50%",
        "+3.0%",
    )
    assert (share(1, 3), share(1, 0), points(0.05), points(None)) == ("33.3%", "—", "+5.0 pp", "—")
    assert (
        change(0.125, infinite="new"),
        change(float("inf"), infinite="new"),
        change(None, infinite=""),
    ) == (
        "+12.5 %",
        "new",
        "n/a",
    )
    assert minute(datetime(2026, 11, 1, 3, 15, 59)) == "2026-11-01 03:15"


def test_text_table_pads_to_the_widest_cell_and_right_aligns_numbers():
    table = text_table(
        ["arm", "customers", "note"], [["champion", "1,234", ""], ["holdout", "5", "none"]], numeric=[1]
    )
    assert table.splitlines() == [
        "arm       customers  note",
        "champion      1,234",
        "holdout           5  none",
    ]
    ruled = text_table(["a", "n"], [["x", "10"]], numeric=[1], rule=True)
    assert ruled == "a   n\n-  --\nx  10"
