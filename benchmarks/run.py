"""``make bench``: generate demo data, run the whole job at several sizes, time every stage against the same
work written by hand in DuckDB, and print one table with the targets.

Sizes: BENCH_SIZES (comma-separated customer counts; default 1000,10000,100000,1000000). Every run is a
separate process (so start-up and peak memory are per run, as a scheduled run pays them). Sizes up to
10,000 run a first night and then BENCH_NIGHTS more (default 3) and report the later night with the median
wall clock (what `make run` costs when it runs again: the warehouse, Dagster's run storage and dbt's
partial parse exist; the reference machine's speed varies by a quarter from minute to minute, so one small
run says little); larger sizes report a first run on an empty warehouse.
Data lives under data/bench/<N>/ and is reused when present (generation is timed when it runs).
SEGMENTS_TARGET=postgres (`make bench TARGET=postgres`) runs the same job on PostgreSQL (SEGMENTS_POSTGRES_DSN,
or the local cluster `make` starts), with the same landing files; its warehouse folders are under
data/bench/postgres/<N>/, its results in results-postgres.json; the hand-written comparison is DuckDB's only.
Not a test: it prints figures, it asserts nothing.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path

AS_OF = date(2026, 11, 1)
BENCH_DIR = Path("data/bench")
LATER_NIGHTS_UP_TO = 10_000
HERE = Path(__file__).resolve().parent
STAGES = {  # stage -> how to recognise its Dagster steps
    "ingest": lambda key: key == "raw_tables",
    # the gate on the landing tables (suites, quarantine, anomalies, freshness) and the feature suite's check
    "quality": lambda key: key == "accepted_tables" or "_gx_" in key,
    "transform (dbt)": lambda key: key in ("dbt_models", "run_context"),
    "rules": lambda key: key == "segments_staging__customer_segments",
    "publish": lambda key: key == "segments__customer_segments",
    "report": lambda key: key == "reports__run_report",
}
# hand-written equivalent -> the pipeline stages doing the same work
HAND_WRITTEN = {
    "ingest": ("ingest",),
    "features + rules": ("transform (dbt)", "rules"),
    "publish": ("publish",),
    "report": ("report",),
}


def pipeline_seconds(result: dict, hand_written: str) -> float:
    return sum(result["stages"][stage] for stage in HAND_WRITTEN[hand_written])


def slowdown(result: dict, hand_written: str) -> float | None:
    """How many times longer the pipeline takes than the hand-written equivalent (None: not measured)."""
    if not result.get("hand"):
        return None
    return pipeline_seconds(result, hand_written) / max(result["hand"][hand_written], 1e-3)


# (label, size, value, target, unit): what issue 10 asks of the reference machine
TARGETS = [
    ("`segments run`, 10k customers, later night", 10_000, lambda r: r["process"], 15.0, "s"),
    ("fixed cost: `segments run`, 1k customers, later night", 1_000, lambda r: r["process"], 12.0, "s"),
    ("whole run, 1M customers", 1_000_000, lambda r: r["process"], 90.0, "s"),
    (
        "features + rules vs hand-written SQL, 1M",
        1_000_000,
        lambda r: slowdown(r, "features + rules"),
        1.5,
        "x",
    ),
    ("peak RSS, job process, 1M", 1_000_000, lambda r: r["peak_self_mib"], 4096.0, "MiB"),
    ("peak RSS, dbt subprocess, 1M", 1_000_000, lambda r: r["peak_children_mib"], 4096.0, "MiB"),
]
GROWTH = (100_000, 1_000_000, 11.0)  # whole run at 1M may cost at most 11x the run at 100k


def main() -> int:
    if len(sys.argv) == 4 and sys.argv[1] == "--one":
        one(int(sys.argv[2]), int(sys.argv[3]))
        return 0
    if sys.argv[1:] == ["--print"]:  # the table of the last `make bench` again
        path = _results_path()
        if not path.exists():
            sys.exit(f"{path}: no saved benchmark; run `make bench` first")
        saved = json.loads(path.read_text(encoding="utf-8"))
        print_table({int(n): r for n, r in saved.items()})
        return 0
    sizes = [int(s) for s in os.environ.get("BENCH_SIZES", "1000,10000,100000,1000000").split(",")]
    nights = max(1, int(os.environ.get("BENCH_NIGHTS", "3")))
    results = {}
    for customers in sorted(set(sizes)):
        first = run_one(customers, 1)
        if customers <= LATER_NIGHTS_UP_TO:  # small runs: what a later night costs
            later = sorted((run_one(customers, n) for n in range(2, 2 + nights)), key=lambda r: r["process"])
            results[customers] = {
                **later[len(later) // 2],
                "nights": [round(r["process"], 1) for r in sorted(later, key=lambda r: r["night"])],
            }
        else:
            results[customers] = first
        results[customers]["generation"] = first["generation"]
    _results_path().write_text(json.dumps(results, indent=1), encoding="utf-8")
    print_table(results)
    return 0


def run_one(customers: int, night: int) -> dict:
    """One run in its own process; its wall clock includes interpreter start-up and imports."""
    out = _root(customers) / f"result-night{night}.json"
    out.unlink(missing_ok=True)
    print(f"running the job on {customers:,} customers (night {night}) …", flush=True)
    started = time.time()
    subprocess.run([sys.executable, "-m", "benchmarks.run", "--one", str(customers), str(night)], check=True)
    result = json.loads(out.read_text(encoding="utf-8"))
    # from starting the process to the end of the job: not the demo data generation before it, nor the
    # hand-written timings after it
    process = result["job_finished_at"] - started - (result["generation"] or 0.0)
    return {**result, "process": process, "night": night}


def _target() -> str:
    return os.environ.get("SEGMENTS_TARGET", "").strip().lower() or "duckdb"


def _root(customers: int) -> Path:
    base = BENCH_DIR.resolve()
    return (base / "postgres" if _target() == "postgres" else base) / str(customers)


def _results_path() -> Path:
    return BENCH_DIR / ("results-postgres.json" if _target() == "postgres" else "results.json")


def one(customers: int, night: int) -> None:
    """The child: (generate,) run the job, then time the hand-written equivalents on its warehouse."""
    root = _root(customers)
    landing = BENCH_DIR.resolve() / str(customers) / "landing"  # the same files on every target
    postgres = _target() == "postgres"
    generation = None
    if night == 1:
        if not (landing / "sales_order_lines.parquet").exists():
            from segments.demo.generator import generate

            print(f"generating {customers:,} customers …", flush=True)
            started = time.perf_counter()
            generate(landing, customers=customers, seed=7, as_of=AS_OF)
            generation = time.perf_counter() - started
        for stale in ("warehouse.duckdb", "warehouse.duckdb.wal", "published", "dagster", "reports"):
            path = root / stale
            shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
        if postgres:
            _empty_postgres()
    (root / "dagster").mkdir(parents=True, exist_ok=True)
    (root / "dagster" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n", encoding="utf-8")
    os.environ.update(
        SEGMENTS_DATA_DIR=str(root),
        SEGMENTS_LANDING_DIR=str(landing),
        SEGMENTS_WAREHOUSE=str(root / "warehouse.duckdb"),
        SEGMENTS_PUBLISHED_DIR=str(root / "published"),
        DAGSTER_HOME=str(root / "dagster"),  # run storage kept across nights, as `make run` keeps it
    )
    from orchestration.runner import run_job

    as_of = AS_OF + timedelta(days=night - 1)
    started = time.perf_counter()
    outcome = run_job(as_of=as_of)
    job = time.perf_counter() - started
    job_finished_at = time.time()
    if not outcome.success:
        sys.exit(f"benchmark run failed: {outcome.failure}")
    stages = {
        name: sum(s for k, s in outcome.step_seconds.items() if match(k)) for name, match in STAGES.items()
    }
    peak_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    peak_children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024

    from segments.ingest.schemas import ENTITIES
    from segments.settings import Settings
    from segments.warehouse import connect

    with connect(Settings.from_env()) as con:
        rows = {
            e.name: con.execute(f"select count(*) from {e.table}").fetchone()[0] for e in ENTITIES.values()
        }
        hand = None if postgres else hand_written_seconds(con, landing, root, as_of)
        diff, lint = rule_tool_seconds(con, as_of)
    result = {
        "generation": generation,
        "stages": stages,
        "job": job,
        "job_finished_at": job_finished_at,
        "raw_rows": sum(rows.values()),
        "order_lines": rows["sales_order_lines"],
        "interactions": rows["crm_interactions"],
        "hand": hand,
        "rules_diff": diff,
        "rules_lint": lint,
        "dbt": dbt_seconds(outcome.run_id),
        "peak_self_mib": peak_self,
        "peak_children_mib": peak_children,
    }
    (root / f"result-night{night}.json").write_text(json.dumps(result), encoding="utf-8")


def _empty_postgres() -> None:
    """A first night starts on an empty warehouse: the pipeline's schemas dropped from the database."""
    from segments.settings import Settings
    from segments.warehouse import connect

    with connect(Settings.from_env()) as con:
        for schema in ("raw", "accepted", "pipeline", "staging", "intermediate", "marts", "reference",
                       "segments", "segments_staging"):  # fmt: skip
            con.execute(f"drop schema if exists {schema} cascade")


def hand_written_seconds(con, landing: Path, root: Path, as_of: date) -> dict[str, float]:
    """The same work as each stage, written by hand as plain DuckDB statements (no checks, no provenance)."""
    from segments.ingest.landing import find_landing_file
    from segments.ingest.schemas import ENTITIES
    from segments.warehouse import quote_literal

    timings = {}
    started = time.perf_counter()
    con.execute("create schema if not exists hand_written")
    for entity in ENTITIES.values():
        path = find_landing_file(landing, entity)
        reader = "read_parquet" if path.suffix == ".parquet" else "read_csv"
        con.execute(
            f"create or replace table hand_written.{entity.name} as "
            f"select * from {reader}({quote_literal(str(path))})"
        )
    timings["ingest"] = time.perf_counter() - started
    for stage, sql_file in (
        ("features + rules", "hand_written.sql"),
        ("publish", "hand_written_publish.sql"),
        ("report", "hand_written_report.sql"),
    ):
        snapshot = root / "hand_written_snapshot.duckdb"
        snapshot.unlink(missing_ok=True)
        sql = (HERE / sql_file).read_text(encoding="utf-8")
        sql = sql.replace("{as_of}", as_of.isoformat()).replace("{snapshot}", str(snapshot))
        started = time.perf_counter()
        con.execute(sql)
        timings[stage] = time.perf_counter() - started
        snapshot.unlink(missing_ok=True)
    con.execute("drop schema hand_written cascade")
    return timings


def dbt_seconds(run_id: str) -> dict[str, float] | None:
    """From this run's dbt.log: dbt's own wall clock (first to last log line), the summed node times, and
    the customer value models' share (fit + score)."""
    target = HERE.parent / "dbt_project" / "target"
    logs = sorted(target.glob(f"dbt_models-{run_id[:7]}*/dbt.log"))
    if not logs:
        return None
    stamps, nodes, value = [], 0.0, 0.0
    for line in logs[-1].read_text(encoding="utf-8").splitlines():
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        stamps.append(event["info"]["ts"])
        if event["info"].get("name") == "NodeFinished":
            seconds = event["data"]["run_result"].get("execution_time") or 0.0
            nodes += seconds
            if event["data"]["node_info"]["unique_id"].split(".")[-1] in ("customer_value", "clv_fit"):
                value += seconds
    first, last = (datetime.fromisoformat(t.replace("Z", "+00:00")) for t in (min(stamps), max(stamps)))
    return {"elapsed": (last - first).total_seconds(), "nodes": nodes, "value_models": value}


def rule_tool_seconds(con, as_of: date) -> tuple[float, float]:
    """``segments rules diff`` (first vs last champion in segment_rules/) and the data lint of the last."""
    from segments import features
    from segments.rules import challenger_for, load_rule_versions
    from segments.rules.comparison import diff_rule_sets
    from segments.rules.lint import lint_on_data
    from segments.settings import DEFAULT_RULES_DIR

    tables = features.catalogue_from_warehouse(con)
    rule_sets = load_rule_versions(DEFAULT_RULES_DIR, features.entity_columns(tables))
    champions = [r for r in rule_sets if r.role == "champion"]
    sources = features.sources(tables)
    started = time.perf_counter()
    diff_rule_sets(
        con,
        champions[0],
        champions[-1],
        sources,
        as_of=as_of,
        old_challenger=challenger_for(rule_sets, champions[0]),
        new_challenger=challenger_for(rule_sets, champions[-1]),
    )
    diff = time.perf_counter() - started
    started = time.perf_counter()
    lint_on_data(con, champions[-1], sources)
    return diff, time.perf_counter() - started


def print_table(results: dict[int, dict]) -> None:
    sizes = list(results)
    width = 13
    head = f"{'':<42}" + "".join(f"{n:>{width},}" for n in sizes)
    print("\n" + head + "  customers")
    print("-" * len(head))

    def row(label: str, values: list, fmt: str = "{:.1f}") -> None:
        cells = "".join(f"{(fmt.format(v) if v is not None else '-'):>{width}}" for v in values)
        print(f"{label:<42}{cells}")

    def each(get) -> list:
        return [get(results[n]) for n in sizes]

    row("night reported (1 = first; later: median)", each(lambda r: r["night"]), "{}")
    row("  of the later nights: fastest (s)", each(lambda r: min(r["nights"]) if r.get("nights") else None))
    row("  of the later nights: slowest (s)", each(lambda r: max(r["nights"]) if r.get("nights") else None))
    row("raw rows loaded", each(lambda r: r["raw_rows"]), "{:,}")
    row("  of which order lines", each(lambda r: r["order_lines"]), "{:,}")
    row("  of which interactions", each(lambda r: r["interactions"]), "{:,}")
    for stage in STAGES:
        row(f"{stage} (s)", each(lambda r, s=stage: r["stages"][s]))
    row("job inside the process (s)", each(lambda r: r["job"]))
    row("interpreter start-up before the job (s)", each(lambda r: r["process"] - r["job"]))
    row("whole run, process wall clock (s)", each(lambda r: r["process"]))
    row("whole run, raw rows/s", each(lambda r: r["raw_rows"] / r["process"]), "{:,.0f}")
    print("against the same work hand-written in DuckDB:")
    for name in HAND_WRITTEN:
        row(f"  {name}: pipeline (s)", each(lambda r, n=name: pipeline_seconds(r, n)))
        row(f"  {name}: hand-written (s)", each(lambda r, n=name: (r["hand"] or {}).get(n)))
        row("    ratio", each(lambda r, n=name: slowdown(r, n)), "{:.1f}x")
    row("dbt's own wall clock (s)", each(lambda r: (r["dbt"] or {}).get("elapsed")))
    row("  dbt node times, summed (s)", each(lambda r: (r["dbt"] or {}).get("nodes")))
    row("  of which value models: CLV fit+score (s)", each(lambda r: (r["dbt"] or {}).get("value_models")))
    row("rules diff, first vs last version (s)", each(lambda r: r["rules_diff"]))
    row("rules lint on data (s)", each(lambda r: r["rules_lint"]))
    row("peak RSS, job process (MiB)", each(lambda r: r["peak_self_mib"]), "{:,.0f}")
    row("peak RSS, dbt subprocess (MiB)", each(lambda r: r["peak_children_mib"]), "{:,.0f}")
    row("demo data generation (s)", each(lambda r: r["generation"]))

    print(f"\n{'target':<58}{'measured':>12}{'target':>10}  met")
    for label, size, measure, target, unit in TARGETS:
        if size in results:
            value = measure(results[size])
            if value is None:
                continue
            print(
                f"{label:<58}{value:>10.1f} {unit:<3}{'≤ ' + format(target, 'g'):>8}  {_met(value, target)}"
            )
    small, large, most = GROWTH
    if small in results and large in results:
        growth = results[large]["process"] / results[small]["process"]
        label = f"growth of the whole run, {small:,} → {large:,} customers"
        print(f"{label:<58}{growth:>10.1f} x  {'≤ ' + format(most, 'g'):>8}  {_met(growth, most)}")


def _met(value: float, target: float) -> str:
    return "yes" if value <= target else "NO"


if __name__ == "__main__":
    sys.exit(main())
