"""Why did a customer get a segment? Re-evaluate one scheme's rules on one customer's values and explain.

:func:`trace_scheme` takes a scheme and the customer's values of the columns its rules read (from the
warehouse today, or from the ``evidence`` JSON stored with a past assignment) and evaluates, in an in-memory
DuckDB, exactly what the compiler runs: the same ``CASE WHEN (<Condition.sql>) THEN ...`` over a one-row
relation built from the values with parameters (``?::TYPE`` when ``column_types`` gives the column's type,
so a date stored as ISO text compares as a date). Each condition is also split on AND / OR / NOT into its
leaves (comparisons, BETWEEN, IN, IS NULL, function calls, bare columns), which are evaluated in the same
statement, so every rule tried before the winning one can say which leaves made it false or unknown.

Nothing from the rule file is pasted into SQL as text: conditions are rendered from their checked sqlglot
trees (:func:`.expressions.parse_condition`), values are parameters, and a column type must be a plain
DuckDB type name (``DECIMAL(18,2)``, ``TIMESTAMP WITH TIME ZONE``, ``VARCHAR[]``).

    trace = trace_scheme(rule_set.schemes["rfm_lifecycle"], {"r_score": 3, ...}, matched_rule_id="at_risk")
    print("\\n".join(format_trace(trace)))
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import duckdb
from sqlglot import exp

from segments.sql import quote_identifier

from .errors import RuleError, RuleValidationError
from .expressions import DIALECT, Condition, guard_divisions, parse_condition
from .model import Scheme

__all__ = ["PartTrace", "RuleTrace", "SchemeTrace", "format_trace", "scheme_columns", "trace_scheme"]


@dataclass(frozen=True)
class PartTrace:
    """One leaf predicate of a condition, e.g. ``f_score >= 4``."""

    sql: str  # the leaf as SQL (sqlglot, duckdb dialect; plain names unquoted, `x IS NOT NULL` as written)
    result: bool | None  # None: unknown (a value it reads is NULL, or e.g. a division by zero)
    values: dict[str, Any]  # the columns this leaf reads -> the customer's values (as DuckDB read them)


@dataclass(frozen=True)
class RuleTrace:
    rule_id: str
    segment: str
    when: str | None  # the condition as written in the file (None for the default)
    result: bool | None  # the whole condition for this customer (the default: True)
    parts: list[PartTrace]  # the leaves, in reading order (empty for the default)
    reason: str  # one line: "yes: ..." or "no: ..." naming the leaves that decided it, with their values


@dataclass(frozen=True)
class SchemeTrace:
    scheme: str
    matched: RuleTrace  # the first rule whose condition is true, else the default
    not_matched: list[RuleTrace]  # every rule before it, in order, with why it did not match
    values: dict[str, Any]  # every column the scheme's rules read -> value (as DuckDB read them)
    consistent: bool  # False when matched_rule_id was given and the evaluation picks another rule


# --- parsing ------------------------------------------------------------------------------------------


def _conditions(scheme: Scheme) -> list[Condition]:
    """Every rule's condition, parsed exactly as the compiler does (no catalogue)."""
    conditions: list[Condition] = []
    errors: list[RuleError] = []
    for index, rule in enumerate(scheme.rules):
        condition, problems = parse_condition(rule.when)
        if condition is None:  # only possible for a Scheme that was not built by load_rule_file
            where = f"schemes.{scheme.name}.rules[{index}].when"
            errors += [
                RuleError(f"{where}: {p.message}", line=rule.when_line or None, col=rule.when_col or None)
                for p in problems
            ]
            continue
        conditions.append(condition)
    if errors:
        raise RuleValidationError(errors)
    return conditions


def _unique_columns(names: Sequence[str]) -> list[str]:
    """Sorted, one spelling per name: DuckDB matches column names case-insensitively."""
    seen: dict[str, str] = {}
    for name in sorted(set(names), key=lambda n: (n.lower(), n)):
        seen.setdefault(name.lower(), name)
    return list(seen.values())


def scheme_columns(scheme: Scheme) -> list[str]:
    """The columns read by any rule of ``scheme``, sorted (unquoted names lowercased, as the compiler does)."""
    return _columns_of(_conditions(scheme))


def _columns_of(conditions: list[Condition]) -> list[str]:
    return _unique_columns([c for condition in conditions for c in condition.columns])


@dataclass
class _Node:
    """A condition split on AND / OR / NOT: ``kind`` is and/or/not/leaf; a leaf has an index into the parts."""

    kind: str
    children: list[_Node]
    leaf: int = -1


def _split(tree: exp.Expression, leaves: list[exp.Expression]) -> _Node:
    node = _unparen(tree)
    if isinstance(node, exp.And | exp.Or):
        kind = "and" if isinstance(node, exp.And) else "or"
        children: list[_Node] = []
        for side in (node.this, node.expression):
            child = _split(side, leaves)
            children += child.children if child.kind == kind else [child]  # a AND (b AND c): one list
        return _Node(kind, children)
    if isinstance(node, exp.Not) and isinstance(_unparen(node.this), exp.And | exp.Or | exp.Not):
        return _Node("not", [_split(node.this, leaves)])
    leaves.append(node)  # a predicate; NOT <predicate> (x IS NOT NULL, x NOT IN (...)) stays one leaf
    return _Node("leaf", [], len(leaves) - 1)


def _unparen(node: exp.Expression) -> exp.Expression:
    while isinstance(node, exp.Paren):
        node = node.this
    return node


_PLAIN_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_NEGATABLE = (exp.In, exp.Between, exp.Like, exp.ILike)


def _display_sql(leaf: exp.Expression) -> str:
    """The leaf as a reader wrote it: plain names unquoted (sqlglot still quotes keywords), NOT IN etc."""
    tree = leaf.copy()
    for identifier in tree.find_all(exp.Identifier):
        if _PLAIN_NAME.match(identifier.name):
            identifier.set("quoted", False)
    if isinstance(tree, exp.Not):
        inner = tree.this
        inner_sql, this_sql = inner.sql(dialect=DIALECT), inner.this.sql(dialect=DIALECT)
        if isinstance(inner, exp.Is) and inner_sql.startswith(this_sql + " IS "):
            return f"{this_sql} IS NOT {inner_sql[len(this_sql) + 4 :]}"
        if isinstance(inner, _NEGATABLE) and inner_sql.startswith(this_sql + " "):
            return f"{this_sql} NOT {inner_sql[len(this_sql) + 1 :]}"
    return tree.sql(dialect=DIALECT)


# --- evaluation ---------------------------------------------------------------------------------------

# A column type is pasted into `?::TYPE`, so only plain type names: INTEGER, DECIMAL(18,2), VARCHAR[],
# TIMESTAMP WITH TIME ZONE (one word or a known phrase; no quotes, nothing that could end the expression).
_TYPE = re.compile(
    r"^[A-Z][A-Z0-9_]*(?: WITH(?:OUT)? TIME ZONE| PRECISION| VARYING)?"
    r"(?:\(\s*\d+\s*(?:,\s*\d+\s*)?\))?(?:\[\d*\])*$",
    re.IGNORECASE,
)


def _lookup(mapping: Mapping[str, Any], name: str) -> tuple[bool, Any]:
    """``mapping[name]``, else the entry whose key equals ``name`` ignoring case (as DuckDB matches)."""
    if name in mapping:
        return True, mapping[name]
    lowered = name.lower()
    for key, value in mapping.items():
        if isinstance(key, str) and key.lower() == lowered:
            return True, value
    return False, None


def _relation(
    columns: list[str], values: Mapping[str, Any], column_types: Mapping[str, str] | None
) -> tuple[str, list[Any], dict[str, str]]:
    """``(SELECT ?::T AS "c", ...)``, its parameters, and the type used for each typed column."""
    items, params, types = [], [], {}
    for name in columns:
        params.append(_lookup(values, name)[1])  # not given: NULL, like a NULL in the warehouse
        found, type_ = _lookup(column_types, name) if column_types is not None else (False, None)
        if found and type_ is not None:
            type_ = " ".join(str(type_).split())
            if not _TYPE.match(type_):
                raise ValueError(f"column {name!r}: {type_!r} is not a plain DuckDB type name")
            types[name] = type_
            items.append(f"?::{type_} AS {quote_identifier(name)}")
        else:
            items.append(f"? AS {quote_identifier(name)}")
    return (
        f"(SELECT {', '.join(items) or 'NULL AS _'}) AS {quote_identifier('rules__features')}",
        params,
        types,
    )


def _boolean(sql: str) -> str:
    return f"CAST(({sql}) AS BOOLEAN)"  # what CASE WHEN / AND / OR do to a non-boolean operand


def _duckdb_message(exc: Exception) -> str:
    return " ".join(str(exc).split("\nLINE ")[0].split())


def _evaluate(
    scheme: Scheme,
    columns: list[str],
    relation: str,
    params: list[Any],
    types: dict[str, str],
    case_sql: str,
    expressions: list[str],
    *,
    typed: bool,
) -> tuple[list[Any], Any, list[Any]]:
    """(values of ``columns``, the CASE's result, results of ``expressions``) in one SELECT when possible."""
    con = duckdb.connect(":memory:", config={"enable_external_access": False, "threads": 1})
    try:
        select = [*map(quote_identifier, columns), case_sql, *expressions]
        try:
            row = con.execute(f"SELECT {', '.join(select)} FROM {relation}", params).fetchone()
            assert row is not None
            n = len(columns)
            return list(row[:n]), row[n], list(row[n + 1 :])
        except duckdb.Error:
            pass  # find out what failed, one expression at a time
        for name, value in zip(columns, params, strict=True):
            if name in types:
                try:
                    con.execute(f"SELECT ?::{types[name]}", [value]).fetchall()
                except duckdb.Error as exc:
                    raise ValueError(
                        f"scheme {scheme.name}: cannot read {name} = {value!r} as {types[name]}: "
                        f"{_duckdb_message(exc)}"
                    ) from None

        def one(sql: str) -> Any:
            row = con.execute(f"SELECT {sql} FROM {relation}", params).fetchone()
            return row[0] if row else None

        try:
            read = [one(quote_identifier(c)) for c in columns]
            matched = one(case_sql)
        except duckdb.Error as exc:
            hint = "" if typed else " (pass column_types so the values are read with the warehouse's types)"
            raise ValueError(
                f"scheme {scheme.name}: DuckDB cannot evaluate the rules on these values: "
                f"{_duckdb_message(exc)}{hint}"
            ) from None
        results: list[Any] = []
        for sql in expressions:
            try:
                results.append(one(sql))
            except duckdb.Error:  # e.g. a cast that fails on its own but not within its condition
                results.append(None)
        return read, matched, results
    finally:
        con.close()


# --- explaining ---------------------------------------------------------------------------------------


def _not(value: bool | None) -> bool | None:
    return None if value is None else not value


def _value(node: _Node, leaves: list[bool | None]) -> bool | None:
    """Three-valued (SQL) logic, as DuckDB evaluates AND / OR / NOT."""
    if node.kind == "leaf":
        return leaves[node.leaf]
    if node.kind == "not":
        return _not(_value(node.children[0], leaves))
    results = [_value(child, leaves) for child in node.children]
    decisive = node.kind == "or"  # TRUE decides an OR, FALSE an AND
    if decisive in results:
        return decisive
    return None if None in results else not decisive


def _deciding(node: _Node, value: bool | None, leaves: list[bool | None]) -> list[int]:
    """The leaves that make ``node`` evaluate to ``value``: for a false AND its false conjuncts (unknown:
    its unknown ones), for a true OR its true disjuncts, for a false or unknown OR all of them."""
    if node.kind == "leaf":
        return [node.leaf]
    if node.kind == "not":
        return _deciding(node.children[0], _not(value), leaves)
    found: list[int] = []
    for child in node.children:
        result = _value(child, leaves)
        if (
            (node.kind == "or" and value is not True)
            or result is value
            or (node.kind == "and" and value is True)
        ):
            found += _deciding(child, result, leaves)
    return found


_UNSAFE_CHARS = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _printable(text: str) -> str:
    """One line without control characters (values come from customer data and end up in a terminal)."""
    return _UNSAFE_CHARS.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def _show(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        text = value if len(value) <= 60 else value[:57] + "..."
        return "'" + _printable(text).replace("'", "''") + "'"
    text = _printable(repr(value) if isinstance(value, float) else str(value))
    return text if len(text) <= 60 else text[:57] + "..."


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _values_text(values: dict[str, Any]) -> str:
    return ", ".join(f"{_printable(name)} = {_show(value)}" for name, value in values.items())


def _describe(part: PartTrace, bare: bool, *, matched: bool) -> str:
    """``f_score >= 4 is false (f_score = 2)``; in a match, a true leaf is just ``f_score >= 4 (f_score = 4)``."""
    sql = _printable(part.sql)
    if part.result is None:
        missing = [_printable(name) for name, value in part.values.items() if value is None]
        if missing:
            verb = "is" if len(missing) == 1 else "are"
            return f"{_join(missing)} {verb} missing (NULL)" + ("" if bare else f", so {sql} is unknown")
        return f"{sql} is unknown" + (f" ({_values_text(part.values)})" if part.values else "")
    if bare:
        return f"{sql} is {_show(part.result)}"
    said = "" if matched and part.result else f" is {_show(part.result)}"
    return f"{sql}{said}" + (f" ({_values_text(part.values)})" if part.values else "")


def _reason(root: _Node, result: bool | None, parts: list[PartTrace], bare: list[bool]) -> str:
    results = [part.result for part in parts]
    leaves = list(dict.fromkeys(_deciding(root, result, results))) or list(range(len(parts)))
    items = [_describe(parts[i], bare[i], matched=result is True) for i in leaves]
    clauses = len(items) > 1 and any(", so " in item for item in items)  # "a is missing (NULL), so ..."
    return ("yes: " if result is True else "no: ") + ("; ".join(items) if clauses else _join(items))


def _default_reason(rules: int) -> str:
    if rules == 0:
        return "yes: the scheme has no rules, so everyone gets the default"
    return f"yes: none of the {rules} rule{'s' if rules != 1 else ''} matched, so the default applies"


def trace_scheme(
    scheme: Scheme,
    values: Mapping[str, Any],
    *,
    matched_rule_id: str | None = None,
    column_types: Mapping[str, str] | None = None,
) -> SchemeTrace:
    """Evaluate ``scheme`` on one customer's ``values`` and explain which rule matched and why the ones
    before it did not.

    ``values`` maps column names (matched case-insensitively, like DuckDB) to ints, floats, strings, bools,
    dates, ``Decimal`` values or None; a column the rules read that is absent from ``values`` is NULL. With
    ``column_types`` (``{column: duckdb_type}``, e.g. the feature catalogue) each value is cast to its
    column's type first, so ``"2026-11-01"`` compares as a DATE and ``0.95`` as a DECIMAL, exactly as in
    the warehouse. ``matched_rule_id``: the rule recorded as matched; when the evaluation picks another one,
    the evaluated one is returned with ``consistent=False``.

    Raises :class:`.RuleValidationError` for a condition that does not parse (as the compiler would) and
    ``ValueError`` when a value cannot be read as its type or DuckDB cannot evaluate the rules on the values.
    """
    conditions = _conditions(scheme)
    columns = _columns_of(conditions)
    canonical = {name.lower(): name for name in columns}
    relation, params, types = _relation(columns, values, column_types)

    trees: list[_Node] = []
    leaves: list[list[exp.Expression]] = []
    for condition in conditions:
        found: list[exp.Expression] = []
        trees.append(_split(condition.tree, found))
        leaves.append(found)
    whens = " ".join(f"WHEN ({c.sql}) THEN {i}" for i, c in enumerate(conditions))
    case_sql = f"CASE {whens} ELSE -1 END" if conditions else "-1"
    expressions = [_boolean(c.sql) for c in conditions]
    expressions += [
        _boolean(guard_divisions(leaf).sql(dialect=DIALECT)) for found in leaves for leaf in found
    ]
    read, matched_index, results = _evaluate(
        scheme, columns, relation, params, types, case_sql, expressions, typed=column_types is not None
    )
    effective = dict(zip(columns, read, strict=True))
    rule_results, leaf_results = results[: len(conditions)], iter(results[len(conditions) :])

    matched_index = int(matched_index)
    last = matched_index if matched_index >= 0 else len(conditions)
    traces: list[RuleTrace] = []
    for index, (rule, tree, found) in enumerate(zip(scheme.rules, trees, leaves, strict=True)):
        if index > last:  # never tried: the first match wins
            break
        parts = []
        for leaf in found:
            names = dict.fromkeys(canonical[c.name.lower()] for c in leaf.find_all(exp.Column))
            parts.append(PartTrace(_display_sql(leaf), next(leaf_results), {n: effective[n] for n in names}))
        result = rule_results[index]
        if index == matched_index:
            result = True  # the CASE chose it
        bare = [isinstance(_unparen(leaf), exp.Column) for leaf in found]
        reason = _reason(tree, result, parts, bare)
        traces.append(RuleTrace(rule.id, rule.segment, rule.when, result, parts, reason))

    if matched_index >= 0:
        matched = traces[matched_index]
        not_matched = traces[:matched_index]
    else:
        default = scheme.default
        matched = RuleTrace(default.id, default.segment, None, True, [], _default_reason(len(conditions)))
        not_matched = traces
    consistent = matched_rule_id is None or matched_rule_id == matched.rule_id
    return SchemeTrace(scheme.name, matched, not_matched, effective, consistent)


def _one_line(text: str) -> str:
    return _printable(re.sub(r"\s*\n\s*", " ", text.strip()))


def format_trace(trace: SchemeTrace) -> list[str]:
    """Human-readable lines (no colour) for the CLI: the outcome, the values, then every rule tried."""
    matched = trace.matched
    kind = "rule" if matched.when is not None else "default"
    lines = [f"{trace.scheme}: {_one_line(matched.segment)} ({kind} {matched.rule_id})"]
    lines.append(f"  values: {_values_text(trace.values) or '(none)'}")
    for number, rule in enumerate([*trace.not_matched, matched], start=1):
        if rule.when is None:
            lines.append(f"  {number}. default {rule.rule_id} ({_one_line(rule.segment)})")
        else:
            lines.append(f"  {number}. {rule.rule_id} ({_one_line(rule.segment)}): {_one_line(rule.when)}")
        lines.append(f"     {_one_line(rule.reason)}")
    return lines
