"""Group ``segments``: evaluate the active rule version (write + audit), then publish atomically."""

from dataclasses import astuple
from datetime import datetime

import dagster as dg

from orchestration import features
from orchestration.assets.transform import mart_key
from orchestration.publish import (
    STAGED,
    RuleVersionInfo,
    audit_staged,
    check_rule_version_unchanged,
    ensure_contract,
    next_actions,
    publish,
    segment_sizes,
)
from orchestration.rules import REQUIRED_SCHEMES, active_version, assign_segments, load_rule_versions
from orchestration.settings import Settings
from orchestration.warehouse import connect

STAGED_KEY = dg.AssetKey(["segments_staging", "customer_segments"])
PUBLISHED_KEY = dg.AssetKey(["segments", "customer_segments"])
STAGED_RULES = "segments_staging.rule_version"


@dg.asset(
    key=STAGED_KEY,
    deps=[mart_key(t) for t in features.FEATURE_TABLES],
    group_name="segments",
    description="This run's segment and next action per customer and scheme, not yet visible to readers.",
    kinds={"duckdb"},
    check_specs=[dg.AssetCheckSpec("assignments_complete", asset=STAGED_KEY, blocking=True)],
)
def staged_customer_segments(context: dg.AssetExecutionContext):
    settings = Settings.from_env()
    as_of = settings.resolve_as_of(context.run.tags)
    with connect(settings) as con:
        tables = features.catalogue_from_warehouse(con)
        rule_sets = load_rule_versions(
            settings.rules_dir, features.flatten(tables), required_schemes=REQUIRED_SCHEMES
        )
        rules = active_version(rule_sets, as_of)
        info = RuleVersionInfo(
            version=rules.version,
            sha256=rules.sha256,
            file_name=rules.path.name,
            text=rules.text,
            effective_from=rules.effective_from,
            author=rules.author,
            description=rules.description,
        )
        check_rule_version_unchanged(con, info)
        ensure_contract(con)
        context.log.info(f"rule version {rules.version} ({rules.path.name}) as of {as_of}")
        rows = assign_segments(
            con,
            rules,
            source_sql=features.source_sql(tables),
            target_table=STAGED,
            run_id=context.run_id,
            as_of=as_of,
            assigned_at=datetime.now(),
        )
        con.execute(
            f"create or replace table {STAGED_RULES} as select ?::varchar as rule_version, ?::varchar as rules_sha256, "
            "?::varchar as file_name, ?::varchar as file_text, ?::date as effective_from, ?::varchar as author, "
            "?::varchar as description",
            list(astuple(info)),
        )
        problems = audit_staged(
            con, customers_sql=features.CUSTOMERS_SQL, schemes=list(rules.schemes), run_id=context.run_id
        )
        sizes = sizes_markdown(con, STAGED)
    yield dg.MaterializeResult(
        metadata={
            "dagster/row_count": rows,
            "rule_version": rules.version,
            "rules_file": rules.path.name,
            "rules_sha256": rules.sha256,
            "segment_sizes": dg.MetadataValue.md(sizes),
        }
    )
    yield dg.AssetCheckResult(
        check_name="assignments_complete",
        passed=not problems,
        severity=dg.AssetCheckSeverity.ERROR,
        description="; ".join(problems)
        or "one row per customer and scheme, all with next action and provenance",
    )


@dg.asset(
    key=PUBLISHED_KEY,
    deps=[STAGED_KEY],
    group_name="segments",
    description="Published segments: what marketing tools read. Swapped in atomically with history and changes; "
    "a read-only snapshot file is replaced after each publish.",
    kinds={"duckdb"},
)
def published_customer_segments(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    settings = Settings.from_env()
    as_of = settings.resolve_as_of(context.run.tags)
    with connect(settings) as con:
        row = con.execute(f"select * from {STAGED_RULES}").fetchone()
        rules = RuleVersionInfo(*row)
        result = publish(
            con,
            run_id=context.run_id,
            as_of=as_of,
            rules=rules,
            snapshot_path=settings.published_segments,
            published_at=datetime.now(),
        )
        sizes = sizes_markdown(con, "segments.customer_segments")
        actions = actions_markdown(con, "segments.customer_segments")
    context.log.info(f"published {result.assignments:,} assignments for {result.customers:,} customers")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": result.assignments,
            "customers": result.customers,
            "changes": result.changes,
            "history_entries": result.history_entries,
            "rule_version": rules.version,
            "snapshot": dg.MetadataValue.path(str(result.snapshot)),
            "segment_sizes": dg.MetadataValue.md(sizes),
            "next_actions": dg.MetadataValue.md(actions),
        }
    )


def sizes_markdown(con, table: str) -> str:
    return "| scheme | segment | customers | share % |\n|---|---|---:|---:|\n" + "\n".join(
        f"| {s} | {g} | {n:,} | {p:.1f} |" for s, g, n, p in segment_sizes(con, table)
    )


def actions_markdown(con, table: str) -> str:
    return "| owner | action | channel | customers |\n|---|---|---|---:|\n" + "\n".join(
        f"| {o} | {a} | {c} | {n:,} |" for o, a, c, n in next_actions(con, table)
    )
