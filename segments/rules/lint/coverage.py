"""Static lint, step 2: cells, boxes and coverage: where a formula is TRUE or FALSE, decided exactly (capped)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import duckdb

from .formulas import _SIGNS, Formula, _atoms, _values

_BOX_CAP = 256  # boxes in one condition's TRUE/FALSE set
_PRODUCT_CAP = 2048  # boxes formed while AND-ing (TRUE) / OR-ing (FALSE) two sets
_STEP_CAP = 20_000  # box splits while deciding one coverage question


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
