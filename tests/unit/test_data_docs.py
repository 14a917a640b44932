"""Data Docs for a run: GX-rendered pages per suite with table-row counts, and an index linking them all."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from segments.quality.suites import Outcome, Suite, SuiteReport
from segments.reports import data_docs
from segments.reports.data_docs import render_data_docs

RUN_TIME = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
EMAIL_REGEX = r"^[^@\s]+@[^@\s]+$"


def suite(name: str, table: str, description: str) -> Suite:
    return Suite(
        name=name,
        table=table,
        path=Path("x.json"),
        definition={"expectations": [], "meta": {"description": description}},
        derived_columns={},
    )


def reports() -> list[SuiteReport]:
    contacts = SuiteReport(
        suite=suite("raw_crm_contacts", "raw.crm_contacts", "Contacts: identity and e-mail."),
        rows=123_456,
        outcomes=[
            Outcome(
                expectation="expect_column_values_to_not_be_null",
                column="contact_id",
                severity="block",
                success=False,
                element_count=123_456,
                unexpected_count=1_234,
                examples=[None],
                kwargs={"column": "contact_id"},
                blocks=True,
            ),
            Outcome(
                expectation="expect_column_values_to_be_unique",
                column="account_id",
                severity="block",
                success=True,
                element_count=123_456,
                unexpected_count=0,
                kwargs={"column": "account_id"},
            ),
            Outcome(
                expectation="expect_column_values_to_match_regex",
                column="email",
                severity="quarantine",
                success=False,
                element_count=123_456,
                unexpected_count=17,
                examples=["not-an-email", "<script>alert(1)</script>"],
                kwargs={"column": "email", "regex": EMAIL_REGEX},
                quarantined=17,
            ),
        ],
    )
    orders = SuiteReport(
        suite=suite("raw_sales_orders", "raw.sales_orders", "Orders."),
        rows=900,
        outcomes=[
            Outcome(
                expectation="expect_column_values_to_be_between",
                column="quantity",
                severity="warn",
                success=True,
                element_count=900,
                unexpected_count=0,
                kwargs={"column": "quantity", "min_value": 0},
            )
        ],
    )
    anomalies = SuiteReport(
        suite=suite("load_anomalies", "raw.crm_contacts", "Load-to-load changes."),
        rows=5_000,
        outcomes=[
            Outcome(
                expectation="row_count_change",
                column=None,
                severity="block",
                success=False,
                element_count=5_000,
                unexpected_count=0,
                kwargs={"max_share": 0.5},
                observed_value=0.62,
                blocks=True,
                accepted=True,
                note="62% fewer rows than the previous load",
            )
        ],
    )
    return [contacts, orders, anomalies]


@pytest.fixture(scope="module")
def docs(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site") / "data_docs"
    index = render_data_docs(reports(), out, run_id="nightly-2026-11-01", run_time=RUN_TIME)
    assert index == out / "index.html"
    return out


def pages(out: Path) -> dict[str, str]:
    """Suite name -> page HTML, found through the index's links."""
    index = (out / "index.html").read_text(encoding="utf-8")
    found = {}
    for href, name in re.findall(r'<td><a href="([^"]+)">([^<]+)</a></td>', index):
        found.setdefault(name, (out / href).read_text(encoding="utf-8"))
    return found


def status_cells(page: str) -> list[str]:
    """The words in each expectation row's status cell (the page header's icon has aria-hidden)."""
    return re.findall(r'<i class="fas fa-[a-z-]+ text-\w+" ></i> (\w+)', page)


def test_index_links_a_page_for_every_suite(docs):
    index = (docs / "index.html").read_text(encoding="utf-8")
    found = pages(docs)
    assert sorted(found) == ["load_anomalies", "raw_crm_contacts", "raw_sales_orders"]
    assert "<script" not in index  # readable as is, no network needed
    assert "nightly-2026-11-01" in index
    assert "123,456" in index and "1,234 of 123,456" in index
    contacts_row = re.search(r"<tr><td><a[^>]*>raw_crm_contacts</a>.*?</tr>", index).group(0)
    assert "Failed" in contacts_row
    orders_row = re.search(r"<tr><td><a[^>]*>raw_sales_orders</a>.*?</tr>", index).group(0)
    assert "Passed" in orders_row
    assert "failed: block" in index and "failed: quarantine" in index
    assert '<td class="failed">yes</td>' in contacts_row  # blocks the run
    anomalies_row = re.search(r"<tr><td><a[^>]*>load_anomalies</a>.*?</tr>", index).group(0)
    assert "<td>yes</td>" not in anomalies_row and "no</td>" in anomalies_row  # accepted by a person


def test_pages_show_table_columns_and_row_counts(docs):
    page = pages(docs)["raw_crm_contacts"]
    assert "Data documentation compiled by Great Expectations" in page
    assert "raw.crm_contacts" in page and "Contacts: identity and e-mail." in page
    for column in ("contact_id", "account_id", "email"):
        assert column in page
    # GX prints counts with the locale's grouping: "1234" in the C locale, "1,234" in en_US
    assert re.search(r"1,?234 unexpected values found\. .*? of 123,?456 total rows", page)
    assert re.search(r"17 unexpected values found", page)
    assert "not-an-email" in page
    assert "values must never be null" in page  # GX's own wording of the expectation
    assert "quarantine" in page and "block" in page
    assert "blocks the run" in page and "17 rows quarantined" in page
    assert "../../../../index.html" in page  # GX's link home resolves from the GX page layout


def test_failing_expectations_are_shown_as_failed(docs):
    page = pages(docs)["raw_crm_contacts"]
    assert re.search(r"Status:</span>\s*<i class=\"fas fa-times text-danger\"[^>]*></i> Failed", page)
    assert sorted(status_cells(page)) == ["Failed", "Failed", "Passed"]
    assert status_cells(pages(docs)["raw_sales_orders"]) == ["Passed"]


def test_sampled_values_are_escaped(docs):
    page = pages(docs)["raw_crm_contacts"]
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_pipeline_checks_render_in_the_same_docs(docs):
    page = pages(docs)["load_anomalies"]
    assert "row_count_change: max_share = 0.5" in page
    assert "0.62" in page
    assert status_cells(page) == ["Failed"]
    assert "accepted (let through by a person)" in page
    assert "62% fewer rows than the previous load" in page


def test_rewriting_replaces_the_folder(tmp_path):
    out = tmp_path / "docs"
    render_data_docs(reports(), out, run_id="first", run_time=RUN_TIME)
    (out / "stale.txt").write_text("from an earlier run")
    render_data_docs(reports()[1:2], out, run_id="second", run_time=RUN_TIME)
    assert not (out / "stale.txt").exists()
    assert sorted(pages(out)) == ["raw_sales_orders"]
    assert [p.name for p in tmp_path.iterdir()] == ["docs"]  # no staging or old folders left beside it
    assert not list(out.rglob("*first*"))


def test_a_failed_write_leaves_the_previous_docs(tmp_path, monkeypatch):
    out = tmp_path / "docs"
    render_data_docs(reports(), out, run_id="good", run_time=RUN_TIME)

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(data_docs, "_index_html", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        render_data_docs(reports(), out, run_id="bad", run_time=RUN_TIME)
    assert "good" in (out / "index.html").read_text(encoding="utf-8")
    assert [p.name for p in tmp_path.iterdir()] == ["docs"]
