"""The SQL generated for PostgreSQL from DuckDB's: the trees the transforms build (the integration tests run
them on both engines and compare the answers)."""

from __future__ import annotations

import pytest

from segments.engines.dialect import to_postgres


def postgres(sql: str) -> str:
    (statement,) = to_postgres(sql)
    return statement


def test_the_experiment_arm_hash_is_a_bit_string_cast():
    sql = postgres(
        "select cast('0x' || substr(md5('salt:' || customer_id), 1, 8) as ubigint) / 4294967296.0 from t"
    )
    assert (
        "CAST(CAST('x' || LPAD(SUBSTRING(MD5('salt:' || customer_id) FROM 1 FOR 8), 8, '0') AS BIT(32)) AS BIGINT)"
        in sql
    )
    assert "UBIGINT" not in sql


def test_sixty_four_hex_digits_become_an_unsigned_numeric():
    sql = postgres("select sum(cast(cast('0x' || substr(md5(x), 1, 16) as ubigint) as hugeint)) from t")
    assert "AS BIT(64)) AS BIGINT) < 0 THEN 18446744073709551616" in sql
    assert "INT128" not in sql and "UBIGINT" not in sql


def test_json_object_is_rendered_per_value():
    sql = postgres("select cast(json_object('a', x, 'b', round(y, 2)) as varchar) from t")
    assert sql == (
        "SELECT CAST(('{' || SEGMENTS.JSON_TEXT('a') || ':' || SEGMENTS.JSON_TEXT(x) || ',' || "
        "SEGMENTS.JSON_TEXT('b') || ':' || SEGMENTS.JSON_TEXT(SEGMENTS.ROUND(y, 2)) || '}') AS TEXT) FROM t"
    )
    assert postgres("select json_object() from t") == "SELECT ('{' || '}') FROM t"


@pytest.mark.parametrize(
    ("duckdb", "expected"),
    [
        ("select ends_with(a, b) from t", "SELECT (RIGHT(a, LENGTH(b)) = b) FROM t"),
        ("select contains(lower(a), 'x') from t", "SELECT (STRPOS(LOWER(a), 'x') > 0) FROM t"),
        ("select round(a) from t", "SELECT SEGMENTS.ROUND(a) FROM t"),
        ("select a / b from t", "SELECT CAST(a AS DOUBLE PRECISION) / b FROM t"),
        (
            "select ?, a, b, count(*), sum(count(*)) over () from t group by all",
            "SELECT %s, a, b, COUNT(*), SUM(COUNT(*)) OVER () FROM t GROUP BY 2, 3",
        ),
        ("select a from t order by a desc", "SELECT a FROM t ORDER BY a DESC NULLS LAST"),
    ],
)
def test_duckdb_semantics_are_spelled_for_postgres(duckdb, expected):
    assert postgres(duckdb) == expected
