"""Running a suite on a warehouse relation, and finding the rows that fail its expectations.

Only the columns the suite uses are read, via Arrow, into small pandas frames: GX 1.24's SQL datasource does not
work over DuckDB. Each frame row stands for a class of table rows that must share GX's verdict (see
:func:`_frame`): one per distinct value, or fewer where the expectation needs fewer. :func:`judge` gives GX's
verdict on each frame row with exact row counts, and keeps the keys of the classes GX failed;
:func:`unexpected_rows` finds the table rows of those classes, and nothing else, for the quarantine.

There is one judge: no expectation is re-implemented in SQL. DuckDB's regexes (RE2) are not Python's ``re``
(``\\s``, ``\\d``, ``\\w`` are ASCII in one and Unicode in the other) and pandas picks either engine per pattern
and data, so a second implementation would disagree with GX exactly on the rows people then ask about.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import duckdb

from segments.engines import DatabaseError
from segments.errors import QualityError
from segments.quality.suites import Expectation, Outcome, Suite, SuiteReport
from segments.warehouse import quote_ident

if TYPE_CHECKING:
    import pyarrow as pa

ROWS = "__rows"  # how many table rows a frame row stands for
COUNT = "__count"  # uniqueness: how often the value occurs
UNIQUE = "expect_column_values_to_be_unique"


@dataclass(frozen=True)
class Frame:
    """What GX judges for one expectation, and how a table row finds the frame row that stands for it.

    ``keys`` maps each key column of the frame to the SQL that computes the same value from a row of the source
    (``where`` picks the rows the frame stands for): a table row shares the verdict of the frame row with
    equal keys (NULL equal to NULL).
    """

    sql: str
    keys: dict[str, str]
    where: str | None = None


@dataclass(frozen=True)
class Verdict:
    """GX's verdict on one expectation: the outcome, and the keys of the frame rows it found unexpected."""

    expectation: Expectation
    outcome: Outcome
    frame: Frame
    unexpected: pa.Table = field(repr=False)  # key columns __key0.., one row per failed frame row


def _frame(kind: str, column: str, kwargs: dict[str, Any], source: str, *, floating: bool = False) -> Frame:
    """The smallest frame on which GX's verdict per row equals its verdict on the table.

    Rows whose verdict must be the same share one representative value (``any_value``): for not-null checks
    only NULL-ness matters, for numeric bounds only which side of each bound (in a floating-point column NaN,
    missing to pandas but a number to DuckDB, is a class of its own); values seen once are all equally unique.
    Everything else is judged per distinct value, GX seeing each value as the warehouse holds it.
    """
    c = quote_ident(column)
    bounds = (kwargs.get("min_value"), kwargs.get("max_value"))
    numeric = all(b is None or (isinstance(b, int | float) and not isinstance(b, bool)) for b in bounds)
    missing = [f"({c} is null)", f"isnan({c})"] if floating else [f"({c} is null)"]  # NaN: missing to pandas
    if kind == "expect_column_values_to_not_be_null":
        keys = missing
    elif kind == "expect_column_values_to_be_between" and numeric:
        keys = [*missing]
        if bounds[0] is not None:
            keys.append(f"({c} {'<=' if kwargs.get('strict_min') else '<'} {bounds[0]!r})")
        if bounds[1] is not None:
            keys.append(f"({c} {'>=' if kwargs.get('strict_max') else '>'} {bounds[1]!r})")
    elif kind == UNIQUE:  # a value's key is itself if it occurs more than once; all others share NULL
        return Frame(
            sql=f"""with counts as (select {c}, count(*) as n from ({source}) where {c} is not null group by {c})
            select {c}, n as {COUNT}, n as {ROWS}, {c} as __key0 from counts where n > 1
            union all
            select any_value({c}), 1, count(*), null from counts where n = 1 having count(*) > 0""",
            keys={"__key0": f"case when count(*) over (partition by {c}) > 1 then {c} end"},
            where=f"{c} is not null",
        )
    else:
        return Frame(sql=f"select {c}, count(*) as {ROWS} from ({source}) group by {c}", keys={column: c})
    named = {f"__key{i}": key for i, key in enumerate(keys)}
    select = ", ".join(f"{key} as {name}" for name, key in named.items())
    return Frame(
        sql=f"select any_value({c}) as {c}, count(*) as {ROWS}, {select} from ({source}) group by {', '.join(keys)}",
        keys=named,
    )


def source_sql(
    suite: Suite,
    relation: str | None = None,
    *,
    columns: list[str] | None = None,
    extra: tuple[str, ...] = (),
) -> str:
    """``columns`` (default: all the suite reads) over ``relation`` (default: the table it guards), derived
    columns computed. Only what a query needs: a derived column may be a semi-join over millions of rows."""
    wanted = list(dict.fromkeys([*extra, *(suite.columns if columns is None else columns)]))
    select = [
        f"({suite.derived_columns[c]}) as {quote_ident(c)}" if c in suite.derived_columns else quote_ident(c)
        for c in wanted
    ]
    return f"select {', '.join(select)} from {relation or suite.table}"


def validate(
    con: duckdb.DuckDBPyConnection,
    suite: Suite,
    *,
    now: datetime,
    relation: str | None = None,
    expectations: list[Expectation] | None = None,
) -> SuiteReport:
    """Validate ``suite`` (or some of its ``expectations``) on ``relation`` with exact row counts."""
    rows, verdicts = judge(con, suite, now=now, relation=relation, expectations=expectations)
    return SuiteReport(suite=suite, rows=rows, outcomes=[v.outcome for v in verdicts])


def judge(
    con: duckdb.DuckDBPyConnection,
    suite: Suite,
    *,
    now: datetime,
    relation: str | None = None,
    expectations: list[Expectation] | None = None,
) -> tuple[int, list[Verdict]]:
    """The number of rows of ``relation`` and GX's verdict on each of ``expectations`` (default: the suite's).

    The warehouse reduces each expected column to a small frame of representative values with the number of
    rows each stands for (one GROUP BY, see :func:`_frame`); Great Expectations judges the frame; the counts
    turn its verdict back into rows. ``mostly`` is applied to rows, not to frame rows.
    """
    import great_expectations as gx  # heavy import (~3 s): only when a suite actually runs
    import pyarrow as pa  # with GX: only when a suite runs
    from great_expectations.data_context.types.base import ProgressBarsConfig

    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    relation = relation or suite.table
    expectations = suite.expectations if expectations is None else expectations
    rows = _query(con, suite, f"select count(*) from {relation}").fetchone()[0]
    if not expectations:
        return rows, []

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    asset = context.data_sources.add_pandas(suite.name).add_dataframe_asset(suite.table)
    batch_definition = asset.add_batch_definition_whole_dataframe("value_counts")
    columns = list(dict.fromkeys(e.column for e in expectations))
    probe = f"select * from ({source_sql(suite, relation, columns=columns)}) limit 0"  # column types, no rows
    schema = _query(con, suite, probe, {"now": now} if "$now" in probe else None).to_arrow_table().schema
    floating = {f.name for f in schema if pa.types.is_floating(f.type)}
    frames: dict[str, tuple[pa.Table, Any]] = {}
    verdicts = []
    for expectation in expectations:
        kind, column = expectation.type, expectation.column
        kwargs = dict(expectation.kwargs)
        unique = kind == UNIQUE
        mostly = kwargs.pop("mostly", 1.0)
        source = source_sql(suite, relation, columns=[column])
        frame_spec = _frame(kind, column, kwargs, source, floating=column in floating)
        query = frame_spec.sql
        if query not in frames:
            table = _query(con, suite, query, {"now": now} if "$now" in query else None).to_arrow_table()
            frames[query] = (table, table.to_pandas())  # positions in both are GX's index labels
        table, frame = frames[query]
        if unique:  # judged on each value's multiplicity
            kind, kwargs = "expect_column_values_to_be_between", {"column": COUNT, "max_value": 1}
        gx_suite = gx.ExpectationSuite(
            name=f"{suite.name}_{expectation.number}", expectations=[{"type": kind, "kwargs": kwargs}]
        )
        result = batch_definition.get_batch(batch_parameters={"dataframe": frame}).validate(
            gx_suite, result_format="COMPLETE", expectation_parameters={"now": now}
        )
        item = result.results[0]
        raised = item.exception_info.get("raised_exception") if item.exception_info else False
        index = [] if raised else list((item.result or {}).get("unexpected_index_list") or [])
        unexpected = int(frame.loc[index, ROWS].sum()) if index else 0
        counted = (
            int(frame[ROWS].sum())
            if kind == "expect_column_values_to_not_be_null" or unique
            else int(frame.loc[frame[column].notna(), ROWS].sum())
        )
        success = not raised and (unexpected == 0 or (counted > 0 and 1 - unexpected / counted >= mostly))
        outcome = Outcome(
            expectation=expectation.type,
            column=column,
            severity=expectation.severity,
            success=success,
            element_count=rows,
            unexpected_count=unexpected,
            examples=[_plain(v) for v in frame.loc[index[:5], column]] if index else [],
            error=item.exception_info.get("exception_message") if raised else None,
            kwargs=dict(expectation.kwargs),
            observed_value=f"{100 * unexpected / rows:.2f} % unexpected" if rows else None,
            # a check that could not run guards nothing: it blocks unless it only warns
            blocks=not success
            and (expectation.severity == "block" or (bool(raised) and expectation.severity != "warn")),
        )
        # the failed frame rows' keys as the warehouse holds them (not as pandas converted them)
        keys = table.select(list(frame_spec.keys)).take(pa.array(index, type=pa.int64()))
        keys = keys.rename_columns([f"__key{i}" for i in range(len(frame_spec.keys))])
        verdicts.append(Verdict(expectation, outcome, frame_spec, keys))
    return rows, verdicts


@contextmanager
def unexpected_rows(
    con: duckdb.DuckDBPyConnection, suite: Suite, verdict: Verdict, relation: str, *, lineage: tuple[str, ...]
) -> Iterator[str]:
    """A query for the rows of ``relation`` that GX failed in ``verdict``, with ``lineage`` columns and the
    failing value (as ``value``), valid inside the ``with`` block: the rows whose keys equal those of a failed
    frame row, the keys read from a registered table however many there are (never literals in the SQL).

    For uniqueness, the first occurrence (by ``_source_row``) is kept and later copies fail, so one copy of a
    duplicated id still flows downstream: GX counts every copy, the quarantine all but the first."""
    column = verdict.expectation.column
    frame = verdict.frame
    name = f"__unexpected_keys_{verdict.expectation.number}"
    keys = ", ".join(f"{key} as __key{i}" for i, key in enumerate(frame.keys.values()))
    keyed = (
        f"select *, {quote_ident(column)} as value, {keys} "
        f"from ({source_sql(suite, relation, columns=[column], extra=lineage)})"
        + (f" where {frame.where}" if frame.where else "")
    )
    on = " and ".join(f"r.__key{i} is not distinct from u.__key{i}" for i in range(len(frame.keys)))
    failing = f"select r.* from ({keyed}) r semi join {name} u on {on}"
    if verdict.expectation.type == UNIQUE:
        failing = f"select * from ({failing}) qualify row_number() over (partition by value order by _source_row) > 1"
    con.register(name, verdict.unexpected)
    try:
        yield failing
    finally:
        con.unregister(name)


def _query(con: duckdb.DuckDBPyConnection, suite: Suite, sql: str, params: dict | None = None):
    try:
        return con.execute(sql, params) if params else con.execute(sql)
    except DatabaseError as exc:
        raise QualityError(f"{suite.path.name}: cannot read {suite.table}: {exc}") from exc


def _plain(value: Any) -> Any:
    """JSON-friendly example values for metadata."""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    return value
