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

The conditions and their leaves come from :mod:`.leaves`, the one-row evaluation from :mod:`.one_row`; this
module turns what they give into traces, with the one-line reasons a reader sees.

    trace = trace_scheme(rule_set.schemes["rfm_lifecycle"], {"r_score": 3, ...}, matched_rule_id="at_risk")
    print("\\n".join(format_trace(trace)))
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlglot import exp

from .expressions import DIALECT, guard_divisions
from .leaves import (
    Node,
    columns_of,
    deciding_leaves,
    display_sql,
    scheme_columns,
    scheme_conditions,
    split,
    unparen,
)
from .model import Scheme
from .one_row import as_boolean, evaluate_one_row, one_row_relation

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


def _reason(root: Node, result: bool | None, parts: list[PartTrace], bare: list[bool]) -> str:
    results = [part.result for part in parts]
    leaves = list(dict.fromkeys(deciding_leaves(root, result, results))) or list(range(len(parts)))
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
    conditions = scheme_conditions(scheme)
    columns = columns_of(conditions)
    canonical = {name.lower(): name for name in columns}
    relation, params, types = one_row_relation(columns, values, column_types)

    trees: list[Node] = []
    leaves: list[list[exp.Expression]] = []
    for condition in conditions:
        found: list[exp.Expression] = []
        trees.append(split(condition.tree, found))
        leaves.append(found)
    whens = " ".join(f"WHEN ({c.sql}) THEN {i}" for i, c in enumerate(conditions))
    case_sql = f"CASE {whens} ELSE -1 END" if conditions else "-1"
    expressions = [as_boolean(c.sql) for c in conditions]
    expressions += [
        as_boolean(guard_divisions(leaf).sql(dialect=DIALECT)) for found in leaves for leaf in found
    ]
    read, matched_index, results = evaluate_one_row(
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
            parts.append(PartTrace(display_sql(leaf), next(leaf_results), {n: effective[n] for n in names}))
        result = rule_results[index]
        if index == matched_index:
            result = True  # the CASE chose it
        bare = [isinstance(unparen(leaf), exp.Column) for leaf in found]
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
