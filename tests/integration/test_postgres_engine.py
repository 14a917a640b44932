"""The PostgreSQL engine under the stages: DuckDB's connection calls over psycopg, landing files loaded by COPY
with the same checks and messages as on DuckDB, and the warehouse lock held in the database."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from segments import lock
from segments.contract import migrate
from segments.engines import PostgresError
from segments.engines.postgres import PostgresConnection
from segments.errors import IngestError
from segments.ingest.landing import load_entities
from segments.ingest.schemas import ENTITIES

PRODUCTS = ENTITIES["sales_products"]
LINES = ENTITIES["sales_order_lines"]
LOADED_AT = datetime(2026, 11, 1, 2, 0)
PRODUCTS_CSV = (
    "product_id,name,category,product_line,launch_date,list_price\n"
    'P0001,"Fjällräv Pro, 2",product,Outdoor,2024-01-15,"1 299,50"\n'
    "P0002,,service,,2024-02-01,900\n"
    'P0003,"",advice,Ærø,,0\n'
)
LINES_CSV = (
    "order_line_id,order_id,product_id,quantity,unit_price,discount_pct\n"
    "L1,O1,P0001,1,1299.50,0\nL2,O1,P0002,-1,900,10\n"
)


@pytest.fixture
def pg(postgres_dsn):
    con = PostgresConnection(postgres_dsn)
    yield con
    con.close()


def landing(tmp_path: Path, **files: str) -> list:
    found = []
    for name, text in files.items():
        path = tmp_path / f"{name}.csv"
        path.write_text(text, encoding="utf-8")
        found.append((ENTITIES[name], path))
    return found


def rows(con, table: str) -> list[tuple]:
    columns = ", ".join([*ENTITIES[table.removeprefix("raw.")].columns, "_source_file", "_source_row"])
    return con.execute(f"select {columns} from {table} order by _source_row").fetchall()


def test_duckdb_calls_on_postgres(pg):
    pg.execute("create schema s")
    pg.execute("create or replace table s.t (a varchar, b double, c timestamp, d boolean)")
    pg.execute("create or replace table s.t (a varchar, b double, c timestamp, d boolean)")  # replaced
    pg.execute("insert into s.t values (?, ?, ?, ?)", ["50%", 1.5, datetime(2026, 1, 1), True])
    pg.executemany("insert into s.t values (?, ?, ?, ?)", [["b", None, None, False], ["", 2.0, None, None]])
    assert pg.execute("select a from s.t where a like '5%'").fetchall() == [("50%",)]
    assert pg.execute("select a from s.t where a like '5%' and b > ?", [1]).fetchall() == [("50%",)]
    assert pg.execute(
        "select count(*) from s.t where c < $now", {"now": datetime(2027, 1, 1)}
    ).fetchone() == (1,)
    frame = pg.execute("select * from s.t order by a").df()
    assert list(frame.columns) == ["a", "b", "c", "d"] and len(frame) == 3
    pg.register("keys", pa.table({"k": ["b", None, ""], "n": [1, 2, None]}))
    assert pg.execute("select k is null, k = '', n from keys order by n nulls last").fetchall() == [
        (False, False, 1),
        (True, None, 2),
        (False, True, None),
    ]
    migrate(pg)  # creates the aggregate any_value stands for
    assert pg.execute("select any_value(a) from s.t where a = 'b'").fetchone() == ("b",)
    assert pg.execute("select arg_max(a, b) from s.t").fetchone() == ("",)
    with pytest.raises(PostgresError, match='column "nope" does not exist'):
        pg.execute("select nope from s.t")


def test_landing_files_load_alike_on_both_engines(pg, tmp_path):
    files = landing(tmp_path, sales_products=PRODUCTS_CSV, sales_order_lines=LINES_CSV)
    duck = duckdb.connect()
    for con in (duck, pg):
        migrate(con)
        results = load_entities(con, files, loaded_at=LOADED_AT, run_id="r1")
        assert [(r.entity, r.rows, r.unchanged) for r in results] == [
            ("sales_products", 3, False),
            ("sales_order_lines", 2, False),
        ]
    for table in ("raw.sales_products", "raw.sales_order_lines"):
        assert rows(pg, table) == rows(duck, table)
    assert rows(pg, "raw.sales_products")[0][:2] == ("P0001", "Fjällräv Pro, 2")
    assert pg.execute("select list_price from raw.sales_products order by 1").fetchall()[-1] == (
        Decimal("1299.50"),
    )
    again = load_entities(pg, files, loaded_at=LOADED_AT, run_id="r2")
    assert all(r.unchanged for r in again)


def test_a_bad_file_is_refused_alike_and_nothing_is_loaded(pg, tmp_path):
    good = landing(tmp_path, sales_products=PRODUCTS_CSV, sales_order_lines=LINES_CSV)
    migrate(pg)
    load_entities(pg, good, loaded_at=LOADED_AT, run_id="r1")
    before = rows(pg, "raw.sales_products")
    bad_dir = tmp_path / "bad"
    bad_dir.mkdir()
    bad = landing(
        bad_dir,
        sales_products=PRODUCTS_CSV.replace("P0002", "P0009"),
        sales_order_lines=LINES_CSV.replace("-1,900", "-1,nine hundred"),
    )
    messages = []
    for con in (duckdb.connect(), pg):
        migrate(con)
        with pytest.raises(IngestError) as refused:
            load_entities(con, bad, loaded_at=datetime(2026, 11, 2, 2, 0), run_id="r2")
        messages.append(str(refused.value))
    assert messages[0] == messages[1]
    assert "'nine hundred' is not a valid DECIMAL" in messages[1] and "nothing was loaded" in messages[1]
    assert rows(pg, "raw.sales_products") == before  # the good file of the same load was not written either
    assert pg.execute("select count(*) from raw._loads").fetchone() == (2,)


def test_the_lock_is_held_in_the_database_across_job_hosts(postgres_dsn, tmp_path):
    here, there = tmp_path / "host-a" / "warehouse.duckdb", tmp_path / "host-b" / "warehouse.duckdb"
    lock.acquire(here, run_id="night-1", postgres_dsn=postgres_dsn)
    try:
        with pytest.raises(lock.WarehouseLocked, match="another run \\(run night-1, started at"):
            lock.acquire(there, run_id="night-2", postgres_dsn=postgres_dsn)
    finally:
        lock.release(here)
    lock.acquire(there, run_id="night-2", postgres_dsn=postgres_dsn)
    lock.release(there)
