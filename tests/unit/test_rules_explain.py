"""Explaining a customer's segment: re-evaluating one scheme on one customer's values, leaf by leaf."""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from segments.rules import RuleValidationError, Scheme, load_rule_file
from segments.rules.explain import (
    PartTrace,
    SchemeTrace,
    format_trace,
    scheme_columns,
    trace_scheme,
)

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "segment_rules" / "2026-11-01.yaml"


@pytest.fixture(scope="module")
def shipped():
    return load_rule_file(SHIPPED)


def toy(tmp_path: Path, *rules: tuple[str, str], default: str = "nothing_yet") -> Scheme:
    """A one-scheme (``tier``) rule file from ``(id, when)`` pairs; ``when`` is written as a quoted scalar."""
    items = "".join(
        f"      - id: {rule_id}\n        segment: {rule_id.title()}\n        when: {when!r}\n"
        "        next_action: {action: act, channel: email, owner: sales, priority: 2}\n"
        for rule_id, when in rules
    )
    text = (
        'version: "toy-1"\neffective_from: 2026-01-01\ndescription: Toy\nauthor: Tests\nschemes:\n  tier:\n'
        + (f"    rules:\n{items}" if rules else "    rules: []\n")
        + f"    default:\n      id: {default}\n      segment: Nothing Yet\n"
        + "      next_action: {action: wait, channel: email, owner: marketing_automation, priority: 5}\n"
    )
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    return load_rule_file(path).schemes["tier"]


def compiled_rule_ids(scheme: Scheme, rows: list[dict], types: dict[str, str]) -> list[str]:
    """What the compiler's CASE gives for each row of a table with these values and column types."""
    con = duckdb.connect()
    con.execute(
        f"CREATE TABLE t (n INTEGER, {', '.join(f'{name} {type_}' for name, type_ in types.items())})"
    )
    for n, row in enumerate(rows):
        names = ", ".join(row)
        con.execute(f"INSERT INTO t (n, {names}) VALUES (?{', ?' * len(row)})", [n, *row.values()])
    whens = " ".join(f"WHEN ({rule.when}) THEN '{rule.id}'" for rule in scheme.rules)
    return [
        r[0]
        for r in con.execute(
            f"SELECT CASE {whens} ELSE '{scheme.default.id}' END FROM t ORDER BY n"
        ).fetchall()
    ]


# --- the shipped rule file ---------------------------------------------------------------------------


def test_loyal_customer_and_why_the_earlier_rules_did_not_match(shipped):
    values = {"r_score": 3, "f_score": 4, "m_score": 2, "frequency": 7}
    trace = trace_scheme(shipped.schemes["rfm_lifecycle"], values)

    assert isinstance(trace, SchemeTrace)
    assert trace.scheme == "rfm_lifecycle"
    assert trace.consistent is True
    assert trace.values == {"f_score": 4, "frequency": 7, "m_score": 2, "r_score": 3}
    assert trace.matched.rule_id == "loyal_customers"
    assert trace.matched.segment == "Loyal Customers"
    assert trace.matched.when == "r_score >= 3 and f_score >= 4"
    assert trace.matched.result is True
    assert trace.matched.reason == "yes: r_score >= 3 (r_score = 3) and f_score >= 4 (f_score = 4)"
    assert trace.matched.parts == [
        PartTrace("r_score >= 3", True, {"r_score": 3}),
        PartTrace("f_score >= 4", True, {"f_score": 4}),
    ]

    assert [r.rule_id for r in trace.not_matched] == ["prospect", "champions", "cant_lose_them", "at_risk"]
    assert all(r.result is False for r in trace.not_matched)
    reasons = {r.rule_id: r.reason for r in trace.not_matched}
    assert reasons["prospect"] == "no: frequency = 0 is false (frequency = 7)"
    assert reasons["champions"] == (
        "no: r_score >= 4 is false (r_score = 3) and m_score >= 4 is false (m_score = 2)"
    )
    assert reasons["cant_lose_them"] == (
        "no: r_score <= 2 is false (r_score = 3) and m_score >= 4 is false (m_score = 2)"
    )
    assert reasons["at_risk"] == "no: r_score <= 2 is false (r_score = 3)"
    champions = trace.not_matched[1]
    assert champions.when == "r_score >= 4 and f_score >= 4 and m_score >= 4"
    assert [(p.sql, p.result) for p in champions.parts] == [
        ("r_score >= 4", False),
        ("f_score >= 4", True),  # true, so not named in the reason
        ("m_score >= 4", False),
    ]
    assert "f_score" not in champions.reason


def test_champion(shipped):
    trace = trace_scheme(
        shipped.schemes["rfm_lifecycle"], {"r_score": 5, "f_score": 4, "m_score": 5, "frequency": 12}
    )
    assert trace.matched.rule_id == "champions"
    assert trace.matched.reason == (
        "yes: r_score >= 4 (r_score = 5), f_score >= 4 (f_score = 4) and m_score >= 4 (m_score = 5)"
    )
    assert [r.rule_id for r in trace.not_matched] == ["prospect"]


def test_null_score_is_unknown_and_named_missing(shipped):
    values = {"r_score": 5, "f_score": 4, "m_score": None, "frequency": 7}
    trace = trace_scheme(shipped.schemes["rfm_lifecycle"], values)

    champions = trace.not_matched[1]
    assert champions.rule_id == "champions"
    assert champions.result is None  # NULL does not match: falls through, like the compiler's CASE
    assert champions.reason == "no: m_score is missing (NULL), so m_score >= 4 is unknown"
    assert champions.parts[2] == PartTrace("m_score >= 4", None, {"m_score": None})
    assert trace.matched.rule_id == "loyal_customers"


def test_prospect_without_scores(shipped):
    values = {"r_score": None, "f_score": None, "m_score": None, "frequency": 0}
    trace = trace_scheme(shipped.schemes["rfm_lifecycle"], values)
    assert trace.matched.rule_id == "prospect"
    assert trace.matched.reason == "yes: frequency = 0 (frequency = 0)"
    assert trace.not_matched == []


def test_default_when_nothing_matches(shipped):
    values = {"r_score": 1, "f_score": 2, "m_score": 1, "frequency": 2}
    trace = trace_scheme(shipped.schemes["rfm_lifecycle"], values)
    assert trace.matched.rule_id == "lost"
    assert trace.matched.when is None and trace.matched.result is True and trace.matched.parts == []
    assert trace.matched.reason == "yes: none of the 11 rules matched, so the default applies"
    assert len(trace.not_matched) == 11
    assert [r.rule_id for r in trace.not_matched][-1] == "hibernating"
    assert trace.not_matched[-1].reason == "no: r_score = 2 is false (r_score = 1)"


def test_value_tier_with_column_types(shipped):
    scheme = shipped.schemes["value_tier"]
    types = {"is_top_20pct": "BOOLEAN", "frequency": "INTEGER", "cumulative_revenue_share": "DECIMAL(18,4)"}
    values = {"is_top_20pct": False, "frequency": 3, "cumulative_revenue_share": 0.97}
    trace = trace_scheme(scheme, values, column_types=types)

    assert trace.matched.rule_id == "long_tail"
    assert trace.values["cumulative_revenue_share"] == Decimal("0.9700")  # as the warehouse reads it
    key_account, growth, prospect = trace.not_matched
    assert key_account.reason == "no: is_top_20pct is false"
    assert (
        growth.reason == "no: cumulative_revenue_share <= 0.95 is false (cumulative_revenue_share = 0.9700)"
    )
    assert prospect.reason == "no: frequency = 0 is false (frequency = 3)"


def test_bare_boolean_column_missing(shipped):
    trace = trace_scheme(
        shipped.schemes["value_tier"], {"is_top_20pct": None, "frequency": 1, "cumulative_revenue_share": 0.5}
    )
    assert trace.not_matched[0].result is None
    assert trace.not_matched[0].reason == "no: is_top_20pct is missing (NULL)"
    assert trace.matched.rule_id == "growth"


def test_scheme_columns(shipped):
    assert scheme_columns(shipped.schemes["rfm_lifecycle"]) == ["f_score", "frequency", "m_score", "r_score"]
    assert scheme_columns(shipped.schemes["value_tier"]) == [
        "cumulative_revenue_share",
        "frequency",
        "is_top_20pct",
    ]


# --- consistency with what was recorded ----------------------------------------------------------------


def test_recorded_rule_that_differs_is_inconsistent(shipped):
    values = {"r_score": 3, "f_score": 4, "m_score": 2, "frequency": 7}
    scheme = shipped.schemes["rfm_lifecycle"]
    differs = trace_scheme(scheme, values, matched_rule_id="at_risk")
    assert differs.consistent is False
    assert differs.matched.rule_id == "loyal_customers"  # still the evaluated one
    same = trace_scheme(scheme, values, matched_rule_id="loyal_customers")
    assert same.consistent is True
    assert trace_scheme(scheme, {"r_score": 1}, matched_rule_id="lost").consistent is True


# --- dates, OR, NOT, IN, BETWEEN, functions ------------------------------------------------------------


def test_iso_date_strings_compare_as_dates_with_column_types(tmp_path):
    scheme = toy(tmp_path, ("recent", "last_order_date >= DATE '2026-10-01'"))
    types = {"last_order_date": "DATE"}

    hit = trace_scheme(scheme, {"last_order_date": "2026-10-15"}, column_types=types)
    assert hit.matched.rule_id == "recent"
    assert hit.values == {"last_order_date": date(2026, 10, 15)}
    assert hit.matched.reason == (
        "yes: last_order_date >= CAST('2026-10-01' AS DATE) (last_order_date = 2026-10-15)"
    )

    miss = trace_scheme(scheme, {"last_order_date": "2026-09-30"}, column_types=types)
    assert miss.matched.rule_id == "nothing_yet"
    assert miss.not_matched[0].reason == (
        "no: last_order_date >= CAST('2026-10-01' AS DATE) is false (last_order_date = 2026-09-30)"
    )

    as_date = trace_scheme(scheme, {"last_order_date": date(2026, 10, 1)})  # a date needs no type
    assert as_date.matched.rule_id == "recent"


def test_date_text_without_types_is_a_clear_error(tmp_path):
    scheme = toy(tmp_path, ("recent", "last_order_date >= DATE '2026-10-01'"))
    with pytest.raises(ValueError, match="column_types"):
        trace_scheme(scheme, {"last_order_date": "2026-10-15"})


def test_unreadable_value_names_the_column(tmp_path):
    scheme = toy(tmp_path, ("recent", "last_order_date >= DATE '2026-10-01'"))
    with pytest.raises(ValueError, match="last_order_date = 'yesterday' as DATE"):
        trace_scheme(scheme, {"last_order_date": "yesterday"}, column_types={"last_order_date": "DATE"})


def test_or_names_every_disjunct_when_it_fails(tmp_path):
    scheme = toy(tmp_path, ("vip", "is_vip or lifetime_value > 1000 or country in ('SE', 'NO')"))

    miss = trace_scheme(scheme, {"is_vip": False, "lifetime_value": 200, "country": None})
    vip = miss.not_matched[0]
    assert vip.result is None  # FALSE OR FALSE OR NULL
    assert [p.sql for p in vip.parts] == ["is_vip", "lifetime_value > 1000", "country IN ('SE', 'NO')"]
    assert [p.result for p in vip.parts] == [False, False, None]
    assert vip.reason == (
        "no: is_vip is false; lifetime_value > 1000 is false (lifetime_value = 200); "
        "country is missing (NULL), so country IN ('SE', 'NO') is unknown"
    )

    all_false = trace_scheme(scheme, {"is_vip": False, "lifetime_value": 200, "country": "DK"})
    assert all_false.not_matched[0].result is False
    assert all_false.not_matched[0].reason == (
        "no: is_vip is false, lifetime_value > 1000 is false (lifetime_value = 200) and "
        "country IN ('SE', 'NO') is false (country = 'DK')"
    )

    hit = trace_scheme(scheme, {"is_vip": None, "lifetime_value": 5000, "country": "SE"})
    assert hit.matched.rule_id == "vip"
    assert hit.matched.reason == (  # only the true disjuncts explain a match
        "yes: lifetime_value > 1000 (lifetime_value = 5000) and country IN ('SE', 'NO') (country = 'SE')"
    )


def test_and_of_or_in_parentheses(tmp_path):
    scheme = toy(tmp_path, ("target", "(channel = 'web' or channel = 'app') and orders >= 2"))
    trace = trace_scheme(scheme, {"channel": "store", "orders": 5})
    target = trace.not_matched[0]
    assert [p.sql for p in target.parts] == ["channel = 'web'", "channel = 'app'", "orders >= 2"]
    assert target.reason == (
        "no: channel = 'web' is false (channel = 'store') and channel = 'app' is false (channel = 'store')"
    )


def test_not_of_a_group_and_negated_predicates(tmp_path):
    scheme = toy(
        tmp_path,
        ("grouped", "not (churned or orders < 1)"),
        ("negated", "email is not null and country not in ('US') and age not between 0 and 17"),
    )
    trace = trace_scheme(scheme, {"churned": True, "orders": 4, "email": "a@b.c", "country": "SE", "age": 30})
    grouped = trace.not_matched[0]
    assert grouped.result is False
    assert grouped.reason == "no: churned is true"  # NOT (...) is false because churned is true
    assert trace.matched.rule_id == "negated"
    assert [p.sql for p in trace.matched.parts] == [
        "email IS NOT NULL",
        "country NOT IN ('US')",
        "age NOT BETWEEN 0 AND 17",
    ]
    assert all(p.result is True for p in trace.matched.parts)


def test_functions_and_case_are_leaves(tmp_path):
    scheme = toy(
        tmp_path,
        ("named", "starts_with(lower(name), 'ann') and case when orders > 3 then true else false end"),
    )
    trace = trace_scheme(scheme, {"name": "Annika", "orders": 2})
    named = trace.not_matched[0]
    assert [p.sql for p in named.parts] == [
        "STARTS_WITH(LOWER(name), 'ann')",
        "CASE WHEN orders > 3 THEN TRUE ELSE FALSE END",
    ]
    assert [p.result for p in named.parts] == [True, False]
    assert named.reason == "no: CASE WHEN orders > 3 THEN TRUE ELSE FALSE END is false (orders = 2)"


def test_division_by_zero_is_unknown_not_an_error(tmp_path):
    scheme = toy(tmp_path, ("big_basket", "revenue / orders > 100"))
    trace = trace_scheme(scheme, {"revenue": 500, "orders": 0})
    big = trace.not_matched[0]
    assert big.result is None
    assert big.parts[0].sql == "revenue / orders > 100"  # shown as written
    assert big.reason == "no: revenue / orders > 100 is unknown (revenue = 500, orders = 0)"


def test_matches_the_compiled_case_on_many_values(shipped):
    scheme = shipped.schemes["rfm_lifecycle"]
    types = dict.fromkeys(scheme_columns(scheme), "INTEGER")
    rows = [
        {"r_score": r, "f_score": f, "m_score": m, "frequency": 0 if f is None else f * 2}
        for r in (None, 1, 2, 3, 4, 5)
        for f in (None, 1, 2, 4)
        for m in (None, 4)
    ]
    expected_ids = compiled_rule_ids(scheme, rows, types)
    assert set(expected_ids) == {r.id for r in scheme.outcomes}  # every rule and the default is reached
    for values, expected in zip(rows, expected_ids, strict=True):
        trace = trace_scheme(scheme, values, column_types=types)
        assert trace.matched.rule_id == expected, values
        assert all(rule.result is not True for rule in trace.not_matched)
        assert [r.rule_id for r in trace.not_matched] == [r.id for r in scheme.rules][
            : len(trace.not_matched)
        ]


# --- values: names, missing keys, types ----------------------------------------------------------------


def test_value_keys_match_case_insensitively_and_missing_keys_are_null(shipped):
    trace = trace_scheme(shipped.schemes["rfm_lifecycle"], {"R_SCORE": 2, "F_Score": 4, "frequency": 4})
    assert trace.values == {"f_score": 4, "frequency": 4, "m_score": None, "r_score": 2}
    assert trace.matched.rule_id == "at_risk"
    assert trace.not_matched[2].reason == "no: m_score is missing (NULL), so m_score >= 4 is unknown"


def test_column_types_must_be_plain_type_names(shipped):
    scheme = shipped.schemes["value_tier"]
    values = {"is_top_20pct": True, "frequency": 1, "cumulative_revenue_share": 0.1}
    with pytest.raises(ValueError, match="not a plain DuckDB type name"):
        trace_scheme(scheme, values, column_types={"frequency": "INTEGER) AS x, (SELECT 1"})
    ok = {"frequency": "integer", "cumulative_revenue_share": "DOUBLE PRECISION", "is_top_20pct": "BOOLEAN"}
    assert trace_scheme(scheme, values, column_types=ok).matched.rule_id == "key_account"


def test_text_values_are_parameters_not_sql(tmp_path):
    scheme = toy(tmp_path, ("se", "country = 'SE'"))
    sneaky = "SE' OR 1=1 --"
    trace = trace_scheme(scheme, {"country": sneaky})
    assert trace.matched.rule_id == "nothing_yet"
    assert trace.values == {"country": sneaky}
    assert trace.not_matched[0].reason == "no: country = 'SE' is false (country = 'SE'' OR 1=1 --')"


def test_control_characters_in_values_do_not_reach_the_terminal(tmp_path):
    scheme = toy(tmp_path, ("se", "country = 'SE'"))
    trace = trace_scheme(scheme, {"country": "S\nE\x1b[31m"})
    assert trace.values["country"] == "S\nE\x1b[31m"
    for line in [trace.not_matched[0].reason, *format_trace(trace)]:
        assert "\n" not in line and "\x1b" not in line
    assert "S\\nE\\x1b[31m" in trace.not_matched[0].reason


# --- schemes without rules, unparsable conditions, output ------------------------------------------------


def test_scheme_without_rules(tmp_path):
    scheme = toy(tmp_path)
    trace = trace_scheme(scheme, {})
    assert scheme_columns(scheme) == []
    assert trace.values == {} and trace.not_matched == []
    assert trace.matched.rule_id == "nothing_yet"
    assert trace.matched.reason == "yes: the scheme has no rules, so everyone gets the default"


def test_a_condition_that_does_not_parse_is_a_rule_error(shipped):
    scheme = shipped.schemes["value_tier"]
    broken = dataclasses.replace(scheme.rules[0], when="frequency > (select 1)")
    scheme = dataclasses.replace(scheme, rules=[broken, *scheme.rules[1:]])
    with pytest.raises(RuleValidationError, match=r"schemes\.value_tier\.rules\[0\]\.when: subqueries"):
        trace_scheme(scheme, {"frequency": 1})


def test_format_trace(shipped):
    values = {"r_score": 3, "f_score": 4, "m_score": 2, "frequency": 7}
    lines = format_trace(trace_scheme(shipped.schemes["rfm_lifecycle"], values))
    assert lines == [
        "rfm_lifecycle: Loyal Customers (rule loyal_customers)",
        "  values: f_score = 4, frequency = 7, m_score = 2, r_score = 3",
        "  1. prospect (Prospect): frequency = 0",
        "     no: frequency = 0 is false (frequency = 7)",
        "  2. champions (Champions): r_score >= 4 and f_score >= 4 and m_score >= 4",
        "     no: r_score >= 4 is false (r_score = 3) and m_score >= 4 is false (m_score = 2)",
        "  3. cant_lose_them (Can't Lose Them): r_score <= 2 and f_score >= 4 and m_score >= 4",
        "     no: r_score <= 2 is false (r_score = 3) and m_score >= 4 is false (m_score = 2)",
        "  4. at_risk (At Risk): r_score <= 2 and f_score >= 3",
        "     no: r_score <= 2 is false (r_score = 3)",
        "  5. loyal_customers (Loyal Customers): r_score >= 3 and f_score >= 4",
        "     yes: r_score >= 3 (r_score = 3) and f_score >= 4 (f_score = 4)",
    ]
    default = format_trace(trace_scheme(shipped.schemes["value_tier"], {"frequency": 2}))
    assert default[0] == "value_tier: Long Tail (default long_tail)"
    assert default[-2:] == [
        "  4. default long_tail (Long Tail)",
        "     yes: none of the 3 rules matched, so the default applies",
    ]


def test_a_later_rule_that_fails_on_these_values_does_not_hide_the_match(tmp_path):
    scheme = toy(tmp_path, ("text", "code = 'abc'"), ("numeric", "cast(code as integer) > 1"))
    trace = trace_scheme(scheme, {"code": "abc"})  # the second rule alone cannot cast 'abc'
    assert trace.matched.rule_id == "text"
    assert trace.matched.reason == "yes: code = 'abc' (code = 'abc')"


def test_a_rule_that_fails_before_the_match_is_an_error(tmp_path):
    scheme = toy(tmp_path, ("numeric", "cast(code as integer) > 1"), ("text", "code = 'abc'"))
    with pytest.raises(ValueError, match="scheme tier: DuckDB cannot evaluate the rules on these values"):
        trace_scheme(scheme, {"code": "abc"})


def test_text_for_a_number_without_types_asks_for_column_types(shipped):
    with pytest.raises(ValueError, match="pass column_types"):
        trace_scheme(shipped.schemes["rfm_lifecycle"], {"r_score": "3", "f_score": 4, "frequency": 7})
    trace = trace_scheme(
        shipped.schemes["rfm_lifecycle"],
        {"r_score": "3", "f_score": "4", "m_score": "2", "frequency": "7"},  # e.g. evidence stored as text
        column_types=dict.fromkeys(["r_score", "f_score", "m_score", "frequency"], "INTEGER"),
    )
    assert trace.matched.rule_id == "loyal_customers"
    assert trace.values == {"f_score": 4, "frequency": 7, "m_score": 2, "r_score": 3}
