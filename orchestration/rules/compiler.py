"""Compile a rule set into ONE SQL statement that assigns every customer a segment in every scheme.

Shape of the statement::

    WITH "rules__source" AS (<source_sql>),
         "rules__matched" AS (                -- one row per customer: every condition evaluated once
             SELECT customer_id, consent_* (NULL -> FALSE), preferred_channel (normalised, else channel_order[0]),
                    CASE WHEN (<rule 1>) THEN 'id1' WHEN ... ELSE '<default id>' END AS "rule__<scheme>", ...
             FROM "rules__source"),
         "rules__assigned" AS (               -- one UNION ALL branch per scheme
             SELECT ..., '<scheme>' AS scheme, r.rule_id, r.segment, r.action, r.owner, r.priority,
                    <rule channel, `preferred` -> the customer's> AS channel
             FROM "rules__matched" m JOIN (VALUES <that scheme's rule metadata>) r ON r.rule_id = m."rule__<scheme>"
             UNION ALL ...)
    SELECT <the 13 OUTPUT_COLUMNS: consent-resolved action_channel, provenance literals> FROM "rules__assigned"

Conditions are rendered from their checked sqlglot trees (see :mod:`.expressions`), identifiers are quoted and
string literals escaped; nothing from the rule file is pasted into the SQL as text.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import duckdb

from .errors import RuleError, RuleValidationError
from .expressions import parse_condition, quote_identifier, quote_string
from .loader import display_path
from .model import CHANNELS, RuleSet, Scheme

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
}
_SOURCE, _MATCHED, _ASSIGNED = '"rules__source"', '"rules__matched"', '"rules__assigned"'
_META = ("rule_id", "segment", "action", "channel", "owner", "priority")
_INDENT = "    "


def compile_assignments(
    rule_set: RuleSet, *, source_sql: str, run_id: str, as_of: date, assigned_at: datetime
) -> str:
    """The SELECT producing one row per customer per scheme, with the columns of :data:`OUTPUT_COLUMNS`.

    ``source_sql`` must return one row per customer with ``customer_id``, every column the conditions use,
    ``consent_email/sms/phone/post`` (BOOLEAN) and ``preferred_channel`` (VARCHAR, may be NULL).
    """
    if isinstance(as_of, datetime) or not isinstance(as_of, date):
        raise TypeError(f"as_of must be a date, not {type(as_of).__name__}")
    if not isinstance(assigned_at, datetime):
        raise TypeError(f"assigned_at must be a datetime, not {type(assigned_at).__name__}")
    if assigned_at.tzinfo is not None:  # TIMESTAMP has no zone: store UTC
        assigned_at = assigned_at.astimezone(UTC).replace(tzinfo=None)
    source = source_sql.strip().rstrip(";").strip()
    if not source:
        raise ValueError("source_sql is empty")

    order = list(rule_set.channel_order)
    if not order or any(channel not in CHANNELS for channel in order):
        raise ValueError(f"channel_order must list only {', '.join(CHANNELS)}, got {order}")
    matched = [
        f"CAST({quote_identifier('customer_id')} AS VARCHAR) AS {quote_identifier('customer_id')}",
        *(f"COALESCE({_consent(c)}, FALSE) AS {_consent(c)}" for c in CHANNELS),
        _preferred_channel(order[0]),
        *(_case(scheme, rule_set) for scheme in rule_set.schemes.values()),
    ]
    branches = [_branch(scheme) for scheme in rule_set.schemes.values()]
    provenance = {
        "rule_version": quote_string(rule_set.version),
        "rules_sha256": quote_string(rule_set.sha256),
        "run_id": quote_string(str(run_id)),
        "as_of": quote_string(as_of.isoformat()),
        "assigned_at": quote_string(assigned_at.isoformat(sep=" ")),
    }
    outputs = {
        "customer_id": '"customer_id"',
        "scheme": '"scheme"',
        "segment": '"segment"',
        "rule_id": '"rule_id"',
        "next_action": '"action"',
        "action_channel": _resolved_channel(order),
        "action_owner": '"owner"',
        "action_priority": '"priority"',
        **provenance,
    }
    select = ",\n".join(
        f"{_INDENT}CAST({outputs[name]} AS {type_}) AS {quote_identifier(name)}"
        for name, type_ in OUTPUT_COLUMNS.items()
    )
    union = f"\n{_INDENT}UNION ALL\n".join(branches)
    return (
        f"WITH {_SOURCE} AS (\n{source}\n),\n"
        f"{_MATCHED} AS (\n{_INDENT}SELECT\n"
        + ",\n".join(f"{_INDENT * 2}{item}" for item in matched)
        + f"\n{_INDENT}FROM {_SOURCE}\n),\n"
        f"{_ASSIGNED} AS (\n{union}\n)\n"
        f"SELECT\n{select}\nFROM {_ASSIGNED}"
    )


def _consent(channel: str) -> str:
    return quote_identifier(f"consent_{channel}")


def _preferred_channel(fallback: str) -> str:
    """The customer's preferred channel if it is one of the four, else the first of ``channel_order``."""
    value = f"LOWER(TRIM({quote_identifier('preferred_channel')}))"
    channels = ", ".join(quote_string(c) for c in CHANNELS)
    return (
        f"CASE WHEN {value} IN ({channels}) THEN {value} ELSE {quote_string(fallback)} END "
        f"AS {quote_identifier('preferred_channel')}"
    )


def _case(scheme: Scheme, rule_set: RuleSet) -> str:
    alias = quote_identifier(f"rule__{scheme.name}")
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


def _branch(scheme: Scheme) -> str:
    rows = []
    for rule in scheme.outcomes:
        action = rule.next_action
        values = [rule.id, rule.segment, action.action, action.channel, action.owner]
        rows.append("(" + ", ".join([*map(quote_string, values), str(int(action.priority))]) + ")")
    columns = ", ".join(map(quote_identifier, _META))
    carried = ", ".join(
        f"m.{quote_identifier(c)}" for c in ["customer_id", *(f"consent_{ch}" for ch in CHANNELS)]
    )
    metadata = ", ".join(f"r.{quote_identifier(c)}" for c in _META if c != "channel")
    wanted = (  # `preferred` -> the customer's (already normalised) preferred channel
        'CASE WHEN r."channel" = \'preferred\' THEN m."preferred_channel" ELSE r."channel" END AS "channel"'
    )
    values = f",\n{_INDENT * 3}".join(rows)
    return (
        f"{_INDENT}SELECT {carried}, {quote_string(scheme.name)} AS {quote_identifier('scheme')}, {metadata},\n"
        f"{_INDENT * 2}{wanted}\n"
        f"{_INDENT}FROM {_MATCHED} AS m\n"
        f"{_INDENT}JOIN (VALUES\n{_INDENT * 3}{values}\n{_INDENT}) AS r({columns})\n"
        f"{_INDENT * 2}ON r.{quote_identifier('rule_id')} = m.{quote_identifier(f'rule__{scheme.name}')}"
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
    source_sql: str,
    target_table: str,
    run_id: str,
    as_of: date,
    assigned_at: datetime,
) -> int:
    """``CREATE OR REPLACE TABLE target_table AS <compiled statement>``; returns the number of rows written."""
    table = quote_table(target_table)
    sql = compile_assignments(
        rule_set, source_sql=source_sql, run_id=run_id, as_of=as_of, assigned_at=assigned_at
    )
    con.execute(f"CREATE OR REPLACE TABLE {table} AS\n{sql}")
    row = con.execute(f"SELECT COUNT(*) FROM {table}").fetchone()
    return int(row[0]) if row else 0
