"""A scheme's conditions taken apart: parsed exactly as the compiler parses them, the columns they read
(what the compiler selects and the explainer fetches), and each split on AND / OR / NOT into its leaves
(comparisons, BETWEEN, IN, IS NULL, function calls, bare columns), with SQL's three-valued logic over the
split tree and the leaves that decided a result.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlglot import exp

from .errors import RuleError, RuleValidationError
from .expressions import DIALECT, Condition, parse_condition
from .model import Scheme


def scheme_conditions(scheme: Scheme) -> list[Condition]:
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
    return columns_of(scheme_conditions(scheme))


def columns_of(conditions: list[Condition]) -> list[str]:
    return _unique_columns([c for condition in conditions for c in condition.columns])


@dataclass
class Node:
    """A condition split on AND / OR / NOT: ``kind`` is and/or/not/leaf; a leaf has an index into the parts."""

    kind: str
    children: list[Node]
    leaf: int = -1


def split(tree: exp.Expression, leaves: list[exp.Expression]) -> Node:
    node = unparen(tree)
    if isinstance(node, exp.And | exp.Or):
        kind = "and" if isinstance(node, exp.And) else "or"
        children: list[Node] = []
        for side in (node.this, node.expression):
            child = split(side, leaves)
            children += child.children if child.kind == kind else [child]  # a AND (b AND c): one list
        return Node(kind, children)
    if isinstance(node, exp.Not) and isinstance(unparen(node.this), exp.And | exp.Or | exp.Not):
        return Node("not", [split(node.this, leaves)])
    leaves.append(node)  # a predicate; NOT <predicate> (x IS NOT NULL, x NOT IN (...)) stays one leaf
    return Node("leaf", [], len(leaves) - 1)


def unparen(node: exp.Expression) -> exp.Expression:
    while isinstance(node, exp.Paren):
        node = node.this
    return node


_PLAIN_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_NEGATABLE = (exp.In, exp.Between, exp.Like, exp.ILike)


def display_sql(leaf: exp.Expression) -> str:
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


# --- three-valued logic over the split tree ---------------------------------------------------------


def _not(value: bool | None) -> bool | None:
    return None if value is None else not value


def _value(node: Node, leaves: list[bool | None]) -> bool | None:
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


def deciding_leaves(node: Node, value: bool | None, leaves: list[bool | None]) -> list[int]:
    """The leaves that make ``node`` evaluate to ``value``: for a false AND its false conjuncts (unknown:
    its unknown ones), for a true OR its true disjuncts, for a false or unknown OR all of them."""
    if node.kind == "leaf":
        return [node.leaf]
    if node.kind == "not":
        return deciding_leaves(node.children[0], _not(value), leaves)
    found: list[int] = []
    for child in node.children:
        result = _value(child, leaves)
        if (
            (node.kind == "or" and value is not True)
            or result is value
            or (node.kind == "and" and value is True)
        ):
            found += deciding_leaves(child, result, leaves)
    return found
