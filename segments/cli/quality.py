"""``segments quality``: every check of a run (``segments.quality_results``) and where its Data Docs are.

Which run, and the options it shares with ``segments quarantine``: :mod:`segments.cli.checked_runs`.
"""

from __future__ import annotations

import argparse
from typing import Any

from segments.cli.checked_runs import (
    common_options,
    open_warehouse,
    print_json,
    resolve_run,
    run_info,
    run_option,
)
from segments.errors import SegmentsError
from segments.formatting import count, plural, text_table
from segments.quality.results import RESULTS_TABLE
from segments.settings import Settings
from segments.warehouse import table_exists

NO_RESULTS = "no quality results yet: run `segments run` first"


def add_parser(subparsers) -> None:
    """Add ``quality`` to the ``segments`` command's subparsers."""
    quality = subparsers.add_parser(
        "quality", help="a run's quality checks (segments.quality_results) and its Data Docs"
    )
    run_option(quality)
    quality.add_argument("--failed", action="store_true", help="only the checks that failed")
    common_options(quality)
    quality.set_defaults(handler=quality_command)


def quality_command(args: argparse.Namespace) -> int:
    settings = Settings.from_env(warehouse=args.warehouse)
    with open_warehouse(args) as con:
        if not table_exists(con, RESULTS_TABLE):
            raise SegmentsError(NO_RESULTS)
        run_id = resolve_run(con, args.run, default_from=[f"{RESULTS_TABLE}:checked_at"], missing=NO_RESULTS)
        info = run_info(con, run_id)
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
        print_json({"run": info.as_json(), "checks": shown, "data_docs": docs_path})
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


def _short(value: object, limit: int = 40) -> str:
    text = "-" if value is None else " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
