"""Compile a rule set into ONE SQL statement that assigns every entity a segment in every scheme.

Shape of the statement (one source and one "matched" CTE per entity level the schemes use)::

    WITH "rules__source__customer" AS (<sources['customer']>),
         "rules__matched__customer" AS (      -- one row per entity: every condition evaluated once
             SELECT entity_id, customer_id, consent_* (NULL -> FALSE), preferred_channel (normalised),
                    <arm: 'champion', or the experiment's hash-based arm>,
                    CASE WHEN (<rule 1>) THEN 'id1' WHEN ... ELSE '<default id>' END AS "rule__<scheme>",
                    [the challenger's CASE AS "challenger__<scheme>"], <JSON of the scheme's columns> AS "evidence__<scheme>"
             FROM "rules__source__customer"),
         "rules__assigned" AS (               -- one UNION ALL branch per scheme
             SELECT ..., r.rule_id, r.segment, r.action, r.owner, r.priority, r.rule_version, r.rules_sha256
             FROM "rules__matched__<entity>" m JOIN (VALUES <rule metadata of both versions>) r
                 ON r.rule_version = <champion's, or the challenger's in the challenger arm> AND r.rule_id = ...
             UNION ALL ...)
    SELECT <the OUTPUT_COLUMNS: consent-resolved action_channel, holdout without action, provenance> ...

Experiment arms: ``u = first 8 hex digits of md5(salt || ':' || customer_id) / 2^32``; ``u < holdout_share`` is the
holdout, ``u < holdout_share + challenger_share`` the challenger, the rest the champion. The arm depends on
nothing but the customer id and the salt, so it is the same in every run and every rule version, and the
account and all its contacts share it. A holdout keeps the champion's segment and gets no action.

Conditions are rendered from their checked sqlglot trees (see :mod:`.expressions`), identifiers are quoted and
string literals escaped; nothing from the rule file is pasted into the SQL as text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime

import duckdb

from segments.sql import quote_identifier, quote_string

from .errors import RuleError, RuleValidationError
from .expressions import parse_condition
from .leaves import scheme_columns
from .loader import display_path
from .model import CHANNELS, ENTITIES, RuleSet, Scheme

# The order of the published contract (segments.customer_segments): new columns are only ever appended.
OUTPUT_COLUMNS: dict[str, str] = {
    "customer_id": "VARCHAR",
    "scheme": "VARCHAR",
    "segment": "VARCHAR",
    "rule_id": "VARCHAR",
    "next_action": "VARCHAR",
    "action_channel": "VARCHAR",
    "action_owner": "VARCHAR",
    "action_priority": "INTEGER",
    "rule_version": "VARCHAR",
    "rules_sha256": "VARCHAR",
    "run_id": "VARCHAR",
    "as_of": "DATE",
    "assigned_at": "TIMESTAMP",
    "entity": "VARCHAR",
    "entity_id": "VARCHAR",
    "experiment": "VARCHAR",
    "arm": "VARCHAR",
    "evidence": "VARCHAR",
}
HOLDOUT_ACTION = "no_action_holdout"
ARMS = ("champion", "challenger", "holdout")
_ASSIGNED = '"rules__assigned"'
_META = ("rule_version", "rules_sha256", "rule_id", "segment", "action", "channel", "owner", "priority")
_INDENT = "    "


def _source_cte(entity: str) -> str:
    return quote_identifier(f"rules__source__{entity}")


def _matched_cte(entity: str) -> str:
    return quote_identifier(f"rules__matched__{entity}")


def compile_assignments(
    rule_set: RuleSet,
    *,
    source_sql: str | Mapping[str, str],
    run_id: str,
    as_of: date,
    assigned_at: datetime,
    challenger: RuleSet | None = None,
    evidence: bool = True,
) -> str:
    """The SELECT producing one row per entity per scheme, with the columns of :data:`OUTPUT_COLUMNS`.

    ``source_sql`` maps each entity level a scheme uses (``customer``, ``account``, ``contact``) to a query with
    one row per entity: ``entity_id``, ``customer_id`` (the buying unit it belongs to), every column the
    conditions use, ``consent_email/sms/phone/post`` (BOOLEAN) and ``preferred_channel`` (VARCHAR, may be NULL).
    A plain string is the ``customer`` source, keyed by ``customer_id``.
    ``challenger`` is required when the rule set declares an experiment (its ``experiment.challenger``).
    ``evidence=False`` leaves ``evidence`` empty (``'{}'``): for previews that only compare segments.
    """
    if isinstance(as_of, datetime) or not isinstance(as_of, date):
        raise TypeError(f"as_of must be a date, not {type(as_of).__name__}")
    if not isinstance(assigned_at, datetime):
        raise TypeError(f"assigned_at must be a datetime, not {type(assigned_at).__name__}")
    if assigned_at.tzinfo is not None:  # TIMESTAMP has no zone: store UTC
        assigned_at = assigned_at.astimezone(UTC).replace(tzinfo=None)
    sources = _sources(source_sql)
    experiment = rule_set.experiment
    if experiment is not None and (challenger is None or challenger.version != experiment.challenger):
        raise ValueError(
            f"rule version {rule_set.version} declares experiment {experiment.name}: "
            f"pass its challenger, version {experiment.challenger!r}"
        )
    if experiment is None:
        challenger = None
    order = list(rule_set.channel_order)
    if not order or any(channel not in CHANNELS for channel in order):
        raise ValueError(f"channel_order must list only {', '.join(CHANNELS)}, got {order}")

    entities = [e for e in ENTITIES if any(s.entity == e for s in rule_set.schemes.values())]
    missing = [e for e in entities if e not in sources]
    if missing:
        raise ValueError(f"no source query for entity level(s) {', '.join(missing)}")
    ctes = []
    for entity in entities:
        schemes = [s for s in rule_set.schemes.values() if s.entity == entity]
        ctes.append(f"{_source_cte(entity)} AS (\n{sources[entity]}\n)")
        matched = _matched(entity, schemes, rule_set, challenger, evidence)
        ctes.append(f"{_matched_cte(entity)} AS (\n{matched}\n)")
    branches = [_branch(scheme, rule_set, challenger) for scheme in rule_set.schemes.values()]
    ctes.append(f"{_ASSIGNED} AS (\n" + f"\n{_INDENT}UNION ALL\n".join(branches) + "\n)")

    holdout = "\"arm\" = 'holdout'"
    outputs = {
        "customer_id": '"customer_id"',
        "scheme": '"scheme"',
        "segment": '"segment"',
        "rule_id": '"rule_id"',
        "next_action": f'CASE WHEN {holdout} THEN {quote_string(HOLDOUT_ACTION)} ELSE "action" END',
        "action_channel": f"CASE WHEN {holdout} THEN 'none' ELSE {_resolved_channel(order)} END",
        "action_owner": '"owner"',
        "action_priority": '"priority"',
        "rule_version": '"rule_version"',
        "rules_sha256": '"rules_sha256"',
        "run_id": quote_string(str(run_id)),
        "as_of": quote_string(as_of.isoformat()),
        "assigned_at": quote_string(assigned_at.isoformat(sep=" ")),
        "entity": '"entity"',
        "entity_id": '"entity_id"',
        "experiment": quote_string(experiment.name) if experiment else "NULL",
        "arm": '"arm"',
        "evidence": '"evidence"',
    }
    select = ",\n".join(
        f"{_INDENT}CAST({outputs[name]} AS {type_}) AS {quote_identifier(name)}"
        for name, type_ in OUTPUT_COLUMNS.items()
    )
    return "WITH " + ",\n".join(ctes) + f"\nSELECT\n{select}\nFROM {_ASSIGNED}"


def _sources(source_sql: str | Mapping[str, str]) -> dict[str, str]:
    if isinstance(source_sql, str):
        plain = _strip(source_sql)
        return {"customer": f'SELECT *, "customer_id" AS "entity_id" FROM (\n{plain}\n)'}
    unknown = sorted(set(source_sql) - set(ENTITIES))
    if unknown:
        raise ValueError(f"unknown entity level(s) {', '.join(unknown)}; known: {', '.join(ENTITIES)}")
    return {entity: _strip(sql) for entity, sql in source_sql.items()}


def _strip(sql: str) -> str:
    source = sql.strip().rstrip(";").strip()
    if not source:
        raise ValueError("source_sql is empty")
    return source


def _arm(rule_set: RuleSet) -> str:
    experiment = rule_set.experiment
    if experiment is None:
        return "'champion' AS \"arm\""
    key = f"{quote_string(experiment.salt + ':')} || CAST({quote_identifier('customer_id')} AS VARCHAR)"
    u = f"(CAST('0x' || substr(md5({key}), 1, 8) AS UBIGINT) / 4294967296.0)"
    holdout = float(experiment.holdout_share)
    challenger = holdout + float(experiment.challenger_share)
    return (
        f"CASE WHEN {u} < {holdout!r} THEN 'holdout' WHEN {u} < {challenger!r} THEN 'challenger' "
        f"ELSE 'champion' END AS \"arm\""
    )


def _matched(
    entity: str, schemes: list[Scheme], rule_set: RuleSet, challenger: RuleSet | None, evidence: bool
) -> str:
    items = [
        f"CAST({quote_identifier('entity_id')} AS VARCHAR) AS {quote_identifier('entity_id')}",
        f"CAST({quote_identifier('customer_id')} AS VARCHAR) AS {quote_identifier('customer_id')}",
        *(f"COALESCE({_consent(c)}, FALSE) AS {_consent(c)}" for c in CHANNELS),
        _preferred_channel(rule_set.channel_order[0]),
        _arm(rule_set),
    ]
    for scheme in schemes:
        items.append(_case(scheme, rule_set, f"rule__{scheme.name}"))
        rival = challenger.schemes.get(scheme.name) if challenger else None
        if rival is not None:
            items.append(_case(rival, challenger, f"challenger__{scheme.name}"))
        items.append(
            _evidence(scheme, rival)
            if evidence
            else f"'{{}}' AS {quote_identifier(f'evidence__{scheme.name}')}"
        )
    body = ",\n".join(f"{_INDENT * 2}{item}" for item in items)
    return f"{_INDENT}SELECT\n{body}\n{_INDENT}FROM {_source_cte(entity)}"


def _evidence(scheme: Scheme, rival: Scheme | None) -> str:
    columns = scheme_columns(scheme)  # the values explain needs to re-evaluate the rules
    if rival is not None:
        columns = sorted(set(columns) | set(scheme_columns(rival)), key=str.lower)
    alias = quote_identifier(f"evidence__{scheme.name}")
    if not columns:
        return f"'{{}}' AS {alias}"
    pairs = ", ".join(f"{quote_string(c)}, {quote_identifier(c)}" for c in columns)
    return f"CAST(json_object({pairs}) AS VARCHAR) AS {alias}"


def _consent(channel: str) -> str:
    return quote_identifier(f"consent_{channel}")


def _preferred_channel(fallback: str) -> str:
    """The entity's preferred channel if it is one of the four, else the first of ``channel_order``."""
    value = f"LOWER(TRIM({quote_identifier('preferred_channel')}))"
    channels = ", ".join(quote_string(c) for c in CHANNELS)
    return (
        f"CASE WHEN {value} IN ({channels}) THEN {value} ELSE {quote_string(fallback)} END "
        f"AS {quote_identifier('preferred_channel')}"
    )


def _case(scheme: Scheme, rule_set: RuleSet, alias_name: str) -> str:
    alias = quote_identifier(alias_name)
    if not scheme.rules:
        return f"{quote_string(scheme.default.id)} AS {alias}"
    errors: list[RuleError] = []
    lines = ["CASE"]
    for index, rule in enumerate(scheme.rules):
        condition, problems = parse_condition(rule.when)
        if condition is None:  # only possible for a RuleSet that was not built by load_rule_file
            file, where = display_path(rule_set.path), f"schemes.{scheme.name}.rules[{index}].when"
            errors += [
                RuleError(f"{where}: {p.message}", file=file, line=rule.when_line, col=rule.when_col)
                for p in problems
            ]
            continue
        lines.append(f"{_INDENT * 3}WHEN ({condition.sql}) THEN {quote_string(rule.id)}")
    if errors:
        raise RuleValidationError(errors)
    lines.append(f"{_INDENT * 3}ELSE {quote_string(scheme.default.id)}")
    lines.append(f"{_INDENT * 2}END AS {alias}")
    return "\n".join(lines)


def _metadata_rows(scheme: Scheme, rule_set: RuleSet) -> list[str]:
    rows = []
    for rule in scheme.outcomes:
        action = rule.next_action
        values = [rule_set.version, rule_set.sha256, rule.id, rule.segment]
        values += [action.action, action.channel, action.owner]
        rows.append("(" + ", ".join([*map(quote_string, values), str(int(action.priority))]) + ")")
    return rows


def _branch(scheme: Scheme, rule_set: RuleSet, challenger: RuleSet | None) -> str:
    rival = challenger.schemes.get(scheme.name) if challenger else None
    rows = _metadata_rows(scheme, rule_set)
    champion_rule = f"m.{quote_identifier(f'rule__{scheme.name}')}"
    if rival is not None and challenger is not None:
        rows += _metadata_rows(rival, challenger)
        in_challenger = "m.\"arm\" = 'challenger'"
        version = (
            f"CASE WHEN {in_challenger} THEN {quote_string(challenger.version)} "
            f"ELSE {quote_string(rule_set.version)} END"
        )
        rule_id = (
            f"CASE WHEN {in_challenger} THEN m.{quote_identifier(f'challenger__{scheme.name}')} "
            f"ELSE {champion_rule} END"
        )
    else:
        version, rule_id = quote_string(rule_set.version), champion_rule
    columns = ", ".join(map(quote_identifier, _META))
    carried = ", ".join(
        f"m.{quote_identifier(c)}"
        for c in ["entity_id", "customer_id", "arm", *(f"consent_{ch}" for ch in CHANNELS)]
    )
    metadata = ", ".join(f"r.{quote_identifier(c)}" for c in _META if c != "channel")
    wanted = (  # `preferred` -> the entity's (already normalised) preferred channel
        'CASE WHEN r."channel" = \'preferred\' THEN m."preferred_channel" ELSE r."channel" END AS "channel"'
    )
    values = f",\n{_INDENT * 3}".join(rows)
    return (
        f"{_INDENT}SELECT {carried}, {quote_string(scheme.name)} AS {quote_identifier('scheme')}, "
        f"{quote_string(scheme.entity)} AS {quote_identifier('entity')}, {metadata},\n"
        f"{_INDENT * 2}{wanted}, m.{quote_identifier(f'evidence__{scheme.name}')} AS {quote_identifier('evidence')}\n"
        f"{_INDENT}FROM {_matched_cte(scheme.entity)} AS m\n"
        f"{_INDENT}JOIN (VALUES\n{_INDENT * 3}{values}\n{_INDENT}) AS r({columns})\n"
        f"{_INDENT * 2}ON r.{quote_identifier('rule_version')} = {version} "
        f"AND r.{quote_identifier('rule_id')} = {rule_id}"
    )


def _resolved_channel(order: list[str]) -> str:
    """Wanted channel -> channel used: the wanted one if consented, else the first consented one in
    ``channel_order``, else ``none``; ``none`` stays ``none``."""
    whens = ["WHEN \"channel\" = 'none' THEN 'none'"]
    whens += [
        f'WHEN "channel" = {quote_string(c)} AND {_consent(c)} THEN {quote_string(c)}' for c in CHANNELS
    ]
    whens += [f"WHEN {_consent(c)} THEN {quote_string(c)}" for c in order]
    inner = f"\n{_INDENT * 2}".join(whens)
    return f"CASE\n{_INDENT * 2}{inner}\n{_INDENT * 2}ELSE 'none'\n{_INDENT}END"


_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def quote_table(name: str) -> str:
    """``schema.table`` -> ``"schema"."table"`` (plain identifiers only)."""
    parts = name.split(".")
    if not 1 <= len(parts) <= 3 or not all(_IDENTIFIER.match(p) for p in parts):
        raise ValueError(f"target_table must be [catalog.][schema.]table of plain identifiers, got {name!r}")
    return ".".join(quote_identifier(p) for p in parts)


def assign_segments(
    con: duckdb.DuckDBPyConnection,
    rule_set: RuleSet,
    *,
    source_sql: str | Mapping[str, str],
    target_table: str,
    run_id: str,
    as_of: date,
    assigned_at: datetime,
    challenger: RuleSet | None = None,
) -> int:
    """``CREATE OR REPLACE TABLE target_table AS <compiled statement>``; returns the number of rows written."""
    table = quote_table(target_table)
    sql = compile_assignments(
        rule_set,
        source_sql=source_sql,
        run_id=run_id,
        as_of=as_of,
        assigned_at=assigned_at,
        challenger=challenger,
    )
    con.execute(f"CREATE OR REPLACE TABLE {table} AS\n{sql}")
    row = con.execute(f"SELECT COUNT(*) FROM {table}").fetchone()
    return int(row[0]) if row else 0
