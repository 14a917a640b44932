"""`segments explain`: why an entity had its segment and next action, today or on any past date.

Everything comes from what the runs recorded, never from today's features: the assignment (today:
``customer_segments``; a past date: ``segment_history``), the rule version's text (``rule_versions``, so a rule
file that has since changed or left the folder still explains its runs) and the values the rules saw
(``evidence``: today's run, or the run that made the history entry). The rules are then re-evaluated on those
values to show which rule matched and why every earlier one did not.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import duckdb

from segments.errors import SegmentsError
from segments.publish.write_audit_publish import recorded_rule_version
from segments.rules import RuleError, RuleSet
from segments.rules.explain import SchemeTrace, format_trace, scheme_columns, trace_scheme


@dataclass(frozen=True)
class Assignment:
    entity: str
    entity_id: str
    customer_id: str
    scheme: str
    segment: str | None  # None: the entity had left the base on that date
    rule_id: str | None
    next_action: str | None
    action_channel: str | None
    action_owner: str | None  # only known for today's assignments
    rule_version: str
    rules_sha256: str
    experiment: str | None
    arm: str | None
    evidence: dict[str, Any]
    run_id: str
    valid_from: date
    valid_to: date | None


@dataclass(frozen=True)
class Explanation:
    assignment: Assignment
    file_name: str
    trace: SchemeTrace | None  # None when the entity was not in the base


def explain(
    con: duckdb.DuckDBPyConnection,
    entity_id: str,
    as_of: date | None = None,
    *,
    column_types: Mapping[str, Mapping[str, str]] | None = None,
) -> list[Explanation]:
    """One explanation per scheme the entity had an assignment in on ``as_of`` (default: the last run).

    ``con`` is the published snapshot or the warehouse (schema ``segments``), read-only is fine.
    ``column_types`` (``{entity: {column: type}}``, the feature contract) turn the recorded JSON values back
    into their types (a date recorded as text compares as a date again).
    """
    prefix = _prefix(con)
    last = con.execute(f"select max(as_of) from {prefix}runs where status = 'published'").fetchone()[0]
    if last is None:
        raise SegmentsError("nothing has been published yet: run `segments run` first")
    assignments = (
        _current(con, prefix, entity_id)
        if as_of is None or as_of >= last
        else _past(con, prefix, entity_id, as_of)
    )
    if not assignments:
        first = con.execute(
            f"select min(valid_from) from {prefix}segment_history where entity_id = ?", [entity_id]
        ).fetchone()[0]
        when = f"on {as_of}" if as_of else "in the last run"
        hint = f"; its first assignment is from {first}" if first else "; no run has ever segmented this id"
        raise SegmentsError(f"{entity_id!r} has no segment {when}{hint}")
    rule_sets: dict[str, tuple[RuleSet, str]] = {}
    explanations = []
    for assignment in assignments:
        if assignment.rule_version not in rule_sets:
            rule_sets[assignment.rule_version] = _rule_version(con, prefix, assignment.rule_version)
        rule_set, file_name = rule_sets[assignment.rule_version]
        scheme = rule_set.schemes.get(assignment.scheme)
        trace = None
        recorded = scheme is not None and set(scheme_columns(scheme)) <= set(assignment.evidence)
        if assignment.segment is not None and scheme is not None and recorded:
            types = (column_types or {}).get(assignment.entity, {})
            try:
                trace = trace_scheme(
                    scheme,
                    assignment.evidence,
                    matched_rule_id=assignment.rule_id,
                    column_types={c: t for c, t in types.items() if c in assignment.evidence},
                )
            except (ValueError, RuleError) as exc:
                raise SegmentsError(
                    f"cannot re-evaluate scheme {assignment.scheme} of rule version {assignment.rule_version} "
                    f"on the recorded values: {exc}"
                ) from None
        explanations.append(Explanation(assignment, file_name, trace))
    return explanations


def _prefix(con: duckdb.DuckDBPyConnection) -> str:
    """The snapshot file has the tables in its main schema; the warehouse in schema ``segments``."""
    schemas = {r[0] for r in con.execute("select table_schema from information_schema.tables").fetchall()}
    return "segments." if "segments" in schemas else ""


_COLUMNS = """entity, entity_id, customer_id, scheme, segment, rule_id, next_action, action_channel, {owner},
    rule_version, rules_sha256, experiment, arm, evidence, run_id, {valid_from}, {valid_to}"""


def _current(con: duckdb.DuckDBPyConnection, prefix: str, entity_id: str) -> list[Assignment]:
    columns = _COLUMNS.format(owner="action_owner", valid_from="as_of", valid_to="null")
    rows = con.execute(
        f"select {columns} from {prefix}customer_segments where entity_id = ? order by entity, scheme",
        [entity_id],
    ).fetchall()
    current = [_assignment(r) for r in rows]
    # since when: the history entry that is open now
    since = dict(
        con.execute(
            f"""select scheme, valid_from from {prefix}segment_history
                where entity_id = ? and valid_to is null""",
            [entity_id],
        ).fetchall()
    )
    return [a.__class__(**{**a.__dict__, "valid_from": since.get(a.scheme, a.valid_from)}) for a in current]


def _past(con: duckdb.DuckDBPyConnection, prefix: str, entity_id: str, as_of: date) -> list[Assignment]:
    columns = _COLUMNS.format(owner="null", valid_from="valid_from", valid_to="valid_to")
    rows = con.execute(
        f"""select {columns} from {prefix}segment_history
            where entity_id = ? and valid_from <= ? and (valid_to is null or valid_to > ?)
            order by entity, scheme""",
        [entity_id, as_of, as_of],
    ).fetchall()
    return [_assignment(r) for r in rows]


def _assignment(row: tuple) -> Assignment:
    values = list(row)
    values[13] = json.loads(values[13]) if values[13] else {}
    return Assignment(*values)


def _rule_version(con: duckdb.DuckDBPyConnection, prefix: str, version: str) -> tuple[RuleSet, str]:
    recorded = recorded_rule_version(con, version, schema=prefix.rstrip("."))
    if recorded is None:
        raise SegmentsError(f"rule version {version} is not recorded in rule_versions")
    return recorded


def render(explanations: list[Explanation], fmt: str = "text") -> str:
    if fmt == "json":
        return json.dumps([_as_json(e) for e in explanations], indent=2, default=str, ensure_ascii=False)
    lines: list[str] = []
    for e in explanations:
        a = e.assignment
        period = f"since {a.valid_from}" + (f" until {a.valid_to}" if a.valid_to else "")
        lines.append(
            f"{a.scheme} ({a.entity} {a.entity_id}): {a.segment or 'not in the customer base'}  [{period}]"
        )
        if a.segment is not None:
            owner = f", owner {a.action_owner}" if a.action_owner else ""
            lines.append(f"  next action: {a.next_action} via {a.action_channel}{owner}")
        if a.experiment:
            lines.append(f"  experiment {a.experiment}: arm {a.arm}")
        lines.append(
            f"  rule version {a.rule_version} ({e.file_name}, sha256 {a.rules_sha256}), run {a.run_id}"
        )
        if e.trace is None and a.segment is not None:
            lines.append("  (the values the rules saw were not recorded for this assignment)")
        if e.trace is not None:
            lines += [f"  {line}" for line in format_trace(e.trace)]
            if not e.trace.consistent:
                lines.append(
                    f"  note: the run recorded rule {a.rule_id!r}; re-evaluating the recorded values gives "
                    f"{e.trace.matched.rule_id!r}"
                )
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _as_json(e: Explanation) -> dict[str, Any]:
    a = e.assignment
    out: dict[str, Any] = {**a.__dict__, "file_name": e.file_name}
    if e.trace is not None:
        out["matched"] = _rule_json(e.trace.matched)
        out["not_matched"] = [_rule_json(t) for t in e.trace.not_matched]
        out["consistent"] = e.trace.consistent
    return out


def _rule_json(trace: Any) -> dict[str, Any]:
    return {"rule_id": trace.rule_id, "segment": trace.segment, "when": trace.when, "reason": trace.reason}
