"""Rule conditions (``when``): a small, pure subset of DuckDB SQL, checked with sqlglot and DuckDB.

A condition is parsed with sqlglot (dialect ``duckdb``) and every node of the tree is checked against a
whitelist (columns of the feature catalogue, literals, boolean logic, comparisons, arithmetic, CASE and a
few pure scalar functions). Anything else - subqueries, table functions, unknown functions, parameters,
several statements, comments - is rejected, so a rule can never run arbitrary SQL. The SQL that is
executed is always re-rendered from the checked tree (identifiers quoted), never the text from the file.

With a column catalogue, :func:`.typecheck.type_check` then binds each rendered condition in DuckDB, so type
errors surface when the file is loaded, not during the nightly run.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokens import TokenType

DIALECT = "duckdb"

FUNCTIONS: dict[type[exp.Expression], str] = {
    exp.Abs: "abs",
    exp.Round: "round",
    exp.Floor: "floor",
    exp.Ceil: "ceil",
    exp.Least: "least",
    exp.Greatest: "greatest",
    exp.Coalesce: "coalesce",
    exp.Nullif: "nullif",
    exp.Lower: "lower",
    exp.Upper: "upper",
    exp.Trim: "trim",
    exp.Length: "length/len",
    exp.StartsWith: "starts_with",
    exp.EndsWith: "ends_with",
    exp.Contains: "contains",
    exp.ArrayContains: "list_contains",
    exp.DateDiff: "date_diff",
    exp.Year: "year",
    exp.Month: "month",
    exp.Cast: "cast",
    exp.TryCast: "try_cast",
}
ALLOWED_FUNCTIONS = ", ".join(sorted(FUNCTIONS.values()))
ALLOWED_SUMMARY = (
    "allowed: column names, literals, AND/OR/NOT, comparisons, IS [NOT] NULL, IN (list of literals), "
    "BETWEEN, LIKE/ILIKE, + - * / %, CASE WHEN, and the functions " + ALLOWED_FUNCTIONS
)

_OPERATORS: tuple[type[exp.Expression], ...] = (
    exp.And,
    exp.Or,
    exp.Not,
    exp.Paren,
    exp.EQ,
    exp.NEQ,
    exp.GT,
    exp.GTE,
    exp.LT,
    exp.LTE,
    exp.Between,
    exp.Like,
    exp.ILike,
    exp.Escape,
    exp.Add,
    exp.Sub,
    exp.Mul,
    exp.Div,
    exp.Mod,
    exp.Neg,
    exp.Case,
    exp.If,  # if(a, b, c) is CASE WHEN a THEN b ELSE c END
    exp.Literal,
    exp.Boolean,
    exp.Null,
)
_CAST_TYPES = {
    exp.DataType.Type.BOOLEAN,
    exp.DataType.Type.TINYINT,
    exp.DataType.Type.SMALLINT,
    exp.DataType.Type.INT,
    exp.DataType.Type.BIGINT,
    exp.DataType.Type.FLOAT,
    exp.DataType.Type.DOUBLE,
    exp.DataType.Type.DECIMAL,
    exp.DataType.Type.VARCHAR,
    exp.DataType.Type.TEXT,
    exp.DataType.Type.DATE,
    exp.DataType.Type.TIMESTAMP,
    exp.DataType.Type.TIMESTAMPNTZ,
}
_CAST_TYPE_NAMES = (
    "BOOLEAN, TINYINT, SMALLINT, INTEGER, BIGINT, FLOAT, DOUBLE, DECIMAL(p,s), VARCHAR, DATE, TIMESTAMP"
)
_DATE_UNITS = {"year", "quarter", "month", "week", "day", "hour", "minute", "second"}
_LITERALS = (exp.Literal, exp.Boolean, exp.Null)


@dataclass(frozen=True)
class Problem:
    """Something wrong with a condition; ``offset`` is a 0-based character offset into it."""

    offset: int
    message: str


@dataclass(frozen=True)
class Condition:
    tree: exp.Expression  # checked; column identifiers quoted (catalogue spelling when one was given)
    sql: str  # what runs: rendered from ``tree`` with divisions guarded
    columns: frozenset[str]  # the columns it reads


def parse_condition(
    text: str, columns: Mapping[str, str] | None = None
) -> tuple[Condition | None, list[Problem]]:
    """Parse and check one condition. With ``columns``, column names must exist in that catalogue."""
    if not text.strip():
        return None, [Problem(0, "the condition is empty")]
    try:
        tokens = sqlglot.Dialect.get_or_raise(DIALECT).tokenize(text)
    except TokenError:
        if _comment_start(text) >= 0:  # e.g. an unterminated /* comment
            return None, [_comment_problem(_comment_start(text))]
        return None, [Problem(_unclosed_quote(text), "unterminated string or quoted name")]
    problems = _token_problems(text, tokens)
    if problems:
        return None, problems
    try:
        statements = sqlglot.parse(text, dialect=DIALECT)
    except ParseError as exc:
        return None, [_parse_problem(text, exc)]
    statements = [s for s in statements if s is not None]
    if len(statements) != 1:
        return None, [Problem(0, "a condition must be a single SQL expression")]
    tree = statements[0]
    checker = _Checker(text, tokens, columns)
    checker.check(tree)
    if checker.problems:
        return None, checker.problems
    columns_used = frozenset(c.name for c in tree.find_all(exp.Column))
    return Condition(tree=tree, sql=guard_divisions(tree).sql(dialect=DIALECT), columns=columns_used), []


def _token_problems(text: str, tokens: list) -> list[Problem]:
    for token in tokens:
        if token.token_type == TokenType.SEMICOLON:
            return [Problem(token.start, "';' is not allowed: a condition is one expression, not statements")]
    if any(token.comments for token in tokens) or (not tokens and _comment_start(text) >= 0):
        return [_comment_problem(max(_comment_start(text), 0))]
    return []


def _comment_problem(offset: int) -> Problem:
    return Problem(
        offset,
        "comments are not allowed in a condition (they can hide text); explain the rule in its `description`",
    )


def _comment_start(text: str) -> int:
    """Offset of the first ``--`` or ``/*`` outside quotes (-1 if none)."""
    quote = None
    for i in range(len(text)):
        ch = text[i]
        if quote:
            if ch == quote:
                quote = None
        elif ch in ("'", '"'):
            quote = ch
        elif text.startswith(("--", "/*"), i):
            return i
    return -1


def _unclosed_quote(text: str) -> int:
    quote, at = None, 0
    for i, ch in enumerate(text):
        if quote and ch == quote:
            quote = None
        elif not quote and ch in ("'", '"'):
            quote, at = ch, i
    return at


def _parse_problem(text: str, exc: ParseError) -> Problem:
    detail = exc.errors[0] if exc.errors else {}
    line, col = detail.get("line") or 1, detail.get("col") or 1
    highlight = detail.get("highlight") or ""
    line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
    end = line_starts[min(line, len(line_starts)) - 1] + col - 1  # sqlglot reports the token's last char
    offset = max(0, end - max(len(highlight), 1) + 1)
    description = str(detail.get("description") or exc).split(". Line")[0]
    description = re.sub(r"<class 'sqlglot\.expressions\.[\w.]*\.(\w+)'>", r"\1", description)
    return Problem(min(offset, len(text)), f"syntax error: {description}")


class _Checker:
    def __init__(self, text: str, tokens: list, columns: Mapping[str, str] | None) -> None:
        self.text = text
        self.tokens = tokens
        self.columns = {name.lower(): name for name in columns} if columns is not None else None
        self.problems: list[Problem] = []

    def reject(self, node: exp.Expression, message: str) -> None:
        self.problems.append(Problem(self.offset(node), message))

    def offset(self, node: exp.Expression) -> int:
        starts = [n.meta["start"] for n in node.walk() if "start" in n.meta]
        if not starts:  # e.g. placeholders carry no position: find their text
            starts = [max(self.text.lower().find(node.sql(dialect=DIALECT).lower()), 0)]
        first = min(starts)
        if isinstance(node, exp.Query | exp.Subquery | exp.Exists):
            keywords = [t.start for t in self.tokens if t.token_type == TokenType.SELECT and t.start <= first]
            first = keywords[-1] if keywords else first
        return first

    def check(self, node: exp.Expression) -> None:
        if isinstance(node, exp.Column):
            self.check_column(node)
        elif isinstance(node, exp.Star):
            self.reject(node, "`*` is not allowed; name the column you mean")
        elif isinstance(node, exp.Placeholder | exp.Parameter):
            self.reject(
                node,
                f"parameters/placeholders ({node.sql(dialect=DIALECT)}) are not allowed; write the value",
            )
        elif isinstance(node, exp.Query | exp.Subquery | exp.Exists):
            self.reject(
                node,
                f"subqueries (SELECT ...) are not allowed; a condition sees only the customer's columns; {ALLOWED_SUMMARY}",
            )
        elif isinstance(node, exp.Window):
            self.reject(
                node,
                f"window functions ({_func_name(node.this)}() OVER ...) are not allowed; {ALLOWED_SUMMARY}",
            )
        elif isinstance(node, exp.AggFunc):
            self.reject(
                node,
                f"aggregate function {_func_name(node)}() is not allowed (conditions are per customer); allowed functions: {ALLOWED_FUNCTIONS}",
            )
        elif isinstance(node, exp.Cast):  # also TryCast
            self.check_cast(node)
        elif isinstance(node, exp.Is):
            if not isinstance(node.expression, exp.Null | exp.Boolean):
                self.reject(node, "IS may only be followed by [NOT] NULL, TRUE or FALSE")
            else:
                self.check(node.this)
        elif isinstance(node, exp.In):
            self.check_in(node)
        elif isinstance(node, exp.Array):
            if not all(isinstance(e, _LITERALS) for e in node.expressions):
                self.reject(node, "a list ([...]) may only contain literal values")
        elif isinstance(node, exp.DateDiff):
            unit = node.args.get("unit")
            if unit is not None and (not isinstance(unit, exp.Var) or unit.name.lower() not in _DATE_UNITS):
                self.reject(
                    node, f"date_diff unit must be one of {', '.join(sorted(_DATE_UNITS))} (in quotes)"
                )
            self.check_children(node, skip=unit)
        elif isinstance(node, _OPERATORS) or type(node) in FUNCTIONS:
            self.check_children(node)
        elif isinstance(node, exp.Func) and type(node).__name__.startswith(("Current", "Now", "Rand")):
            self.reject(
                node,
                f"{_func_name(node)} is not allowed: a rule must give the same result when re-run; "
                "use feature columns such as recency_days or tenure_days",
            )
        elif isinstance(node, exp.Func):
            kind = "unknown function" if isinstance(node, exp.Anonymous) else "function"
            self.reject(
                node, f"{kind} {_func_name(node)}() is not allowed; allowed functions: {ALLOWED_FUNCTIONS}"
            )
        else:
            found = node.sql(dialect=DIALECT)
            found = found if len(found) <= 40 else found[:37] + "..."
            self.reject(node, f"`{found}` ({_describe(node)}) is not allowed; {ALLOWED_SUMMARY}")

    def check_children(self, node: exp.Expression, skip: exp.Expression | None = None) -> None:
        for child in node.iter_expressions():
            if child is not skip:
                self.check(child)

    def check_column(self, node: exp.Column) -> None:
        if not isinstance(node.this, exp.Identifier):
            self.reject(node, "`*` is not allowed; name the column you mean")
            return
        if any(node.args.get(part) for part in ("table", "db", "catalog")):
            self.reject(
                node, f"qualified column `{node.sql(dialect=DIALECT)}` is not allowed; write just {node.name}"
            )
            return
        if self.columns is None:  # DuckDB matches names case-insensitively; render unquoted ones lowercase
            name = node.name if node.this.quoted else node.name.lower()
            node.set("this", exp.Identifier(this=name, quoted=True))
            return
        name = self.columns.get(node.name.lower())
        if name is None:
            close = difflib.get_close_matches(node.name.lower(), list(self.columns), n=1)
            hint = f" (did you mean {self.columns[close[0]]}?)" if close else ""
            self.reject(node, f"unknown column '{node.name}'{hint}")
            return
        node.set("this", exp.Identifier(this=name, quoted=True))

    def check_cast(self, node: exp.Cast) -> None:
        to = node.args.get("to")
        params_ok = isinstance(to, exp.DataType) and all(
            isinstance(p, exp.DataTypeParam) and isinstance(p.this, exp.Literal) and not p.this.is_string
            for p in to.expressions
        )
        if not params_ok or to.this not in _CAST_TYPES:
            shown = to.sql(dialect=DIALECT) if isinstance(to, exp.Expression) else "?"
            self.reject(node, f"cast to {shown} is not allowed; allowed types: {_CAST_TYPE_NAMES}")
            return
        self.check(node.this)

    def check_in(self, node: exp.In) -> None:
        if any(node.args.get(k) is not None for k in ("query", "unnest", "field")):
            self.reject(
                node, f"IN needs a list of literal values, e.g. country IN ('SE', 'NO'); {ALLOWED_SUMMARY}"
            )
            return
        if not node.expressions:
            self.reject(node, "IN () needs at least one value")
        for item in node.expressions:
            value = item.this if isinstance(item, exp.Neg) else item
            if isinstance(value, exp.Cast) and isinstance(value.this, exp.Literal):
                self.check_cast(value)
            elif not isinstance(value, _LITERALS):
                self.reject(item, "IN (...) may only list literal values (numbers, 'text', dates)")
        self.check(node.this)


def _func_name(node: exp.Expression) -> str:
    if isinstance(node, exp.Anonymous):
        return str(node.name).lower()
    if isinstance(node, exp.Func):
        return node.sql_name().lower()
    return type(node).__name__.lower()


def _describe(node: exp.Expression) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", " ", type(node).__name__).lower()


def guard_divisions(tree: exp.Expression) -> exp.Expression:
    """``a / b`` and ``a % b`` become ``a / NULLIF(b, 0)``: division by zero is NULL (no match), not an error."""
    tree = tree.copy()
    for node in list(tree.find_all(exp.Div, exp.Mod)):
        divisor = node.expression
        if isinstance(divisor, exp.Literal) and not divisor.is_string and float(divisor.this) != 0:
            continue
        node.set("expression", exp.Nullif(this=divisor.copy(), expression=exp.Literal.number(0)))
    return tree
