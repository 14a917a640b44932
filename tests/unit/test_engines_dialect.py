"""The pipeline's DuckDB SQL as PostgreSQL runs it (segments.engines.dialect): generated from sqlglot's trees,
with what PostgreSQL 15 lacks replaced. Checked here as text; tests/integration/test_postgres_engine.py runs
the same statements on a server."""

import pytest

from segments.engines import duckdb_type_name
from segments.engines.dialect import ANY_VALUE, to_postgres
from segments.settings import Settings, SettingsError, postgres_profile_environ


def one(sql: str, **kwargs) -> str:
    (statement,) = to_postgres(sql, **kwargs)
    return statement


def test_create_or_replace_table_becomes_drop_and_create():
    assert to_postgres("create or replace table segments.x as select 1 as a") == (
        "DROP TABLE IF EXISTS segments.x",
        "CREATE TABLE segments.x AS SELECT 1 AS a",
    )
    drop, create = to_postgres("create or replace table raw.t (a varchar, b double, c timestamp)")
    assert drop == "DROP TABLE IF EXISTS raw.t"
    assert create == "CREATE TABLE raw.t (a TEXT, b DOUBLE PRECISION, c TIMESTAMP)"


def test_what_postgres_15_lacks():
    assert one("select any_value(a) from t") == f"SELECT {ANY_VALUE.upper()}(a) FROM t"
    assert one("select isnan(x) from t") == "SELECT (x = CAST('NaN' AS DOUBLE PRECISION)) FROM t"
    assert one("select arg_max(a, b) from t") == (
        "SELECT (ARRAY_AGG(a ORDER BY b DESC) FILTER(WHERE b IS NOT NULL))[1] FROM t"
    )
    assert one("select arg_min(a, b) from t") == (
        "SELECT (ARRAY_AGG(a ORDER BY b ASC) FILTER(WHERE b IS NOT NULL))[1] FROM t"
    )
    assert (
        one("select * from t order by loaded_at, rowid desc")
        == "SELECT * FROM t ORDER BY loaded_at, ctid DESC NULLS LAST"  # DuckDB sorts NULLs last
    )
    assert one("select t.rowid from t") == "SELECT t.rowid FROM t"  # a column of that name stays


def test_derived_tables_get_an_alias_and_qualify_a_subquery():
    sql = one(
        "select * from (select 1 as v, 2 as r) qualify row_number() over (partition by v order by r) > 1"
    )
    assert "AS _subquery_" in sql and "QUALIFY" not in sql
    assert "WHERE EXISTS" in one("select a.* from a semi join b on a.k is not distinct from b.k")


def test_parameters_and_percent_signs():
    assert one("insert into t values (?, ?)", with_parameters=True) == "INSERT INTO t VALUES (%s, %s)"
    assert one("select * from t where a < $now", with_parameters=True) == "SELECT * FROM t WHERE a < %(now)s"
    assert one("select * from t where a like 'x%' and b = ?", with_parameters=True).endswith(
        "LIKE 'x%%' AND b = %s"
    )
    assert one("select * from t where a like 'x%'") == "SELECT * FROM t WHERE a LIKE 'x%'"  # no parameters


def test_transaction_statements_pass_through():
    assert [one(s) for s in ("begin transaction", "commit", "rollback")] == ["BEGIN", "COMMIT", "ROLLBACK"]


def test_postgres_type_names_read_as_duckdb_names():
    assert duckdb_type_name("character varying") == "VARCHAR"
    assert duckdb_type_name("double precision") == "DOUBLE"
    assert duckdb_type_name("timestamp with time zone") == "TIMESTAMP WITH TIME ZONE"
    assert duckdb_type_name("BIGINT") == "BIGINT"


def test_the_target_setting():
    assert Settings.from_env({}).target == "duckdb"
    settings = Settings.from_env(
        {"SEGMENTS_TARGET": "Postgres", "SEGMENTS_POSTGRES_DSN": "postgresql://job@db.internal:6543/crm"}
    )
    assert (settings.target, settings.postgres_url) == ("postgres", "postgresql://job@db.internal:6543/crm")
    with pytest.raises(SettingsError, match="SEGMENTS_TARGET='oracle' is not one of duckdb, postgres"):
        Settings.from_env({"SEGMENTS_TARGET": "oracle"})
    with pytest.raises(SettingsError, match="must be a connection URL"):
        Settings.from_env({"SEGMENTS_POSTGRES_DSN": "host=db user=job"})
    with pytest.raises(SettingsError, match="needs SEGMENTS_POSTGRES_DSN"):
        _ = Settings.from_env(
            {"SEGMENTS_TARGET": "postgres", "SEGMENTS_DATA_DIR": "/nonexistent"}
        ).postgres_url


def test_dbt_reads_the_dsn_in_parts_and_never_a_password():
    assert postgres_profile_environ("postgresql://job@db.internal:6543/crm?sslmode=require") == {
        "SEGMENTS_PG_HOST": "db.internal",
        "SEGMENTS_PG_PORT": "6543",
        "SEGMENTS_PG_USER": "job",
        "SEGMENTS_PG_DBNAME": "crm",
        "SEGMENTS_PG_SSLMODE": "require",
    }
    with pytest.raises(SettingsError, match="carries a password"):
        postgres_profile_environ("postgresql://job:secret@db/crm")


# DuckDB semantics PostgreSQL spells otherwise (the rule statement, the fingerprint, the reports)
def test_the_experiment_arm_hash_is_a_bit_string_cast():
    sql = one(
        "select cast('0x' || substr(md5('salt:' || customer_id), 1, 8) as ubigint) / 4294967296.0 from t"
    )
    assert (
        "CAST(CAST('x' || LPAD(SUBSTRING(MD5('salt:' || customer_id) FROM 1 FOR 8), 8, '0') AS BIT(32)) AS BIGINT)"
        in sql
    )
    assert "UBIGINT" not in sql


def test_sixty_four_hex_digits_become_an_unsigned_numeric():
    sql = one("select sum(cast(cast('0x' || substr(md5(x), 1, 16) as ubigint) as hugeint)) from t")
    assert "AS BIT(64)) AS BIGINT) < 0 THEN 18446744073709551616" in sql
    assert "INT128" not in sql and "UBIGINT" not in sql


def test_json_object_is_rendered_per_value():
    sql = one("select cast(json_object('a', x, 'b', round(y, 2)) as varchar) from t")
    assert sql == (
        "SELECT CAST(('{' || SEGMENTS.JSON_TEXT('a') || ':' || SEGMENTS.JSON_TEXT(x) || ',' || "
        "SEGMENTS.JSON_TEXT('b') || ':' || SEGMENTS.JSON_TEXT(SEGMENTS.ROUND(y, 2)) || '}') AS TEXT) FROM t"
    )
    assert one("select json_object() from t") == "SELECT ('{' || '}') FROM t"


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
def test_duckdb_semantics_are_spelled_for_one(duckdb, expected):
    assert one(duckdb) == expected
