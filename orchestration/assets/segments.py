"""Group ``segments``: evaluate the active rule version (write + audit), then publish atomically."""

from dataclasses import astuple
from datetime import UTC, date, datetime

import dagster as dg
import duckdb

from orchestration.assets.quality import check_result
from orchestration.assets.transform import mart_key
from orchestration.resources import Warehouse
from segments import features
from segments.preflight import claim_folders
from segments.publish.write_audit_publish import (
    STAGED,
    RuleVersionInfo,
    audit_staged,
    check_rule_version_unchanged,
    next_actions,
    publish,
    recorded_rule_version,
    segment_sizes,
)
from segments.quality import results
from segments.quality.drift import DESCRIPTION as DRIFT_DESCRIPTION
from segments.quality.drift import SUITE_NAME as DRIFT_CHECK
from segments.quality.drift import segment_size_drift
from segments.reports import md_table
from segments.rules import (
    REQUIRED_SCHEMES,
    RuleSet,
    active_version,
    assign_segments,
    challenger_for,
    load_rule_versions,
)
from segments.rules.comparison import diff_rule_sets
from segments.settings import Settings

STAGED_KEY = dg.AssetKey(["segments_staging", "customer_segments"])
PUBLISHED_KEY = dg.AssetKey(["segments", "customer_segments"])
STAGED_RULES = (
    "segments_staging.rule_versions"  # every valid version in the folder; used_as: champion/challenger
)
STAGED_IMPACT = "segments_staging.rule_version_impact"  # the champion vs the last published version, if new


def version_info(rule_set: RuleSet) -> RuleVersionInfo:
    return RuleVersionInfo(
        version=rule_set.version,
        sha256=rule_set.sha256,
        file_name=rule_set.path.name,
        text=rule_set.text,
        effective_from=rule_set.effective_from,
        author=rule_set.author,
        description=rule_set.description,
        role=rule_set.role,
    )


@dg.asset(
    key=STAGED_KEY,
    deps=[mart_key(t) for t in features.FEATURE_TABLES],
    group_name="segments",
    description="This run's segment and next action per entity and scheme, not yet visible to readers.",
    kinds={"duckdb"},
    check_specs=[
        dg.AssetCheckSpec("assignments_complete", asset=STAGED_KEY, blocking=True),
        dg.AssetCheckSpec(
            DRIFT_CHECK,
            asset=STAGED_KEY,
            blocking=True,
            description=DRIFT_DESCRIPTION,
        ),
    ],
)
def staged_customer_segments(context: dg.AssetExecutionContext, warehouse: Warehouse):
    settings = warehouse.settings
    as_of = settings.resolve_as_of(context.run.tags)
    with warehouse.connect() as con:
        tables = features.catalogue_from_warehouse(con)
        rule_sets = load_rule_versions(
            settings.rules_dir, features.entity_columns(tables), required_schemes=REQUIRED_SCHEMES
        )
        rules = active_version(rule_sets, as_of)
        challenger = challenger_for(rule_sets, rules)
        for rule_set in rule_sets:  # a version once used is immutable, even when it is no longer in force
            check_rule_version_unchanged(con, version_info(rule_set))
        experiment = f", experiment {rules.experiment.name}" if rules.experiment else ""
        context.log.info(f"rule version {rules.version} ({rules.path.name}) as of {as_of}{experiment}")
        for future in (r for r in rule_sets if r.role == "champion" and r.effective_from > as_of):
            context.log.info(
                f"rule version {future.version} is valid and takes effect on {future.effective_from}"
            )
        sources = features.sources(tables)
        rows = assign_segments(
            con,
            rules,
            source_sql=sources,
            target_table=STAGED,
            run_id=context.run_id,
            as_of=as_of,
            assigned_at=datetime.now(),
            challenger=challenger,
        )
        _stage_versions(con, rule_sets, rules, challenger)
        moved = _stage_impact(con, rules, challenger, rule_sets, sources, as_of)
        problems = audit_staged(
            con,
            expected={name: features.ENTITIES_SQL[s.entity] for name, s in rules.schemes.items()},
            run_id=context.run_id,
        )
        sizes = sizes_markdown(con, STAGED)
        drift = segment_size_drift(
            con,
            STAGED,
            rule_version=rules.version,
            max_share=settings.drift_max_share,
            min_entities=settings.drift_min_entities,
            accept=Settings.accept_drift(context.run.tags),
        )
        results.record(con, context.run_id, [drift], checked_at=datetime.now())
    context.log.info(drift.summary())
    metadata = {
        "dagster/row_count": rows,
        "rule_version": rules.version,
        "rules_file": rules.path.name,
        "rules_sha256": rules.sha256,
        "segment_sizes": dg.MetadataValue.md(sizes),
    }
    if moved is not None:
        metadata["impact_of_new_version"] = dg.MetadataValue.md(moved)
    yield dg.MaterializeResult(metadata=metadata)
    yield dg.AssetCheckResult(
        check_name="assignments_complete",
        passed=not problems,
        severity=dg.AssetCheckSeverity.ERROR,
        description="; ".join(problems)
        or "one row per entity and scheme, all with next action and provenance",
    )
    yield check_result(drift, asset_key=STAGED_KEY, check=DRIFT_CHECK)


def _stage_versions(
    con: duckdb.DuckDBPyConnection, rule_sets: list[RuleSet], rules: RuleSet, challenger: RuleSet | None
) -> None:
    con.execute(
        f"""create or replace table {STAGED_RULES} (rule_version varchar, rules_sha256 varchar,
            file_name varchar, file_text varchar, effective_from date, author varchar, description varchar,
            role varchar, used_as varchar, experiment varchar)"""
    )
    used = {rules.version: "champion", **({challenger.version: "challenger"} if challenger else {})}
    experiment = rules.experiment.name if rules.experiment else None
    for rule_set in rule_sets:
        con.execute(
            f"insert into {STAGED_RULES} values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [*astuple(version_info(rule_set)), used.get(rule_set.version), experiment],
        )


def _stage_impact(
    con: duckdb.DuckDBPyConnection,
    rules: RuleSet,
    challenger: RuleSet | None,
    rule_sets: list[RuleSet],
    sources: dict[str, str],
    as_of: date,
) -> str | None:
    """At a version's first use, evaluate the previously published version on the same data: the migration
    matrix auditors read as the change's measured impact. Both versions as published, experiment arms
    included (the challenger arm's segments are published segments). Returns a markdown summary, or None."""
    con.execute(
        f"""create or replace table {STAGED_IMPACT} (previous_version varchar, scheme varchar,
            from_segment varchar, to_segment varchar, entities bigint)"""
    )
    last = con.execute(
        """select rule_version from segments.runs where status = 'published'
           order by as_of desc, finished_at desc limit 1"""
    ).fetchone()
    if last is None or last[0] == rules.version:
        return None
    if con.execute(
        "select count(*) from segments.rule_version_impact where rule_version = ?", [rules.version]
    ).fetchone()[0]:
        return None
    previous = next((r for r in rule_sets if r.version == last[0]), None)
    if previous is None:  # its file left the folder: the text the runs recorded
        recorded = recorded_rule_version(con, last[0])
        if recorded is None:
            return None
        previous = recorded[0]
    old_challenger = _previous_challenger(con, previous, rule_sets)
    if previous.experiment is not None and old_challenger is None:
        return None  # not measurable as it was published; the audit report says no impact was recorded
    diff = diff_rule_sets(
        con,
        previous,
        rules,
        sources,
        as_of=as_of,
        old_challenger=old_challenger,
        new_challenger=challenger,
    )
    for m in diff.migrations:
        con.execute(
            f"insert into {STAGED_IMPACT} values (?, ?, ?, ?, ?)",
            [previous.version, m.scheme, m.from_segment, m.to_segment, m.entities],
        )
    return md_table(
        ["scheme", "entities moving"],
        [[scheme, f"{diff.moved.get(scheme, 0):,} of {n:,}"] for scheme, n in diff.entities.items()],
        align="lr",
    )


def _previous_challenger(
    con: duckdb.DuckDBPyConnection, previous: RuleSet, rule_sets: list[RuleSet]
) -> RuleSet | None:
    """The challenger the previous version was published with: its file, else the text the runs recorded
    (None if neither exists)."""
    experiment = previous.experiment
    if experiment is None:
        return None
    found = next(
        (r for r in rule_sets if r.version == experiment.challenger and r.role == "challenger"), None
    )
    if found is None:
        recorded = recorded_rule_version(con, experiment.challenger)
        found = recorded[0] if recorded is not None else None
    return found


@dg.asset(
    key=PUBLISHED_KEY,
    deps=[STAGED_KEY],
    group_name="segments",
    description="Published segments: what marketing tools read. Swapped in atomically with history and changes; "
    "a read-only snapshot file is replaced after each publish.",
    kinds={"duckdb"},
)
def published_customer_segments(
    context: dg.AssetExecutionContext, warehouse: Warehouse
) -> dg.MaterializeResult:
    settings = warehouse.settings
    as_of = settings.resolve_as_of(context.run.tags)
    with warehouse.connect() as con:
        staged = con.execute(f"select * from {STAGED_RULES} order by effective_from").fetchall()
        infos = {row[0]: (RuleVersionInfo(*row[:8]), row[8], row[9]) for row in staged}
        champion = next(info for info, used_as, _ in infos.values() if used_as == "champion")
        challenger = next((info for info, used_as, _ in infos.values() if used_as == "challenger"), None)
        experiment = infos[champion.version][2]
        claim_folders(con, settings)  # the snapshot and reports folders are this warehouse's from now on
        result = publish(
            con,
            run_id=context.run_id,
            as_of=as_of,
            rules=champion,
            snapshot_path=settings.published_segments,
            published_at=datetime.now(),
            seen_versions=[info for info, _, _ in infos.values()],
            challenger=challenger,
            experiment=experiment,
            impact_table=STAGED_IMPACT,
            started_at=_run_started_at(context),
            accept_drift=Settings.accept_drift(context.run.tags),
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
            "rule_version": champion.version,
            "output_fingerprint": result.output_fingerprint,
            "input_fingerprint": result.input_fingerprint or "",
            "snapshot": dg.MetadataValue.path(str(result.snapshot)),
            "segment_sizes": dg.MetadataValue.md(sizes),
            "next_actions": dg.MetadataValue.md(actions),
        }
    )


def _run_started_at(context: dg.AssetExecutionContext) -> datetime | None:
    """When this Dagster run started (local time, like the other timestamps), if the instance knows."""
    record = context.instance.get_run_record_by_id(context.run_id)
    if record is None or record.start_time is None:
        return None
    return datetime.fromtimestamp(record.start_time, UTC).astimezone().replace(tzinfo=None)


def sizes_markdown(con, table: str) -> str:
    return md_table(
        ["scheme", "segment", "customers", "share %"],
        [[s, g, f"{n:,}", f"{p:.1f}"] for s, g, n, p in segment_sizes(con, table)],
        align="llrr",
    )


def actions_markdown(con, table: str) -> str:
    return md_table(
        ["owner", "action", "channel", "customers"],
        [[o, a, c, f"{n:,}"] for o, a, c, n in next_actions(con, table)],
        align="lllr",
    )
