"""Great Expectations suites from ``expectations/``: what a suite file says, loaded and checked, and what
checking a suite gives (an :class:`Outcome` per expectation, a :class:`SuiteReport` per suite).

Each suite file is a plain GX ExpectationSuite (JSON) whose ``meta`` says which table it guards and, where an
expectation needs a value GX cannot see in one table (does the order of this line exist?), a derived column
computed in DuckDB. Running a suite on the warehouse, and finding the rows that fail: :mod:`.validation`.

Every expectation has a severity (ours, not GX's):

- ``block``: a failure stops the run before anything is published;
- ``quarantine``: the failing rows are set aside (``raw._quarantine``) and the rest goes on; if more than the
  suite's ``quarantine_limit`` share of rows would be set aside, that is no longer "a few bad rows" and blocks;
- ``warn``: reported, the run goes on.

Derived columns may use ``$now`` (the validation time), e.g. for "no future dates".
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from segments.errors import QualityError

SEVERITIES = ("block", "quarantine", "warn")
DEFAULT_QUARANTINE_LIMIT = 0.05  # share of a table's rows that may be quarantined before the run blocks


@dataclass(frozen=True)
class Expectation:
    number: int  # 1-based position in the suite file
    type: str
    kwargs: dict[str, Any]
    severity: str
    description: str | None = None

    @property
    def column(self) -> str:
        return self.kwargs["column"]

    @property
    def label(self) -> str:
        """What people read: ``expect_column_values_to_be_unique(order_id)``."""
        return f"{self.type}({self.column})"


@dataclass(frozen=True)
class Suite:
    name: str
    table: str
    path: Path
    definition: dict[str, Any]
    derived_columns: dict[str, str]
    expectations: list[Expectation] = field(default_factory=list)
    entity: str | None = None  # the landing entity of a ``raw.`` suite
    quarantine_limit: float = DEFAULT_QUARANTINE_LIMIT
    anomalies: dict[str, Any] = field(default_factory=dict)  # see quality/anomalies.py
    freshness: dict[str, Any] | None = None

    @property
    def columns(self) -> list[str]:
        """Columns read from the table (derived ones are computed in the same query)."""
        names = [e.column for e in self.expectations]
        return list(dict.fromkeys(n for n in names if n not in self.derived_columns))

    def with_severity(self, *severities: str) -> list[Expectation]:
        return [e for e in self.expectations if e.severity in severities]


@dataclass(frozen=True)
class Outcome:
    expectation: str
    column: str | None
    severity: str  # block | quarantine | warn
    success: bool
    element_count: int
    unexpected_count: int
    examples: list[Any] = field(default_factory=list)
    error: str | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)  # the expectation's arguments, as in the suite file
    observed_value: Any = None  # for aggregate checks (row counts, shares): what was measured
    quarantined: int = 0  # rows set aside by a quarantine expectation
    blocks: bool = False  # a failure that stops the run (block severity, or quarantine beyond its limit)
    accepted: bool = False  # a blocking drift/anomaly a person let through (``segments run --accept-drift``)
    note: str | None = None  # why it blocks, what was measured, in words

    def describe(self) -> str:
        target = f"({self.column})" if self.column else ""
        if self.error:
            return f"{self.expectation}{target} could not run: {self.error}"
        if self.note:
            return f"{self.expectation}{target}: {self.note}"
        return (
            f"{self.expectation}{target}: {self.unexpected_count:,} of {self.element_count:,} rows unexpected"
            + (f", e.g. {', '.join(repr(v) for v in self.examples[:3])}" if self.examples else "")
            + (f"; {self.quarantined:,} rows quarantined" if self.quarantined else "")
        )


@dataclass(frozen=True)
class SuiteReport:
    suite: Suite
    rows: int
    outcomes: list[Outcome]

    @property
    def blocking_failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.success and o.blocks and not o.accepted]

    @property
    def warnings(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.success and not (o.blocks and not o.accepted)]

    @property
    def quarantined(self) -> int:
        return sum(o.quarantined for o in self.outcomes)

    @property
    def passed(self) -> bool:
        return not self.blocking_failures

    def summary(self) -> str:
        failed = self.blocking_failures + self.warnings
        if not failed:
            return f"{self.suite.name}: all {len(self.outcomes)} checks passed on {self.rows:,} rows"
        return f"{self.suite.name}: " + "; ".join(
            ("BLOCKING " if o in self.blocking_failures else f"{o.severity} ") + o.describe() for o in failed
        )


def load_suites(folder: Path) -> dict[str, Suite]:
    """Suites by the table they guard (e.g. ``raw.crm_accounts``)."""
    suites: dict[str, Suite] = {}
    for path in sorted(folder.glob("*.json")):
        suite = load_suite(path)
        if suite.table in suites:
            raise QualityError(
                f"{path}: table {suite.table} is already guarded by {suites[suite.table].path.name}"
            )
        suites[suite.table] = suite
    return suites


def load_suite(path: Path) -> Suite:
    text = path.read_text(encoding="utf-8")
    try:
        definition = json.loads(text)
    except json.JSONDecodeError as exc:
        raise QualityError(f"{path}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from exc
    meta = definition.get("meta", {})
    table = meta.get("table")
    if not table:
        raise QualityError(f"{path}: suite meta has no 'table' (the warehouse table it guards)")
    derived = dict(meta.get("derived_columns", {}))
    expectations = []
    for number, item in enumerate(definition.get("expectations", []), start=1):
        where = f"{path}:{_line_of(text, number)}: expectation {number}"
        kind, kwargs = item.get("type"), dict(item.get("kwargs", {}))
        severity = str(item.get("severity", "")).lower()
        if severity not in SEVERITIES:
            raise QualityError(
                f"{where}: severity {item.get('severity')!r}; allowed: {', '.join(SEVERITIES)}"
            )
        if kind not in MAP_EXPECTATIONS or "column" not in kwargs:
            raise QualityError(
                f"{where}: {kind} is not supported; supported: {', '.join(sorted(MAP_EXPECTATIONS))}"
            )
        if severity == "quarantine" and not table.startswith("raw."):
            raise QualityError(
                f"{where}: severity quarantine needs a landing table (raw.*) with source rows; {table} is derived"
            )
        expectations.append(
            Expectation(number, kind, kwargs, severity, (item.get("meta") or {}).get("description"))
        )
    schema, _, name = table.partition(".")
    return Suite(
        name=definition.get("name", path.stem),
        table=table,
        path=path,
        definition=definition,
        derived_columns=derived,
        expectations=expectations,
        entity=name if schema == "raw" else None,
        quarantine_limit=float(meta.get("quarantine_limit", DEFAULT_QUARANTINE_LIMIT)),
        anomalies=dict(meta.get("anomalies", {})),
        freshness=meta.get("freshness"),
    )


def _line_of(text: str, number: int) -> int:
    """Line of the ``number``-th ``"type":`` in a suite file (good enough to point an editor at it)."""
    seen = 0
    for line_number, line in enumerate(text.splitlines(), start=1):
        if '"type"' in line:
            seen += 1
            if seen == number:
                return line_number
    return 1


# Column-map expectations: each value is judged on its own, so judging each distinct value once and
# weighting it by its row count gives exactly the row-level result.
MAP_EXPECTATIONS = {
    "expect_column_values_to_not_be_null",
    "expect_column_values_to_be_in_set",
    "expect_column_values_to_not_be_in_set",
    "expect_column_values_to_be_between",
    "expect_column_values_to_match_regex",
    "expect_column_values_to_not_match_regex",
    "expect_column_value_lengths_to_be_between",
    "expect_column_values_to_be_unique",
}
