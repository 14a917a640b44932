"""The pipeline's SQL, written once in DuckDB's dialect, generated for PostgreSQL by sqlglot.

Every statement the Python side runs is parsed by sqlglot (``read="duckdb"``) and generated for the target from
that syntax tree, never edited as text. sqlglot's own Postgres generator does most of it (``SEMI JOIN`` to
``EXISTS``, ``QUALIFY`` to a subquery, ``?`` and ``$name`` to psycopg's placeholders); the ``Warehouse``
transforms below add what PostgreSQL 15 lacks and sqlglot leaves as is:

- ``CREATE OR REPLACE TABLE``: a ``DROP TABLE IF EXISTS`` before a plain ``CREATE TABLE`` (two statements,
  in the caller's transaction);
- ``any_value(x)`` (built in from PostgreSQL 16): ``segments.any_value(x)``, an aggregate the contract creates
  (``ANY_VALUE_DDL``): the first non-null value it meets, as DuckDB promises no more;
- ``isnan(x)``: ``x = 'NaN'``;
- ``arg_max(x, y)`` / ``arg_min``: the first of ``array_agg(x order by y)`` over the rows where y is not null;
- ``rowid`` (the order rows were written in, as the pipeline uses it: to order an append-only table's rows):
  ``ctid``, their place in the table, which is that order for a table rows are only ever appended to;
- a derived table without an alias (PostgreSQL 15 requires one, DuckDB and sqlglot's QUALIFY rewrite omit it)
  gets ``_subquery_<n>``.
"""

from __future__ import annotations

from functools import lru_cache

import sqlglot
from sqlglot import exp, transforms

__all__ = ["ANY_VALUE", "ANY_VALUE_DDL", "to_postgres"]

ANY_VALUE = "segments.any_value"
ANY_VALUE_DDL = (
    "create or replace function segments._any_value_step(anyelement, anyelement) returns anyelement "
    "language sql immutable strict parallel safe as 'select $1'",
    # strict step function and no initial state: the first non-null input becomes the state and stays
    f"create or replace aggregate {ANY_VALUE}(anyelement) (sfunc = segments._any_value_step, stype = anyelement)",
)


def _postgres_15(node: exp.Expression) -> exp.Expression:
    """What PostgreSQL 15 lacks, as a tree transform (sqlglot's compiled generator cannot be subclassed)."""
    if isinstance(node, exp.IgnoreNulls) and isinstance(node.this, exp.AnyValue):
        node = node.this  # DuckDB's any_value ignores nulls (sqlglot says so); so does ours
    if isinstance(node, exp.AnyValue):  # an aggregate of our own (segments.contract), for every type
        return exp.Anonymous(this=ANY_VALUE, expressions=[node.this])
    if isinstance(node, exp.ArgMax | exp.ArgMin):
        order = "desc" if isinstance(node, exp.ArgMax) else "asc"
        template = sqlglot.parse_one(
            f"(array_agg(__arg order by __by {order}) filter (where __by is not null))[1]", read="postgres"
        )
        parts = {"__arg": node.this, "__by": node.expression}
        return template.transform(
            lambda n: parts[n.name].copy() if isinstance(n, exp.Column) and n.name in parts else n
        )
    if isinstance(node, exp.Column) and node.name.lower() == "rowid" and not node.table:
        return exp.column("ctid")
    if isinstance(node, exp.IsNan):
        return exp.Paren(
            this=exp.EQ(this=node.this, expression=exp.cast(exp.Literal.string("NaN"), "double"))
        )
    return node


def _alias_derived_tables(tree: exp.Expression) -> exp.Expression:
    for n, subquery in enumerate(tree.find_all(exp.Subquery)):
        if isinstance(subquery.parent, exp.From | exp.Join) and not subquery.alias:
            subquery.set("alias", exp.TableAlias(this=exp.to_identifier(f"_subquery_{n}")))
    return tree


def _statements(tree: exp.Expression) -> list[exp.Expression]:
    if isinstance(tree, exp.Create) and tree.args.get("replace") and tree.kind == "TABLE":
        tree = tree.copy()
        tree.set("replace", False)
        table = tree.this.this if isinstance(tree.this, exp.Schema) else tree.this
        return [exp.Drop(tables=[table.copy()], kind="TABLE", exists=True), tree]
    return [tree]


@lru_cache(maxsize=4096)
def to_postgres(sql: str, *, with_parameters: bool = False) -> tuple[str, ...]:
    """The PostgreSQL statements for one DuckDB statement (usually one; ``CREATE OR REPLACE TABLE`` gives
    two). ``with_parameters``: the statement is run with parameters, so a ``%`` in its text is written ``%%``
    (psycopg reads ``%`` as the start of a placeholder). Cached: the pipeline runs the same statements every
    night, some of them many times."""
    statements: list[str] = []
    for tree in sqlglot.parse(sql, read="duckdb"):
        if tree is None:
            continue
        for statement in _statements(tree):
            statement = _alias_derived_tables(transforms.eliminate_qualify(statement)).transform(_postgres_15)
            if with_parameters:
                statement = statement.transform(_escape_percent)
            statements.append(statement.sql(dialect="postgres"))
    return tuple(statements)


def _escape_percent(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.Literal) and node.is_string and "%" in node.this:
        return exp.Literal.string(node.this.replace("%", "%%"))
    return node
