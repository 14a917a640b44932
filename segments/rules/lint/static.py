"""Static lint: shadowed rules and inconsistent actions, decided on the conditions alone."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..expressions import parse_condition
from ..loader import display_path
from ..model import DefaultRule, Rule, RuleSet, Scheme
from .coverage import _STEP_CAP, Box, _GiveUp, _Space, _TextCheck
from .findings import LintFinding, _names
from .formulas import _OPAQUE, _formula


@dataclass(frozen=True)
class _Shadow:
    scheme: Scheme
    outcome: Rule | DefaultRule
    takers: tuple[str, ...]  # ids of the earlier rules involved (empty: the condition is never true)


def _shadows(rule_set: RuleSet) -> list[_Shadow]:
    found: list[_Shadow] = []
    is_text = _TextCheck()
    try:
        for scheme in rule_set.schemes.values():
            found += _scheme_shadows(scheme, is_text)
    finally:
        is_text.close()
    return found


def _scheme_shadows(scheme: Scheme, is_text: _TextCheck) -> list[_Shadow]:
    formulas = []
    for rule in scheme.rules:
        condition, _ = parse_condition(rule.when)
        formulas.append(_formula(condition.tree) if condition is not None else _OPAQUE)
    space = _Space(formulas, is_text)
    found: list[_Shadow] = []
    taken: list[tuple[int, Box]] = []  # (rule index, box) of every earlier rule: where it is (at least) TRUE
    for index, (rule, formula) in enumerate(zip(scheme.rules, formulas, strict=True)):
        true, _, exact, _ = space.sets(formula)
        if exact:
            if not true:
                found.append(_Shadow(scheme, rule, ()))
            else:
                takers = _takers(space, true, taken)
                if takers is not None:
                    found.append(_Shadow(scheme, rule, tuple(scheme.rules[i].id for i in takers)))
        taken += [(index, box) for box in true]
    takers = _takers(space, [{}], taken)
    if takers is not None:
        found.append(_Shadow(scheme, scheme.default, tuple(scheme.rules[i].id for i in takers)))
    return found


def _takers(space: _Space, region: list[Box], taken: list[tuple[int, Box]]) -> list[int] | None:
    """The (irredundant) earlier rules that together cover ``region``; None when they do not (or it is unknown)."""

    def covers(rules: set[int]) -> bool:
        boxes = [box for i, box in taken if i in rules]
        budget = [_STEP_CAP]
        return all(space.covered(box, boxes, budget) for box in region)

    involved = {i for i, box in taken if any(space.meet(box, r) is not None for r in region)}
    try:
        if not involved or not covers(involved):
            return None
        for i in sorted(involved, reverse=True):  # drop a rule the others already make unnecessary
            if covers(involved - {i}):
                involved.discard(i)
    except _GiveUp:
        return None
    return sorted(involved)


def _shadow_finding(shadow: _Shadow, file: str) -> LintFinding:
    scheme, outcome, takers = shadow.scheme, shadow.outcome, shadow.takers
    entity = scheme.entity
    if isinstance(outcome, DefaultRule):
        message = (
            f"scheme {scheme.name}: default '{outcome.id}' can never apply: the rules above already take "
            f"every {entity} ({_names(takers)}); remove a catch-all rule or accept that segment "
            f"'{outcome.segment}' stays empty"
        )
    elif not takers:
        message = (
            f"scheme {scheme.name}: rule '{outcome.id}' can never match: its condition is never true for any "
            f"{entity} (contradictory, or compared with NULL: use IS NULL); fix the condition or remove the rule"
        )
    else:
        by = f"earlier rule {_names(takers)}" if len(takers) == 1 else f"earlier rules ({_names(takers)})"
        message = (
            f"scheme {scheme.name}: rule '{outcome.id}' can never match: every {entity} it accepts is "
            f"already taken by {by}; move it up or narrow the earlier rules"
        )
    return LintFinding(
        code="shadowed",
        severity="warning",
        message=message,
        file=file,
        line=outcome.line or 1,
        scheme=scheme.name,
        rule_id=outcome.id,
    )


def _inconsistent_actions(rule_set: RuleSet, file: str) -> list[LintFinding]:
    first: dict[str, tuple[Scheme, Rule | DefaultRule]] = {}
    findings = []
    for scheme in rule_set.schemes.values():
        for outcome in scheme.outcomes:
            action = outcome.next_action
            if action.action not in first:
                first[action.action] = (scheme, outcome)
                continue
            other_scheme, other = first[action.action]
            theirs = other.next_action
            if (action.channel, action.owner, action.priority) == (
                theirs.channel,
                theirs.owner,
                theirs.priority,
            ):
                continue
            findings.append(
                LintFinding(
                    code="inconsistent_action",
                    severity="warning",
                    message=(
                        f"scheme {scheme.name}: action '{action.action}' of '{outcome.id}' has "
                        f"{_describe_action(action)}, but in {other_scheme.name}.{other.id} (line {other.line}) "
                        f"it has {_describe_action(theirs)}; use the same channel, owner and priority for "
                        "one action name, or give the actions different names"
                    ),
                    file=file,
                    line=outcome.line or 1,
                    scheme=scheme.name,
                    rule_id=outcome.id,
                )
            )
    return findings


def _describe_action(action: Any) -> str:
    return f"channel {action.channel}, owner {action.owner}, priority {action.priority}"


def lint_static(rule_set: RuleSet) -> list[LintFinding]:
    """Findings decided on the rule file alone: ``shadowed`` and ``inconsistent_action`` (sorted by line)."""
    file = display_path(rule_set.path)
    findings = [_shadow_finding(s, file) for s in _shadows(rule_set)]
    findings += _inconsistent_actions(rule_set, file)
    return sorted(findings, key=lambda f: (f.line, f.col))
