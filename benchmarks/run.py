"""``make bench``: generate N customers, run the whole job, time every stage, compare with hand-written SQL.

N = BENCH_CUSTOMERS (default 100,000); the job also runs at N/10 so the table shows how time grows with
rows. Data lives under data/bench/<N>/ and is reused when present (generation is timed when it runs).
Not a test: it prints figures, it asserts nothing.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import sys
import time
from datetime import date
from pathlib import Path

import duckdb

AS_OF = date(2026, 11, 1)
STAGES = {  # stage -> how to recognise its Dagster steps
    "ingest": lambda key: key == "raw_tables",
    # the gate on the landing tables (suites, quarantine, anomalies, freshness) and the feature suite's check
    "quality": lambda key: key == "accepted_tables" or "_gx_" in key,
    "transform (dbt)": lambda key: key == "dbt_models",
    "rules": lambda key: key == "segments_staging__customer_segments",
    "publish": lambda key: key == "segments__customer_segments",
    "report": lambda key: key == "reports__run_report",
}


def main() -> int:
    customers = int(os.environ.get("BENCH_CUSTOMERS", "100000"))
    sizes = sorted({max(1000, customers // 10), customers})
    results = {n: bench(n) for n in sizes}
    print_table(results)
    return 0


def bench(customers: int) -> dict:
    from orchestration.demo.generator import generate

    root = Path("data/bench").resolve() / str(customers)
    landing = root / "landing"
    generation = None
    if not (landing / "sales_order_lines.parquet").exists():
        print(f"generating {customers:,} customers …", flush=True)
        started = time.perf_counter()
        generate(landing, customers=customers, seed=7, as_of=AS_OF)
        generation = time.perf_counter() - started
    for stale in ("warehouse.duckdb", "warehouse.duckdb.wal", "published"):
        path = root / stale
        shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
    os.environ.update(
        SEGMENTS_DATA_DIR=str(root),
        SEGMENTS_LANDING_DIR=str(landing),
        SEGMENTS_WAREHOUSE=str(root / "warehouse.duckdb"),
        SEGMENTS_PUBLISHED_DIR=str(root / "published"),
    )
    os.environ.pop("DAGSTER_HOME", None)
    from orchestration.runner import run_job

    print(f"running the job on {customers:,} customers …", flush=True)
    started = time.perf_counter()
    outcome = run_job(as_of=AS_OF)
    total = time.perf_counter() - started
    if not outcome.success:
        sys.exit(f"benchmark run failed: {outcome.failure}")
    con = duckdb.connect(str(root / "warehouse.duckdb"))
    raw_rows = con.execute("select sum(rows) from raw._loads").fetchone()[0]
    line_rows, interaction_rows = (
        con.execute("select count(*) from raw.sales_order_lines").fetchone()[0],
        con.execute("select count(*) from raw.crm_interactions").fetchone()[0],
    )
    assignments = con.execute("select count(*) from segments.customer_segments").fetchone()[0]
    hand = hand_written_seconds(con)
    diff, lint = rule_tool_seconds(con)
    con.close()
    value = value_model_seconds(outcome.run_id)
    stages = {
        name: sum(s for k, s in outcome.step_seconds.items() if match(k)) for name, match in STAGES.items()
    }
    return {
        "generation": generation,
        "stages": stages,
        "total": total,
        "raw_rows": raw_rows,
        "order_lines": line_rows,
        "interactions": interaction_rows,
        "assignments": assignments,
        "hand_sql": hand,
        "rules_diff": diff,
        "value_models": value,
        "rules_lint": lint,
        "peak_self_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "peak_children_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }


def hand_written_seconds(con: duckdb.DuckDBPyConnection) -> float:
    sql = (Path(__file__).with_name("hand_written.sql")).read_text(encoding="utf-8")
    started = time.perf_counter()
    con.execute(sql.replace("{as_of}", AS_OF.isoformat()))
    return time.perf_counter() - started


def value_model_seconds(run_id: str) -> float | None:
    """Time dbt spent in the customer value models (fit + score, inside the dbt stage) for this run."""
    target = Path(__file__).resolve().parents[1] / "dbt_project" / "target"
    runs = sorted(target.glob(f"dbt_models-{run_id[:7]}*/run_results.json"))
    if not runs:
        return None
    results = json.loads(runs[-1].read_text(encoding="utf-8"))["results"]
    return sum(
        r["execution_time"] for r in results if r["unique_id"].split(".")[-1] in ("customer_value", "clv_fit")
    )


def rule_tool_seconds(con: duckdb.DuckDBPyConnection) -> tuple[float, float]:
    """``segments rules diff`` (first vs last champion in segment_rules/) and the data lint of the last."""
    from orchestration import features
    from orchestration.rules import load_rule_versions
    from orchestration.rules.diff import diff_rule_sets
    from orchestration.rules.lint import lint_on_data
    from orchestration.settings import DEFAULT_RULES_DIR

    tables = features.catalogue_from_warehouse(con)
    champions = [
        r
        for r in load_rule_versions(DEFAULT_RULES_DIR, features.entity_columns(tables))
        if r.role == "champion"
    ]
    sources = features.sources(tables)
    started = time.perf_counter()
    diff_rule_sets(con, champions[0], champions[-1], sources, as_of=AS_OF)
    diff = time.perf_counter() - started
    started = time.perf_counter()
    lint_on_data(con, champions[-1], sources)
    return diff, time.perf_counter() - started


def print_table(results: dict[int, dict]) -> None:
    sizes = list(results)
    width = 14
    head = f"{'':<34}" + "".join(f"{n:>{width},}" for n in sizes)
    print("\n" + head + "  customers")
    print("-" * len(head))

    def row(label: str, values: list, fmt: str = "{:.1f}") -> None:
        cells = "".join(f"{(fmt.format(v) if v is not None else '-'):>{width}}" for v in values)
        print(f"{label:<34}{cells}")

    row("raw rows loaded", [results[n]["raw_rows"] for n in sizes], "{:,}")
    row("  of which order lines", [results[n]["order_lines"] for n in sizes], "{:,}")
    row("  of which interactions", [results[n]["interactions"] for n in sizes], "{:,}")
    row("demo data generation (s)", [results[n]["generation"] for n in sizes])
    for stage in STAGES:
        row(f"{stage} (s)", [results[n]["stages"][stage] for n in sizes])
    row("whole run, wall clock (s)", [results[n]["total"] for n in sizes])
    row("whole run, raw rows/s", [results[n]["raw_rows"] / results[n]["total"] for n in sizes], "{:,.0f}")
    row(
        "quality share of run (%)",
        [100 * results[n]["stages"]["quality"] / results[n]["total"] for n in sizes],
    )
    features_rules = [results[n]["stages"]["transform (dbt)"] + results[n]["stages"]["rules"] for n in sizes]
    row("features + rules (s)", features_rules)
    row("same, hand-written SQL (s)", [results[n]["hand_sql"] for n in sizes])
    row(
        "ratio pipeline / hand-written",
        [f / results[n]["hand_sql"] for f, n in zip(features_rules, sizes, strict=True)],
        "{:.2f}x",
    )
    row("value models in dbt: CLV fit+score (s)", [results[n]["value_models"] for n in sizes])
    row("rules diff, first vs last version (s)", [results[n]["rules_diff"] for n in sizes])
    row("rules lint on data (s)", [results[n]["rules_lint"] for n in sizes])
    row("peak RSS, job process (MiB)", [results[n]["peak_self_mib"] for n in sizes], "{:,.0f}")
    row("peak RSS, dbt subprocess (MiB)", [results[n]["peak_children_mib"] for n in sizes], "{:,.0f}")
    if len(sizes) == 2:
        small, large = sizes
        growth = results[large]["total"] / results[small]["total"]
        print(f"\nrun time grew {growth:.1f}x for {large / small:.0f}x the customers")
    print("peak RSS is cumulative over the sizes above (the largest run dominates).")


if __name__ == "__main__":
    sys.exit(main())
