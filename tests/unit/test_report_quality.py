"""The run report's "Data quality" section: what it reads (quality results, quarantine, accepted drift), what
it shows, and that an older warehouse without quality results still gets a report."""

from __future__ import annotations

import re
from datetime import datetime

import duckdb
import pytest

from segments.reports.html import esc
from segments.reports.quality import (
    DATA_DOCS_HREF,
    QuarantineReason,
    fetch_quality,
    quality_html,
    verdict,
)
from segments.reports.run_report import fetch_run_report, render_run_report
from tests.fixtures.report_warehouse import RUN_ID, build_report_warehouse
from tests.unit.test_quarantine_cli import ACCEPTED, OLD_RUN, REGEX, RUN, UNIQUE, build_quality_warehouse


@pytest.fixture
def con():
    con = duckdb.connect()
    build_quality_warehouse(con)
    yield con
    con.close()


def section_html(section) -> str:
    return "\n".join(quality_html(section, DATA_DOCS_HREF))


def test_fetch_counts_failures_quarantine_and_accepted_drift(con):
    section = fetch_quality(con, RUN)
    assert section.counts == {"block": (1, 1), "quarantine": (0, 2), "warn": (0, 1)}
    assert (section.checks, section.passed) == (5, 1)
    assert section.quarantine_source == "raw._quarantine"
    assert section.quarantine == [
        QuarantineReason("sales_orders", UNIQUE, "order_id", 2),
        QuarantineReason("crm_contacts", REGEX, "email", 1),
    ]
    # the accepted blocking check first, then quarantine, then the warning
    assert [(f.expectation, f.outcome) for f in section.failed] == [
        ("table_row_count_change", "accepted (--accept-drift)"),
        (UNIQUE, "rows quarantined"),
        (REGEX, "rows quarantined"),
        ("expect_column_values_to_be_in_set", "warning"),
    ]
    assert section.accept_drift is True and section.accepted_drift == ACCEPTED


def test_section_with_quarantine_accepted_drift_and_the_data_docs_link(con):
    html = section_html(fetch_quality(con, RUN))
    assert html.startswith('<h2 id="quality">Data quality</h2>')
    assert (
        "<strong>1 of 5 checks passed. 3 rows quarantined (set aside, not used for features or segments). "
        "1 blocking drift check was accepted with --accept-drift. 1 warning.</strong>"
    ) in html
    assert f"Accepted: {esc(ACCEPTED)}" in html and "<code>--accept-drift</code>" in html
    assert "<h3>Quarantined rows</h3>" in html
    assert (f'<tr><td>sales_orders</td><td>{UNIQUE}</td><td>order_id</td><td class="num">2</td></tr>') in html
    assert f'<tr><td>crm_contacts</td><td>{REGEX}</td><td>email</td><td class="num">1</td></tr>' in html
    assert "<h3>Failed and warned checks</h3>" in html
    assert "62 % fewer rows than the previous load" in html and "accepted (--accept-drift)" in html
    assert "<b>outside</b>" not in html and esc("<b>outside</b>") in html  # notes are escaped
    assert '<a href="data_docs/index.html">Great Expectations Data Docs</a>' in html


def test_a_run_without_accept_drift_and_with_it_when_no_check_needed_it(con):
    section = fetch_quality(con, OLD_RUN)
    assert section.quarantine == [QuarantineReason("sales_orders", UNIQUE, "order_id", 1)]
    assert section.accept_drift is False and section.accepted_drift is None
    html = section_html(section)
    assert "--accept-drift" not in html
    assert "0 of 1 checks passed. 1 row quarantined" in html
    con.execute("update segments.runs set accept_drift = true where run_id = ?", [OLD_RUN])
    assert "<code>--accept-drift</code>, but no check needed it" in section_html(fetch_quality(con, OLD_RUN))


def test_a_clean_run_says_so_and_has_no_tables_of_failures(con):
    con.execute(
        """insert into segments.quality_results (run_id, suite, table_name, expectation, column_name, severity,
               success, quarantined_rows, blocks, accepted, checked_at)
           values ('clean', 'raw_sales_orders', 'raw.sales_orders', ?, 'order_id', 'quarantine', true, 0,
                   false, false, ?)""",
        [UNIQUE, datetime(2026, 12, 1)],
    )
    section = fetch_quality(con, "clean")
    assert verdict(section) == "The one check passed. No rows were quarantined."
    html = section_html(section)
    assert "Quarantined rows" not in html and "Failed and warned" not in html
    assert 'href="data_docs/index.html"' in html


def test_a_run_without_results_and_an_older_warehouse():
    con = duckdb.connect()
    build_report_warehouse(con)  # has the contract's (empty) quality_results, no quarantine
    section = fetch_quality(con, RUN_ID)
    assert section is not None and section.checks == 0
    html = section_html(section)
    assert "No quality checks were recorded for this run." in html
    assert "data_docs" not in html  # nothing to link to
    con.execute("drop table segments.quality_results")
    assert fetch_quality(con, RUN_ID) is None
    assert "segments.quality_results is missing" in section_html(None)


def test_the_run_report_has_the_section_right_after_run():
    report_con = duckdb.connect()
    build_report_warehouse(report_con)
    report_con.execute(
        """insert into segments.quality_results (run_id, suite, table_name, expectation, column_name, severity,
               success, unexpected_count, quarantined_rows, blocks, accepted, note, checked_at)
           values (?, 'raw_sales_orders', 'raw.sales_orders', ?, 'order_id', 'quarantine', false, 4, 4,
                   false, false, null, ?)""",
        [RUN_ID, UNIQUE, datetime(2026, 11, 1, 2)],
    )
    for row in range(1, 5):  # the rows the gate set aside, as a run records them
        report_con.execute(
            "insert into raw._quarantine values (?, 'sales_orders', 'O-1', ?, 'order_id', 'O-1', 'sales_orders.csv', "
            "?, ?, ?, ?)",
            [RUN_ID, UNIQUE, row + 1, row, datetime(2026, 11, 1, 2), datetime(2026, 11, 1, 2)],
        )
    report = fetch_run_report(report_con, RUN_ID)
    assert report.quality.quarantine == [QuarantineReason("sales_orders", UNIQUE, "order_id", 4)]
    html = render_run_report(report)
    assert '<li><a href="#run">Run</a></li><li><a href="#quality">Data quality</a></li>' in html
    ids = re.findall(r'<h2 id="([^"]+)"', html)
    assert ids[:3] == ["run", "quality", "pareto"]
    assert "4 rows quarantined" in html and 'href="data_docs/index.html"' in html
    assert not re.search(r"<script|<link|https?://(?!www\.w3\.org/2000/svg)", html)


def test_run_report_without_quality_results_still_renders():
    con = duckdb.connect()
    build_report_warehouse(con)
    con.execute("drop table segments.quality_results")
    report = fetch_run_report(con, RUN_ID)
    assert report.quality is None
    html = render_run_report(report)
    assert '<h2 id="quality">Data quality</h2>' in html and "segments.quality_results is missing" in html
