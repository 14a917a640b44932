"""The ``segments`` command: run the nightly job, check and compare rule versions, explain a customer's
segment, write the audit and experiment reports, make demo data, grant PostgreSQL readers the published tables."""

# One module per command group; ``run`` is added by orchestration/cli.py (the installed entry point), as it is
# the one command that needs Dagster. The docstring above is the command's --help description.

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from segments.cli import (
    clv,
    demo,
    explain,
    grant,
    migrate,
    postgres,
    quality,
    quarantine,
    report,
    rules,
    runs,
)
from segments.cli.arguments import Parser
from segments.errors import SegmentsError
from segments.rules import RuleError
from segments.settings import SettingsError


def main(argv: list[str] | None = None, *, extra_commands: Sequence[Callable] = ()) -> int:
    """``extra_commands``: functions that add a command to the subparsers (the orchestration layer's `run`)."""
    parser = _parser(extra_commands)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0), or a bad argument (2), which the parser has named in one line
        return exc.code if isinstance(exc.code, int) else 2
    try:
        return args.handler(args)
    except (SegmentsError, SettingsError, RuleError) as exc:  # RuleError: the rule engine is a plain library
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # a file or folder given (or defaulted) that cannot be read or written
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 1


def _parser(extra_commands: Sequence[Callable] = ()) -> argparse.ArgumentParser:
    parser = Parser(prog="segments", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add_command in [*extra_commands, rules.add_parser, explain.add_parser, report.add_parser, runs.add_parser,
                        clv.add_parser, quarantine.add_parser, quality.add_parser, demo.add_parser,
                        migrate.add_parser, postgres.add_parser, grant.add_parser]:  # fmt: skip
        add_command(commands)  # extra_commands: `run`, from orchestration/cli.py (it needs Dagster)
    return parser
