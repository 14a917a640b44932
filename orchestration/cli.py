"""The ``segments`` command: run the nightly job, check and compare rule versions, explain a customer's
segment, write the audit and experiment reports, make demo data."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import time
from datetime import date
from pathlib import Path

from orchestration.cli_arguments import (
    Parser,
    existing_folder,
    iso_date,
    non_negative_int,
    positive_int,
    whole_number,
)
from orchestration.errors import SegmentsError
from orchestration.rules import RuleError
from orchestration.settings import Settings, SettingsError
from orchestration.warehouse import table_exists


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
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


ALLOW_UNPUBLISHED = "evaluate features a run left behind without publishing (the command says which as-of)"


def _parser() -> argparse.ArgumentParser:
    parser = Parser(prog="segments", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

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
        "--accept-drift",
        action="store_true",
        help="publish even though a load anomaly or a segment-size drift would block it (recorded in "
        "segments.runs); freshness and data errors still block",
    )
    run.set_defaults(handler=_run)

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

    explain = commands.add_parser(
        "explain", help="why a customer (or contact) has its segment and next action, today or on a past date"
    )
    explain.add_argument("entity_id", metavar="CUSTOMER_ID", help="customer id (or contact id)")
    explain.add_argument("--as-of", type=iso_date, help="YYYY-MM-DD (default: last run)")
    explain.add_argument(
        "--snapshot", type=Path, help="published snapshot file (default data/published/segments.duckdb)"
    )
    explain.add_argument("--format", choices=["text", "json"], default="text")
    explain.set_defaults(handler=_explain)

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

    runs = commands.add_parser("runs", help="the last runs: status, rule version and fingerprints")
    runs.add_argument(
        "--limit", type=positive_int, default=10, metavar="N", help="at most N runs (default 10)"
    )
    runs.add_argument("--warehouse", type=Path, help="DuckDB warehouse file (default data/warehouse.duckdb)")
    runs.set_defaults(handler=_runs)
    schema = rules.add_parser(
        "schema", help="print the JSON Schema of a rule file (segment_rules/schema.json)"
    )
    schema.set_defaults(handler=_rules_schema)

    from orchestration.value.cli import add_parser as add_clv_parser

    add_clv_parser(commands)

    from orchestration.quality.cli import add_parser as add_quality_parser

    add_quality_parser(commands)

    demo = commands.add_parser("demo-data", help="write seeded, realistic CRM and sales exports")
    demo.add_argument("--customers", type=whole_number, default=10_000, metavar="N")
    demo.add_argument("--out", type=Path, help="landing folder to write (default data/landing)")
    demo.add_argument("--seed", type=non_negative_int, default=42, metavar="S")
    demo.add_argument("--as-of", type=iso_date, help="YYYY-MM-DD (default today)")
    demo.add_argument(
        "--force", action="store_true", help="write even into a folder that holds files other than demo data"
    )
    demo.set_defaults(handler=_demo_data)
    return parser


def _apply_overrides(args: argparse.Namespace) -> Settings:
    """Command-line flags become the environment, so Dagster steps and the dbt subprocess see them too."""
    overrides = {
        "SEGMENTS_LANDING_DIR": args.landing,
        "SEGMENTS_WAREHOUSE": args.warehouse,
        "SEGMENTS_RULES_DIR": args.rules,
        "SEGMENTS_PUBLISHED_DIR": args.published,
        "SEGMENTS_REPORTS_DIR": args.reports,
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
    from orchestration.runner import run_job, summary

    started = time.monotonic()
    result = run_job(as_of=as_of, progress=_progress, accept_drift=args.accept_drift)
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
    from orchestration.preflight import edited_used_versions, read_state
    from orchestration.rules import REQUIRED_SCHEMES, load_rule_file, load_rule_versions
    from orchestration.rules.lint import lint_on_data, lint_static

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
    # a version once used is immutable: the run would refuse an edited one, so say so here (and in the hook)
    edited = (
        edited_used_versions(rule_sets, read_state(warehouse).used_versions) if warehouse.is_file() else []
    )
    for problem in edited:
        print(f"error: {problem}", file=sys.stderr)
    if edited:
        return 1
    if args.no_data:
        pass
    elif not warehouse.exists():
        print(
            f"note: no warehouse at {warehouse}, so nothing was checked on data (run the job, or --warehouse)"
        )
    else:
        with _read_warehouse(warehouse) as con:
            _say_features(con, args)
            sources = features.sources(_feature_tables(con, warehouse))
            for rules in rule_sets:
                findings += lint_on_data(con, rules, sources)
    for finding in findings:
        print(finding)
    warnings = sum(f.severity == "warning" for f in findings)
    if findings:
        print(f"{warnings} warning(s), {len(findings) - warnings} note(s)")
    return 1 if args.strict and warnings else 0


@contextlib.contextmanager
def _read_warehouse(path: Path):
    """The warehouse, read-only; a clear error while the nightly job holds it."""
    import duckdb

    if not path.is_file():
        raise SegmentsError(f"no DuckDB file at {path}: run `segments run` first, or pass its path")
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.IOException as exc:
        if "not a valid DuckDB database file" in str(exc):
            raise SegmentsError(f"{path} is not a DuckDB file: pass the warehouse or the snapshot") from None
        raise SegmentsError(
            f"cannot open {path} read-only ({str(exc).splitlines()[0]}): a job is probably writing it; "
            "try again when it has finished"
        ) from None
    try:
        con.execute("set enable_progress_bar = false")  # stdout carries the output (JSON, markdown)
        yield con
    finally:
        con.close()


def _feature_tables(con, path: Path) -> dict[str, dict[str, str]]:
    """The feature tables' columns, or a clear error for a warehouse the job has not built yet."""
    from orchestration import features

    try:
        return features.catalogue_from_warehouse(con)
    except LookupError as exc:
        raise SegmentsError(f"{path}: {exc}") from None


def _say_features(con, args: argparse.Namespace) -> None:
    """Which run's features a command evaluates (on stderr); refuses a failed run's leftovers."""
    from orchestration import features

    line = features.built_by(con, allow_unpublished=args.allow_unpublished)
    if line:
        print(line, file=sys.stderr)


def _resolve_rules(ref: str, folder: Path, columns):
    """A rule file path, or a version (or file name) in ``folder``, and the challenger of its experiment
    (None without one), so the diff sees the version as it is published. A challenger comes with the schemes
    of the champion whose experiment uses it, as its arm gets them (and no arms of its own)."""
    from orchestration.rules import challenger_for, load_rule_file, load_rule_versions
    from orchestration.rules.diff import with_champion

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
    from orchestration import features
    from orchestration.rules.diff import diff_rule_sets, render

    settings = Settings.from_env()
    warehouse = args.warehouse or settings.warehouse
    folder = args.rules or settings.rules_dir
    with _read_warehouse(warehouse) as con:
        _say_features(con, args)
        tables = _feature_tables(con, warehouse)
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


def _explain(args: argparse.Namespace) -> int:
    from orchestration import features
    from orchestration.dbt_manifest import ensure_manifest
    from orchestration.explain import explain, render

    types = features.entity_columns(features.catalogue_from_manifest(ensure_manifest()))
    snapshot = args.snapshot or Settings.from_env().published_segments
    with _read_warehouse(snapshot) as con:
        if not (table_exists(con, "runs") or table_exists(con, "segments.runs")):
            raise SegmentsError(f"{snapshot} holds no published segments: run `segments run` first")
        explanations = explain(con, args.entity_id, args.as_of, column_types=types)
    print(render(explanations, args.format), end="")
    return 0


def _report_rules(args: argparse.Namespace) -> int:
    from orchestration.reports.rules_audit import write_rules_report

    settings = Settings.from_env(warehouse=args.warehouse)
    out = args.out or settings.reports_dir
    with _read_warehouse(settings.warehouse) as con:
        html, markdown = write_rules_report(con, out)
    print(f"wrote {html}\nwrote {markdown}")
    return 0


def _report_experiment(args: argparse.Namespace) -> int:
    from orchestration.reports.experiment import experiment_report, render

    settings = Settings.from_env()

    with _read_warehouse(args.warehouse or settings.warehouse) as con:
        _say_features(con, args)
        try:
            report = experiment_report(con, args.name)
        except LookupError as exc:
            raise SegmentsError(str(exc).strip("'\"")) from None
    print(render(report, args.format), end="")
    return 0


def _runs(args: argparse.Namespace) -> int:
    from orchestration.guard import unrecorded_runs
    from orchestration.quality.cli import text_table

    settings = Settings.from_env()
    warehouse = args.warehouse or settings.warehouse
    with _read_warehouse(warehouse) as con:
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
        for entry in reversed(unrecorded_runs(warehouse))
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


def _rules_schema(args: argparse.Namespace) -> int:
    import json

    from orchestration.rules import rule_file_json_schema

    print(json.dumps(rule_file_json_schema(), indent=2, sort_keys=True))
    return 0


DEMO_MARKER = ".demo-as-of"  # in a landing folder made by `segments demo-data`: the as-of date of its files


def _demo_data(args: argparse.Namespace) -> int:
    from orchestration.demo.generator import generate

    if args.customers < 1:
        raise SegmentsError("--customers must be at least 1")
    out = args.out or Settings.from_env().landing_dir
    foreign = [] if args.force else _not_demo_data(out)
    if foreign:
        shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
        raise SegmentsError(
            f"{out} holds files that are not demo data of `segments demo-data` ({shown}): demo data would "
            "replace or sit beside them; choose an empty folder with --out, or pass --force to write there anyway"
        )
    logging.getLogger().setLevel(logging.WARNING)
    started = time.monotonic()
    counts = generate(out, customers=args.customers, seed=args.seed, as_of=args.as_of, progress=_progress)
    # Demo exports are as of a day, like a nightly export: `make run` makes new ones when the day has passed
    # (yesterday's files would rightly trip the freshness gate a few nights later).
    (out / DEMO_MARKER).write_text(f"{(args.as_of or date.today()).isoformat()}\n", encoding="utf-8")
    for entity, rows in counts.items():
        print(f"  {entity:<20} {rows:>12,} rows")
    print(f"demo data for {args.customers:,} customers in {out} ({time.monotonic() - started:.1f} s)")
    return 0


def _not_demo_data(folder: Path) -> list[str]:
    """The entries of ``folder`` that this command did not write: all of them unless its marker is there (a
    real export may use the demo files' names), else those besides the demo files. None in a missing or empty
    folder."""
    from orchestration.demo.writers import file_name
    from orchestration.ingest.schemas import ENTITIES

    if not folder.exists():
        return []
    if not folder.is_dir():
        raise SegmentsError(f"--out {folder} is a file, not a folder")
    entries = sorted(p.name for p in folder.iterdir())
    if DEMO_MARKER not in entries:
        return entries
    own = {DEMO_MARKER, *(file_name(entity) for entity in ENTITIES)}
    return [name for name in entries if name not in own]


if __name__ == "__main__":
    sys.exit(main())
