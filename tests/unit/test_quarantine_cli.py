"""``segments quarantine list|show`` and ``segments quality`` on a small warehouse built by hand."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest

from orchestration.cli import main
from segments.contract import migrate
from segments.ingest.schemas import ENTITIES
from tests.conftest import point_settings_at

OLD_RUN = "run-20261001-aaaa"
RUN = "run-20261101-bbbb"
OLD_LOAD = datetime(2026, 10, 1, 2, 0)  # the load of the old run: replaced since
LOAD = datetime(2026, 11, 1, 2, 0)  # the current load in raw
ACCEPTED = "raw_sales_orders: table_row_count_change 0.62"
UNIQUE = "expect_column_values_to_be_unique"
REGEX = "expect_column_values_to_match_regex"

ORDERS = [  # order_id, customer_ref, email, org_number, ordered_at, sales_channel, currency
    ("O-1", "C1", "a@x.se", None, datetime(2026, 10, 30, 9), "webshop", "SEK"),
    ("O-2", "C2", None, "556000-0001", datetime(2026, 10, 30, 10), "sales_rep", "EUR"),
    ("O-2", "C3", "b@x.se", None, datetime(2026, 10, 30, 11), "webshop", "SEK"),
    ("O-4", "C4", "c@x.se", None, datetime(2026, 10, 31, 12), "partner", "NOK"),
]

# (run, entity, key, expectation, column, value, file, line, row, loaded_at)
QUARANTINE = [
    (RUN, "sales_orders", "O-2", UNIQUE, "order_id", "O-2", "orders.csv", 3, 2, LOAD),
    (RUN, "sales_orders", "O-2", UNIQUE, "order_id", "O-2", "orders.csv", 4, 3, LOAD),
    (RUN, "crm_contacts", "P-7", REGEX, "email", "not-an-email", "contacts.parquet", None, 7, OLD_LOAD),
    (OLD_RUN, "sales_orders", "O-9", UNIQUE, "order_id", "O-9", "orders.csv", 10, 9, OLD_LOAD),
]

# (run, suite, table, expectation, column, severity, success, observed, unexpected, elements, quarantined,
#  blocks, accepted, note)
RESULTS = [
    (OLD_RUN, "raw_sales_orders", "raw.sales_orders", UNIQUE, "order_id", "quarantine", False, None, 1, 40, 1,
     False, False, None),
    (RUN, "raw_sales_orders", "raw.sales_orders", UNIQUE, "order_id", "quarantine", False, None, 2, 4, 2, False,
     False, None),
    (RUN, "raw_sales_orders", "raw.sales_orders", "expect_column_values_to_not_be_null", "ordered_at", "block",
     True, None, 0, 4, 0, False, False, None),
    (RUN, "raw_sales_orders", "raw.sales_orders", "table_row_count_change", None, "block", False, "0.62", None,
     4, 0, True, True, "62 % fewer rows than the previous load"),
    (RUN, "raw_crm_contacts", "raw.crm_contacts", REGEX, "email", "quarantine", False, None, 1, 30, 1, False,
     False, None),
    (RUN, "raw_crm_contacts", "raw.crm_contacts", "expect_column_values_to_be_in_set", "country", "warn", False,
     "['XX']", 3, 30, 0, False, False, "3 contacts <b>outside</b> the Nordics"),
]  # fmt: skip


def build_quality_warehouse(con: duckdb.DuckDBPyConnection) -> None:
    """Two runs with quality results; the newer one quarantined 2 orders (still in raw) and a contact (whose
    load has been replaced) and let a row-count drop through with --accept-drift."""
    migrate(con)
    con.execute("create schema if not exists raw")
    orders = ENTITIES["sales_orders"]
    columns = ", ".join(f"{name} {type_}" for name, type_ in orders.columns.items())
    con.execute(
        f"create table raw.sales_orders ({columns}, _source_file varchar, _source_row bigint, _loaded_at timestamp)"
    )
    for row, values in enumerate(ORDERS, start=1):
        con.execute(
            "insert into raw.sales_orders values (?, ?, ?, ?, ?, ?, ?, 'orders.csv', ?, ?)",
            [*values, row, LOAD],
        )
    con.execute(
        "create table raw.crm_contacts (contact_id varchar, email varchar, _source_file varchar, "
        "_source_row bigint, _loaded_at timestamp)"
    )
    con.execute("insert into raw.crm_contacts values ('P-7', 'new@x.se', 'contacts.parquet', 7, ?)", [LOAD])
    for *values, loaded_at in QUARANTINE:
        con.execute(
            "insert into raw._quarantine values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [*values, loaded_at, loaded_at.replace(minute=5)],
        )
    for i, row in enumerate(RESULTS):
        checked = datetime(2026, 10 if row[0] == OLD_RUN else 11, 1, 2, 10, i)
        con.execute(
            """insert into segments.quality_results
               (run_id, suite, table_name, expectation, column_name, severity, success, observed_value,
                unexpected_count, element_count, quarantined_rows, blocks, accepted, note, checked_at)
               values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [*row, checked],
        )
    for run_id, as_of, accept, accepted, published in (
        (OLD_RUN, date(2026, 10, 1), False, None, datetime(2026, 10, 1, 3)),
        (RUN, date(2026, 11, 1), True, ACCEPTED, datetime(2026, 11, 1, 3)),
    ):
        con.execute(
            """insert into segments.runs (run_id, as_of, status, published_at, finished_at, accept_drift,
                   accepted_drift, quarantined_rows)
               values (?, ?, 'published', ?, ?, ?, ?, null)""",
            [run_id, as_of, published, published, accept, accepted],
        )


@pytest.fixture
def warehouse(tmp_path: Path, monkeypatch) -> Path:
    point_settings_at(monkeypatch, tmp_path / "data")
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as con:
        build_quality_warehouse(con)
    return path


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_list_counts_the_latest_runs_quarantine_largest_first(warehouse, capsys):
    code, out, _ = run(capsys, "quarantine", "list", "--warehouse", str(warehouse))
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == f"run {RUN} (as of 2026-11-01, published, --accept-drift)"
    assert lines[1] == "3 rows quarantined"
    assert lines[2].split() == ["rows", "entity", "check", "column", "file"]
    assert lines[3].split() == ["2", "sales_orders", UNIQUE, "order_id", "orders.csv"]
    assert lines[4].split() == ["1", "crm_contacts", REGEX, "email", "contacts.parquet"]
    assert len(lines) == 5  # the old run's row is not counted


def test_list_an_older_run_by_prefix_and_as_json(warehouse, capsys):
    code, out, _ = run(capsys, "quarantine", "list", "--run", "run-20261001", "--warehouse", str(warehouse))
    assert code == 0
    assert out.splitlines()[0].startswith(f"run {OLD_RUN} (as of 2026-10-01, published)")
    code, out, _ = run(capsys, "quarantine", "list", "--format", "json", "--warehouse", str(warehouse))
    data = json.loads(out)
    assert data["run"]["run_id"] == RUN and data["run"]["accepted_drift"] == ACCEPTED
    assert data["quarantined_rows"] == 3
    assert data["reasons"][0] == {
        "entity": "sales_orders",
        "expectation": UNIQUE,
        "column": "order_id",
        "source_file": "orders.csv",
        "rows": 2,
    }


def test_list_all_runs_counts_per_run_newest_first(warehouse, capsys):
    code, out, _ = run(capsys, "quarantine", "list", "--all-runs", "--warehouse", str(warehouse))
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["run", "as", "of", "status", "quarantined", "entities"]
    assert lines[1].split() == [RUN, "2026-11-01", "published", "3", "2"]
    assert lines[2].split() == [OLD_RUN, "2026-10-01", "published", "1", "1"]
    code, out, _ = run(
        capsys, "quarantine", "list", "--all-runs", "--format", "json", "--warehouse", str(warehouse)
    )
    assert [(r["run_id"], r["quarantined_rows"]) for r in json.loads(out)] == [(RUN, 3), (OLD_RUN, 1)]


def test_show_gives_file_line_and_the_original_row(warehouse, capsys):
    code, out, _ = run(capsys, "quarantine", "show", "sales_orders", "--warehouse", str(warehouse))
    assert code == 0
    header, first, second = out.split("\norder_id ")
    assert header.splitlines()[1] == "2 quarantined rows of sales_orders"
    first_lines = first.splitlines()  # the original row's values follow, indented (wrapped when long)
    assert first_lines[0] == f"'O-2'  {UNIQUE}(order_id) = 'O-2'  orders.csv:3"
    original = " ".join(line.strip() for line in first_lines[1:])
    assert all(line.startswith("    ") for line in first_lines[1:])
    assert "customer_ref='C2'" in original and "email=NULL" in original and "currency='EUR'" in original
    assert "ordered_at=2026-10-30 10:00:00" in original and "_source_row" not in original
    assert second.splitlines()[0] == f"'O-2'  {UNIQUE}(order_id) = 'O-2'  orders.csv:4"
    assert "customer_ref='C3'" in second
    assert "replaced" not in out


def test_show_says_when_the_load_was_replaced(warehouse, capsys):
    code, out, _ = run(capsys, "quarantine", "show", "crm_contacts", "--warehouse", str(warehouse))
    assert code == 0
    lines = out.splitlines()
    assert lines[1] == "1 quarantined row of crm_contacts"
    assert lines[2] == f"contact_id 'P-7'  {REGEX}(email) = 'not-an-email'  contacts.parquet row 7"
    assert lines[3] == "    (the load has been replaced since; original row not available)"
    code, out, _ = run(
        capsys, "quarantine", "show", "sales_orders", "--run", OLD_RUN, "--warehouse", str(warehouse)
    )
    assert "orders.csv:10" in out and "original row not available" in out


def test_show_filters_limits_and_json(warehouse, capsys):
    args = ["quarantine", "show", "sales_orders", "--warehouse", str(warehouse)]
    code, out, _ = run(capsys, *args, "--expectation", "UNIQUE", "--column", "order_id", "--limit", "1")
    assert code == 0
    assert "2 quarantined rows of sales_orders, check 'UNIQUE', column 'order_id'; showing the first 1" in out
    assert "orders.csv:3" in out and "orders.csv:4" not in out
    code, out, _ = run(capsys, *args, "--column", "email")
    assert "no rows of sales_orders quarantined, column 'email'" in out
    code, out, _ = run(capsys, *args, "--format", "json")
    data = json.loads(out)
    assert data["total"] == 2 and data["key"] == "order_id"
    first = data["rows"][0]
    assert (first["source_line"], first["source_row"], first["loaded_at"]) == (3, 2, "2026-11-01T02:00:00")
    assert (
        first["original"]["customer_ref"] == "C2" and first["original"]["ordered_at"] == "2026-10-30T10:00:00"
    )
    code, out, _ = run(
        capsys, "quarantine", "show", "crm_contacts", "--format", "json", "--warehouse", str(warehouse)
    )
    assert json.loads(out)["rows"][0]["original"] is None


def test_show_an_unknown_entity_lists_the_known_ones(warehouse, capsys):
    code, out, err = run(capsys, "quarantine", "show", "orders", "--warehouse", str(warehouse))
    assert code == 1 and out == ""
    assert err.strip() == f"error: unknown entity 'orders': one of {', '.join(ENTITIES)}"


def test_unknown_run_and_no_quarantine_are_one_line_errors(warehouse, tmp_path, capsys):
    code, _, err = run(capsys, "quarantine", "list", "--run", "nope", "--warehouse", str(warehouse))
    assert code == 1 and err.startswith("error: unknown run 'nope'") and RUN in err
    code, _, err = run(capsys, "quality", "--run", "run-2026", "--warehouse", str(warehouse))
    assert code == 1 and "ambiguous" in err
    fresh = tmp_path / "fresh.duckdb"
    duckdb.connect(str(fresh)).close()  # a warehouse no run has used yet
    for argv in (["quarantine", "list"], ["quarantine", "show", "sales_orders"]):
        code, _, err = run(capsys, *argv, "--warehouse", str(fresh))
        assert (code, err) == (1, "error: no quarantine yet: run `segments run` first\n")
    code, _, err = run(capsys, "quality", "--warehouse", str(tmp_path / "missing.duckdb"))
    assert code == 1 and "no DuckDB file" in err


def test_quality_failed_lists_failures_and_the_data_docs(warehouse, tmp_path, capsys):
    # the reports of a warehouse are beside it (tmp_path/warehouse.duckdb -> tmp_path/reports)
    docs = tmp_path / "reports" / RUN / "data_docs" / "index.html"
    docs.parent.mkdir(parents=True)
    docs.write_text("<html></html>")
    code, out, _ = run(capsys, "quality", "--failed", "--warehouse", str(warehouse))
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == f"run {RUN} (as of 2026-11-01, published, --accept-drift)"
    assert lines[1] == "5 checks: 1 passed, 4 failed, 1 accepted; 3 rows quarantined"
    assert lines[2] == f"accepted drift: {ACCEPTED}"
    body = "\n".join(lines[3:])
    assert "expect_column_values_to_not_be_null" not in body  # passed: not shown with --failed
    drop = next(line for line in lines[3:] if "table_row_count_change" in line)
    assert "accepted" in drop.split() and "0.62" in drop and "62 % fewer rows" in drop
    assert any(UNIQUE in line and "quarantined" in line.split() for line in lines)
    assert any("country" in line and " warning " in line for line in lines)
    assert lines[-1] == f"Data Docs: {docs}"


def test_quality_all_checks_as_json(warehouse, capsys):
    code, out, _ = run(capsys, "quality", "--run", OLD_RUN, "--format", "json", "--warehouse", str(warehouse))
    assert code == 0
    data = json.loads(out)
    assert data["run"]["run_id"] == OLD_RUN and data["data_docs"] is None
    assert [(c["expectation"], c["success"], c["quarantined_rows"]) for c in data["checks"]] == [
        (UNIQUE, False, 1)
    ]
    code, out, _ = run(capsys, "quality", "--format", "json", "--warehouse", str(warehouse))
    assert len(json.loads(out)["checks"]) == 5  # the latest run, passed checks included
