"""``segments rules validate|diff|schema``: check rule files, compare two versions on the current features, print
the rule files' JSON Schema."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path

from segments import features
from segments.cli.common import ALLOW_UNPUBLISHED, feature_tables, say_features
from segments.dbt_manifest import ensure_manifest
from segments.errors import SegmentsError
from segments.preflight import edited_used_versions, read_settings_state, read_state
from segments.reports.rule_diff import render
from segments.rules import (
    REQUIRED_SCHEMES,
    challenger_for,
    load_rule_file,
    load_rule_versions,
    rule_file_json_schema,
)
from segments.rules.comparison import diff_rule_sets, with_champion
from segments.rules.lint import lint_on_data, lint_static
from segments.settings import Settings
from segments.warehouse import describe, open_for_reading


def add_parser(commands) -> None:
    rules = commands.add_parser("rules", help="rule files").add_subparsers(
        dest="rules_command", required=True, metavar="COMMAND"
    )
    validate = rules.add_parser(
        "validate",
        help="validate a rule file or every file in a folder, and lint them (shadowed rules, empty segments, ...)",
    )
    validate.add_argument("path", nargs="?", type=Path, help="file or folder (default segment_rules/)")
    validate.add_argument(
        "--warehouse", type=Path, help="lint on this warehouse's features (default: the job's)"
    )
    validate.add_argument("--no-data", action="store_true", help="skip the checks on the current data")
    validate.add_argument("--strict", action="store_true", help="exit 1 on warnings too")
    validate.add_argument("--allow-unpublished", action="store_true", help=ALLOW_UNPUBLISHED)
    validate.set_defaults(handler=_rules_validate)
    diff = rules.add_parser(
        "diff", help="evaluate two rule versions on the current features and compare them (publishes nothing)"
    )
    diff.add_argument("old", help="rule file, or a version in the rules folder")
    diff.add_argument("new", help="rule file, or a version in the rules folder")
    diff.add_argument("--warehouse", type=Path, help="DuckDB warehouse file (default data/warehouse.duckdb)")
    diff.add_argument("--rules", type=Path, help="rule files folder for versions (default segment_rules/)")
    diff.add_argument("--format", choices=["table", "markdown", "json"], default="table")
    diff.add_argument("--allow-unpublished", action="store_true", help=ALLOW_UNPUBLISHED)
    diff.set_defaults(handler=_rules_diff)
    schema = rules.add_parser(
        "schema", help="print the JSON Schema of a rule file (segment_rules/schema.json)"
    )
    schema.set_defaults(handler=_rules_schema)


def _rules_validate(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    if args.warehouse and not args.no_data and not args.warehouse.is_file():
        raise SegmentsError(f"--warehouse: no DuckDB file at {args.warehouse}")
    target = args.path or settings.rules_dir
    columns = features.entity_columns(features.catalogue_from_manifest(ensure_manifest()))
    if target.is_dir():
        rule_sets = load_rule_versions(target, columns, required_schemes=REQUIRED_SCHEMES)
    else:
        rule_sets = [load_rule_file(target, columns, required_schemes=REQUIRED_SCHEMES)]
    today = date.today()
    findings = []
    for rules in rule_sets:
        schemes = ", ".join(
            f"{name} ({s.entity}, {len(s.rules)} rules + default)" for name, s in rules.schemes.items()
        )
        if rules.role == "challenger":
            state = "challenger"
        else:
            state = "future" if rules.effective_from > today else "effective"
        print(
            f"ok  {rules.path.name}: version {rules.version}, {state} from {rules.effective_from}; {schemes}"
        )
        findings += lint_static(rules)
    warehouse = args.warehouse or settings.warehouse
    on_postgres = args.warehouse is None and settings.target == "postgres"
    # a version once used is immutable: the run would refuse an edited one, so say so here (and in the hook)
    state = read_settings_state(settings) if on_postgres else read_state(warehouse)
    edited = edited_used_versions(rule_sets, state.used_versions)
    for problem in edited:
        print(f"error: {problem}", file=sys.stderr)
    if edited:
        return 1
    if args.no_data:
        pass
    elif not on_postgres and not warehouse.exists():
        print(
            f"note: no warehouse at {warehouse}, so nothing was checked on data (run the job, or --warehouse)"
        )
    else:
        with open_for_reading(settings, args.warehouse) as con:
            say_features(con, args)
            sources = features.sources(feature_tables(con, describe(settings, args.warehouse)))
            for rules in rule_sets:
                findings += lint_on_data(con, rules, sources)
    for finding in findings:
        print(finding)
    warnings = sum(f.severity == "warning" for f in findings)
    if findings:
        print(f"{warnings} warning(s), {len(findings) - warnings} note(s)")
    return 1 if args.strict and warnings else 0


def _resolve_rules(ref: str, folder: Path, columns):
    """A rule file path, or a version (or file name) in ``folder``, and the challenger of its experiment
    (None without one), so the diff sees the version as it is published. A challenger comes with the schemes
    of the champion whose experiment uses it, as its arm gets them (and no arms of its own)."""

    path = Path(ref)
    rule_sets = load_rule_versions(folder, columns) if folder.is_dir() else []
    if path.is_file():
        found = load_rule_file(path, columns)
    else:
        matches = [r for r in rule_sets if ref in (r.version, r.path.name, r.path.stem)]
        if not matches:
            known = ", ".join(r.version for r in rule_sets)
            raise SegmentsError(
                f"{ref!r} is neither a rule file nor a version in {folder} (versions: {known})"
            )
        found = matches[0]
    if found.role == "challenger":
        champion = next(
            (r for r in rule_sets if r.experiment and r.experiment.challenger == found.version), None
        )
        if champion is not None:
            print(
                f"note: {found.version} is a challenger; its other schemes are those of champion {champion.version}",
                file=sys.stderr,
            )
            return with_champion(found, champion), None
    return found, challenger_for(rule_sets, found)


def _rules_diff(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    folder = args.rules or settings.rules_dir
    with open_for_reading(settings, args.warehouse) as con:
        say_features(con, args)
        tables = feature_tables(con, describe(settings, args.warehouse))
        columns = features.entity_columns(tables)
        (old, old_challenger), (new, new_challenger) = (
            _resolve_rules(args.old, folder, columns),
            _resolve_rules(args.new, folder, columns),
        )
        as_of = (
            con.execute("select max(as_of_date) from marts.customer_features").fetchone()[0] or date.today()
        )
        diff = diff_rule_sets(
            con,
            old,
            new,
            features.sources(tables),
            as_of=as_of,
            old_challenger=old_challenger,
            new_challenger=new_challenger,
        )
    print(render(diff, args.format), end="")
    return 0


def _rules_schema(args: argparse.Namespace) -> int:

    print(json.dumps(rule_file_json_schema(), indent=2, sort_keys=True))
    return 0
