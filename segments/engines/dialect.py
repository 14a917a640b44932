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
  gets ``_subquery_<n>``;
- ``json_object(k, v, ...)``: the text DuckDB writes for it, character for character (key order, number
  formatting, escapes), concatenated from ``segments.json_text(x)`` per key and value (``engines.functions``:
  one overload per type, so PostgreSQL picks the rendering from the argument's type);
- ``CAST('0x' || hex AS UBIGINT)`` (DuckDB reads hexadecimal text as an unsigned integer): for
  ``substr(x, 1, n)`` with n <= 15, ``CAST(CAST('x' || lpad(hex, n, '0') AS BIT(4n)) AS BIGINT)``; otherwise
  the 64 bits as an unsigned NUMERIC; a cast to HUGEINT, UHUGEINT or any other UBIGINT / UINTEGER: NUMERIC;
- ``round(x)`` / ``round(x, n)``: ``segments.round``, DuckDB's rounding (half away from zero; PostgreSQL
  rounds a double half to even and has no ``round(double, integer)``);
- ``ends_with(a, b)``: ``right(a, length(b)) = b``; ``contains(a, b)``: ``strpos(a, b) > 0``;
- ``GROUP BY ALL``: the positions of the projections that read a column and hold no aggregate or window;
- ``t UNPIVOT (value FOR name IN (a, b))``: a subquery over t with a ``CROSS JOIN LATERAL (VALUES ('a', t.a),
  ('b', t.b))``, NULL values left out as DuckDB does (t's own columns stay in it: name them rather than
  ``*``).

Semantics sqlglot already keeps: ``/`` divides as DuckDB does (a double, never integer division: the left side
is cast to double precision), and ``ORDER BY`` keeps DuckDB's NULL placement (``NULLS LAST`` written out where
PostgreSQL would put NULLs first). Not translated, so PostgreSQL refuses them rather than answering
differently: ``%`` on doubles, ``try_cast`` (a plain cast, which raises on a bad value).
"""

from __future__ import annotations

from functools import lru_cache

import sqlglot
from sqlglot import exp, transforms

from segments.engines.functions import JSON_TEXT, ROUND

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
    return _like_duckdb(node)


def _translated(node: exp.Expression) -> exp.Expression:
    """A part moved into a new node: the transforms do not revisit a node they replaced, so its parts get
    them here."""
    return node.copy().transform(_postgres_15)


_UNSIGNED = (exp.DataType.Type.UBIGINT, exp.DataType.Type.UINT)
_WIDE = (*_UNSIGNED, exp.DataType.Type.INT128, exp.DataType.Type.UINT128)


def _like_duckdb(node: exp.Expression) -> exp.Expression:
    """Functions PostgreSQL has with other semantics, or lacks (see the module's docstring)."""
    if isinstance(node, exp.JSONObject):
        return _json_text(node)
    if isinstance(node, exp.Table) and any(p.args.get("unpivot") for p in node.args.get("pivots") or []):
        return _unpivoted(node)
    if isinstance(node, exp.Cast) and node.to.this in _WIDE:
        hexadecimal = _hex_digits(node.this) if node.to.this in _UNSIGNED else None
        if hexadecimal is not None:
            return _unsigned_from_hex(hexadecimal)
        node.set("to", exp.DataType.build("NUMERIC"))  # in place: its operand still gets the transforms
        return node
    if isinstance(node, exp.Round):
        arguments = [node.this] + ([node.args["decimals"]] if node.args.get("decimals") else [])
        return exp.Anonymous(this=ROUND, expressions=[_translated(a) for a in arguments])
    if isinstance(node, exp.EndsWith):
        text, suffix = _translated(node.this), _translated(node.expression)
        length = exp.Anonymous(this="length", expressions=[suffix.copy()])
        return exp.Paren(
            this=exp.EQ(this=exp.Anonymous(this="right", expressions=[text, length]), expression=suffix)
        )
    if isinstance(node, exp.Contains):
        position = exp.Anonymous(
            this="strpos", expressions=[_translated(node.this), _translated(node.expression)]
        )
        return exp.Paren(this=exp.GT(this=position, expression=exp.Literal.number(0)))
    if (
        isinstance(node, exp.Select)
        and isinstance(node.args.get("group"), exp.Group)
        and node.args["group"].args.get("all")
    ):
        positions = [
            exp.Literal.number(n)
            for n, projection in enumerate(node.expressions, start=1)
            if projection.find(exp.Column) and not _aggregates(projection)
        ]
        node.set("group", exp.Group(expressions=positions) if positions else None)
    return node


def _unpivoted(table: exp.Table) -> exp.Expression:
    """``t UNPIVOT (value FOR name IN (a, b))``: t's rows, each once per listed column whose value is not NULL
    (DuckDB's default), with the column's name and value, from a lateral VALUES list."""
    (pivot,) = table.args["pivots"]
    (value,) = pivot.expressions
    (field,) = pivot.args["fields"]
    source = table.copy()
    source.set("pivots", None)
    name = source.alias_or_name
    alias = pivot.args.get("alias")
    rows = [
        exp.Tuple(
            expressions=[exp.Literal.string(c.name), exp.column(c.this.copy(), table=exp.to_identifier(name))]
        )
        for c in field.expressions
    ]
    values = exp.Lateral(
        this=exp.Subquery(this=exp.Values(expressions=rows)),
        alias=exp.TableAlias(this=exp.to_identifier("_unpivot"), columns=[field.this.copy(), value.copy()]),
    )
    select = (
        exp.select(
            exp.Column(this=exp.Star(), table=exp.to_identifier(name)),
            f"_unpivot.{field.this.name}",
            f"_unpivot.{value.name}",
        )
        .from_(source)
        .join(values, join_type="cross")
        .where(exp.Not(this=exp.Is(this=exp.column(value.name, table="_unpivot"), expression=exp.Null())))
    )
    return exp.Subquery(
        this=select, alias=alias.copy() if alias else exp.TableAlias(this=exp.to_identifier(name))
    )


def _aggregates(projection: exp.Expression) -> bool:
    """DuckDB's GROUP BY ALL leaves out a projection holding an aggregate, also inside a window."""
    return projection.find(exp.AggFunc, exp.Window) is not None


def _json_text(node: exp.JSONObject) -> exp.Expression:
    parts: list[exp.Expression] = [exp.Literal.string("{")]
    for n, pair in enumerate(node.expressions):
        if not isinstance(pair, exp.JSONKeyValue):
            raise ValueError(f"json_object takes key, value pairs, not {pair.sql(dialect='duckdb')}")
        if n:
            parts.append(exp.Literal.string(","))
        parts.append(exp.Anonymous(this=JSON_TEXT, expressions=[_translated(pair.this)]))
        parts.append(exp.Literal.string(":"))
        parts.append(exp.Anonymous(this=JSON_TEXT, expressions=[_translated(pair.expression)]))
    parts.append(exp.Literal.string("}"))
    text = parts[0]
    for part in parts[1:]:
        text = exp.DPipe(this=text, expression=part, safe=True)
    return exp.Paren(this=text)


def _hex_digits(node: exp.Expression) -> exp.Expression | None:
    """``hex`` of ``'0x' || hex``, else None."""
    if isinstance(node, exp.DPipe) and isinstance(node.this, exp.Literal) and node.this.this == "0x":
        return node.expression
    return None


def _unsigned_from_hex(hexadecimal: exp.Expression) -> exp.Expression:
    digits = hexadecimal.args.get("length") if isinstance(hexadecimal, exp.Substring) else None
    start = hexadecimal.args.get("start") if isinstance(hexadecimal, exp.Substring) else None
    text = _translated(hexadecimal)
    if (
        isinstance(digits, exp.Literal)
        and not digits.is_string
        and isinstance(start, exp.Literal)
        and start.this == "1"
        and 1 <= int(digits.this) <= 15
    ):  # substr(md5(...), 1, n): n hex digits, whose bits fit a bigint's 63
        width = int(digits.this)  # lpad: a cast to bit(4n) would pad a shorter text on the right
        padded = exp.Anonymous(
            this="lpad", expressions=[text, exp.Literal.number(width), exp.Literal.string("0")]
        )
        bits = exp.cast(
            exp.DPipe(this=exp.Literal.string("x"), expression=padded, safe=True), _bit(4 * width)
        )
        return exp.cast(bits, exp.DataType.build("BIGINT"))
    padded = exp.Anonymous(this="lpad", expressions=[text, exp.Literal.number(16), exp.Literal.string("0")])
    signed = exp.cast(
        exp.cast(exp.DPipe(this=exp.Literal.string("x"), expression=padded, safe=True), _bit(64)),
        exp.DataType.build("BIGINT"),
    )
    as_numeric = exp.cast(signed, exp.DataType.build("NUMERIC"))
    return exp.Paren(
        this=exp.Add(
            this=as_numeric,
            expression=exp.Case(
                ifs=[
                    exp.If(
                        this=exp.LT(this=signed.copy(), expression=exp.Literal.number(0)),
                        true=exp.Literal.number(2**64),
                    )
                ],
                default=exp.Literal.number(0),
            ),
        )
    )


def _bit(width: int) -> exp.DataType:
    return exp.DataType.build(f"BIT({width})", dialect="postgres")


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
