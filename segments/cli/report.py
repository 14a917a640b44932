"""``segments report rules|experiment``: the rule audit report and an experiment's arms compared."""

from __future__ import annotations

import argparse
from pathlib import Path

from segments.cli.common import ALLOW_UNPUBLISHED, say_features
from segments.errors import SegmentsError
from segments.reports.experiment import experiment_report, render
from segments.reports.rules_audit import write_rules_report
from segments.settings import Settings
from segments.warehouse import open_for_reading


def add_parser(commands) -> None:
    report = commands.add_parser("report", help="reports for auditors and marketers").add_subparsers(
        dest="report_command", required=True, metavar="COMMAND"
    )
    audit = report.add_parser("rules", help="every rule version: author, dates, sha256, diffs, impact, sizes")
    audit.add_argument("--out", type=Path, help="folder for rules_report.html and .md (default data/reports)")
    audit.add_argument("--warehouse", type=Path, help="DuckDB warehouse file (default data/warehouse.duckdb)")
    audit.set_defaults(handler=_report_rules)
    experiment = report.add_parser("experiment", help="compare the arms of a champion/challenger experiment")
    experiment.add_argument("name")
    experiment.add_argument(
        "--warehouse", type=Path, help="DuckDB warehouse file (default data/warehouse.duckdb)"
    )
    experiment.add_argument("--format", choices=["table", "markdown", "json"], default="table")
    experiment.add_argument("--allow-unpublished", action="store_true", help=ALLOW_UNPUBLISHED)
    experiment.set_defaults(handler=_report_experiment)


def _report_rules(args: argparse.Namespace) -> int:
    settings = Settings.from_env(warehouse=args.warehouse)
    out = args.out or settings.reports_dir
    with open_for_reading(settings, args.warehouse) as con:
        html, markdown = write_rules_report(con, out)
    print(f"wrote {html}\nwrote {markdown}")
    return 0


def _report_experiment(args: argparse.Namespace) -> int:
    settings = Settings.from_env()

    with open_for_reading(settings, args.warehouse) as con:
        say_features(con, args)
        try:
            report = experiment_report(con, args.name)
        except LookupError as exc:
            raise SegmentsError(str(exc).strip("'\"")) from None
    print(render(report, args.format), end="")
    return 0
