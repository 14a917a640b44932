"""A corpus of real-world landing-file breakage: each case loads correctly or is refused with file, line (or
row) and column, leaving the previously loaded version untouched."""

from __future__ import annotations

import tempfile
import time
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from segments.errors import IngestError
from segments.ingest.landing import load_entities, load_entity
from segments.ingest.schemas import ENTITIES, Entity

PRODUCTS = ENTITIES["sales_products"]
LINES = ENTITIES["sales_order_lines"]
CONTACTS = ENTITIES["crm_contacts"]
LOADED_AT = datetime(2026, 11, 1, 2, 0)

PRODUCTS_HEADER = "product_id,name,category,product_line,launch_date,list_price\n"
PRODUCTS_GOOD = PRODUCTS_HEADER + "P0001,Fjällräv Pro,product,Outdoor,2024-01-15,1299.50\n"
LINES_HEADER = "order_line_id,order_id,product_id,quantity,unit_price,discount_pct\n"
LINES_GOOD = LINES_HEADER + "L1,O1,P0001,1,1299.50,0\nL2,O1,P0002,-1,900,10\n"


@pytest.fixture
def con():
    connection = duckdb.connect()
    yield connection
    connection.close()


def write(tmp_path: Path, entity: Entity, content: str | bytes, encoding: str = "utf-8") -> Path:
    path = tmp_path / f"{entity.name}.csv"
    path.write_bytes(content if isinstance(content, bytes) else content.encode(encoding))
    return path


def contacts(*rows: dict[str, str], header: str | None = None) -> str:
    """A crm_contacts CSV: every column filled with a plausible value unless a row overrides it."""
    defaults = dict.fromkeys(CONTACTS.columns, "x") | {
        "birth_year": "1980",
        "created_at": "2024-01-01 10:00:00",
        "acquisition_cost": "10",
        **{c: "true" for c in CONTACTS.columns if c.startswith("consent_")},
    }
    lines = [header or ",".join(CONTACTS.columns)]
    for index, row in enumerate(rows, start=1):
        values = defaults | {"contact_id": f"C{index}"} | row
        lines.append(",".join(values[c] for c in CONTACTS.columns))
    return "\n".join(lines) + "\n"


def snapshot(con, entity: Entity) -> tuple[list, int]:
    rows = con.execute(f"select * exclude (_loaded_at) from {entity.table} order by all").fetchall()
    return rows, con.execute("select count(*) from raw._loads").fetchone()[0]


def refused(con, entity: Entity, path: Path, **where) -> IngestError:
    """Load a bad file over a good one: assert the error's position and that nothing changed."""
    before = snapshot(con, entity)
    with pytest.raises(IngestError) as caught:
        load_entity(con, entity, path, loaded_at=datetime(2026, 11, 2))
    error = caught.value
    expected = {"line": None, "row": None, "column": None} | where
    assert (error.file, error.line, error.row, error.column) == (
        str(path),
        expected["line"],
        expected["row"],
        expected["column"],
    ), str(error)
    assert "nothing was loaded" in error.message
    assert snapshot(con, entity) == before
    return error


@pytest.fixture
def products(con, tmp_path):
    load_entity(con, PRODUCTS, write(tmp_path, PRODUCTS, PRODUCTS_GOOD), loaded_at=LOADED_AT)


@pytest.fixture
def order_lines(con, tmp_path):
    load_entity(con, LINES, write(tmp_path, LINES, LINES_GOOD), loaded_at=LOADED_AT)


# 1. truncated files ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tail", "line", "phrase"),
    [
        ("P0002,Cut,prod", 3, "Expected Number of Columns: 6 Found: 3"),
        ('P0002,"Cut in the mid', 3, "unterminated quote"),
        ('P0002,"Two\nlines",product,Outdoor,2024-01-01,5\nP0003,Cut', 5, "Expected Number of Columns"),
    ],
    ids=["mid-row", "mid-quoted-field", "after-embedded-newline"],
)
def test_truncated_file_names_the_last_line(con, tmp_path, products, tail, line, phrase):
    error = refused(con, PRODUCTS, write(tmp_path, PRODUCTS, PRODUCTS_GOOD + tail), line=line)
    assert phrase in error.message
    assert "is the file truncated?" in error.message


# 2. wrong delimiter ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("delimiter", "said"), [(";", "';'"), ("\t", "tabs")])
def test_wrong_delimiter_is_named_from_the_header(con, tmp_path, products, delimiter, said):
    text = PRODUCTS_GOOD.replace(",", delimiter).replace("1299.50", "1299,50")
    error = refused(con, PRODUCTS, write(tmp_path, PRODUCTS, text), line=1)
    assert f"the header is separated by {said}, expected ','" in error.message


# 3. encodings ---------------------------------------------------------------------------------------------

NORDIC = ["Åsa Öberg", "Jørgen Ærø", "Bjørn"]


def names_loaded(con) -> list[str]:
    return [
        r[0] for r in con.execute("select first_name from raw.crm_contacts order by _source_row").fetchall()
    ]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252"])
def test_nordic_names_load_in_every_supported_encoding(con, tmp_path, encoding):
    text = contacts(*({"first_name": name, "city": "Malmö – C"} for name in NORDIC))
    result = load_entity(con, CONTACTS, write(tmp_path, CONTACTS, text, encoding), loaded_at=LOADED_AT)
    assert (result.rows, result.encoding) == (3, encoding)
    assert names_loaded(con) == NORDIC
    assert con.execute("select distinct city from raw.crm_contacts").fetchall() == [("Malmö – C",)]
    assert con.execute(
        "select distinct _source_file, encoding from raw.crm_contacts, raw._loads"
    ).fetchall() == [("crm_contacts.csv", encoding)]


def test_cp1252_file_reports_its_own_line_numbers(con, tmp_path):
    load_entity(con, CONTACTS, write(tmp_path, CONTACTS, contacts({})), loaded_at=LOADED_AT)
    text = contacts({"first_name": "Åsa"}, {"first_name": "Jørgen", "birth_year": "19x0"})
    error = refused(con, CONTACTS, write(tmp_path, CONTACTS, text, "cp1252"), line=3, column="birth_year")
    assert "value '19x0' is not a valid INTEGER" in error.message


@pytest.mark.parametrize(
    ("content", "line", "column", "phrase"),
    [
        # 0x81 is undefined in Windows-1252, 0x01 a control character: neither is text.
        ("Åsa\x81", 3, "first_name", "byte 0x81 at character 9 is neither UTF-8 nor Windows-1252"),
        ("Åsa\x01", 3, "first_name", "byte 0x01 at character 9 is neither UTF-8 nor Windows-1252"),
        ("Öberg & Jørgen".encode(), 3, "first_name", "mixed encodings: 'Ö' at character 6 is UTF-8"),
    ],
    ids=["undefined-byte", "control-character", "utf8-mixed-with-cp1252"],
)
def test_undecodable_bytes_name_line_and_column(con, tmp_path, content, line, column, phrase):
    load_entity(
        con, CONTACTS, write(tmp_path, CONTACTS, contacts({"first_name": "Åsa"})), loaded_at=LOADED_AT
    )
    head = contacts({"first_name": "Bjørn"}).encode("cp1252")
    value = content if isinstance(content, bytes) else content.encode("latin-1")
    bad = head + b"C2,x," + value + b"," + b",".join([b"x"] * 18) + b"\n"
    error = refused(con, CONTACTS, write(tmp_path, CONTACTS, bad), line=line, column=column)
    assert phrase in error.message


def test_a_byte_order_mark_followed_by_cp1252_is_refused(con, tmp_path):
    load_entity(con, CONTACTS, write(tmp_path, CONTACTS, contacts({})), loaded_at=LOADED_AT)
    bad = b"\xef\xbb\xbf" + contacts({"first_name": "Bjørn"}).encode("cp1252")
    error = refused(con, CONTACTS, write(tmp_path, CONTACTS, bad), line=2, column="first_name")
    assert "the file starts as UTF-8 but byte 0xf8 at character 8 is not" in error.message


def test_a_windows_export_loads(con, tmp_path, monkeypatch):
    """cp1252, CRLF line ends, a quoted line break and a decimal comma, as Excel writes them."""
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))  # where the UTF-8 copy goes
    text = PRODUCTS_HEADER + 'P0001,"Kaffe – Mörk\nrost",product,Food,2024-01-15,"1 299,50"\n'
    path = write(tmp_path, PRODUCTS, text.replace("\n", "\r\n"), "cp1252")
    assert load_entity(con, PRODUCTS, path, loaded_at=LOADED_AT).encoding == "cp1252"
    loaded = con.execute("select name, list_price, _source_file from raw.sales_products").fetchall()
    assert loaded == [("Kaffe – Mörk\r\nrost", Decimal("1299.50"), "sales_products.csv")]
    assert not any((tmp_path / "tmp").iterdir())  # the copy is gone


def test_utf16_is_refused(con, tmp_path, products):
    error = refused(con, PRODUCTS, write(tmp_path, PRODUCTS, PRODUCTS_GOOD, "utf-16"), line=1)
    assert "UTF-16" in error.message


# 4. duplicated header -------------------------------------------------------------------------------------


@pytest.mark.parametrize("second_header", [PRODUCTS_HEADER, "\ufeff" + PRODUCTS_HEADER])
def test_repeated_header_line_is_named(con, tmp_path, products, second_header):
    text = (
        PRODUCTS_GOOD
        + "P0002,Rådgivning,advice,Consulting,2023-06-01,900\n"
        + second_header
        + PRODUCTS_GOOD[len(PRODUCTS_HEADER) :]
    )
    error = refused(con, PRODUCTS, write(tmp_path, PRODUCTS, text), line=4)
    assert "line 4 repeats the header line" in error.message


# 5. schema drift ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "column", "phrase"),
    [
        (PRODUCTS_HEADER.replace(",category", ""), "category", "missing column"),
        (PRODUCTS_HEADER.replace("list_price", "list_price,colour"), "colour", "unexpected column"),
        (
            PRODUCTS_HEADER.replace("list_price", "price"),
            "price",
            "'list_price' is missing and 'price' is not in the contract: renamed?",
        ),
        (PRODUCTS_HEADER.replace("list_price", "List_Price"), "List_Price", "differ only in case or spaces"),
        (PRODUCTS_HEADER.replace("name", "product_id"), "product_id", "appears more than once"),
    ],
    ids=["missing", "extra", "renamed", "case-changed", "duplicated"],
)
def test_schema_drift_names_the_column(con, tmp_path, products, header, column, phrase):
    text = header + "P0002,a,b,c,2024-01-01,1,2\n"
    error = refused(con, PRODUCTS, write(tmp_path, PRODUCTS, text), line=1, column=column)
    assert phrase in error.message


# 6. Nordic numbers ----------------------------------------------------------------------------------------


def test_nordic_decimal_commas_and_thousands_spaces_load_as_numbers(con, tmp_path):
    rows = [
        ('"1 234"', '"1 234,50"'),
        ("1234", '"1234,50"'),
        ('"1\u00a0234"', '"1\u00a0234,50"'),
        ('"1\u202f234"', '"1\u202f234,50"'),
        ("1234", '"1.234,50"'),
        ("1234", "1234.50"),
        ('"1 234,00"', '" 1 234,5 "'),
        ("-1234", '"-1 234,50"'),
    ]
    text = LINES_HEADER + "".join(f'L{i},O1,P1,{q},{p},"12,5"\n' for i, (q, p) in enumerate(rows))
    load_entity(con, LINES, write(tmp_path, LINES, text), loaded_at=LOADED_AT)
    loaded = con.execute(
        "select quantity, unit_price, discount_pct from raw.sales_order_lines order by _source_row"
    ).fetchall()
    assert loaded == [(1234, Decimal("1234.50"), Decimal("12.50"))] * 7 + [
        (-1234, Decimal("-1234.50"), Decimal("12.50"))
    ]


@pytest.mark.parametrize(
    ("quantity", "price", "column", "value"),
    [
        ("1", '"12,3,4"', "unit_price", "12,3,4"),
        ("1", "abc", "unit_price", "abc"),
        ("1", '"1 23,50"', "unit_price", "1 23,50"),
        ('"2,5"', "10", "quantity", "2,5"),
        ("2.5", "10", "quantity", "2.5"),
    ],
    ids=["two-commas", "text", "bad-grouping", "fractional-integer-comma", "fractional-integer-dot"],
)
def test_values_that_are_not_numbers_are_named(con, tmp_path, order_lines, quantity, price, column, value):
    text = LINES_GOOD + f"L3,O2,P1,{quantity},{price},0\n"
    error = refused(con, LINES, write(tmp_path, LINES, text), line=4, column=column)
    assert f"value {value!r} is not a valid {LINES.columns[column]}" in error.message


def test_parquet_numbers_stay_numbers_and_parquet_text_numbers_are_read(con, tmp_path):
    path = tmp_path / "sales_order_lines.parquet"
    columns = {"order_line_id": ["L1", "L2"], "order_id": ["O1"] * 2, "product_id": ["P1"] * 2}
    pq.write_table(
        pa.table(columns | {"quantity": [3, 4], "unit_price": [1234.5, 2.25], "discount_pct": [0.0, 5.0]}),
        path,
    )
    assert load_entity(con, LINES, path, loaded_at=LOADED_AT).encoding == "parquet"
    assert con.execute("select sum(quantity), sum(unit_price) from raw.sales_order_lines").fetchone() == (
        7,
        Decimal("1236.75"),
    )
    pq.write_table(
        pa.table(
            columns | {"quantity": ["3", "4"], "unit_price": ["1 234,50", "x"], "discount_pct": ["0", "5"]}
        ),
        path,
    )
    refused(con, LINES, path, row=2, column="unit_price")


def test_truncated_parquet_is_refused(con, tmp_path, order_lines):
    path = tmp_path / "sales_order_lines.parquet"
    pq.write_table(pa.table({"order_line_id": ["L1"] * 100}), path)
    path.write_bytes(path.read_bytes()[:-20])
    assert "cannot be read" in refused(con, LINES, path).message


# 7. emails as they are ------------------------------------------------------------------------------------


def test_emails_with_capitals_and_spaces_are_loaded_as_they_are(con, tmp_path):
    text = contacts({"email": '" Anna.Berg@Example.SE "'}, {"email": "OLE@EXAMPLE.NO "}, {"email": ""})
    load_entity(con, CONTACTS, write(tmp_path, CONTACTS, text), loaded_at=LOADED_AT)
    emails = con.execute("select email from raw.crm_contacts order by _source_row").fetchall()
    assert emails == [(" Anna.Berg@Example.SE ",), ("OLE@EXAMPLE.NO ",), (None,)]


# 8. empty and header-only ---------------------------------------------------------------------------------


def test_empty_file_is_refused(con, tmp_path, products):
    error = refused(con, PRODUCTS, write(tmp_path, PRODUCTS, ""), line=1)
    assert "file is empty: expected a header line" in error.message


@pytest.mark.parametrize("header", [PRODUCTS_HEADER, PRODUCTS_HEADER.strip()])
def test_header_only_file_loads_zero_rows(con, tmp_path, products, header):
    result = load_entity(con, PRODUCTS, write(tmp_path, PRODUCTS, header), loaded_at=datetime(2026, 11, 2))
    assert (result.rows, result.unchanged) == (0, False)
    assert con.execute("select count(*) from raw.sales_products").fetchone()[0] == 0


# 9. a file ten times the usual size -----------------------------------------------------------------------


def test_two_hundred_thousand_order_lines_load_quickly(con, tmp_path):
    path = tmp_path / "sales_order_lines.csv"
    duckdb.execute(
        f"""copy (select 'L' || i as order_line_id, 'O' || i // 3 as order_id, 'P' || i % 50 as product_id,
                         i % 7 - 1 as quantity, (i % 1000) + 0.5 as unit_price, 5 as discount_pct
                  from range(200000) as t(i)) to '{path}' (header)"""
    )
    started = time.perf_counter()
    result = load_entity(con, LINES, path, loaded_at=LOADED_AT)
    assert result.rows == 200_000
    assert con.execute("select count(*), max(_source_row) from raw.sales_order_lines").fetchone() == (
        200_000,
        200_000,
    )
    assert time.perf_counter() - started < 3


# 10. quoted fields ----------------------------------------------------------------------------------------


def test_embedded_commas_and_newlines_load_and_later_lines_keep_their_numbers(con, tmp_path, products):
    good = PRODUCTS_HEADER + 'P0002,"Kaffe, mörk\nrost",product,Food,2024-01-01,"1 000,00"\n'
    load_entity(con, PRODUCTS, write(tmp_path, PRODUCTS, good), loaded_at=datetime(2026, 11, 2))
    assert con.execute("select name, list_price from raw.sales_products").fetchall() == [
        ("Kaffe, mörk\nrost", Decimal("1000.00"))
    ]
    # line 2-3 is one record: the bad date is on line 4, not "line 3"
    bad = good + "P0003,Te,product,Food,2024-13-01,5\n"
    refused(con, PRODUCTS, write(tmp_path, PRODUCTS, bad), line=4, column="launch_date")
    bad = good + "P0003,Te,product\n"
    refused(con, PRODUCTS, write(tmp_path, PRODUCTS, bad), line=4)


# atomic multi-file loads ----------------------------------------------------------------------------------


def test_one_bad_file_writes_none_of_the_others(con, tmp_path):
    good_products = write(tmp_path, PRODUCTS, PRODUCTS_GOOD)
    bad_lines = write(tmp_path, LINES, LINES_GOOD + "L3,O1,P1,1,abc,0\n")
    with pytest.raises(IngestError) as caught:
        load_entities(con, [(PRODUCTS, good_products), (LINES, bad_lines)], loaded_at=LOADED_AT)
    assert (caught.value.file, caught.value.line, caught.value.column) == (str(bad_lines), 4, "unit_price")
    assert con.execute(
        "select count(*) from information_schema.tables where table_schema = 'raw'"
    ).fetchone() == (0,)


def test_one_bad_file_keeps_the_previous_versions_of_all(con, tmp_path):
    load_entities(
        con,
        [(PRODUCTS, write(tmp_path, PRODUCTS, PRODUCTS_GOOD)), (LINES, write(tmp_path, LINES, LINES_GOOD))],
        loaded_at=LOADED_AT,
    )
    before = snapshot(con, PRODUCTS), snapshot(con, LINES)
    newer_products = write(tmp_path, PRODUCTS, PRODUCTS_GOOD + "P0009,Ny,data,Data,2025-01-01,5\n")
    bad_lines = write(tmp_path, LINES, LINES_GOOD.replace(",", ";"))
    files = [(PRODUCTS, newer_products), (LINES, bad_lines)]
    with pytest.raises(IngestError, match="separated by ';'"):
        load_entities(con, files, loaded_at=datetime(2026, 11, 2))
    assert (snapshot(con, PRODUCTS), snapshot(con, LINES)) == before


def test_the_first_bad_file_is_named_and_the_others_counted(con, tmp_path):
    files = [
        (PRODUCTS, write(tmp_path, PRODUCTS, "")),
        (LINES, write(tmp_path, LINES, LINES_HEADER.replace(",", ";"))),
        (CONTACTS, write(tmp_path, CONTACTS, contacts({"birth_year": "old"}))),
    ]
    with pytest.raises(IngestError) as caught:
        load_entities(con, files, loaded_at=LOADED_AT)
    assert caught.value.file == str(files[0][1])
    assert caught.value.message.endswith("(and 2 more files with problems)")


def test_results_follow_the_given_order_and_skip_unchanged_files(con, tmp_path):
    files = [
        (LINES, write(tmp_path, LINES, LINES_GOOD)),
        (PRODUCTS, write(tmp_path, PRODUCTS, PRODUCTS_GOOD)),
    ]
    first = load_entities(con, files, loaded_at=LOADED_AT, run_id="r1")
    assert [(r.entity, r.rows, r.unchanged, r.encoding) for r in first] == [
        ("sales_order_lines", 2, False, "utf-8"),
        ("sales_products", 1, False, "utf-8"),
    ]
    files[1] = (PRODUCTS, write(tmp_path, PRODUCTS, PRODUCTS_GOOD + "P0002,b,c,d,2024-01-01,1\n"))
    second = load_entities(con, files, loaded_at=datetime(2026, 11, 2), run_id="r2")
    assert [(r.rows, r.unchanged, r.loaded_at) for r in second] == [
        (2, True, LOADED_AT),
        (2, False, datetime(2026, 11, 2)),
    ]
    assert con.execute("select count(*) from raw._loads").fetchone()[0] == 3


def test_a_loads_table_without_encoding_is_upgraded_in_the_load(con, tmp_path):
    con.execute("create schema raw")
    con.execute(
        """create table raw._loads (entity varchar not null, file_name varchar not null,
           sha256 varchar not null, rows bigint not null, loaded_at timestamp not null, run_id varchar)"""
    )
    con.execute("insert into raw._loads values ('crm_contacts', 'old.csv', 'abc', 1, '2026-01-01', null)")
    path = write(tmp_path, PRODUCTS, PRODUCTS_GOOD)
    with pytest.raises(IngestError):
        load_entity(con, LINES, write(tmp_path, LINES, "oops\n"), loaded_at=LOADED_AT)
    assert "encoding" not in {r[0] for r in con.execute("describe raw._loads").fetchall()}
    load_entity(con, PRODUCTS, path, loaded_at=LOADED_AT)
    assert con.execute("select entity, encoding from raw._loads order by loaded_at").fetchall() == [
        ("crm_contacts", None),
        ("sales_products", "utf-8"),
    ]


def test_odd_inputs(con, tmp_path):
    missing = tmp_path / "sales_products.csv"
    with pytest.raises(IngestError, match="cannot be opened") as caught:
        load_entity(con, PRODUCTS, missing, loaded_at=LOADED_AT)
    assert caught.value.file == str(missing)
    text_file = tmp_path / "sales_products.txt"
    text_file.write_text(PRODUCTS_GOOD)
    with pytest.raises(IngestError, match="unsupported file type"):
        load_entity(con, PRODUCTS, text_file, loaded_at=LOADED_AT)
    with pytest.raises(ValueError, match="more than once"):
        load_entities(con, [(PRODUCTS, text_file), (PRODUCTS, text_file)], loaded_at=LOADED_AT)
