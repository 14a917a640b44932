"""Lint on data: one query per scheme (and per entity level for overlaps) on the current features."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import combinations

import duckdb

from segments.formatting import noun, plural
from segments.sql import quote_identifier, quote_string

from ..expressions import parse_condition
from ..loader import display_path
from ..model import DefaultRule, Rule, RuleSet, Scheme
from .findings import LintFinding, _names
from .static import _shadows


def _conditions(rule_set: RuleSet, scheme: Scheme) -> list[str]:
    """The SQL the compiler runs for each rule (rendered from the checked tree)."""
    rendered = []
    for index, rule in enumerate(scheme.rules):
        condition, problems = parse_condition(rule.when)
        if condition is None:  # only possible for a RuleSet that was not built by load_rule_file
            where = (
                f"{display_path(rule_set.path)}:{rule.when_line}: schemes.{scheme.name}.rules[{index}].when"
            )
            raise ValueError(f"{where}: {'; '.join(p.message for p in problems)}")
        rendered.append(condition.sql)
    return rendered


def _source(sources: Mapping[str, str], entity: str) -> str:
    if entity not in sources:
        raise ValueError(
            f"no source SQL for entity level '{entity}' (sources has: {', '.join(sources) or 'none'})"
        )
    source = sources[entity].strip().rstrip(";").strip()
    if not source:
        raise ValueError(f"the source SQL for entity level '{entity}' is empty")
    return source


def _alias(name: str) -> str:
    return quote_identifier(f"lint__{name}")


def _scheme_query(source: str, conditions: Sequence[str]) -> str:
    """One row per first-matching outcome (index; len(conditions) = default): how many entities, and for
    every rule how many of them its condition is true for. One pass over the source."""
    n = len(conditions)
    tested = (
        ", ".join(f"({sql}) AS {_alias(f'c{i}')}" for i, sql in enumerate(conditions))
        or f"1 AS {_alias('none')}"
    )
    whens = " ".join(f"WHEN {_alias(f'c{i}')} THEN {i}" for i in range(n))
    first = f"CASE {whens} ELSE {n} END" if n else "0"
    counts = "".join(f", count_if({_alias(f'c{i}')})" for i in range(n))
    return (
        f"WITH {_alias('source')} AS (\n{source}\n),\n"
        f"{_alias('tested')} AS (SELECT {tested} FROM {_alias('source')}),\n"
        f"{_alias('first')} AS (SELECT *, {first} AS {_alias('outcome')} FROM {_alias('tested')})\n"
        f"SELECT {_alias('outcome')}, count(*){counts} FROM {_alias('first')} GROUP BY 1"
    )


def _scheme_on_data(
    con: duckdb.DuckDBPyConnection, rule_set: RuleSet, scheme: Scheme, source: str, skip: set[str], file: str
) -> list[LintFinding]:
    n, entity = len(scheme.rules), scheme.entity
    rows = con.execute(_scheme_query(source, _conditions(rule_set, scheme))).fetchall()
    ends = [0] * (n + 1)  # entities whose first match is outcome k
    true_by_end = [[0] * n for _ in range(n + 1)]  # [k][j]: condition j true, first match k
    for outcome, total, *trues in rows:
        ends[outcome] = int(total)
        true_by_end[outcome] = [int(t or 0) for t in trues]  # count_if of only NULLs is NULL
    everyone = sum(ends)

    def finding(code: str, severity: str, message: str, outcome: Rule | DefaultRule | None) -> LintFinding:
        return LintFinding(
            code=code,
            severity=severity,
            message=f"scheme {scheme.name}: {message}",
            file=file,
            line=(outcome.line if outcome is not None else 0) or 1,
            scheme=scheme.name,
            rule_id=outcome.id if outcome is not None else None,
        )

    if everyone == 0:
        return [
            finding("empty_segment", "warning", f"the {entity} data is empty: every segment is empty", None)
        ]
    findings = []
    for j, rule in enumerate(scheme.rules):
        accepted = sum(true_by_end[k][j] for k in range(n + 1))
        if accepted == 0:
            findings.append(
                finding(
                    "never_true_on_data",
                    "info",
                    f"rule '{rule.id}' is true for none of the {plural(everyone, entity)} on this data; "
                    "check its condition and thresholds",
                    rule,
                )
            )
        elif ends[j] == 0 and rule.id not in skip:
            takers = ", ".join(
                f"'{scheme.rules[k].id}': {true_by_end[k][j]:,}" for k in range(j) if true_by_end[k][j]
            )
            findings.append(
                finding(
                    "shadowed_on_data",
                    "warning",
                    f"rule '{rule.id}' matches no {entity} on this data: its condition is true for "
                    f"{plural(accepted, entity)}, but earlier rules take them all ({takers}); "
                    "move it up or narrow the earlier rules",
                    rule,
                )
            )
    by_segment: dict[str, list[int]] = {}
    for k, outcome in enumerate(scheme.outcomes):
        by_segment.setdefault(outcome.segment, []).append(k)
    for segment, outcomes in by_segment.items():
        if sum(ends[k] for k in outcomes) == 0:
            ids = [scheme.outcomes[k].id for k in outcomes]
            source_rules = f"rule {_names(ids)}" if len(ids) == 1 else f"rules {_names(ids)}"
            findings.append(
                finding(
                    "empty_segment",
                    "warning",
                    f"segment '{segment}' ({source_rules}) is empty on this data: none of the "
                    f"{plural(everyone, entity)} ends up in it",
                    scheme.outcomes[outcomes[0]],
                )
            )
    return findings


def _channel_sql(scheme: Scheme, conditions: Sequence[str]) -> str:
    """The channel as written of the first matching outcome; NULL for ``none``."""

    def channel(outcome: Rule | DefaultRule) -> str:
        value = outcome.next_action.channel
        return "NULL" if value == "none" else quote_string(value)

    whens = " ".join(
        f"WHEN ({sql}) THEN {channel(r)}" for sql, r in zip(conditions, scheme.rules, strict=True)
    )
    return f"CASE {whens} ELSE {channel(scheme.default)} END" if whens else channel(scheme.default)


def _channels(scheme: Scheme) -> set[str]:
    return {o.next_action.channel for o in scheme.outcomes} - {"none"}


def _overlaps(
    con: duckdb.DuckDBPyConnection, rule_set: RuleSet, schemes: list[Scheme], source: str, file: str
) -> list[LintFinding]:
    pairs = [
        (a, b, channel)
        for (a, b) in combinations(range(len(schemes)), 2)
        for channel in sorted(_channels(schemes[a]) & _channels(schemes[b]))
    ]
    if not pairs:
        return []
    used = sorted({i for a, b, _ in pairs for i in (a, b)})
    channels = ", ".join(
        f"{_channel_sql(schemes[i], _conditions(rule_set, schemes[i]))} AS {_alias(f'ch{i}')}" for i in used
    )
    counts = ", ".join(
        f"count_if({_alias(f'ch{a}')} = {quote_string(ch)} AND {_alias(f'ch{b}')} = {quote_string(ch)})"
        for a, b, ch in pairs
    )
    query = (
        f"WITH {_alias('source')} AS (\n{source}\n),\n"
        f"{_alias('channels')} AS (SELECT {channels} FROM {_alias('source')})\n"
        f"SELECT {counts} FROM {_alias('channels')}"
    )
    row = con.execute(query).fetchone() or ()
    found = sorted(
        (
            (int(count), schemes[a].name, schemes[b].name, channel)
            for (a, b, channel), count in zip(pairs, row, strict=True)
            if count
        ),
        reverse=True,
    )
    if not found:
        return []
    # one note per entity level: with several schemes, most entities get several actions by design
    shown = "; ".join(
        f"{first} + {second} on {channel}: {count:,}"
        for count, first, second, channel in found[:OVERLAPS_SHOWN]
    )
    more = f" (and {len(found) - OVERLAPS_SHOWN} more pairs)" if len(found) > OVERLAPS_SHOWN else ""
    entity = schemes[0].entity
    return [
        LintFinding(
            code="overlapping_actions",
            severity="info",
            message=(
                f"{noun(entity)} get next actions on the same channel from two schemes: {shown}{more}; "
                "check they should get both, or give one of the rules channel none"
            ),
            file=file,
            line=1,
            scheme=None,
            rule_id=None,
        )
    ]


OVERLAPS_SHOWN = 5


def lint_on_data(
    con: duckdb.DuckDBPyConnection, rule_set: RuleSet, sources: Mapping[str, str]
) -> list[LintFinding]:
    """Findings on the current data: ``shadowed_on_data``, ``never_true_on_data``, ``empty_segment`` (per
    scheme, one query each) and ``overlapping_actions`` (one query per entity level with several schemes).

    ``sources[entity]`` is a SELECT returning one row per entity (``entity_id`` and every feature column) for
    every entity level a scheme of ``rule_set`` uses. Conditions are the compiler's rendering of the checked
    trees; a rule already reported ``shadowed`` by :func:`lint_static` is not reported again as
    ``shadowed_on_data``.
    """
    file = display_path(rule_set.path)
    statically = {(s.scheme.name, s.outcome.id) for s in _shadows(rule_set) if isinstance(s.outcome, Rule)}
    by_entity: dict[str, list[Scheme]] = {}
    for scheme in rule_set.schemes.values():
        by_entity.setdefault(scheme.entity, []).append(scheme)
    resolved = {entity: _source(sources, entity) for entity in by_entity}
    findings: list[LintFinding] = []
    for scheme in rule_set.schemes.values():
        skip = {rule_id for name, rule_id in statically if name == scheme.name}
        findings += _scheme_on_data(con, rule_set, scheme, resolved[scheme.entity], skip, file)
    for entity, schemes in by_entity.items():
        if len(schemes) > 1:
            findings += _overlaps(con, rule_set, schemes, resolved[entity], file)
    return findings
