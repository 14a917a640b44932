"""Landing files -> raw tables: all or nothing, with file/line/column in every error."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from segments.errors import IngestError
from segments.ingest.landing import find_landing_file, load_entity
from segments.ingest.schemas import ENTITIES

PRODUCTS = ENTITIES["sales_products"]
HEADER = "product_id,name,category,product_line,launch_date,list_price\n"
GOOD = (
    HEADER
    + "P0001,Fjällräv Pro,product,Outdoor,2024-01-15,1299.50\nP0002,Rådgivning,advice,Consulting,2023-06-01,900\n"
)
LOADED_AT = datetime(2026, 11, 1, 2, 0)


@pytest.fixture
def con():
    connection = duckdb.connect()
    yield connection
    connection.close()


def write(tmp_path: Path, text: str, name: str = "sales_products.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_loads_file_with_lineage_and_records_the_load(con, tmp_path):
    result = load_entity(con, PRODUCTS, write(tmp_path, GOOD), loaded_at=LOADED_AT, run_id="r1")
    assert (result.rows, result.unchanged) == (2, False)
    rows = con.execute(
        "select product_id, name, list_price, launch_date, _source_file, _source_row from raw.sales_products order by 1"
    ).fetchall()
    assert rows[0][:2] == ("P0001", "Fjällräv Pro")
    assert str(rows[0][2]) == "1299.50"
    assert str(rows[0][3]) == "2024-01-15"
    assert rows[1][4:] == ("sales_products.csv", 2)
    loads = con.execute("select entity, file_name, sha256, rows, run_id from raw._loads").fetchall()
    assert loads == [("sales_products", "sales_products.csv", result.sha256, 2, "r1")]


def test_identical_file_is_a_no_op(con, tmp_path):
    path = write(tmp_path, GOOD)
    first = load_entity(con, PRODUCTS, path, loaded_at=LOADED_AT)
    second = load_entity(con, PRODUCTS, path, loaded_at=datetime(2026, 11, 2))
    assert second.unchanged and second.loaded_at == first.loaded_at
    assert con.execute("select count(*) from raw._loads").fetchone()[0] == 1


def test_changed_file_replaces_the_table(con, tmp_path):
    load_entity(con, PRODUCTS, write(tmp_path, GOOD), loaded_at=LOADED_AT)
    load_entity(
        con, PRODUCTS, write(tmp_path, HEADER + "P0009,Ny,data,Data,2025-01-01,5\n"), loaded_at=LOADED_AT
    )
    assert con.execute("select list(product_id) from raw.sales_products").fetchone()[0] == ["P0009"]
    assert con.execute("select count(*) from raw._loads").fetchone()[0] == 2


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            GOOD + "P0003,Bad,product,Outdoor,2024-13-01,10\n",
            "sales_products.csv:4: column 'launch_date': value '2024-13-01' is not a valid DATE",
        ),
        (
            GOOD + "P0003,Bad,product,Outdoor,2024-01-01,ten\n",
            "sales_products.csv:4: column 'list_price': value 'ten' is not a valid DECIMAL(12,2)",
        ),
        (GOOD.replace(",product_line", ""), "sales_products.csv:1: column 'product_line': missing column"),
        (
            GOOD.replace("list_price", "list_price,colour"),
            "sales_products.csv:1: column 'colour': unexpected column",
        ),
        (
            GOOD + "P0003,Bad,product,Outdoor,2024-01-01,10,extra\n",
            "sales_products.csv:4: cannot be read: Expected Number of Columns: 6 Found: 7",
        ),
        (
            GOOD + 'P0003,"Bad,product,Outdoor,2024-01-01,10\n',
            "sales_products.csv:4: cannot be read: Value with unterminated quote",
        ),
        ("", "sales_products.csv:1: file is empty"),
    ],
    ids=[
        "bad-date",
        "bad-decimal",
        "missing-column",
        "extra-column",
        "extra-field",
        "unterminated-quote",
        "empty",
    ],
)
def test_malformed_file_names_file_line_column_and_loads_nothing(con, tmp_path, text, expected):
    load_entity(con, PRODUCTS, write(tmp_path, GOOD), loaded_at=LOADED_AT)
    bad = write(tmp_path, text)
    with pytest.raises(IngestError) as error:
        load_entity(con, PRODUCTS, bad, loaded_at=LOADED_AT)
    assert str(error.value).startswith(str(tmp_path / expected.split(":")[0])), str(error.value)
    assert expected.split("sales_products.csv", 1)[1] in str(error.value)
    # nothing from the bad file: the previous load is intact
    assert con.execute("select count(*) from raw.sales_products").fetchone()[0] == 2
    assert con.execute("select count(*) from raw._loads").fetchone()[0] == 1


def test_parquet_errors_name_the_row(con, tmp_path):
    table = pa.table(
        {
            "product_id": ["P1", "P2", "P3"],
            "name": ["a", "b", "c"],
            "category": ["product"] * 3,
            "product_line": ["x"] * 3,
            "launch_date": ["2024-01-01", "2024-01-02", "not a date"],
            "list_price": [1.0, 2.0, 3.0],
        }
    )
    path = tmp_path / "sales_products.parquet"
    pq.write_table(table, path)
    with pytest.raises(
        IngestError, match=r"sales_products.parquet: row 3: column 'launch_date': value 'not a date'"
    ):
        load_entity(con, PRODUCTS, path, loaded_at=LOADED_AT)
    pq.write_table(table.drop_columns(["list_price"]), path)
    with pytest.raises(IngestError, match="column 'list_price': missing column"):
        load_entity(con, PRODUCTS, path, loaded_at=LOADED_AT)


def test_landing_file_lookup(tmp_path):
    with pytest.raises(IngestError, match="no landing file for sales_products"):
        find_landing_file(tmp_path, PRODUCTS)
    write(tmp_path, GOOD)
    assert find_landing_file(tmp_path, PRODUCTS).name == "sales_products.csv"
    (tmp_path / "sales_products.parquet").write_bytes(b"")
    with pytest.raises(IngestError, match="both"):
        find_landing_file(tmp_path, PRODUCTS)
