"""Run the Great Expectations suites in ``expectations/`` against warehouse tables.

Each suite file is a plain GX ExpectationSuite (JSON) whose ``meta`` says which table it guards and, where an
expectation needs a value GX cannot see in one table (does the order of this line exist?), a derived
column computed in DuckDB. Only the columns the suite uses are read, via Arrow, into one pandas batch:
GX 1.24's SQL datasource does not work over DuckDB.

Severities are GX's own: ``critical`` blocks publishing, ``warning`` is reported and lets the run go on.
Derived columns may use ``$now`` (the validation time), e.g. for "no future dates".
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from orchestration.errors import QualityError
from orchestration.warehouse import quote_ident

COLUMN_KWARGS = ("column", "column_A", "column_B")
COLUMN_LIST_KWARGS = ("column_list",)


@dataclass(frozen=True)
class Suite:
    name: str
    table: str
    path: Path
    definition: dict[str, Any]
    derived_columns: dict[str, str]

    @property
    def columns(self) -> list[str]:
        """Columns read from the table (derived ones are computed in the same query)."""
        names: list[str] = []
        for expectation in self.definition["expectations"]:
            kwargs = expectation.get("kwargs", {})
            for key in COLUMN_KWARGS:
                if key in kwargs:
                    names.append(kwargs[key])
            for key in COLUMN_LIST_KWARGS:
                names.extend(kwargs.get(key, []))
        return list(dict.fromkeys(n for n in names if n not in self.derived_columns))


@dataclass(frozen=True)
class Outcome:
    expectation: str
    column: str | None
    severity: str  # critical | warning | info
    success: bool
    element_count: int
    unexpected_count: int
    examples: list[Any] = field(default_factory=list)
    error: str | None = None

    def describe(self) -> str:
        target = f"({self.column})" if self.column else ""
        if self.error:
            return f"{self.expectation}{target} could not run: {self.error}"
        return (
            f"{self.expectation}{target}: {self.unexpected_count:,} of {self.element_count:,} rows unexpected"
            + (f", e.g. {', '.join(repr(v) for v in self.examples[:3])}" if self.examples else "")
        )


@dataclass(frozen=True)
class SuiteReport:
    suite: Suite
    rows: int
    outcomes: list[Outcome]

    @property
    def blocking_failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.success and o.severity == "critical"]

    @property
    def warnings(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.success and o.severity != "critical"]

    @property
    def passed(self) -> bool:
        return not self.blocking_failures

    def summary(self) -> str:
        failed = self.blocking_failures + self.warnings
        if not failed:
            return f"{self.suite.name}: all {len(self.outcomes)} expectations passed on {self.rows:,} rows"
        return f"{self.suite.name}: " + "; ".join(
            ("BLOCKING " if o.severity == "critical" else "warning ") + o.describe() for o in failed
        )


def load_suites(folder: Path) -> dict[str, Suite]:
    """Suites by the table they guard (e.g. ``raw.crm_accounts``)."""
    suites: dict[str, Suite] = {}
    for path in sorted(folder.glob("*.json")):
        try:
            definition = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise QualityError(f"{path}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from exc
        meta = definition.get("meta", {})
        table = meta.get("table")
        if not table:
            raise QualityError(f"{path}: suite meta has no 'table' (the warehouse table it guards)")
        if table in suites:
            raise QualityError(f"{path}: table {table} is already guarded by {suites[table].path.name}")
        suites[table] = Suite(
            name=definition.get("name", path.stem),
            table=table,
            path=path,
            definition=definition,
            derived_columns=dict(meta.get("derived_columns", {})),
        )
    return suites


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
ROWS = "__rows"  # how many table rows a frame row stands for
COUNT = "__count"  # uniqueness: how often the value occurs


def _frame_sql(kind: str, column: str, kwargs: dict[str, Any], source: str) -> str:
    """The smallest frame on which GX's verdict per row equals its verdict on the table.

    Rows whose verdict must be the same share one representative value (``any_value``): for not-null checks
    only NULL-ness matters, for numeric bounds only which side of each bound; values seen once are all
    equally unique. Everything else is judged per distinct value.
    """
    c = quote_ident(column)
    if kind == "expect_column_values_to_not_be_null":
        return f"select any_value({c}) as {c}, count(*) as {ROWS} from ({source}) group by ({c} is null)"
    bounds = (kwargs.get("min_value"), kwargs.get("max_value"))
    if kind == "expect_column_values_to_be_between" and all(
        b is None or (isinstance(b, int | float) and not isinstance(b, bool)) for b in bounds
    ):
        keys = [f"({c} is null)"]
        if bounds[0] is not None:
            keys.append(f"({c} {'<=' if kwargs.get('strict_min') else '<'} {bounds[0]!r})")
        if bounds[1] is not None:
            keys.append(f"({c} {'>=' if kwargs.get('strict_max') else '>'} {bounds[1]!r})")
        return f"select any_value({c}) as {c}, count(*) as {ROWS} from ({source}) group by {', '.join(keys)}"
    if kind == "expect_column_values_to_be_unique":
        return f"""with counts as (select {c}, count(*) as n from ({source}) where {c} is not null group by {c})
            select {c}, n as {COUNT}, n as {ROWS} from counts where n > 1
            union all
            select any_value({c}), 1, count(*) from counts where n = 1 having count(*) > 0"""
    return f"select {c}, count(*) as {ROWS} from ({source}) group by {c}"


def validate(con: duckdb.DuckDBPyConnection, suite: Suite, *, now: datetime) -> SuiteReport:
    """Validate ``suite`` on its table with exact row counts, at warehouse speed.

    The warehouse reduces each expected column to a small frame of representative values with the number of
    rows each stands for (one GROUP BY, see ``_frame_sql``); Great Expectations judges the frame; the counts
    turn its verdict back into rows. ``mostly`` is applied to rows, not to frame rows.
    """
    import great_expectations as gx  # heavy import (~3 s): only when a suite actually runs
    from great_expectations.data_context.types.base import ProgressBarsConfig

    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    select = [quote_ident(c) for c in suite.columns]
    select += [f"({sql}) as {quote_ident(name)}" for name, sql in suite.derived_columns.items()]
    source = f"select {', '.join(select)} from {suite.table}"
    params = {"now": now} if "$now" in source else None
    rows = _query(con, suite, f"select count(*) from {suite.table}").fetchone()[0]

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    asset = context.data_sources.add_pandas(suite.name).add_dataframe_asset(suite.table)
    batch_definition = asset.add_batch_definition_whole_dataframe("value_counts")
    frames: dict[str, Any] = {}
    outcomes = []
    for number, expectation in enumerate(suite.definition["expectations"]):
        kind = expectation["type"]
        kwargs = dict(expectation.get("kwargs", {}))
        column = kwargs.get("column")
        severity = str(expectation.get("severity", "critical")).lower()
        if kind not in MAP_EXPECTATIONS or column is None:
            raise QualityError(
                f"{suite.path.name}: expectation {number + 1} ({kind}) is not supported; "
                f"supported: {', '.join(sorted(MAP_EXPECTATIONS))}"
            )
        unique = kind == "expect_column_values_to_be_unique"
        mostly = kwargs.pop("mostly", 1.0)
        query = _frame_sql(kind, column, kwargs, source)
        if query not in frames:
            frames[query] = _query(con, suite, query, params).fetch_arrow_table().to_pandas()
        frame = frames[query]
        if unique:  # judged on each value's multiplicity
            kind, kwargs = "expect_column_values_to_be_between", {"column": COUNT, "max_value": 1}
        gx_suite = gx.ExpectationSuite(
            name=f"{suite.name}_{number}", expectations=[{"type": kind, "kwargs": kwargs}]
        )
        result = batch_definition.get_batch(batch_parameters={"dataframe": frame}).validate(
            gx_suite, result_format="COMPLETE", expectation_parameters={"now": now}
        )
        item = result.results[0]
        raised = item.exception_info.get("raised_exception") if item.exception_info else False
        index = list((item.result or {}).get("unexpected_index_list") or [])
        unexpected = int(frame.loc[index, ROWS].sum()) if index else 0
        counted = (
            int(frame[ROWS].sum())
            if kind == "expect_column_values_to_not_be_null" or unique
            else int(frame.loc[frame[column].notna(), ROWS].sum())
        )
        success = not raised and (unexpected == 0 or (counted > 0 and 1 - unexpected / counted >= mostly))
        outcomes.append(
            Outcome(
                expectation=expectation["type"],
                column=column,
                severity=severity,
                success=success,
                element_count=rows,
                unexpected_count=unexpected,
                examples=[_plain(v) for v in frame.loc[index[:5], column]] if index else [],
                error=item.exception_info.get("exception_message") if raised else None,
            )
        )
    return SuiteReport(suite=suite, rows=rows, outcomes=outcomes)


def _query(con: duckdb.DuckDBPyConnection, suite: Suite, sql: str, params: dict | None = None):
    try:
        return con.execute(sql, params) if params else con.execute(sql)
    except duckdb.Error as exc:
        raise QualityError(f"{suite.path.name}: cannot read {suite.table}: {exc}") from exc


def _plain(value: Any) -> Any:
    """JSON-friendly example values for metadata."""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    return value
