"""The ``segments`` command: run the nightly job, validate rule files, make demo data."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from datetime import date
from pathlib import Path

from orchestration.errors import SegmentsError
from orchestration.rules import RuleError
from orchestration.settings import Settings, SettingsError, parse_as_of


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except (SegmentsError, SettingsError, RuleError) as exc:  # RuleError: the rule engine is a plain library
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="segments", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run the whole nightly job once, in process")
    run.add_argument("--landing", type=Path, help="landing folder (default data/landing)")
    run.add_argument("--warehouse", type=Path, help="DuckDB warehouse file (default data/warehouse.duckdb)")
    run.add_argument("--rules", type=Path, help="rule files folder (default segment_rules/)")
    run.add_argument("--as-of", type=lambda s: parse_as_of(s, "--as-of"), help="YYYY-MM-DD (default today)")
    run.set_defaults(handler=_run)

    rules = commands.add_parser("rules", help="rule files").add_subparsers(
        dest="rules_command", required=True
    )
    validate = rules.add_parser("validate", help="validate a rule file or every file in a folder")
    validate.add_argument("path", nargs="?", type=Path, help="file or folder (default segment_rules/)")
    validate.set_defaults(handler=_rules_validate)
    schema = rules.add_parser(
        "schema", help="print the JSON Schema of a rule file (segment_rules/schema.json)"
    )
    schema.set_defaults(handler=_rules_schema)

    demo = commands.add_parser("demo-data", help="write seeded, realistic CRM and sales exports")
    demo.add_argument("--customers", type=int, default=10_000)
    demo.add_argument("--out", type=Path, default=Path("data/landing"))
    demo.add_argument("--seed", type=int, default=42)
    demo.add_argument("--as-of", type=lambda s: parse_as_of(s, "--as-of"), help="YYYY-MM-DD (default today)")
    demo.set_defaults(handler=_demo_data)
    return parser


def _apply_overrides(args: argparse.Namespace) -> Settings:
    """Command-line flags become the environment, so Dagster steps and the dbt subprocess see them too."""
    overrides = {
        "SEGMENTS_LANDING_DIR": args.landing,
        "SEGMENTS_WAREHOUSE": args.warehouse,
        "SEGMENTS_RULES_DIR": args.rules,
        "SEGMENTS_AS_OF": args.as_of,
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
    if not settings.landing_dir.is_dir() or not any(settings.landing_dir.iterdir()):
        raise SegmentsError(
            f"no landing files in {settings.landing_dir}: export CRM and sales files there, "
            f"or make demo data with `segments demo-data --out {settings.landing_dir}`"
        )
    from orchestration.runner import run_job, summary

    started = time.monotonic()
    result = run_job(as_of=as_of, progress=_progress)
    if not result.success:
        print(f"error: {result.failure}", file=sys.stderr)
        return 1
    print(summary(settings, result.run_id, elapsed=time.monotonic() - started))
    return 0


def _progress(message: str) -> None:
    # progress goes to stderr: stdout carries the summary (and dbt's own log is kept in data/logs/)
    print(f"  {time.strftime('%H:%M:%S')}  {message}", file=sys.stderr, flush=True)


def _rules_validate(args: argparse.Namespace) -> int:
    from orchestration import features
    from orchestration.dbt_manifest import ensure_manifest
    from orchestration.rules import REQUIRED_SCHEMES, load_rule_file, load_rule_versions

    settings = Settings.from_env()
    target = args.path or settings.rules_dir
    columns = features.flatten(features.catalogue_from_manifest(ensure_manifest()))
    if target.is_dir():
        rule_sets = load_rule_versions(target, columns, required_schemes=REQUIRED_SCHEMES)
    else:
        rule_sets = [load_rule_file(target, columns, required_schemes=REQUIRED_SCHEMES)]
    today = date.today()
    for rules in rule_sets:
        schemes = ", ".join(f"{name} ({len(s.rules)} rules + default)" for name, s in rules.schemes.items())
        state = "future" if rules.effective_from > today else "effective"
        print(
            f"ok  {rules.path.name}: version {rules.version}, {state} from {rules.effective_from}; {schemes}"
        )
    return 0


def _rules_schema(args: argparse.Namespace) -> int:
    import json

    from orchestration.rules import rule_file_json_schema

    print(json.dumps(rule_file_json_schema(), indent=2, sort_keys=True))
    return 0


def _demo_data(args: argparse.Namespace) -> int:
    from orchestration.demo.generator import generate

    if args.customers < 1:
        raise SegmentsError("--customers must be at least 1")
    logging.getLogger().setLevel(logging.WARNING)
    started = time.monotonic()
    counts = generate(
        args.out, customers=args.customers, seed=args.seed, as_of=args.as_of, progress=_progress
    )
    for entity, rows in counts.items():
        print(f"  {entity:<20} {rows:>12,} rows")
    print(f"demo data for {args.customers:,} customers in {args.out} ({time.monotonic() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
