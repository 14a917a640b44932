"""What ``segments quarantine`` and ``segments quality`` share: the run they read, their options, JSON.

The run is the latest one with quality results unless ``--run`` names one (a unique prefix of its id is
enough). The warehouse is opened read-only, so these commands work while nobody writes it.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from segments.contract.tables import readable
from segments.errors import SegmentsError
from segments.quality.gate import QUARANTINE_TABLE
from segments.quality.results import RESULTS_TABLE
from segments.settings import Settings
from segments.warehouse import open_for_reading, table_exists


def run_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--run", metavar="RUN_ID", help="run id or a unique prefix (default: the latest checked run)"
    )


def common_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--warehouse", type=Path, help="DuckDB warehouse file (default data/warehouse.duckdb)"
    )
    parser.add_argument("--format", choices=["table", "json"], default="table")


@dataclass(frozen=True)
class RunInfo:
    run_id: str
    as_of: date | None
    status: str | None  # None: not in segments.runs (still running, or stopped before it was recorded)
    failure: str | None
    accept_drift: bool | None
    accepted_drift: str | None

    def header(self) -> str:
        if self.status is None:
            return f"run {self.run_id} (not in segments.runs)"
        facts = [f"as of {self.as_of}" if self.as_of else None, self.status]
        if self.accept_drift:
            facts.append("--accept-drift")
        text = f"run {self.run_id} ({', '.join(f for f in facts if f)})"
        return text + (f": {self.failure}" if self.failure else "")

    def as_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "status": self.status,
            "failure": self.failure,
            "accept_drift": self.accept_drift,
            "accepted_drift": self.accepted_drift,
        }


def open_warehouse(args: argparse.Namespace):
    return open_for_reading(Settings.from_env(), args.warehouse)


def runs_relation(con) -> str:
    return readable(con, "segments.runs")


def run_times(con) -> str:
    """A query of (run_id, seen): every run the warehouse knows of, with its latest timestamp."""
    parts = [
        f"select run_id, coalesce(finished_at, published_at, started_at) as seen from {runs_relation(con)}"
    ]
    if table_exists(con, RESULTS_TABLE):
        parts.append(f"select run_id, checked_at from {RESULTS_TABLE}")
    if table_exists(con, QUARANTINE_TABLE):
        parts.append(f"select run_id, quarantined_at from {QUARANTINE_TABLE}")
    return f"select run_id, max(seen) as seen from ({' union all '.join(parts)}) group by run_id"


def resolve_run(con, given: str | None, *, default_from: list[str], missing: str) -> str:
    """``given`` (an id or a unique prefix of one), else the latest run in the first of ``default_from``
    that has rows; ``missing``: the error when there is none."""
    if given is None:
        for table, column in (t.split(":") for t in default_from):
            if table_exists(con, table):
                row = con.execute(
                    f"select run_id from {table} order by {column} desc nulls last, run_id desc limit 1"
                ).fetchone()
                if row:
                    return row[0]
        raise SegmentsError(missing)
    known = con.execute(f"select run_id from ({run_times(con)}) order by seen desc nulls last").fetchall()
    ids = [r[0] for r in known]
    if given in ids:
        return given
    matches = [r for r in ids if r.startswith(given)]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise SegmentsError(
            f"run {given!r} is ambiguous: {', '.join(matches[:5])}{', ...' if len(matches) > 5 else ''}"
        )
    latest = f" (latest: {', '.join(ids[:3])})" if ids else ""
    raise SegmentsError(f"unknown run {given!r}: not in segments.runs, quality results or quarantine{latest}")


def run_info(con, run_id: str) -> RunInfo:
    row = con.execute(
        f"select as_of, status, failure, accept_drift, accepted_drift from {runs_relation(con)} where run_id = ?",
        [run_id],
    ).fetchone()
    return RunInfo(run_id, *row) if row else RunInfo(run_id, None, None, None, None, None)


# --- output --------------------------------------------------------------------------------------------------


def print_json(value: object) -> None:
    print(json.dumps(value, indent=2, default=_json_default))


def _json_default(value: object) -> str:
    """Dates and timestamps as ISO text; anything else JSON lacks (Decimal, ...) as its text."""
    return value.isoformat() if isinstance(value, datetime | date) else str(value)
