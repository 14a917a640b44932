"""``segments quarantine list|show`` and ``segments quality``: what the quality gate set aside and checked.

- ``quarantine list``: the rows a run set aside (``raw._quarantine``), counted per entity, check, column and
  file, largest first; ``--all-runs``: the count of each of the last runs;
- ``quarantine show ENTITY``: the quarantined rows themselves, with file and line, and the row as it was loaded
  (``raw.<entity>``) while that load is still the current one;
- ``quality``: every check of a run (``segments.quality_results``) and where its Data Docs are.

The run is the latest one with quality results unless ``--run`` names one (a unique prefix of its id is
enough). The warehouse is opened read-only, so these commands work while nobody writes it.
"""

from __future__ import annotations

import argparse
import json
import textwrap
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from segments.cli.arguments import positive_int
from segments.errors import SegmentsError
from segments.formatting import count, plural, text_table
from segments.ingest.schemas import ENTITIES
from segments.quality.gate import LINEAGE, QUARANTINE_TABLE
from segments.quality.results import RESULTS_TABLE
from segments.reports import relation
from segments.settings import Settings
from segments.warehouse import open_read_only, quote_ident, table_exists

ALL_RUNS_LIMIT = 20
NO_QUARANTINE = "no quarantine yet: run `segments run` first"
NO_RESULTS = "no quality results yet: run `segments run` first"
REPLACED = "(the load has been replaced since; original row not available)"


def add_parser(subparsers) -> None:
    """Add ``quarantine list|show`` and ``quality`` to the ``segments`` command's subparsers."""
    quarantine = subparsers.add_parser(
        "quarantine", help="rows the quality gate set aside (raw._quarantine)"
    ).add_subparsers(dest="quarantine_command", required=True, metavar="COMMAND")
    listing = quarantine.add_parser(
        "list", help="quarantined rows of a run per entity, check, column and file (largest first)"
    )
    _run_option(listing)
    listing.add_argument(
        "--all-runs", action="store_true", help=f"quarantined rows per run (the last {ALL_RUNS_LIMIT} runs)"
    )
    _common_options(listing)
    listing.set_defaults(handler=quarantine_list)

    show = quarantine.add_parser(
        "show", help="the quarantined rows of an entity: key, check, value, file:line and the original row"
    )
    show.add_argument("entity", metavar="ENTITY", help=f"landing entity ({', '.join(ENTITIES)})")
    _run_option(show)
    show.add_argument("--expectation", metavar="TEXT", help="only checks whose name contains TEXT")
    show.add_argument("--column", metavar="C", help="only checks of this column")
    show.add_argument(
        "--limit", type=positive_int, default=50, metavar="N", help="at most N rows (default 50)"
    )
    _common_options(show)
    show.set_defaults(handler=quarantine_show)

    quality = subparsers.add_parser(
        "quality", help="a run's quality checks (segments.quality_results) and its Data Docs"
    )
    _run_option(quality)
    quality.add_argument("--failed", action="store_true", help="only the checks that failed")
    _common_options(quality)
    quality.set_defaults(handler=quality_command)


def _run_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--run", metavar="RUN_ID", help="run id or a unique prefix (default: the latest checked run)"
    )


def _common_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--warehouse", type=Path, help="DuckDB warehouse file (default data/warehouse.duckdb)"
    )
    parser.add_argument("--format", choices=["table", "json"], default="table")


# --- reading the warehouse --------------------------------------------------------------------------------


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


def _open(args: argparse.Namespace):
    return open_read_only(args.warehouse or Settings.from_env().warehouse)


def _runs_relation(con) -> str:

    v = "null::varchar"
    return relation(
        con,
        "segments.runs",
        {
            "run_id": v, "as_of": "null::date", "status": v, "failure": v, "accept_drift": "null::boolean",
            "accepted_drift": v, "started_at": "null::timestamp", "finished_at": "null::timestamp",
            "published_at": "null::timestamp",
        },
    )  # fmt: skip


def _run_times(con) -> str:
    """A query of (run_id, seen): every run the warehouse knows of, with its latest timestamp."""
    parts = [
        f"select run_id, coalesce(finished_at, published_at, started_at) as seen from {_runs_relation(con)}"
    ]
    if table_exists(con, RESULTS_TABLE):
        parts.append(f"select run_id, checked_at from {RESULTS_TABLE}")
    if table_exists(con, QUARANTINE_TABLE):
        parts.append(f"select run_id, quarantined_at from {QUARANTINE_TABLE}")
    return f"select run_id, max(seen) as seen from ({' union all '.join(parts)}) group by run_id"


def _resolve_run(con, given: str | None, *, default_from: list[str], missing: str) -> str:
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
    known = con.execute(f"select run_id from ({_run_times(con)}) order by seen desc nulls last").fetchall()
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


def _run_info(con, run_id: str) -> RunInfo:
    row = con.execute(
        f"select as_of, status, failure, accept_drift, accepted_drift from {_runs_relation(con)} where run_id = ?",
        [run_id],
    ).fetchone()
    return RunInfo(run_id, *row) if row else RunInfo(run_id, None, None, None, None, None)


def _quarantine_default() -> list[str]:

    return [f"{RESULTS_TABLE}:checked_at", f"{QUARANTINE_TABLE}:quarantined_at"]


# --- quarantine list ----------------------------------------------------------------------------------------


def quarantine_list(args: argparse.Namespace) -> int:

    with _open(args) as con:
        if not table_exists(con, QUARANTINE_TABLE):
            raise SegmentsError(NO_QUARANTINE)
        if args.all_runs:
            if args.run:
                raise SegmentsError("--all-runs and --run exclude each other")
            return _list_all_runs(con, args.format)
        run_id = _resolve_run(con, args.run, default_from=_quarantine_default(), missing=NO_QUARANTINE)
        info = _run_info(con, run_id)
        rows = con.execute(
            f"""select entity, expectation, column_name, source_file, count(*) as n from {QUARANTINE_TABLE}
                where run_id = ? group by all order by n desc, entity, expectation, column_name, source_file""",
            [run_id],
        ).fetchall()
    total = sum(r[4] for r in rows)
    if args.format == "json":
        reasons = [
            {"entity": e, "expectation": x, "column": c, "source_file": f, "rows": n}
            for e, x, c, f, n in rows
        ]
        _print_json({"run": info.as_json(), "quarantined_rows": total, "reasons": reasons})
        return 0
    print(info.header())
    if not rows:
        print("no rows quarantined")
        return 0
    print(f"{plural(total, 'row')} quarantined")
    print(
        text_table(
            ["rows", "entity", "check", "column", "file"],
            [[f"{n:,}", e, x, c, f] for e, x, c, f, n in rows],
            numeric={0},
        )
    )
    return 0


def _list_all_runs(con, fmt: str) -> int:

    rows = con.execute(
        f"""with known as ({_run_times(con)}),
                counts as (select run_id, count(*) as n, count(distinct entity) as entities
                           from {QUARANTINE_TABLE} group by run_id)
            select k.run_id, r.as_of, r.status, coalesce(c.n, 0), coalesce(c.entities, 0), k.seen
            from known k left join counts c using (run_id) left join {_runs_relation(con)} r using (run_id)
            order by k.seen desc nulls last, k.run_id desc limit {ALL_RUNS_LIMIT}"""
    ).fetchall()
    if fmt == "json":
        _print_json(
            [
                {"run_id": run, "as_of": as_of, "status": status, "quarantined_rows": n, "entities": entities}
                for run, as_of, status, n, entities, _ in rows
            ]
        )
        return 0
    if not rows:
        print("no runs yet")
        return 0
    print(
        text_table(
            ["run", "as of", "status", "quarantined", "entities"],
            [[run, as_of or "-", status or "-", f"{n:,}", f"{e:,}"] for run, as_of, status, n, e, _ in rows],
            numeric={3, 4},
        )
    )
    return 0


# --- quarantine show ----------------------------------------------------------------------------------------


def quarantine_show(args: argparse.Namespace) -> int:

    entity = ENTITIES.get(args.entity)
    if entity is None:
        raise SegmentsError(f"unknown entity {args.entity!r}: one of {', '.join(ENTITIES)}")
    with _open(args) as con:
        if not table_exists(con, QUARANTINE_TABLE):
            raise SegmentsError(NO_QUARANTINE)
        run_id = _resolve_run(con, args.run, default_from=_quarantine_default(), missing=NO_QUARANTINE)
        info = _run_info(con, run_id)
        where, params = "q.run_id = ? and q.entity = ?", [run_id, entity.name]
        if args.expectation:
            where += " and contains(lower(q.expectation), lower(?))"
            params.append(args.expectation)
        if args.column:
            where += " and q.column_name = ?"
            params.append(args.column)
        total = con.execute(f"select count(*) from {QUARANTINE_TABLE} q where {where}", params).fetchone()[0]
        columns: list[str] = []
        join, found = "", "false"
        if table_exists(con, entity.table):
            columns = [
                r[0]
                for r in con.execute(
                    """select column_name from information_schema.columns
                       where table_schema = 'raw' and table_name = ? order by ordinal_position""",
                    [entity.name],
                ).fetchall()
                if r[0] not in LINEAGE
            ]
            join = (
                f"left join {entity.table} r on r._loaded_at = q.loaded_at and r._source_row = q.source_row"
            )
            found = "r._source_row is not null"
        values = "".join(f", r.{quote_ident(c)}" for c in columns) if join else ""
        rows = con.execute(
            f"""select q.natural_key, q.expectation, q.column_name, q.offending_value, q.source_file,
                       q.source_line, q.source_row, q.loaded_at, {found}{values}
                from {QUARANTINE_TABLE} q {join} where {where}
                order by q.source_row, q.expectation, q.column_name limit ?""",
            [*params, args.limit],
        ).fetchall()
    shown = [
        {
            "natural_key": key, "expectation": expectation, "column": column, "offending_value": value,
            "source_file": file, "source_line": line, "source_row": row, "loaded_at": loaded_at,
            "original": dict(zip(columns, rest, strict=True)) if original else None,
        }
        for key, expectation, column, value, file, line, row, loaded_at, original, *rest in rows
    ]  # fmt: skip
    if args.format == "json":
        _print_json(
            {"run": info.as_json(), "entity": entity.name, "key": entity.key, "total": total, "rows": shown}
        )
        return 0
    filters = "".join(
        f", {name} {value!r}"
        for name, value in (("check", args.expectation), ("column", args.column))
        if value
    )
    print(info.header())
    if not total:
        print(f"no rows of {entity.name} quarantined{filters}")
        return 0
    more = f"; showing the first {len(shown):,} (--limit)" if len(shown) < total else ""
    print(f"{total:,} quarantined {'row' if total == 1 else 'rows'} of {entity.name}{filters}{more}")
    for r in shown:
        where_ = (
            f"{r['source_file']}:{r['source_line']}"
            if r["source_line"] is not None
            else f"{r['source_file']} row {r['source_row']}"
        )
        print(
            f"{entity.key} {_text(r['natural_key'])}  {r['expectation']}({r['column']}) = "
            f"{_text(r['offending_value'])}  {where_}"
        )
        if r["original"] is None:
            print(f"    {REPLACED}")
        else:
            pairs = ", ".join(f"{c}={_text(v)}" for c, v in r["original"].items())
            print(textwrap.fill(pairs, width=110, initial_indent="    ", subsequent_indent="    "))
    return 0


# --- quality --------------------------------------------------------------------------------------------------


def quality_command(args: argparse.Namespace) -> int:

    settings = Settings.from_env(warehouse=args.warehouse)
    with _open(args) as con:
        if not table_exists(con, RESULTS_TABLE):
            raise SegmentsError(NO_RESULTS)
        run_id = _resolve_run(con, args.run, default_from=[f"{RESULTS_TABLE}:checked_at"], missing=NO_RESULTS)
        info = _run_info(con, run_id)
        rows = con.execute(
            f"""select suite, expectation, column_name, severity, success, observed_value, unexpected_count,
                       element_count, quarantined_rows, blocks, accepted, note
                from {RESULTS_TABLE} where run_id = ? order by checked_at, rowid""",
            [run_id],
        ).fetchall()
    if not rows:
        raise SegmentsError(f"run {run_id} has no quality results")
    checks = [
        {
            "suite": suite, "expectation": expectation, "column": column, "severity": severity,
            "success": success, "observed_value": observed, "unexpected_count": unexpected,
            "element_count": elements, "quarantined_rows": quarantined, "blocks": blocks, "accepted": accepted,
            "note": note,
        }
        for suite, expectation, column, severity, success, observed, unexpected, elements, quarantined, blocks,
        accepted, note in rows
    ]  # fmt: skip
    failed = [c for c in checks if not c["success"]]
    shown = failed if args.failed else checks
    docs = settings.reports_dir / run_id / "data_docs" / "index.html"
    docs_path = str(docs) if docs.is_file() else None
    if args.format == "json":
        _print_json({"run": info.as_json(), "checks": shown, "data_docs": docs_path})
        return 0
    print(info.header())
    quarantined = sum(c["quarantined_rows"] or 0 for c in checks)
    print(
        f"{len(checks):,} checks: {len(checks) - len(failed):,} passed, {len(failed):,} failed"
        + "".join(
            f", {n:,} {label}"
            for label, n in (
                ("blocking", sum(_result(c) == "BLOCKS" for c in failed)),
                ("accepted", sum(_result(c) == "accepted" for c in failed)),
            )
            if n
        )
        + (f"; {plural(quarantined, 'row')} quarantined" if quarantined else "")
    )
    if info.accepted_drift:
        print(f"accepted drift: {info.accepted_drift}")
    if shown:
        print(
            text_table(
                ["suite", "check", "column", "severity", "result", "observed", "unexpected", "quarantined", "note"],
                [
                    [c["suite"], c["expectation"], c["column"] or "-", c["severity"], _result(c),
                     _short(c["observed_value"]), count(c["unexpected_count"], "-"), count(c["quarantined_rows"], "-"),
                     c["note"] or ""]
                    for c in shown
                ],
                numeric={6, 7},
            )
        )  # fmt: skip
    elif args.failed:
        print("no failed checks")
    if docs_path:
        print(f"Data Docs: {docs_path}")
    return 0


def _result(check: dict[str, Any]) -> str:
    if check["success"]:
        return "ok"
    if check["blocks"]:
        return "accepted" if check["accepted"] else "BLOCKS"
    return {"quarantine": "quarantined", "warn": "warning"}.get(check["severity"], "failed")


# --- output helpers -------------------------------------------------------------------------------------------


def _text(value: object) -> str:
    """A value as the reader should see it: NULL, strings quoted (so spaces and empty strings show)."""
    if value is None:
        return "NULL"
    if isinstance(value, str):
        return repr(value)
    return str(value)


def _short(value: object, limit: int = 40) -> str:
    text = "-" if value is None else " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _print_json(value: object) -> None:
    print(json.dumps(value, indent=2, default=_json_default))


def _json_default(value: object) -> str:
    """Dates and timestamps as ISO text; anything else JSON lacks (Decimal, ...) as its text."""
    return value.isoformat() if isinstance(value, datetime | date) else str(value)
