"""Compare each load with the previous one, and say when a source has gone stale.

A load is one landing file's content (``raw._loads``: entity, sha256, loaded_at). Its profile (row count, the
null rate of every column, and the suite's own measures such as revenue) is computed once and kept in
``raw._load_profiles``; each run compares the current load's profile with the load before it. Because an
unchanged file keeps its load, a suspicious load stays suspicious on every run until the file changes or a
person accepts it (``segments run --accept-drift``).

Thresholds live in the suite file's ``meta.anomalies``::

    "anomalies": {"severity": "block", "row_count_change": 0.5, "null_rate_rise": 0.1,
                  "measures": {"revenue": {"sql": "sum(quantity * unit_price)", "max_shift": 0.5}}}

and freshness in ``meta.freshness`` (``{"max_age_hours": 48, "severity": "block"}``): how long ago the
landing file last changed. A nightly export that stopped producing new files is the failure it catches;
business activity (no orders on a Sunday) does not trip it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import duckdb

from segments import formatting
from segments.engines import DatabaseError
from segments.errors import QualityError
from segments.quality.suites import SEVERITIES, Outcome, Suite
from segments.warehouse import quote_ident

PROFILES_TABLE = "raw._load_profiles"
ROWS = "rows"
NULL_RATE = "null_rate:"  # + column


def current_load(con: duckdb.DuckDBPyConnection, entity: str) -> tuple[datetime, str] | None:
    """(loaded_at, sha256) of the load now in ``raw.<entity>``."""
    return con.execute(
        "select loaded_at, sha256 from raw._loads where entity = ? order by loaded_at desc limit 1", [entity]
    ).fetchone()


def profile(
    con: duckdb.DuckDBPyConnection,
    suite: Suite,
    columns: list[str],
    load: tuple[datetime, str] | None,
    *,
    now: datetime,
) -> dict[str, float | None]:
    """The profile of ``load`` (``current_load``), computed in one scan the first time a run sees it."""
    if load is None:
        return {}
    loaded_at, sha256 = load
    stored = con.execute(
        f"select measure, value from {PROFILES_TABLE} where entity = ? and loaded_at = ?",
        [suite.entity, loaded_at],
    ).fetchall()
    if stored:
        return dict(stored)
    measures = {ROWS: "count(*)"}
    measures |= {
        f"{NULL_RATE}{c}": f"(count(*) - count({quote_ident(c)}))::double / nullif(count(*), 0)"
        for c in columns
    }
    for name, spec in _measures(suite).items():
        measures[name] = spec["sql"]
    select = ", ".join(f"({sql})::double" for sql in measures.values())
    try:
        values = con.execute(f"select {select} from {suite.table}").fetchone()
    except DatabaseError as exc:
        raise QualityError(f"{suite.path.name}: cannot profile {suite.table}: {exc}") from exc
    result = dict(zip(measures, values, strict=True))
    con.executemany(
        f"insert into {PROFILES_TABLE} values (?, ?, ?, ?, ?, ?)",
        [[suite.entity, loaded_at, sha256, m, v, now] for m, v in result.items()],
    )
    return result


def previous_profile(
    con: duckdb.DuckDBPyConnection, entity: str, load: tuple[datetime, str] | None
) -> tuple[datetime, dict[str, float]] | None:
    """The profile of the load before ``load`` (None: it is the first load)."""
    if load is None:
        return None
    row = con.execute(
        f"select max(loaded_at) from {PROFILES_TABLE} where entity = ? and loaded_at < ?", [entity, load[0]]
    ).fetchone()
    if row[0] is None:
        return None
    values = con.execute(
        f"select measure, value from {PROFILES_TABLE} where entity = ? and loaded_at = ?", [entity, row[0]]
    ).fetchall()
    return row[0], dict(values)


def compare(suite: Suite, current: dict[str, Any], previous: dict[str, Any] | None) -> list[Outcome]:
    """One outcome per configured comparison; none before there is a previous load to compare with."""
    config = suite.anomalies
    if not config or previous is None or not current:
        return []
    severity = _severity(suite, config.get("severity", "block"), "anomalies")
    rows_now, rows_before = current.get(ROWS) or 0, previous.get(ROWS) or 0
    outcomes = []
    if "row_count_change" in config:
        limit = float(config["row_count_change"])
        change = _relative(rows_now, rows_before)
        outcomes.append(
            _outcome(
                "row_count_change",
                None,
                severity,
                ok=change is None or abs(change) <= limit,
                rows=int(rows_now),
                kwargs={"max_share": limit},
                observed=f"{int(rows_before):,} → {int(rows_now):,} rows ({formatting.change(change, infinite='from zero')})",
                why=f"row count changed by more than {100 * limit:.0f} % since the previous load",
            )
        )
    if "null_rate_rise" in config:
        limit = float(config["null_rate_rise"])
        for measure, now_rate in current.items():
            if not measure.startswith(NULL_RATE) or measure not in previous:
                continue
            before = previous[measure] or 0.0
            rise = (now_rate or 0.0) - before
            if rise <= limit:  # one outcome per column would drown the report: only columns that moved
                continue
            outcomes.append(
                _outcome(
                    "null_rate_rise",
                    measure.removeprefix(NULL_RATE),
                    severity,
                    ok=False,
                    rows=int(rows_now),
                    kwargs={"max_rise": limit},
                    observed=f"null rate {100 * before:.1f} % → {100 * (now_rate or 0):.1f} %",
                    why=f"null rate rose by more than {100 * limit:.0f} points since the previous load",
                )
            )
        if not any(o.expectation == "null_rate_rise" for o in outcomes):
            outcomes.append(
                _outcome(
                    "null_rate_rise", None, severity, ok=True, rows=int(rows_now), kwargs={"max_rise": limit},
                    observed="no column's null rate rose beyond the limit", why="",
                )
            )  # fmt: skip
    for name, spec in _measures(suite).items():
        limit = float(spec["max_shift"])
        shift = _relative(current.get(name), previous.get(name))
        outcomes.append(
            _outcome(
                f"{name}_shift",
                None,
                severity,
                ok=shift is None or abs(shift) <= limit,
                rows=int(rows_now),
                kwargs={"max_shift": limit, "measure": spec["sql"]},
                observed=f"{formatting.number(previous.get(name), missing='n/a')} → "
                f"{formatting.number(current.get(name), missing='n/a')} "
                f"({formatting.change(shift, infinite='from zero')})",
                why=f"{name} moved by more than {100 * limit:.0f} % since the previous load",
            )
        )
    return outcomes


def freshness(suite: Suite, loaded_at: datetime | None, *, now: datetime) -> Outcome | None:
    """Has the landing file changed recently enough? (None: the suite sets no freshness.)"""
    config = suite.freshness
    if not config:
        return None
    severity = _severity(suite, config.get("severity", "block"), "freshness")
    limit = float(config["max_age_hours"])
    age = (now - loaded_at).total_seconds() / 3600 if loaded_at else None
    ok = age is not None and age <= limit
    observed = (
        f"last changed {loaded_at:%Y-%m-%d %H:%M} ({age:.0f} h ago)" if age is not None else "never loaded"
    )
    return _outcome(
        "source_freshness",
        None,
        severity,
        ok=ok,
        rows=0,
        kwargs={"max_age_hours": limit},
        observed=observed,
        why=f"the landing file has not changed for more than {limit:.0f} h (limit): is the export stuck?",
    )


def _outcome(
    name: str,
    column: str | None,
    severity: str,
    *,
    ok: bool,
    rows: int,
    kwargs: dict,
    observed: str,
    why: str,
) -> Outcome:
    return Outcome(
        expectation=name,
        column=column,
        severity=severity,
        success=ok,
        element_count=rows,
        unexpected_count=0,
        kwargs=kwargs,
        observed_value=observed,
        blocks=not ok and severity == "block",
        note=observed if ok else f"{observed}: {why}",
    )


def _measures(suite: Suite) -> dict[str, dict[str, Any]]:
    measures = suite.anomalies.get("measures", {})
    for name, spec in measures.items():
        if "sql" not in spec or "max_shift" not in spec:
            raise QualityError(f"{suite.path}: anomalies measure {name!r} needs 'sql' and 'max_shift'")
    return measures


def _severity(suite: Suite, value: str, where: str) -> str:
    if value not in SEVERITIES or value == "quarantine":
        raise QualityError(f"{suite.path}: {where} severity {value!r}; allowed: block, warn")
    return value


def _relative(now: float | None, before: float | None) -> float | None:
    if now is None or before is None:
        return None
    if before == 0:
        return 0.0 if now == 0 else float("inf")
    return (now - before) / abs(before)
