"""``segments runs``: the last runs, those waiting to be recorded first."""

from __future__ import annotations

import argparse
from pathlib import Path

from segments.cli.arguments import positive_int
from segments.formatting import text_table
from segments.guard import unrecorded_runs
from segments.settings import Settings
from segments.warehouse import open_for_reading, table_exists


def add_parser(commands) -> None:
    runs = commands.add_parser("runs", help="the last runs: status, rule version and fingerprints")
    runs.add_argument(
        "--limit", type=positive_int, default=10, metavar="N", help="at most N runs (default 10)"
    )
    runs.add_argument("--warehouse", type=Path, help="DuckDB warehouse file (default data/warehouse.duckdb)")
    runs.set_defaults(handler=_runs)


def _runs(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    with open_for_reading(settings, args.warehouse) as con:
        if not table_exists(con, "segments.runs"):
            print("no runs yet: run `segments run` first")
            return 0
        rows = con.execute(
            """select run_id, as_of, status, rule_version, coalesce(challenger_version, ''),
                      coalesce(output_fingerprint, ''), coalesce(input_fingerprint, ''), coalesce(failure, '')
               from segments.runs order by coalesce(finished_at, published_at, started_at) desc nulls last
               limit ?""",
            [args.limit],
        ).fetchall()
    # runs refused (or failed) while another run held the warehouse: recorded by the next run, shown now
    pending = [
        (entry["run_id"], entry["as_of"], entry["status"], None, "", "", "", entry["reason"])
        for entry in reversed(unrecorded_runs(args.warehouse or settings.warehouse))
    ]
    rows = (pending + rows)[: args.limit]
    if not rows:
        print("no runs yet: run `segments run` first")
        return 0
    table = [
        [run_id, as_of or "-", status or "-", (version + (f"+{challenger}" if challenger else "")) if version else "-",
         out_fp[:12] or "-", in_fp[:12] or "-", failure]
        for run_id, as_of, status, version, challenger, out_fp, in_fp, failure in rows
    ]  # fmt: skip
    print(text_table(["run", "as of", "status", "rules", "output fp", "input fp", "failure"], table))
    return 0
