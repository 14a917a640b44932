"""Everything a run can know at start-up, checked in its first seconds instead of after the dbt build.

A run that would be refused at publish time (an edited rule version that was already used, an as-of before
the last published one) or that cannot work at all (no landing files, no rules folder, a rule that does not
compile against the feature catalogue, no version in force on the date, a snapshot folder that belongs to
another warehouse) fails here, before it writes anything, with every problem in one message.

The feature catalogue comes from dbt's manifest (the contracts of the marts the rules read), so the rule
files are compiled without a built warehouse. The warehouse, when it exists, is only read.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from segments import features
from segments.dbt_manifest import ensure_manifest
from segments.errors import SegmentsError
from segments.rules import (
    REQUIRED_SCHEMES,
    RuleError,
    RuleSet,
    active_version,
    challenger_for,
    compile_assignments,
    load_rule_versions,
)
from segments.settings import Settings
from segments.warehouse import connect

# In the published and reports folders: the id of the warehouse whose runs they hold.
OWNER_FILE = ".warehouse-id"


class PreflightError(SegmentsError):
    """The run cannot start; every problem found is in the message, one per line."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        if len(problems) == 1:
            super().__init__(f"the run cannot start: {problems[0]}")
        else:
            super().__init__("the run cannot start:\n" + "\n".join(f"  - {p}" for p in problems))


@dataclass(frozen=True)
class WarehouseState:
    """What an existing warehouse says about the runs it has published."""

    warehouse_id: str | None
    last_published_as_of: date | None
    used_versions: dict[str, tuple[str, str]]  # version -> (rules_sha256, first_used_run_id)


def read_state(path: Path) -> WarehouseState:
    """Read (never write) a DuckDB warehouse; an absent file is an empty warehouse."""
    if not path.is_file():
        return WarehouseState(None, None, {})
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as exc:
        raise SegmentsError(
            f"cannot read the warehouse {path} ({str(exc).splitlines()[0]}): a job is probably writing it"
        ) from None
    try:
        return _state(con)
    finally:
        con.close()


def read_settings_state(settings: Settings) -> WarehouseState:
    """The state of the run's warehouse: the DuckDB file, or the PostgreSQL database of the postgres target."""
    if settings.target != "postgres":
        return read_state(settings.warehouse)
    with connect(settings, read_only=True) as con:
        return _state(con)


def _state(con) -> WarehouseState:
    """Which warehouse this is, its last published as-of, and the rule versions used (with their sha256)."""
    tables = {
        f"{s}.{t}"
        for s, t in con.execute("select table_schema, table_name from information_schema.tables").fetchall()
    }
    warehouse_id = None
    if "segments.warehouse_identity" in tables:
        row = con.execute("select warehouse_id from segments.warehouse_identity").fetchone()
        warehouse_id = row[0] if row else None
    last = None
    if "segments.runs" in tables:
        last = con.execute("select max(as_of) from segments.runs where status = 'published'").fetchone()[0]
    used = {}
    if "segments.rule_versions" in tables:
        used = {
            version: (sha, run)
            for version, sha, run in con.execute(
                "select rule_version, rules_sha256, first_used_run_id from segments.rule_versions "
                "where first_used_run_id is not null"
            ).fetchall()
        }
    return WarehouseState(warehouse_id, last, used)


def edited_used_versions(rule_sets: list[RuleSet], used: dict[str, tuple[str, str]]) -> list[str]:
    """One problem per rule file whose version was already used with a different text."""
    problems = []
    for rules in rule_sets:
        recorded = used.get(rules.version)
        if recorded and recorded[0] != rules.sha256:
            problems.append(
                f"{rules.path.name}: rule version {rules.version} was already used (run {recorded[1]}) with "
                f"sha256 {recorded[0][:12]}…, but the file now hashes to {rules.sha256[:12]}…; published "
                "versions are immutable: save the change as a new version file"
            )
    return problems


def check(settings: Settings, as_of: date) -> WarehouseState:
    """Raise :class:`PreflightError` naming every problem a run on ``as_of`` would meet; the warehouse's
    state otherwise."""
    problems: list[str] = []
    landing = settings.landing_dir
    if not landing.is_dir() or not any(p for p in landing.iterdir() if not p.name.startswith(".")):
        problems.append(
            f"no landing files in {landing}: export CRM and sales files there, "
            f"or make demo data with `segments demo-data --out {landing}`"
        )
    try:
        state = read_settings_state(settings)
    except SegmentsError as exc:
        raise PreflightError([str(exc)]) from None
    problems += _rule_problems(settings, as_of, state)
    if state.last_published_as_of is not None and as_of < state.last_published_as_of:
        problems.append(
            f"as-of {as_of} is before the last published as-of {state.last_published_as_of}; history is "
            "append-only, so runs must move forward in time (backfill into another warehouse with --warehouse)"
        )
    problems += _ownership_problems(settings, state)
    if problems:
        raise PreflightError(problems)
    return state


def _rule_problems(settings: Settings, as_of: date, state: WarehouseState) -> list[str]:
    tables = features.catalogue_from_manifest(ensure_manifest())
    try:
        rule_sets = load_rule_versions(
            settings.rules_dir, features.entity_columns(tables), required_schemes=REQUIRED_SCHEMES
        )
        rules = active_version(rule_sets, as_of)
        # the statement the run will execute, compiled now: an error here would otherwise come after dbt
        compile_assignments(
            rules,
            source_sql=features.sources(tables),
            run_id="preflight",
            as_of=as_of,
            assigned_at=datetime.now(),
            challenger=challenger_for(rule_sets, rules),
        )
    except RuleError as exc:
        return [str(exc)]
    return edited_used_versions(rule_sets, state.used_versions)


def _ownership_problems(settings: Settings, state: WarehouseState) -> list[str]:
    problems = []
    warehouse_id = state.warehouse_id
    for folder, what, option in (
        (settings.published_dir, "snapshot", "--published"),
        (settings.reports_dir, "reports", "--reports"),
    ):
        owner = folder / OWNER_FILE
        recorded = owner.read_text(encoding="utf-8").strip() if owner.is_file() else None
        if recorded is None:
            # a snapshot without an owner: an older release's, adopted by the warehouse that published it
            if (
                what == "snapshot"
                and (folder / "segments.duckdb").exists()
                and state.last_published_as_of is None
            ):
                problems.append(
                    f"{folder} holds a snapshot published from another warehouse than {settings.warehouse} "
                    f"(which has published nothing yet): publish elsewhere with {option} DIR"
                )
            continue
        if recorded != warehouse_id:
            problems.append(
                f"{folder} holds the {what} of another warehouse than {settings.warehouse}: "
                f"publish elsewhere with {option} DIR"
            )
    return problems


def claim_folders(con: duckdb.DuckDBPyConnection, settings: Settings) -> str:
    """Give the warehouse an id (once) and mark its published and reports folders with it."""
    con.execute("create schema if not exists segments")
    con.execute(
        "create table if not exists segments.warehouse_identity (warehouse_id varchar not null, "
        "created_at timestamptz not null)"
    )
    row = con.execute("select warehouse_id from segments.warehouse_identity").fetchone()
    if row is None:
        warehouse_id = str(uuid.uuid4())
        con.execute(
            "insert into segments.warehouse_identity values (?, ?)", [warehouse_id, datetime.now(UTC)]
        )
    else:
        warehouse_id = row[0]
    for folder in (settings.published_dir, settings.reports_dir):
        folder.mkdir(parents=True, exist_ok=True)
        owner = folder / OWNER_FILE
        if not owner.is_file():
            owner.write_text(warehouse_id + "\n", encoding="utf-8")
    return warehouse_id
