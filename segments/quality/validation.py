"""Running a suite on a warehouse relation, and finding the rows that fail its expectations.

Only the columns the suite uses are read, via Arrow, into small pandas batches: GX 1.24's SQL datasource does
not work over DuckDB. :func:`validate` gives GX's verdict with exact row counts; :func:`unexpected_rows_sql`
gives the same verdict per row, in SQL, for the quarantine.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import duckdb

from segments.errors import QualityError
from segments.quality.suites import Expectation, Outcome, Suite, SuiteReport
from segments.warehouse import quote_ident

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
    """Validate ``suite`` (or some of its ``expectations``) on ``relation`` with exact row counts.

    The warehouse reduces each expected column to a small frame of representative values with the number of
    rows each stands for (one GROUP BY, see ``_frame_sql``); Great Expectations judges the frame; the counts
    turn its verdict back into rows. ``mostly`` is applied to rows, not to frame rows.
    """
    import great_expectations as gx  # heavy import (~3 s): only when a suite actually runs
    from great_expectations.data_context.types.base import ProgressBarsConfig

    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    relation = relation or suite.table
    expectations = suite.expectations if expectations is None else expectations
    rows = _query(con, suite, f"select count(*) from {relation}").fetchone()[0]
    if not expectations:
        return SuiteReport(suite=suite, rows=rows, outcomes=[])

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    asset = context.data_sources.add_pandas(suite.name).add_dataframe_asset(suite.table)
    batch_definition = asset.add_batch_definition_whole_dataframe("value_counts")
    frames: dict[str, Any] = {}
    outcomes = []
    for expectation in expectations:
        kind, column = expectation.type, expectation.column
        kwargs = dict(expectation.kwargs)
        unique = kind == "expect_column_values_to_be_unique"
        mostly = kwargs.pop("mostly", 1.0)
        query = _frame_sql(kind, column, kwargs, source_sql(suite, relation, columns=[column]))
        params = {"now": now} if "$now" in query else None
        if query not in frames:
            frames[query] = _query(con, suite, query, params).fetch_arrow_table().to_pandas()
        frame = frames[query]
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
        )
    return SuiteReport(suite=suite, rows=rows, outcomes=outcomes)


def unexpected_rows_sql(
    suite: Suite, expectation: Expectation, relation: str, *, lineage: tuple[str, ...]
) -> str:
    """The rows of ``relation`` that fail ``expectation``, with ``lineage`` columns and the failing value
    (as ``value``). Same verdict as GX per row; for uniqueness, the first occurrence (by ``_source_row``) is
    kept and later copies fail, so one copy of a duplicated id still flows downstream."""
    c = quote_ident(expectation.column)
    kwargs = expectation.kwargs
    kind = expectation.type
    if kind == "expect_column_values_to_not_be_null":
        predicate = f"{c} is null"
    elif kind in ("expect_column_values_to_be_in_set", "expect_column_values_to_not_be_in_set"):
        values = ", ".join(_sql_literal(v) for v in kwargs.get("value_set", []))
        negate = "not " if kind == "expect_column_values_to_be_in_set" else ""
        predicate = f"{c} is not null and {negate}({c} in ({values or 'null'}))"
    elif kind == "expect_column_values_to_be_between":
        parts = []
        if kwargs.get("min_value") is not None:
            parts.append(
                f"{c} {'<=' if kwargs.get('strict_min') else '<'} {_sql_literal(kwargs['min_value'])}"
            )
        if kwargs.get("max_value") is not None:
            parts.append(
                f"{c} {'>=' if kwargs.get('strict_max') else '>'} {_sql_literal(kwargs['max_value'])}"
            )
        predicate = " or ".join(parts) or "false"
    elif kind in ("expect_column_values_to_match_regex", "expect_column_values_to_not_match_regex"):
        negate = "not " if kind == "expect_column_values_to_match_regex" else ""
        predicate = f"{c} is not null and {negate}regexp_matches({c}, {_sql_literal(kwargs['regex'])})"
    elif kind == "expect_column_value_lengths_to_be_between":
        parts = [f"length({c}) < {int(kwargs['min_value'])}"] if kwargs.get("min_value") is not None else []
        if kwargs.get("max_value") is not None:
            parts.append(f"length({c}) > {int(kwargs['max_value'])}")
        predicate = " or ".join(parts) or "false"
    elif kind == "expect_column_values_to_be_unique":
        predicate = f"{c} is not null and row_number() over (partition by {c} order by _source_row) > 1"
        return (
            f"select * exclude (__later) from (select *, {c} as value, ({predicate}) as __later "
            f"from ({source_sql(suite, relation, columns=[expectation.column], extra=lineage)})) where __later"
        )
    else:  # load_suite only admits MAP_EXPECTATIONS
        raise QualityError(f"{suite.path.name}: no row predicate for {kind}")
    source = source_sql(suite, relation, columns=[expectation.column], extra=lineage)
    return f"select *, {c} as value from ({source}) where ({predicate})"


def _sql_literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if value is None:
        return "null"
    return "'" + str(value).replace("'", "''") + "'"


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
