"""Rule lint: rules that can never match, empty segments, inconsistent and overlapping actions.

Two entry points (``segments rules validate`` calls them):

* :func:`lint_static` decides on the conditions alone (no data):

  - ``shadowed``: a rule that can never match because the rules before it in its scheme already take every
    entity its condition accepts (also a condition that is never true, and a default no entity can reach).
    Decided exactly for conditions built with AND/OR/NOT from atoms ``column <op> constant`` (=, <>, !=, <,
    <=, >, >=, either side), ``BETWEEN``, ``IN (constants)``, ``IS [NOT] NULL``, ``IS [NOT] TRUE/FALSE``,
    a bare boolean column and ``<condition> = true/false``. SQL's three-valued logic is followed: a
    comparison on NULL is not true, ``NOT`` of it is not true either. Numbers are treated as reals, so a
    shadowing that only holds on whole numbers (``x > 3`` then ``x >= 4``) is missed, never invented.
    Anything else (functions, arithmetic, CASE, LIKE, column-vs-column ...) is opaque: a rule containing
    it is not judged statically (the data check covers it); in an earlier rule it only counts where the
    rest of the condition alone decides (e.g. ``x > 5 OR abs(y) > 1`` takes at least ``x > 5``).
  - ``inconsistent_action``: one ``next_action.action`` name used with different channel/owner/priority.

* :func:`lint_on_data` runs one query per scheme (and one per entity level for overlaps) on the current
  data: ``shadowed_on_data``, ``never_true_on_data``, ``empty_segment`` and ``overlapping_actions``.

How the static check works: each column used by a scheme's conditions is split into elementary cells at
the constants it is compared with (below the first, each constant, between two, above the last, and NULL;
for booleans: false, true, NULL). A condition becomes a union of boxes (per column a set of cells) for where
it is TRUE, and one for where it is FALSE (for NOT). Rule *j* is shadowed when every one of its boxes is
covered by the union of the earlier rules' boxes, decided by splitting boxes (exact; capped, giving up means
"not reported"). Assumptions for soundness: DuckDB's default (binary) collation; a text constant that DuckDB
could also read as a number, date, time, interval, boolean or UUID makes its column opaque (the column may
not be text), as do constants of mixed kinds on one column and distinct numbers that are one DOUBLE.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from itertools import combinations
from typing import Any

import duckdb
from sqlglot import exp

from .expressions import parse_condition, quote_identifier, quote_string
from .loader import display_path
from .model import DefaultRule, Rule, RuleSet, Scheme

__all__ = ["LintFinding", "lint_on_data", "lint_static"]

_BOX_CAP = 256  # boxes in one condition's TRUE/FALSE set
_PRODUCT_CAP = 2048  # boxes formed while AND-ing (TRUE) / OR-ing (FALSE) two sets
_STEP_CAP = 20_000  # box splits while deciding one coverage question


@dataclass(frozen=True)
class LintFinding:
    code: str  # shadowed, shadowed_on_data, never_true_on_data, empty_segment, inconsistent_action, overlapping_actions
    severity: str  # "warning" or "info"
    message: str  # one line: what is wrong and what to do
    file: str  # display_path(rule_set.path)
    line: int  # the rule's line, else 1
    col: int = 1
    scheme: str | None = None
    rule_id: str | None = None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}: {self.severity}: {self.message}"


# ======================================================================================================
# static: conditions -> boolean formulas over atoms
# ======================================================================================================

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


# ======================================================================================================
# static: cells, boxes and coverage
# ======================================================================================================

# A cell is ("null",), ("point", value) or ("gap", below, above) (open interval, None = unbounded).
Cell = tuple[Any, ...]
Box = dict[str, int]  # column -> bitmask of allowed cells; a column not in the box allows every cell


class _GiveUp(Exception):
    pass


class _TextCheck:
    """Is a text constant only text? If DuckDB could also read it as another type, the column may not be text
    (``recency_days > '10'`` compares numbers), so reasoning on it as text would be unsound."""

    _TYPES = ("DOUBLE", "BOOLEAN", "DATE", "TIME", "TIMESTAMP", "TIMESTAMPTZ", "INTERVAL", "UUID")

    def __init__(self) -> None:
        self._known: dict[str, bool] = {}
        self._con: duckdb.DuckDBPyConnection | None = None

    def __call__(self, value: str) -> bool:
        if value not in self._known:
            self._known[value] = self._check(value)
        return self._known[value]

    def _check(self, value: str) -> bool:
        if "\\" in value or "\x00" in value or value.lstrip().startswith(("[", "{")):
            return False  # escapes (BLOB), lists, structs, maps
        if self._con is None:
            self._con = duckdb.connect(":memory:")
        casts = " AND ".join(f"TRY_CAST($1 AS {t}) IS NULL" for t in self._TYPES)
        row = self._con.execute(f"SELECT {casts}", [value]).fetchone()
        return bool(row and row[0])

    def close(self) -> None:
        if self._con is not None:
            self._con.close()


class _Space:
    """The cells of every column a scheme's conditions constrain, and formulas -> TRUE/FALSE box sets."""

    def __init__(self, formulas: Sequence[Formula], is_text: _TextCheck) -> None:
        kinds: dict[str, set[str]] = defaultdict(set)
        values: dict[str, set[Any]] = defaultdict(set)
        for formula in formulas:
            for _, column, kind, test in _atoms(formula):
                if kind is not None:
                    kinds[column].add(kind)
                values[column].update(_values(test))
        self.cells: dict[str, list[Cell]] = {}
        for column in values:
            kind = next(iter(kinds[column]), None)
            if len(kinds[column]) > 1 or not self._usable(kind, values[column], is_text):
                continue  # opaque column
            if kind == "bool":
                self.cells[column] = [("null",), ("point", False), ("point", True)]
                continue
            ordered = sorted(values[column])
            cells: list[Cell] = [("null",)]
            below = None
            for value in ordered:
                cells += [("gap", below, value), ("point", value)]
                below = value
            cells.append(("gap", below, None))
            self.cells[column] = cells
        self.full = {column: (1 << len(cells)) - 1 for column, cells in self.cells.items()}

    @staticmethod
    def _usable(kind: str | None, values: set[Any], is_text: _TextCheck) -> bool:
        if kind == "num":  # distinct numbers that are one DOUBLE compare equal on a DOUBLE column
            return len({float(v) for v in values}) == len(values)
        if kind == "str":
            return all(is_text(v) for v in values)
        return True

    # --- formulas -> (TRUE boxes, FALSE boxes, TRUE exact, FALSE exact); inexact sets are under-approximations

    def sets(self, formula: Formula) -> tuple[list[Box], list[Box], bool, bool]:
        tag = formula[0]
        if tag == "const":
            value = formula[1]
            return ([{}] if value is True else []), ([{}] if value is False else []), True, True
        if tag == "not":
            true, false, true_exact, false_exact = self.sets(formula[1])
            return false, true, false_exact, true_exact
        if tag in ("and", "or"):
            t1, f1, te1, fe1 = self.sets(formula[1])
            t2, f2, te2, fe2 = self.sets(formula[2])
            if tag == "and":  # TRUE: both; FALSE: either
                true, true_ok = self._intersect(t1, t2)
                false, false_ok = self._union(f1, f2)
            else:
                true, true_ok = self._union(t1, t2)
                false, false_ok = self._intersect(f1, f2)
            return true, false, te1 and te2 and true_ok, fe1 and fe2 and false_ok
        if tag == "atom" and formula[1] in self.cells:
            true_mask, false_mask = self._masks(formula[1], formula[3])
            true = [self._box(formula[1], true_mask)] if true_mask else []
            false = [self._box(formula[1], false_mask)] if false_mask else []
            return true, false, True, True
        return [], [], False, False  # opaque: nothing known to be TRUE or FALSE

    def _box(self, column: str, mask: int) -> Box:
        return {} if mask == self.full[column] else {column: mask}

    def _masks(self, column: str, test: tuple[Any, ...]) -> tuple[int, int]:
        """Bitmasks of the column's cells where the atom is TRUE, and where it is FALSE."""
        true_mask = false_mask = 0
        for index, cell in enumerate(self.cells[column]):
            is_true, is_false = _truth(cell, test)
            true_mask |= is_true << index
            false_mask |= is_false << index
        return true_mask, false_mask

    def _intersect(self, first: list[Box], second: list[Box]) -> tuple[list[Box], bool]:
        if len(first) * len(second) > _PRODUCT_CAP:
            return [], False
        boxes = [box for a in first for b in second if (box := self.meet(a, b)) is not None]
        return self._prune(boxes)

    def _union(self, first: list[Box], second: list[Box]) -> tuple[list[Box], bool]:
        return self._prune(first + second)

    def _prune(self, boxes: list[Box]) -> tuple[list[Box], bool]:
        unique = list({tuple(sorted(b.items())): b for b in boxes}.values())
        if len(unique) > _BOX_CAP:
            return [], False
        kept = [
            b
            for i, b in enumerate(unique)
            if not any(
                j != i and self.contains(other, b) and (not self.contains(b, other) or j < i)
                for j, other in enumerate(unique)
            )
        ]
        return kept, True

    def meet(self, a: Box, b: Box) -> Box | None:
        box = dict(a)
        for column, mask in b.items():
            both = box.get(column, self.full[column]) & mask
            if not both:
                return None
            box[column] = both
        return box

    def contains(self, outer: Box, inner: Box) -> bool:
        return all(inner.get(column, self.full[column]) & ~mask == 0 for column, mask in outer.items())

    def covered(self, box: Box, others: list[Box], budget: list[int]) -> bool:
        """Is every cell combination in ``box`` inside one of ``others``? (exact; raises _GiveUp when too long)"""
        budget[0] -= 1
        if budget[0] < 0:
            raise _GiveUp
        relevant = [o for o in others if self.meet(box, o) is not None]
        if not relevant:
            return False
        if any(self.contains(o, box) for o in relevant):
            return True
        first = relevant[0]
        column = next(c for c, m in first.items() if box.get(c, self.full[c]) & ~m)
        mask = box.get(column, self.full[column])
        inside, outside = dict(box), dict(box)
        inside[column], outside[column] = mask & first[column], mask & ~first[column]
        return self.covered(inside, relevant, budget) and self.covered(outside, relevant[1:], budget)


def _truth(cell: Cell, test: tuple[Any, ...]) -> tuple[bool, bool]:
    """(TRUE, FALSE) of an atom on every value of a cell; both False where it is NULL."""
    if test[0] == "null":
        return cell[0] == "null", cell[0] != "null"
    if test[0] == "is":  # IS TRUE / IS FALSE are never NULL
        return cell == ("point", test[1]), cell != ("point", test[1])
    if cell[0] == "null":  # a comparison on NULL is NULL
        return False, False
    if _holds(cell, test):
        return True, False
    return False, not (test[0] == "in" and test[2])  # x IN (..., NULL) is never FALSE


def _holds(cell: Cell, test: tuple[Any, ...]) -> bool:
    if test[0] == "cmp":
        return _compare(cell, test[1], test[2])
    if test[0] == "in":
        return any(_compare(cell, "=", v) for v in test[1])
    if test[0] == "between":
        return _compare(cell, ">=", test[1]) and _compare(cell, "<=", test[2])
    raise AssertionError(test)


def _compare(cell: Cell, op: str, constant: Any) -> bool:
    """Does every value in the (non-NULL) cell satisfy ``value <op> constant``? (constant is a cell bound)"""
    if cell[0] == "point":
        sign = (cell[1] > constant) - (cell[1] < constant)
    else:  # a gap lies strictly between two consecutive constants
        below, above = cell[1], cell[2]
        sign = -1 if above is not None and constant >= above else 1
        assert sign == -1 or below is None or constant <= below
    return sign in _SIGNS[op]


# ======================================================================================================
# static lint
# ======================================================================================================


def _plural(entity: str, count: int | None = None) -> str:
    return entity if count == 1 else f"{entity}s"


def _names(ids: Iterable[str]) -> str:
    return ", ".join(f"'{i}'" for i in ids)


@dataclass(frozen=True)
class _Shadow:
    scheme: Scheme
    outcome: Rule | DefaultRule
    takers: tuple[str, ...]  # ids of the earlier rules involved (empty: the condition is never true)


def _shadows(rule_set: RuleSet) -> list[_Shadow]:
    found: list[_Shadow] = []
    is_text = _TextCheck()
    try:
        for scheme in rule_set.schemes.values():
            found += _scheme_shadows(scheme, is_text)
    finally:
        is_text.close()
    return found


def _scheme_shadows(scheme: Scheme, is_text: _TextCheck) -> list[_Shadow]:
    formulas = []
    for rule in scheme.rules:
        condition, _ = parse_condition(rule.when)
        formulas.append(_formula(condition.tree) if condition is not None else _OPAQUE)
    space = _Space(formulas, is_text)
    found: list[_Shadow] = []
    taken: list[tuple[int, Box]] = []  # (rule index, box) of every earlier rule: where it is (at least) TRUE
    for index, (rule, formula) in enumerate(zip(scheme.rules, formulas, strict=True)):
        true, _, exact, _ = space.sets(formula)
        if exact:
            if not true:
                found.append(_Shadow(scheme, rule, ()))
            else:
                takers = _takers(space, true, taken)
                if takers is not None:
                    found.append(_Shadow(scheme, rule, tuple(scheme.rules[i].id for i in takers)))
        taken += [(index, box) for box in true]
    takers = _takers(space, [{}], taken)
    if takers is not None:
        found.append(_Shadow(scheme, scheme.default, tuple(scheme.rules[i].id for i in takers)))
    return found


def _takers(space: _Space, region: list[Box], taken: list[tuple[int, Box]]) -> list[int] | None:
    """The (irredundant) earlier rules that together cover ``region``; None when they do not (or it is unknown)."""

    def covers(rules: set[int]) -> bool:
        boxes = [box for i, box in taken if i in rules]
        budget = [_STEP_CAP]
        return all(space.covered(box, boxes, budget) for box in region)

    involved = {i for i, box in taken if any(space.meet(box, r) is not None for r in region)}
    try:
        if not involved or not covers(involved):
            return None
        for i in sorted(involved, reverse=True):  # drop a rule the others already make unnecessary
            if covers(involved - {i}):
                involved.discard(i)
    except _GiveUp:
        return None
    return sorted(involved)


def _shadow_finding(shadow: _Shadow, file: str) -> LintFinding:
    scheme, outcome, takers = shadow.scheme, shadow.outcome, shadow.takers
    entity = scheme.entity
    if isinstance(outcome, DefaultRule):
        message = (
            f"scheme {scheme.name}: default '{outcome.id}' can never apply: the rules above already take "
            f"every {entity} ({_names(takers)}); remove a catch-all rule or accept that segment "
            f"'{outcome.segment}' stays empty"
        )
    elif not takers:
        message = (
            f"scheme {scheme.name}: rule '{outcome.id}' can never match: its condition is never true for any "
            f"{entity} (contradictory, or compared with NULL: use IS NULL); fix the condition or remove the rule"
        )
    else:
        by = f"earlier rule {_names(takers)}" if len(takers) == 1 else f"earlier rules ({_names(takers)})"
        message = (
            f"scheme {scheme.name}: rule '{outcome.id}' can never match: every {entity} it accepts is "
            f"already taken by {by}; move it up or narrow the earlier rules"
        )
    return LintFinding(
        code="shadowed",
        severity="warning",
        message=message,
        file=file,
        line=outcome.line or 1,
        scheme=scheme.name,
        rule_id=outcome.id,
    )


def _inconsistent_actions(rule_set: RuleSet, file: str) -> list[LintFinding]:
    first: dict[str, tuple[Scheme, Rule | DefaultRule]] = {}
    findings = []
    for scheme in rule_set.schemes.values():
        for outcome in scheme.outcomes:
            action = outcome.next_action
            if action.action not in first:
                first[action.action] = (scheme, outcome)
                continue
            other_scheme, other = first[action.action]
            theirs = other.next_action
            if (action.channel, action.owner, action.priority) == (
                theirs.channel,
                theirs.owner,
                theirs.priority,
            ):
                continue
            findings.append(
                LintFinding(
                    code="inconsistent_action",
                    severity="warning",
                    message=(
                        f"scheme {scheme.name}: action '{action.action}' of '{outcome.id}' has "
                        f"{_describe_action(action)}, but in {other_scheme.name}.{other.id} (line {other.line}) "
                        f"it has {_describe_action(theirs)}; use the same channel, owner and priority for "
                        "one action name, or give the actions different names"
                    ),
                    file=file,
                    line=outcome.line or 1,
                    scheme=scheme.name,
                    rule_id=outcome.id,
                )
            )
    return findings


def _describe_action(action: Any) -> str:
    return f"channel {action.channel}, owner {action.owner}, priority {action.priority}"


def lint_static(rule_set: RuleSet) -> list[LintFinding]:
    """Findings decided on the rule file alone: ``shadowed`` and ``inconsistent_action`` (sorted by line)."""
    file = display_path(rule_set.path)
    findings = [_shadow_finding(s, file) for s in _shadows(rule_set)]
    findings += _inconsistent_actions(rule_set, file)
    return sorted(findings, key=lambda f: (f.line, f.col))


# ======================================================================================================
# on data
# ======================================================================================================


def _conditions(rule_set: RuleSet, scheme: Scheme) -> list[str]:
    """The SQL the compiler runs for each rule (rendered from the checked tree)."""
    rendered = []
    for index, rule in enumerate(scheme.rules):
        condition, problems = parse_condition(rule.when)
        if condition is None:  # only possible for a RuleSet that was not built by load_rule_file
            where = (
                f"{display_path(rule_set.path)}:{rule.when_line}: schemes.{scheme.name}.rules[{index}].when"
            )
            raise ValueError(f"{where}: {'; '.join(p.message for p in problems)}")
        rendered.append(condition.sql)
    return rendered


def _source(sources: Mapping[str, str], entity: str) -> str:
    if entity not in sources:
        raise ValueError(
            f"no source SQL for entity level '{entity}' (sources has: {', '.join(sources) or 'none'})"
        )
    source = sources[entity].strip().rstrip(";").strip()
    if not source:
        raise ValueError(f"the source SQL for entity level '{entity}' is empty")
    return source


def _alias(name: str) -> str:
    return quote_identifier(f"lint__{name}")


def _scheme_query(source: str, conditions: Sequence[str]) -> str:
    """One row per first-matching outcome (index; len(conditions) = default): how many entities, and for
    every rule how many of them its condition is true for. One pass over the source."""
    n = len(conditions)
    tested = (
        ", ".join(f"({sql}) AS {_alias(f'c{i}')}" for i, sql in enumerate(conditions))
        or f"1 AS {_alias('none')}"
    )
    whens = " ".join(f"WHEN {_alias(f'c{i}')} THEN {i}" for i in range(n))
    first = f"CASE {whens} ELSE {n} END" if n else "0"
    counts = "".join(f", count_if({_alias(f'c{i}')})" for i in range(n))
    return (
        f"WITH {_alias('source')} AS (\n{source}\n),\n"
        f"{_alias('tested')} AS (SELECT {tested} FROM {_alias('source')}),\n"
        f"{_alias('first')} AS (SELECT *, {first} AS {_alias('outcome')} FROM {_alias('tested')})\n"
        f"SELECT {_alias('outcome')}, count(*){counts} FROM {_alias('first')} GROUP BY 1"
    )


def _count(count: int, entity: str) -> str:
    return f"{count:,} {_plural(entity, count)}"


def _scheme_on_data(
    con: duckdb.DuckDBPyConnection, rule_set: RuleSet, scheme: Scheme, source: str, skip: set[str], file: str
) -> list[LintFinding]:
    n, entity = len(scheme.rules), scheme.entity
    rows = con.execute(_scheme_query(source, _conditions(rule_set, scheme))).fetchall()
    ends = [0] * (n + 1)  # entities whose first match is outcome k
    true_by_end = [[0] * n for _ in range(n + 1)]  # [k][j]: condition j true, first match k
    for outcome, total, *trues in rows:
        ends[outcome] = int(total)
        true_by_end[outcome] = [int(t or 0) for t in trues]  # count_if of only NULLs is NULL
    everyone = sum(ends)

    def finding(code: str, severity: str, message: str, outcome: Rule | DefaultRule | None) -> LintFinding:
        return LintFinding(
            code=code,
            severity=severity,
            message=f"scheme {scheme.name}: {message}",
            file=file,
            line=(outcome.line if outcome is not None else 0) or 1,
            scheme=scheme.name,
            rule_id=outcome.id if outcome is not None else None,
        )

    if everyone == 0:
        return [
            finding("empty_segment", "warning", f"the {entity} data is empty: every segment is empty", None)
        ]
    findings = []
    for j, rule in enumerate(scheme.rules):
        accepted = sum(true_by_end[k][j] for k in range(n + 1))
        if accepted == 0:
            findings.append(
                finding(
                    "never_true_on_data",
                    "info",
                    f"rule '{rule.id}' is true for none of the {_count(everyone, entity)} on this data; "
                    "check its condition and thresholds",
                    rule,
                )
            )
        elif ends[j] == 0 and rule.id not in skip:
            takers = ", ".join(
                f"'{scheme.rules[k].id}': {true_by_end[k][j]:,}" for k in range(j) if true_by_end[k][j]
            )
            findings.append(
                finding(
                    "shadowed_on_data",
                    "warning",
                    f"rule '{rule.id}' matches no {entity} on this data: its condition is true for "
                    f"{_count(accepted, entity)}, but earlier rules take them all ({takers}); "
                    "move it up or narrow the earlier rules",
                    rule,
                )
            )
    by_segment: dict[str, list[int]] = {}
    for k, outcome in enumerate(scheme.outcomes):
        by_segment.setdefault(outcome.segment, []).append(k)
    for segment, outcomes in by_segment.items():
        if sum(ends[k] for k in outcomes) == 0:
            ids = [scheme.outcomes[k].id for k in outcomes]
            source_rules = f"rule {_names(ids)}" if len(ids) == 1 else f"rules {_names(ids)}"
            findings.append(
                finding(
                    "empty_segment",
                    "warning",
                    f"segment '{segment}' ({source_rules}) is empty on this data: none of the "
                    f"{_count(everyone, entity)} ends up in it",
                    scheme.outcomes[outcomes[0]],
                )
            )
    return findings


def _channel_sql(scheme: Scheme, conditions: Sequence[str]) -> str:
    """The channel as written of the first matching outcome; NULL for ``none``."""

    def channel(outcome: Rule | DefaultRule) -> str:
        value = outcome.next_action.channel
        return "NULL" if value == "none" else quote_string(value)

    whens = " ".join(
        f"WHEN ({sql}) THEN {channel(r)}" for sql, r in zip(conditions, scheme.rules, strict=True)
    )
    return f"CASE {whens} ELSE {channel(scheme.default)} END" if whens else channel(scheme.default)


def _channels(scheme: Scheme) -> set[str]:
    return {o.next_action.channel for o in scheme.outcomes} - {"none"}


def _overlaps(
    con: duckdb.DuckDBPyConnection, rule_set: RuleSet, schemes: list[Scheme], source: str, file: str
) -> list[LintFinding]:
    pairs = [
        (a, b, channel)
        for (a, b) in combinations(range(len(schemes)), 2)
        for channel in sorted(_channels(schemes[a]) & _channels(schemes[b]))
    ]
    if not pairs:
        return []
    used = sorted({i for a, b, _ in pairs for i in (a, b)})
    channels = ", ".join(
        f"{_channel_sql(schemes[i], _conditions(rule_set, schemes[i]))} AS {_alias(f'ch{i}')}" for i in used
    )
    counts = ", ".join(
        f"count_if({_alias(f'ch{a}')} = {quote_string(ch)} AND {_alias(f'ch{b}')} = {quote_string(ch)})"
        for a, b, ch in pairs
    )
    query = (
        f"WITH {_alias('source')} AS (\n{source}\n),\n"
        f"{_alias('channels')} AS (SELECT {channels} FROM {_alias('source')})\n"
        f"SELECT {counts} FROM {_alias('channels')}"
    )
    row = con.execute(query).fetchone() or ()
    found = sorted(
        (
            (int(count), schemes[a].name, schemes[b].name, channel)
            for (a, b, channel), count in zip(pairs, row, strict=True)
            if count
        ),
        reverse=True,
    )
    if not found:
        return []
    # one note per entity level: with several schemes, most entities get several actions by design
    shown = "; ".join(
        f"{first} + {second} on {channel}: {count:,}"
        for count, first, second, channel in found[:OVERLAPS_SHOWN]
    )
    more = f" (and {len(found) - OVERLAPS_SHOWN} more pairs)" if len(found) > OVERLAPS_SHOWN else ""
    entity = schemes[0].entity
    return [
        LintFinding(
            code="overlapping_actions",
            severity="info",
            message=(
                f"{_plural(entity, 2)} get next actions on the same channel from two schemes: {shown}{more}; "
                "check they should get both, or give one of the rules channel none"
            ),
            file=file,
            line=1,
            scheme=None,
            rule_id=None,
        )
    ]


OVERLAPS_SHOWN = 5


def lint_on_data(
    con: duckdb.DuckDBPyConnection, rule_set: RuleSet, sources: Mapping[str, str]
) -> list[LintFinding]:
    """Findings on the current data: ``shadowed_on_data``, ``never_true_on_data``, ``empty_segment`` (per
    scheme, one query each) and ``overlapping_actions`` (one query per entity level with several schemes).

    ``sources[entity]`` is a SELECT returning one row per entity (``entity_id`` and every feature column) for
    every entity level a scheme of ``rule_set`` uses. Conditions are the compiler's rendering of the checked
    trees; a rule already reported ``shadowed`` by :func:`lint_static` is not reported again as
    ``shadowed_on_data``.
    """
    file = display_path(rule_set.path)
    statically = {(s.scheme.name, s.outcome.id) for s in _shadows(rule_set) if isinstance(s.outcome, Rule)}
    by_entity: dict[str, list[Scheme]] = {}
    for scheme in rule_set.schemes.values():
        by_entity.setdefault(scheme.entity, []).append(scheme)
    resolved = {entity: _source(sources, entity) for entity in by_entity}
    findings: list[LintFinding] = []
    for scheme in rule_set.schemes.values():
        skip = {rule_id for name, rule_id in statically if name == scheme.name}
        findings += _scheme_on_data(con, rule_set, scheme, resolved[scheme.entity], skip, file)
    for entity, schemes in by_entity.items():
        if len(schemes) > 1:
            findings += _overlaps(con, rule_set, schemes, resolved[entity], file)
    return findings
