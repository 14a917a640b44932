"""Quality gates end to end on demo data: each severity, quarantine, drift, anomalies, freshness, bad files.

A bad night must never reach the published snapshot; a good night must not be lost to a few bad rows.
"""

from __future__ import annotations

import csv
import shutil
from datetime import date
from pathlib import Path

import duckdb
import pytest

from orchestration.cli import main as cli
from orchestration.runner import run_job
from segments.demo.generator import generate
from segments.settings import DEFAULT_RULES_DIR, Settings
from tests.conftest import point_settings_at, query

pytestmark = pytest.mark.integration
AS_OF = date(2026, 11, 1)
CUSTOMERS = 800


def warehouse(sql: str, params=None):
    return query(Settings.from_env().warehouse, sql, params)


def published_state():
    """What readers see: the published rows and the run the snapshot says it holds."""
    settings = Settings.from_env()
    return (
        query(settings.published_segments, "select run_id, count(*) from customer_segments group by all"),
        # not the file's mtime: a failed run rewrites the snapshot (its runs list the failure), data unchanged
        query(settings.published_segments, "select * exclude (refreshed_at) from published_run"),
    )


def raw_state():
    return warehouse("select entity, count(*), max(sha256) from raw._loads group by all order by 1")


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    data = tmp_path_factory.mktemp("quality") / "data"
    with pytest.MonkeyPatch.context() as env:
        point_settings_at(env, data, DEFAULT_RULES_DIR)
        env.setenv("SEGMENTS_DUCKDB_MEMORY_LIMIT", "1GB")
        generate(data / "landing", customers=CUSTOMERS, seed=7, as_of=AS_OF)
        outcome = run_job(as_of=AS_OF)
        assert outcome.success, outcome.failure
        return data, outcome


@pytest.fixture
def landing(baseline, pipeline_env: Path) -> Path:
    shutil.copytree(baseline[0], pipeline_env)
    return pipeline_env / "landing"


def read_csv(path: Path, encoding: str = "utf-8") -> tuple[list[str], list[list[str]]]:
    with path.open(encoding=encoding, newline="") as handle:
        rows = list(csv.reader(handle))
    return rows[0], rows[1:]


def write_csv(path: Path, header: list[str], rows: list[list[str]], encoding: str = "utf-8") -> None:
    with path.open("w", encoding=encoding, newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows([header, *rows])


def rewrite_parquet(path: Path, select: str) -> None:
    """Replace a Parquet landing file by ``select`` over it (``src``)."""
    tmp = path.with_name("tmp_" + path.name)
    con = duckdb.connect()
    con.execute(f"create view src as select * from read_parquet('{path}')")
    con.execute(f"copy ({select}) to '{tmp}' (format parquet)")
    con.close()
    tmp.replace(path)


def test_a_clean_night_records_its_evidence(baseline):
    data, outcome = baseline
    with pytest.MonkeyPatch.context() as env:
        point_settings_at(env, data, DEFAULT_RULES_DIR)
        suites = warehouse(
            "select suite, bool_and(success or not blocks) from segments.quality_results where run_id = ? "
            "group by suite order by suite",
            [outcome.run_id],
        )
        assert suites == [
            ("customer_features", True), ("raw_crm_accounts", True), ("raw_crm_contacts", True),
            ("raw_crm_interactions", True), ("raw_sales_order_lines", True), ("raw_sales_orders", True),
            ("raw_sales_products", True), ("segment_size_drift", True),
        ]  # fmt: skip
        assert warehouse("select quarantined_rows, accept_drift from segments.runs") == [(0, False)]
        reports = Settings.from_env().reports_dir / outcome.run_id
        docs = (reports / "data_docs" / "index.html").read_text(encoding="utf-8")
        assert "raw_sales_orders" in docs and "customer_features" in docs
        report = (reports / "index.html").read_text(encoding="utf-8")
        assert 'id="quality"' in report and 'href="data_docs/index.html"' in report


def test_quarantine_and_warn_publish_the_good_rows(landing, capsys):
    contacts = landing / "crm_contacts.csv"
    header, rows = read_csv(contacts)
    col = {name: i for i, name in enumerate(header)}
    b2c = next(i for i, r in enumerate(rows) if not r[col["account_id"]] and r[col["email"]])
    person = rows[b2c][col["contact_id"]]
    expected_email = rows[b2c][col["email"]].strip().lower()
    rows[b2c][col["email"]] = f"  {rows[b2c][col['email']].upper()} "  # normalised, not rejected
    rows[b2c + 1][col["birth_year"]] = "1850"  # implausible: a warning
    duplicate = [*rows[3]]
    duplicate[col["first_name"]] = "Dubbel"
    no_key = [*rows[4]]
    no_key[col["contact_id"]] = ""
    no_consent = [*rows[5]]
    no_consent[col["contact_id"]], no_consent[col["consent_sms"]] = "C9999999", ""
    rows += [duplicate, no_key, no_consent]
    write_csv(contacts, header, rows)
    lines = {"duplicate": len(rows) - 1, "no_key": len(rows), "no_consent": len(rows) + 1}  # header: line 1

    future = warehouse(
        """select o.order_id from raw.sales_orders o join raw.sales_order_lines l using (order_id)
           group by all having count(*) >= 2 and min(l.quantity) > 0 order by 1 limit 2"""
    )
    future_order, mixed_order = future[0][0], future[1][0]
    rewrite_parquet(
        landing / "sales_orders.parquet",
        f"select * replace (case when order_id = '{future_order}' then timestamp '2027-03-01 10:00:00' "
        "else ordered_at end as ordered_at) from src",
    )
    negative_line = warehouse(
        "select min(order_line_id) from raw.sales_order_lines where order_id = ?", [mixed_order]
    )[0][0]
    rewrite_parquet(
        landing / "sales_order_lines.parquet",
        f"select * replace (case when order_line_id = '{negative_line}' then -2 else quantity end as quantity) "
        "from src",
    )
    future_lines = warehouse("select count(*) from raw.sales_order_lines where order_id = ?", [future_order])[
        0
    ][0]

    assert cli(["run", "--as-of", "2026-11-02"]) == 0
    out = capsys.readouterr().out
    total = 3 + 1 + future_lines + 1
    assert f"{total:,} rows quarantined" in out

    quarantine = warehouse(
        """select entity, natural_key, column_name, source_file, source_line from raw._quarantine
           order by entity, source_row, column_name"""
    )
    assert (
        "crm_contacts",
        rows[3][col["contact_id"]],
        "contact_id",
        "crm_contacts.csv",
        lines["duplicate"],
    ) in (quarantine)
    assert ("crm_contacts", None, "contact_id", "crm_contacts.csv", lines["no_key"]) in quarantine
    assert ("crm_contacts", "C9999999", "consent_sms", "crm_contacts.csv", lines["no_consent"]) in quarantine
    assert (
        "sales_orders",
        future_order,
        "ordered_at_is_in_future",
        "sales_orders.parquet",
        None,
    ) in quarantine
    cascaded = [q for q in quarantine if q[0] == "sales_order_lines" and q[2] == "order_exists"]
    assert len(cascaded) == future_lines
    assert ("sales_order_lines", negative_line, "negative_quantity_in_purchase") in [
        q[:3] for q in quarantine
    ]
    assert len(quarantine) == total

    # excluded downstream, the rest flows on
    assert warehouse("select count(*) from marts.fct_orders where order_id = ?", [future_order]) == [(0,)]
    assert warehouse("select count(*) from marts.fct_order_lines where order_id = ?", [future_order]) == [
        (0,)
    ]
    assert warehouse("select count(*) from marts.dim_customers where customer_id = 'C9999999'") == [(0,)]
    assert warehouse("select count(*) from marts.dim_customers where name like 'Dubbel %'") == [(0,)]
    assert warehouse("select email from marts.dim_customers where customer_id = ?", [person]) == [
        (expected_email,)
    ]
    run_id, quarantined, status = warehouse(
        "select run_id, quarantined_rows, status from segments.runs order by as_of desc limit 1"
    )[0]
    assert (quarantined, status) == (total, "published")
    warned = warehouse(
        "select suite, column_name from segments.quality_results where run_id = ? and not success "
        "and severity = 'warn'",
        [run_id],
    )
    assert ("raw_crm_contacts", "birth_year") in warned
    report = (Settings.from_env().reports_dir / run_id / "index.html").read_text(encoding="utf-8")
    assert "Quarantined rows" in report and "ordered_at_is_in_future" in report

    assert cli(["quarantine", "show", "crm_contacts"]) == 0
    shown = capsys.readouterr().out
    assert f"crm_contacts.csv:{lines['no_consent']}" in shown and "C9999999" in shown


def test_a_blocking_failure_keeps_what_readers_see(landing):
    before = published_state()
    products = landing / "sales_products.csv"
    header, rows = read_csv(products)
    rows[0][header.index("list_price")] = "-10"
    write_csv(products, header, rows)

    outcome = run_job(as_of=date(2026, 11, 2))
    assert not outcome.success
    assert "gx_raw_sales_products" in outcome.failure and "list_price" in outcome.failure
    assert published_state() == before
    assert warehouse("select status from segments.runs where run_id = ?", [outcome.run_id]) == [("failed",)]
    assert warehouse(
        "select column_name from segments.quality_results where run_id = ? and blocks and not success",
        [outcome.run_id],
    ) == [("list_price",)]
    docs = Settings.from_env().reports_dir / outcome.run_id / "data_docs" / "index.html"
    assert docs.exists()  # a stopped night has its evidence too


def test_segment_drift_blocks_until_a_person_accepts_it(landing, monkeypatch):
    monkeypatch.setenv("SEGMENTS_DRIFT_MAX_SHARE", "0.001")
    monkeypatch.setenv("SEGMENTS_DRIFT_MIN_ENTITIES", "1")
    before = published_state()
    # A fifth of the customers' orders are missing from tonight's export (too few to trip the row count check)
    gone = "select order_id from read_parquet('{}') where hash(customer_ref) % 5 = 0"
    orders, lines = landing / "sales_orders.parquet", landing / "sales_order_lines.parquet"
    rewrite_parquet(lines, f"select * from src where order_id not in ({gone.format(orders)})")
    rewrite_parquet(orders, f"select * from src where order_id not in ({gone.format(orders)})")
    outcome = run_job(as_of=date(2026, 11, 8))  # same rule version as the last publish
    assert not outcome.success
    assert "segment_size_drift" in outcome.failure and "--accept-drift" in outcome.failure
    assert "with rule version 2026-11-01 unchanged" in outcome.failure
    assert published_state() == before

    accepted = run_job(as_of=date(2026, 11, 8), accept_drift=True)
    assert accepted.success, accepted.failure
    flag, what = warehouse(
        "select accept_drift, accepted_drift from segments.runs where run_id = ?", [accepted.run_id]
    )[0]
    assert flag is True and "segment_size_change" in what


def test_a_ten_times_larger_file_loads_and_the_anomaly_check_stops_it(landing):
    before = published_state()
    rewrite_parquet(
        landing / "sales_order_lines.parquet",
        "select src.* replace (order_line_id || '-' || copy as order_line_id) from src, range(10) t(copy)",
    )
    outcome = run_job(as_of=date(2026, 11, 2))
    assert not outcome.success
    assert "row_count_change" in outcome.failure and "+900.0 %" in outcome.failure
    loaded = warehouse("select rows from raw._loads where entity = 'sales_order_lines' order by loaded_at")
    assert loaded[-1][0] == 10 * loaded[0][0]  # it loaded; the gate, not the loader, stopped it
    assert published_state() == before


def test_a_stale_landing_file_blocks(landing):
    before = published_state()
    con = duckdb.connect(str(Settings.from_env().warehouse))
    con.execute("update raw._loads set loaded_at = loaded_at - interval 5 days where entity = 'sales_orders'")
    con.close()
    outcome = run_job(as_of=date(2026, 11, 2))
    assert not outcome.success
    assert "source_freshness" in outcome.failure and "has not changed for more than 72 h" in outcome.failure
    assert published_state() == before


def test_messy_but_valid_exports_load_correctly(landing):
    """Latin-1 and BOM encoded Nordic names, Nordic decimals: loaded as meant, not rejected."""
    accounts = landing / "crm_accounts.csv"
    header, rows = read_csv(accounts)
    rows[0][header.index("name")] = "Ørsted Åkeri Öst AB"
    rows[0][header.index("annual_revenue")] = "12 345 678,50"
    write_csv(accounts, header, rows, encoding="cp1252")
    account = rows[0][header.index("account_id")]
    contacts = landing / "crm_contacts.csv"
    header, rows = read_csv(contacts)
    rows[0][header.index("last_name")] = "Bjørnstjærne"
    rows[0][header.index("acquisition_cost")] = "1\u00a0234,50"
    write_csv(contacts, header, rows, encoding="utf-8-sig")
    contact = rows[0][header.index("contact_id")]

    outcome = run_job(as_of=date(2026, 11, 2))
    assert outcome.success, outcome.failure
    assert warehouse(
        "select name, annual_revenue::varchar from raw.crm_accounts where account_id = ?", [account]
    ) == [("Ørsted Åkeri Öst AB", "12345678.50")]
    assert warehouse(
        "select last_name, acquisition_cost::varchar from raw.crm_contacts where contact_id = ?", [contact]
    ) == [("Bjørnstjærne", "1234.50")]
    encodings = dict(warehouse("select entity, arg_max(encoding, loaded_at) from raw._loads group by 1"))
    assert (encodings["crm_accounts"], encodings["crm_contacts"]) == ("cp1252", "utf-8-sig")


def _truncate(text: str) -> str:
    return text[: len(text) - 40]


def _semicolons(text: str) -> str:
    return text.replace(",", ";")


def _header_again(text: str) -> str:
    lines = text.splitlines(keepends=True)
    return "".join([*lines[:10], lines[0], *lines[10:]])


def _drop_column(text: str) -> str:
    return "\n".join(",".join(line.split(",")[:-1]) for line in text.splitlines()) + "\n"


def _extra_column(text: str) -> str:
    lines = text.splitlines()
    return "\n".join([lines[0] + ",loyalty_tier", *(line + ",gold" for line in lines[1:])]) + "\n"


def _rename_column(text: str) -> str:
    head, _, rest = text.partition("\n")
    return head.replace(",email,", ",e_mail,") + "\n" + rest


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        (_truncate, "truncated"),
        (_semicolons, "separated by ';'"),
        (_header_again, "crm_contacts.csv:11: line 11 repeats the header line"),
        (_drop_column, "column 'created_at': missing column"),
        (_extra_column, "column 'loyalty_tier'"),
        (_rename_column, "column 'e_mail': 'email' is missing and 'e_mail' is not in the contract: renamed?"),
        (lambda text: "", "crm_contacts.csv:1: file is empty"),
    ],
    ids=["truncated", "wrong-delimiter", "duplicated-header", "missing-column", "extra-column", "renamed-column",
         "empty"],
)  # fmt: skip
def test_an_unreadable_file_changes_nothing(landing, breakage, message):
    """The loader names file, line and column; no raw table changes; readers keep the last published run."""
    contacts = landing / "crm_contacts.csv"
    contacts.write_text(breakage(contacts.read_text(encoding="utf-8")), encoding="utf-8")
    (landing / "crm_accounts.csv").write_text(  # a good change to another file must not land alone
        (landing / "crm_accounts.csv").read_text(encoding="utf-8").replace("\n", "\r\n"), encoding="utf-8"
    )
    raw, published = raw_state(), published_state()
    outcome = run_job(as_of=date(2026, 11, 2))
    assert not outcome.success
    assert outcome.failure.startswith("step raw_tables failed: ")
    assert message in outcome.failure
    assert raw_state() == raw and published_state() == published
