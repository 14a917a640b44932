"""Static lint, step 1: a rule condition (a checked sqlglot tree) as a boolean formula over atoms."""

from __future__ import annotations

import re
from collections.abc import Iterable
from fractions import Fraction
from typing import Any

from sqlglot import exp

# A formula is a tuple:
#   ("const", True | False | None)                 (None: always NULL)
#   ("and", a, b) | ("or", a, b) | ("not", a)
#   ("atom", column, kind, test)                   kind: "num" | "str" | "bool" | None (IS NULL only)
#        test: ("cmp", op, value) | ("in", values, has_null) | ("between", low, high) | ("null",) | ("is", bool)
#   ("opaque",)
Formula = tuple[Any, ...]
_OPAQUE: Formula = ("opaque",)
_NOPE = object()  # "not a constant of the fragment"
_NUMBER = re.compile(r"^(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_COMPARISONS: dict[type[exp.Expression], str] = {
    exp.EQ: "=",
    exp.NEQ: "<>",
    exp.LT: "<",
    exp.LTE: "<=",
    exp.GT: ">",
    exp.GTE: ">=",
}
_SIGNS = {"=": (0,), "<>": (-1, 1), "<": (-1,), "<=": (-1, 0), ">": (1,), ">=": (0, 1)}  # sign(value - c)
_FLIPPED = {"=": "=", "<>": "<>", "<": ">", "<=": ">=", ">": "<", ">=": "<="}


def _unparen(node: exp.Expression) -> exp.Expression:
    while isinstance(node, exp.Paren):
        node = node.this
    return node


def _column(node: exp.Expression) -> str | None:
    node = _unparen(node)
    if isinstance(node, exp.Column) and isinstance(node.this, exp.Identifier) and not node.args.get("table"):
        return node.name.lower()  # DuckDB resolves identifiers case-insensitively, quoted or not
    return None


def _constant(node: exp.Expression) -> Any:
    """A number (as an exact Fraction), text or boolean constant, else ``_NOPE``."""
    node = _unparen(node)
    negative = isinstance(node, exp.Neg)
    if negative:
        node = _unparen(node.this)
    if isinstance(node, exp.Boolean) and not negative:
        return bool(node.this)
    if not isinstance(node, exp.Literal):
        return _NOPE
    if node.is_string:
        return _NOPE if negative else str(node.this)
    text = str(node.this)
    if not _NUMBER.match(text):
        return _NOPE
    value = Fraction(text)
    try:
        float(value)
    except OverflowError:  # DuckDB would make it a DOUBLE infinity
        return _NOPE
    return -value if negative else value


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    return "num" if isinstance(value, Fraction) else "str"


def _is_null(node: exp.Expression) -> bool:
    return isinstance(_unparen(node), exp.Null)


def _formula(node: exp.Expression) -> Formula:
    node = _unparen(node)
    if isinstance(node, exp.And):
        return ("and", _formula(node.this), _formula(node.expression))
    if isinstance(node, exp.Or):
        return ("or", _formula(node.this), _formula(node.expression))
    if isinstance(node, exp.Not):
        return ("not", _formula(node.this))
    if isinstance(node, exp.Boolean):
        return ("const", bool(node.this))
    if isinstance(node, exp.Null):
        return ("const", None)
    column = _column(node)
    if column is not None:  # a bare (boolean) column
        return ("atom", column, "bool", ("cmp", "=", True))
    if type(node) in _COMPARISONS:
        return _comparison(node, _COMPARISONS[type(node)])
    if isinstance(node, exp.Between):
        return _between(node)
    if isinstance(node, exp.In):
        return _in(node)
    if isinstance(node, exp.Is):
        return _is(node)
    return _OPAQUE


def _comparison(node: exp.Expression, op: str) -> Formula:
    left, right = _unparen(node.this), _unparen(node.expression)
    if _is_null(left) or _is_null(right):
        return ("const", None)  # anything compared with NULL is NULL
    column, value = _column(left), _constant(right)
    if column is None or value is _NOPE:
        column, value, op = _column(right), _constant(left), _FLIPPED[op]
    if column is not None and value is not _NOPE:
        return ("atom", column, _kind(value), ("cmp", op, value))
    # <condition> = true / <> false ...: the condition itself or its negation (NULL stays NULL)
    for condition, other in ((left, right), (right, left)):
        if isinstance(other, exp.Boolean) and op in ("=", "<>"):
            keep = bool(other.this) == (op == "=")
            inner = _formula(condition)
            return inner if keep else ("not", inner)
    return _OPAQUE


def _between(node: exp.Between) -> Formula:
    column = _column(node.this)
    low, high = _constant(node.args["low"]), _constant(node.args["high"])
    if column is None or low is _NOPE or high is _NOPE or _kind(low) != _kind(high) or _kind(low) == "bool":
        return _OPAQUE
    if node.args.get("symmetric") and low > high:
        low, high = high, low
    return ("atom", column, _kind(low), ("between", low, high))


def _in(node: exp.In) -> Formula:
    column = _column(node.this)
    if column is None or any(node.args.get(k) is not None for k in ("query", "unnest", "field")):
        return _OPAQUE
    values, has_null = [], False
    for item in node.expressions:
        if _is_null(item):
            has_null = True
            continue
        value = _constant(item)
        if value is _NOPE:
            return _OPAQUE
        values.append(value)
    kinds = {_kind(v) for v in values}
    if len(kinds) > 1:
        return _OPAQUE
    if not values:
        return ("const", None)  # x IN (NULL): never true, never false
    return ("atom", column, kinds.pop(), ("in", tuple(values), has_null))


def _is(node: exp.Is) -> Formula:
    column = _column(node.this)
    target = _unparen(node.expression)
    if column is None:
        return _OPAQUE
    if isinstance(target, exp.Null):
        return ("atom", column, None, ("null",))
    if isinstance(target, exp.Boolean):
        return ("atom", column, "bool", ("is", bool(target.this)))
    return _OPAQUE


def _atoms(formula: Formula) -> Iterable[Formula]:
    if formula[0] == "atom":
        yield formula
    elif formula[0] in ("and", "or", "not"):
        for child in formula[1:]:
            yield from _atoms(child)


def _values(test: tuple[Any, ...]) -> list[Any]:
    if test[0] == "cmp":
        return [test[2]]
    if test[0] == "in":
        return list(test[1])
    if test[0] == "between":
        return [test[1], test[2]]
    return []
