"""The ``segments`` command as installed: the library's commands (``segments.cli``) plus ``run``, the one
command that needs Dagster. Runs the whole nightly job once, in process, recorded in the Dagster instance
that ``make ui`` shows."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from segments.cli import main as segments_main
from segments.cli.arguments import existing_folder, iso_date
from segments.cli.common import progress
from segments.settings import TARGETS, Settings


def main(argv: list[str] | None = None) -> int:
    return segments_main(argv, extra_commands=[add_run_command])


def add_run_command(commands) -> None:
    run = commands.add_parser("run", help="run the whole nightly job once, in process")
    run.add_argument("--landing", type=Path, help="landing folder (default data/landing)")
    run.add_argument("--warehouse", type=Path, help="DuckDB warehouse file (default data/warehouse.duckdb)")
    run.add_argument("--rules", type=existing_folder, help="rule files folder (default segment_rules/)")
    run.add_argument(
        "--published",
        type=Path,
        help="folder of the read-only snapshot tools read (default: published/ beside the warehouse)",
    )
    run.add_argument(
        "--reports", type=Path, help="folder of the run reports (default: reports/ beside the warehouse)"
    )
    run.add_argument("--as-of", type=iso_date, help="YYYY-MM-DD (default today)")
    run.add_argument(
        "--target",
        choices=TARGETS,
        help="warehouse engine (default SEGMENTS_TARGET, else duckdb); postgres reads SEGMENTS_POSTGRES_DSN",
    )
    run.add_argument(
        "--accept-drift",
        action="store_true",
        help="publish even though a load anomaly or a segment-size drift would block it (recorded in "
        "segments.runs); freshness and data errors still block",
    )
    run.set_defaults(handler=_run)


def _apply_overrides(args: argparse.Namespace) -> Settings:
    """Command-line flags become the environment, so Dagster steps and the dbt subprocess see them too."""
    overrides = {
        "SEGMENTS_LANDING_DIR": args.landing,
        "SEGMENTS_WAREHOUSE": args.warehouse,
        "SEGMENTS_RULES_DIR": args.rules,
        "SEGMENTS_PUBLISHED_DIR": args.published,
        "SEGMENTS_REPORTS_DIR": args.reports,
        "SEGMENTS_AS_OF": args.as_of,
        "SEGMENTS_TARGET": args.target,
    }
    for name, value in overrides.items():
        if value is not None:
            os.environ[name] = str(Path(value).resolve()) if isinstance(value, Path) else str(value)
    settings = Settings.from_env()
    settings.export_to_environ()
    return settings


def _run(args: argparse.Namespace) -> int:
    settings = _apply_overrides(args)
    as_of = settings.resolve_as_of()
    # imported here: Dagster, dbt and GX cost seconds to import, which the other commands do not pay
    from orchestration.runner import run_job, summary

    started = time.monotonic()
    result = run_job(as_of=as_of, progress=progress, accept_drift=args.accept_drift)
    if not result.success:
        print(f"error: {result.failure}", file=sys.stderr)
        return 1
    print(summary(settings, result.run_id, elapsed=time.monotonic() - started))
    return 0


if __name__ == "__main__":
    sys.exit(main())
