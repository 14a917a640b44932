"""Rule lint: statically shadowed rules, inconsistent actions, and the checks on data."""

from __future__ import annotations

import dataclasses
import random
from datetime import date
from pathlib import Path

import duckdb
import pytest

from segments.rules import DefaultRule, NextAction, Rule, RuleSet, Scheme, load_rule_file
from segments.rules.expressions import parse_condition
from segments.rules.lint import LintFinding, lint_on_data, lint_static

SHIPPED = Path(__file__).resolve().parents[2] / "segment_rules" / "2026-11-01.yaml"
FEATURE_TYPES = {
    "entity_id": "VARCHAR",
    "x": "DOUBLE",
    "y": "INTEGER",
    "z": "INTEGER",
    "tier": "VARCHAR",
    "vip": "BOOLEAN",
}
SHIPPED_COLUMNS = {
    "r_score": "INTEGER",
    "f_score": "INTEGER",
    "m_score": "INTEGER",
    "frequency": "INTEGER",
    "is_top_20pct": "BOOLEAN",
    "cumulative_revenue_share": "DOUBLE",
}


def rule(
    rule_id: str, when: str, *, segment: str | None = None, channel: str = "email", action: str = ""
) -> str:
    return (
        f"      - id: {rule_id}\n        segment: {segment or rule_id.title()}\n        when: {when}\n"
        f"        next_action: {{action: {action or 'act_' + rule_id}, channel: {channel}, owner: sales, "
        "priority: 2}\n"
    )


def scheme(name: str, rules: str, *, entity: str = "customer", default_segment: str = "Other") -> str:
    return (
        f"  {name}:\n    entity: {entity}\n    rules:\n{rules}"
        f"    default:\n      id: other\n      segment: {default_segment}\n"
        "      next_action: {action: wait, channel: none, owner: marketing_automation, priority: 5}\n"
    )


def rule_file(tmp_path: Path, *schemes: str) -> RuleSet:
    text = 'version: "toy-1"\neffective_from: 2026-01-01\ndescription: Toy\nauthor: Tests\nschemes:\n'
    path = tmp_path / "rules.yaml"
    path.write_text(text + "".join(schemes), encoding="utf-8")
    return load_rule_file(path, FEATURE_TYPES)


def one_scheme(tmp_path: Path, *whens: str) -> RuleSet:
    """Scheme ``tier`` with rules r1, r2, ... (in order) for the given conditions."""
    return rule_file(tmp_path, scheme("tier", "".join(rule(f"r{i}", w) for i, w in enumerate(whens, 1))))


def shadowed(findings: list[LintFinding]) -> dict[str, LintFinding]:
    return {f.rule_id: f for f in findings if f.code == "shadowed"}


def line_of(rule_set: RuleSet, scheme_name: str, rule_id: str) -> int:
    return next(o.line for o in rule_set.schemes[scheme_name].outcomes if o.id == rule_id)


# --- static: shadowed ----------------------------------------------------------------------------------


def test_rule_covered_only_by_the_union_of_two_earlier_rules_is_shadowed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rules = rule_file(
        tmp_path,
        scheme(
            "tier",
            rule("low", "y = 1 and x < 10")
            + rule("vip_only", "vip")  # intersects 'mid' but is not needed to cover it
            + rule("high", "x >= 10 and y in (1, 2)")
            + rule("mid", "y = 1 and x between 5 and 15"),
        ),
    )
    findings = lint_static(rules)
    assert [(f.code, f.rule_id) for f in findings] == [("shadowed", "mid")]
    (finding,) = findings
    assert finding.severity == "warning"
    assert finding.scheme == "tier"
    assert finding.line == line_of(rules, "tier", "mid")
    assert "earlier rules ('low', 'high')" in finding.message
    assert "'vip_only'" not in finding.message
    assert "every customer it accepts" in finding.message
    assert str(finding) == f"rules.yaml:{finding.line}:1: warning: {finding.message}"


def test_neither_earlier_rule_alone_covers_it(tmp_path):
    assert (
        shadowed(lint_static(one_scheme(tmp_path, "y = 1 and x < 10", "y = 1 and x between 5 and 15"))) == {}
    )
    assert (
        shadowed(lint_static(one_scheme(tmp_path, "x >= 10 and y = 1", "y = 1 and x between 5 and 15"))) == {}
    )


@pytest.mark.parametrize(
    ("earlier", "later"),
    [
        ("x > 4", "x >= 4"),  # x = 4
        ("x >= 0 or x < 0", "y = 1"),  # x NULL
        ("x < 5 or x > 5", "x in (4, 5)"),  # x = 5
        ("not (x = 1)", "x is null"),  # NOT (NULL = 1) is not true
        ("x between 1 and 5", "x > 1 and x <= 5.5"),  # 5 < x <= 5.5
        ("x >= 4", "x > 3"),  # holds on whole numbers only: numbers are treated as reals (3.5)
        ("not vip", "vip is not true"),  # vip NULL
        ("tier <> 'gold'", "tier is null or tier = 'silver'"),  # tier NULL
        ("tier < 'b'", "tier <= 'b'"),  # tier = 'b'
        ("y in (1, null)", "y <> 1 and y < 3"),
        ("x * 1 > 4", "x > 5"),  # the earlier rule is opaque: it takes nothing for sure
    ],
)
def test_a_gap_leaves_the_later_rule_reachable(tmp_path, earlier, later):
    assert shadowed(lint_static(one_scheme(tmp_path, earlier, later))) == {}


@pytest.mark.parametrize(
    ("earlier", "later"),
    [
        ("x >= 4", "x > 4"),
        ("(x >= 0 or x < 0 or x is null) and y > 0", "y = 1"),
        ("x is not null", "x between 1 and 2 or x = 7"),
        ("not (x = 1) or x is null", "x is null"),
        ("vip", "vip = true and x > 1"),
        ("not vip or vip is null", "vip is not true"),
        ("(y > 2) = false", "y in (0, 1, 2)"),
        ("tier in ('gold', 'silver')", "tier = 'gold'"),
        ("tier >= 'b'", "tier between 'c' and 'd'"),
        ("x > 4 or abs(y) > 100", "x > 5"),  # the decidable half of an earlier rule still counts
        ("not (x <= 2 and y <> 3)", "y = 3 and x is not null"),
        ("x between symmetric 9 and 1", "x = 5"),
    ],
)
def test_shadowed_in_the_decidable_fragment(tmp_path, earlier, later):
    assert set(shadowed(lint_static(one_scheme(tmp_path, earlier, later)))) == {"r2"}


def test_arithmetic_is_left_to_the_data_check(tmp_path):
    rules = one_scheme(tmp_path, "x > 4", "x + 0 > 5", "abs(x) > 5 and x > 6")
    assert lint_static(rules) == []
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT * FROM (VALUES ('a', 5.0), ('b', 7.0)) AS v(entity_id, x)")
    on_data = lint_on_data(con, rules, {"customer": "SELECT * FROM t"})
    assert {f.rule_id for f in on_data if f.code == "shadowed_on_data"} == {"r2", "r3"}


def test_condition_that_is_never_true(tmp_path):
    found = shadowed(lint_static(one_scheme(tmp_path, "x > 5 and x < 3", "y = null", "y > 1")))
    assert set(found) == {"r1", "r2"}
    assert "never true" in found["r1"].message and "IS NULL" in found["r2"].message


def test_default_that_no_entity_can_reach(tmp_path):
    rules = rule_file(
        tmp_path,
        scheme(
            "accounts",
            rule("pos", "z >= 0") + rule("neg", "z < 0") + rule("unknown", "z is null"),
            entity="account",
        ),
    )
    (finding,) = lint_static(rules)
    assert (finding.code, finding.rule_id, finding.line) == (
        "shadowed",
        "other",
        line_of(rules, "accounts", "other"),
    )
    assert "default 'other' can never apply" in finding.message
    assert "every account" in finding.message
    assert lint_static(one_scheme(tmp_path, "z >= 0", "z < 0")) == []  # z NULL falls through


def test_numbers_compared_with_text_are_not_judged_as_text(tmp_path):
    # '10' and '10.0' are the same INTEGER: y = 10 matches r2, so r2 is not shadowed
    assert lint_static(one_scheme(tmp_path, "y <> '10'", "y = '10.0'")) == []
    # ...and text that only is text is judged
    assert set(shadowed(lint_static(one_scheme(tmp_path, "tier <> 'gold'", "tier = 'silver'")))) == {"r2"}


def test_one_double_for_two_numbers_is_not_judged(tmp_path):
    # on a DOUBLE column both constants are the same value: x = 0.1 is then not > 0.1
    assert lint_static(one_scheme(tmp_path, "x > 0.1", "x = 0.10000000000000001")) == []


def test_shipped_rule_file_has_no_static_findings():
    shipped = load_rule_file(SHIPPED, SHIPPED_COLUMNS)
    assert lint_static(shipped) == []
    # ...and that is a real answer: the shipped conditions are understood (a copy of new_customers placed
    # after it, narrowed by m_score, is found)
    rfm = shipped.schemes["rfm_lifecycle"]
    extra = dataclasses.replace(
        rfm.rules[5], id="late_copy", when="r_score = 5 and f_score = 1 and m_score = 3"
    )
    assert rfm.rules[5].id == "new_customers"
    changed = dataclasses.replace(
        shipped, schemes={"rfm_lifecycle": dataclasses.replace(rfm, rules=[*rfm.rules, extra])}
    )
    (finding,) = lint_static(changed)
    assert finding.rule_id == "late_copy" and "earlier rule 'new_customers'" in finding.message


# --- static: inconsistent actions ----------------------------------------------------------------------


def test_same_action_name_with_another_channel_owner_or_priority(tmp_path):
    rules = rule_file(
        tmp_path,
        scheme("first", rule("a", "x > 1", action="call_them") + rule("b", "x > 0", action="mail_them")),
        scheme(
            "second",
            rule("c", "y > 1", action="call_them", channel="phone") + rule("d", "y > 0", action="mail_them"),
        ),
    )
    (finding,) = lint_static(rules)
    assert (finding.code, finding.severity, finding.scheme, finding.rule_id) == (
        "inconsistent_action",
        "warning",
        "second",
        "c",
    )
    assert finding.line == line_of(rules, "second", "c")
    assert f"first.a (line {line_of(rules, 'first', 'a')})" in finding.message
    assert "channel phone" in finding.message and "channel email" in finding.message


# --- static vs brute force -----------------------------------------------------------------------------

_GRID = [None, 0.5, 1, 1.25, 1.5, 1.75, 2, 2.25, 2.5, 2.75, 3, 3.25, 3.5, 4]  # a value in every cell


def _random_atom(rnd: random.Random) -> str:
    column = rnd.choice(["x", "y", "vip", "tier"])
    if column == "vip":
        return rnd.choice(["vip", "not vip", "vip = false", "vip is true", "vip is not false", "vip is null"])
    if column == "tier":
        v = rnd.choice(["a", "b"])
        return rnd.choice(
            [f"tier = '{v}'", f"tier <> '{v}'", f"tier < '{v}'", f"tier >= '{v}'", "tier is null"]
        )
    c, d, op = rnd.choice([1, 2, 3]), rnd.choice([1, 2, 3]), rnd.choice(["=", "<>", "<", "<=", ">", ">="])
    comparisons = [f"{column} {op} {c}", f"{c} {op} {column}", f"{column} between {c} and {d}"]
    others = [
        f"{column} in ({c}, {d})",
        f"{column} is not null",
        f"{column} > {c}.5",
        f"{column} in ({c}, null)",
    ]
    return rnd.choice(comparisons + others)


def _random_condition(rnd: random.Random, depth: int = 0) -> str:
    pick = rnd.random()
    if depth > 2 or pick < 0.4:
        return _random_atom(rnd)
    if pick < 0.9:
        op = "and" if pick < 0.65 else "or"
        return f"({_random_condition(rnd, depth + 1)}) {op} ({_random_condition(rnd, depth + 1)})"
    return f"not ({_random_condition(rnd, depth + 1)})"


def test_static_answer_equals_brute_force_on_a_grid():
    """Random conditions in the fragment: 'shadowed' (rules and default) exactly when no grid row reaches it.
    The grid has a value in every cell (below, at and between the constants, and NULL)."""
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE grid AS SELECT * FROM (SELECT unnest(?::DOUBLE[]) AS x), (SELECT unnest(?::DOUBLE[]) AS y), "
        "(SELECT unnest(?::BOOLEAN[]) AS vip), (SELECT unnest(?::VARCHAR[]) AS tier)",
        [_GRID, _GRID, [None, True, False], [None, "", "a", "aa", "b", "c"]],
    )
    action = NextAction(action="act", channel="email", owner="sales", priority=1)
    rnd = random.Random(20261101)
    reported = 0
    for _ in range(120):
        whens = [_random_condition(rnd) for _ in range(rnd.randint(1, 4))]
        rules = [
            Rule(id=f"r{i}", segment="S", when=w, next_action=action, line=i + 1) for i, w in enumerate(whens)
        ]
        toy = Scheme(
            name="t", rules=rules, default=DefaultRule(id="d", segment="D", next_action=action, line=9)
        )
        rule_set = RuleSet(
            version="v",
            effective_from=date(2026, 1, 1),
            description="",
            author="",
            channel_order=["email"],
            schemes={"t": toy},
            path=Path("t.yaml"),
            text="",
        )
        static = {f.rule_id for f in lint_static(rule_set) if f.code == "shadowed"}
        case = " ".join(f"WHEN ({parse_condition(w)[0].sql}) THEN {i}" for i, w in enumerate(whens))
        reached = {
            k
            for (k,) in con.execute(f"SELECT DISTINCT CASE {case} ELSE {len(whens)} END FROM grid").fetchall()
        }
        truth = {o.id for k, o in enumerate(toy.outcomes) if k not in reached}
        assert static == truth, whens
        reported += len(static)
    assert reported > 20  # the sample does exercise shadowing


# --- on data -------------------------------------------------------------------------------------------


@pytest.fixture
def warehouse():
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE customers AS SELECT * FROM (VALUES "
        "('c1', 5.0, 1, 3), ('c2', 20.0, 1, 4), ('c3', 60.0, 2, 5), ('c4', 150.0, 2, 6), ('c5', 200.0, 3, 7), "
        "('c6', NULL, 3, 8)) AS v(entity_id, x, y, z)"
    )
    con.execute("CREATE TABLE accounts AS SELECT * FROM (VALUES ('a1', 1), ('a2', 0)) AS v(entity_id, z)")
    return con


SOURCES = {"customer": "SELECT * FROM customers", "account": "SELECT * FROM accounts;"}


def test_findings_on_data_with_exact_counts(tmp_path, warehouse):
    rules = rule_file(
        tmp_path,
        scheme(
            "tier",
            rule("big", "x >= 100")
            + rule("huge", "x >= 200")  # statically shadowed: not reported again on data
            + rule("mid", "x >= 10", segment="Mid", channel="preferred")
            + rule("mid_plus", "x + 0 >= 50", segment="Mid")  # shares 'Mid': that segment is not empty
            + rule("never", "y > 1000"),
            default_segment="Small",
        ),
        scheme("reach", rule("counted", "z >= 0", channel="email"), default_segment="Uncounted"),
        scheme("accounts", rule("any", "z > 0", channel="email"), entity="account"),
    )
    assert {f.rule_id for f in lint_static(rules)} == {"huge"}
    findings = lint_on_data(warehouse, rules, SOURCES)
    got = {(f.code, f.scheme, f.rule_id): f for f in findings}
    assert set(got) == {
        ("shadowed_on_data", "tier", "mid_plus"),
        ("never_true_on_data", "tier", "never"),
        ("empty_segment", "tier", "huge"),
        ("empty_segment", "tier", "never"),
        ("empty_segment", "reach", "other"),  # the default's segment
        ("overlapping_actions", None, None),
    }
    shadow = got["shadowed_on_data", "tier", "mid_plus"]
    assert shadow.severity == "warning" and shadow.line == line_of(rules, "tier", "mid_plus")
    assert "true for 3 customers" in shadow.message and "('big': 2, 'mid': 1)" in shadow.message
    never = got["never_true_on_data", "tier", "never"]
    assert never.severity == "info" and "none of the 6 customers" in never.message
    assert "segment 'Never'" in got["empty_segment", "tier", "never"].message
    assert "segment 'Uncounted'" in got["empty_segment", "reach", "other"].message
    overlap = got["overlapping_actions", None, None]
    assert overlap.severity == "info"
    # email from tier (big: c4, c5; huge/mid_plus/never take nobody) and from reach (everyone): 2 customers
    assert overlap.message.startswith(
        "customers get next actions on the same channel from two schemes: tier + reach on email: 2;"
    )
    assert overlap.line == 1


def test_preferred_is_its_own_channel_and_none_never_overlaps(tmp_path, warehouse):
    rules = rule_file(
        tmp_path,
        scheme("one", rule("p", "x > 0", channel="preferred") + rule("n", "y > 0", channel="none")),
        scheme("two", rule("p2", "z > 4", channel="preferred") + rule("e", "z > 0", channel="email")),
        scheme("three", rule("n3", "z > 0", channel="none")),
    )
    overlaps = [f for f in lint_on_data(warehouse, rules, SOURCES) if f.code == "overlapping_actions"]
    # preferred in one: c1..c5; preferred in two: z > 4 -> c3, c4, c5 (c6 has x NULL: 'n' in one)
    assert [f.message.split("; check")[0] for f in overlaps] == [
        "customers get next actions on the same channel from two schemes: one + two on preferred: 3"
    ]


def test_every_segment_used_gives_no_findings(tmp_path, warehouse):
    rules = rule_file(tmp_path, scheme("tier", rule("big", "x >= 100") + rule("small", "x < 100")))
    assert lint_on_data(warehouse, rules, SOURCES) == []


def test_empty_source_and_missing_source(tmp_path, warehouse):
    rules = rule_file(tmp_path, scheme("tier", rule("big", "x >= 100")))
    (finding,) = lint_on_data(warehouse, rules, {"customer": "SELECT * FROM customers WHERE false"})
    assert finding.code == "empty_segment" and "data is empty" in finding.message
    with pytest.raises(ValueError, match="no source SQL for entity level 'customer'"):
        lint_on_data(warehouse, rules, {"account": "SELECT * FROM accounts"})


def test_shipped_rules_on_data(warehouse):
    shipped = load_rule_file(SHIPPED, SHIPPED_COLUMNS)
    warehouse.execute(
        "CREATE TABLE features AS SELECT 'c' || i AS entity_id, 1 + i % 5 AS r_score, 1 + (i // 5) % 5 AS f_score, "
        "1 + (i // 25) % 5 AS m_score, CASE WHEN i % 7 = 0 THEN 0 ELSE 1 + i % 9 END AS frequency, "
        "i % 5 = 0 AS is_top_20pct, (i % 100) / 100.0 AS cumulative_revenue_share FROM range(1000) AS t(i)"
    )
    findings = lint_on_data(warehouse, shipped, {"customer": "SELECT * FROM features"})
    # only the overlap between the two customer schemes: every segment is reached on this grid of scores
    assert {f.code for f in findings} == {"overlapping_actions"}
