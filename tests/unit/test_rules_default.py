"""The shipped rule set (segment_rules/): valid against the feature catalogue, complete, every rule reachable."""

from __future__ import annotations

import itertools
import json
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from segments import features
from segments.dbt_manifest import ensure_manifest
from segments.rules import (
    REQUIRED_SCHEMES,
    RuleError,
    active_version,
    assign_segments,
    load_rule_file,
    load_rule_versions,
    rule_file_json_schema,
)
from segments.rules.lint import lint_static

RULES_DIR = Path(__file__).resolve().parents[2] / "segment_rules"
DEFAULT_FILE = RULES_DIR / "2026-11-01.yaml"

# The columns source_sql provides (marts.customer_features + customer_behaviour + dim_customers).
FEATURE_COLUMNS = {
    "customer_id": "VARCHAR",
    # customer_features
    "customer_type": "VARCHAR",
    "recency_days": "INTEGER",
    "frequency": "INTEGER",
    "monetary": "DECIMAL(18,2)",
    "tenure_days": "INTEGER",
    "average_order_value": "DECIMAL(18,2)",
    "category_count": "INTEGER",
    "r_score": "INTEGER",
    "f_score": "INTEGER",
    "m_score": "INTEGER",
    "revenue_rank": "INTEGER",
    "cumulative_revenue_share": "DOUBLE",
    "is_top_20pct": "BOOLEAN",
    "orders_365d": "INTEGER",
    "revenue_365d": "DECIMAL(18,2)",
    "consent_email": "BOOLEAN",
    "consent_sms": "BOOLEAN",
    "consent_phone": "BOOLEAN",
    "consent_post": "BOOLEAN",
    # customer_behaviour
    "engagement_score": "INTEGER",
    "days_since_last_interaction": "INTEGER",
    "interactions_90d": "INTEGER",
    "preferred_channel": "VARCHAR",
    # dim_customers
    "country": "VARCHAR",
    "region": "VARCHAR",
    "industry": "VARCHAR",
    "employee_band": "VARCHAR",
    "tech_maturity": "VARCHAR",
    "age_band": "VARCHAR",
    "household": "VARCHAR",
}
RFM_SEGMENTS = {
    "Champions", "Loyal Customers", "Potential Loyalists", "New Customers", "Promising", "Need Attention",
    "About To Sleep", "At Risk", "Can't Lose Them", "Hibernating", "Lost",
}  # fmt: skip


@pytest.fixture(scope="module")
def shipped():
    return load_rule_file(DEFAULT_FILE, FEATURE_COLUMNS, required_schemes=REQUIRED_SCHEMES)


def test_shipped_file_validates(shipped):
    assert shipped.version == "2026-11-01"
    assert shipped.effective_from == date(2026, 11, 1)
    assert shipped.channel_order == ["email", "sms", "phone", "post"]
    assert set(REQUIRED_SCHEMES) <= set(shipped.schemes)
    rfm = shipped.schemes["rfm_lifecycle"]
    assert [r.id for r in rfm.outcomes] == [
        "prospect", "champions", "cant_lose_them", "at_risk", "loyal_customers", "new_customers", "promising",
        "potential_loyalists", "need_attention", "about_to_sleep", "hibernating", "lost",
    ]  # fmt: skip
    assert {r.segment for r in rfm.outcomes} == RFM_SEGMENTS | {"Prospect"}
    assert (
        rfm.rules[2].next_action.owner == "customer_success" and rfm.rules[2].next_action.channel == "phone"
    )
    tier = shipped.schemes["value_tier"]
    assert [(r.id, r.segment) for r in tier.outcomes] == [
        ("key_account", "Key Account"), ("growth", "Growth"), ("prospect", "Prospect"), ("long_tail", "Long Tail"),
    ]  # fmt: skip
    assert tier.rules[0].next_action.model_dump() == {
        "action": "account_review", "channel": "phone", "owner": "sales", "priority": 1,
    }  # fmt: skip


def test_the_folder_loads_and_the_default_is_active(shipped):
    # every shipped version against the enforced dbt contracts, per entity level
    columns = features.entity_columns(features.catalogue_from_manifest(ensure_manifest()))
    loaded = load_rule_versions(RULES_DIR, columns, required_schemes=REQUIRED_SCHEMES)
    assert shipped.version in [r.version for r in loaded]
    assert active_version(loaded, date(2026, 11, 1)).version == "2026-11-01"
    assert active_version(loaded, date(2026, 11, 21)).version == "2026-11-20"
    today = active_version(loaded, date(2026, 11, 22))
    assert today.version == "2026-11-22"
    value_rules = " ".join(r.when for r in today.schemes["customer_value"].rules)
    assert "p_alive" in value_rules and "predicted_clv" in value_rules
    december = active_version(loaded, date(2026, 12, 1))
    assert december.version == "2026-12-01" and december.experiment.challenger == "2026-12-01-winback"
    assert {s.entity for r in loaded for s in r.schemes.values()} == {"customer", "account", "contact"}
    assert [f for r in loaded for f in lint_static(r)] == []
    day_before = loaded[0].effective_from - timedelta(days=1)
    with pytest.raises(RuleError, match=f"no rule version is in effect on {day_before.isoformat()}"):
        active_version(loaded, day_before)


def test_schema_json_is_up_to_date():
    # Regenerate with: segments rules schema > segment_rules/schema.json
    assert json.loads((RULES_DIR / "schema.json").read_text()) == rule_file_json_schema()


def _grid_sql() -> str:
    """Every r/f/m score combination x key account yes/no x revenue share, plus never-bought prospects."""
    rows = []
    for r, f, m, top, share in itertools.product(
        range(1, 6), range(1, 6), range(1, 6), (True, False), (0.5, 0.99)
    ):
        rows.append(f"('r{r}f{f}m{m}_{top}_{share}', {r}, {f}, {m}, {f * 2}, {top}, {share})")
    rows.append("('prospect', NULL, NULL, NULL, 0, FALSE, 1.0)")
    return (
        "SELECT *, TRUE AS consent_email, FALSE AS consent_sms, FALSE AS consent_phone, FALSE AS consent_post, "
        "NULL::VARCHAR AS preferred_channel FROM (VALUES " + ", ".join(rows) + ") AS t(customer_id, r_score, "
        "f_score, m_score, frequency, is_top_20pct, cumulative_revenue_share)"
    )


@pytest.fixture(scope="module")
def assigned(shipped):
    con = duckdb.connect()
    rows = assign_segments(
        con,
        shipped,
        source_sql=_grid_sql(),
        target_table="segments",
        run_id="grid",
        as_of=date(2026, 11, 2),
        assigned_at=datetime(2026, 11, 2, 3),
    )
    assert rows == (5 * 5 * 5 * 2 * 2 + 1) * 2
    return con


@pytest.mark.parametrize("scheme", ["rfm_lifecycle", "value_tier"])
def test_every_rule_is_reachable(shipped, assigned, scheme):
    hit = {
        r[0]
        for r in assigned.execute(
            "SELECT DISTINCT rule_id FROM segments WHERE scheme = ?", [scheme]
        ).fetchall()
    }
    assert hit == {r.id for r in shipped.schemes[scheme].outcomes}


def _expected_rfm(r: int, f: int, m: int) -> str:
    """The RFM definitions from the specification, in order (first match wins)."""
    checks = [
        ("champions", r >= 4 and f >= 4 and m >= 4),
        ("cant_lose_them", r <= 2 and f >= 4 and m >= 4),
        ("at_risk", r <= 2 and f >= 3),
        ("loyal_customers", r >= 3 and f >= 4),
        ("new_customers", r == 5 and f == 1),
        ("promising", r == 4 and f == 1),
        ("potential_loyalists", r >= 4 and f >= 2),
        ("need_attention", r == 3 and f >= 2),
        ("about_to_sleep", r == 3),
        ("hibernating", r == 2),
    ]
    return next((rule_id for rule_id, matched in checks if matched), "lost")


def test_rfm_assignment_matches_the_specification(assigned):
    got = assigned.execute(
        "SELECT s.customer_id, s.rule_id FROM segments s WHERE s.scheme = 'rfm_lifecycle'"
    ).fetchall()
    mismatches = []
    for customer_id, rule_id in got:
        if customer_id == "prospect":
            expected = "prospect"
        else:
            r, f, m = (int(customer_id[i]) for i in (1, 3, 5))
            expected = _expected_rfm(r, f, m)
        if rule_id != expected:
            mismatches.append((customer_id, rule_id, expected))
    assert len(got) == 501 and mismatches == []


@pytest.mark.parametrize(
    ("customer_id", "segment", "rule_id"),
    [
        ("r5f5m5_True_0.5", "Key Account", "key_account"),
        ("r1f1m1_False_0.5", "Growth", "growth"),
        ("r1f1m1_False_0.99", "Long Tail", "long_tail"),
        ("prospect", "Prospect", "prospect"),
    ],
)
def test_value_tier_examples(assigned, customer_id, segment, rule_id):
    got = assigned.execute(
        "SELECT segment, rule_id FROM segments WHERE scheme = 'value_tier' AND customer_id = ?", [customer_id]
    ).fetchone()
    assert got == (segment, rule_id)


def test_cant_lose_them_row(assigned):
    got = assigned.execute(
        "SELECT segment, next_action, action_channel, action_owner, action_priority FROM segments "
        "WHERE scheme = 'rfm_lifecycle' AND customer_id = 'r1f5m5_False_0.5'"
    ).fetchone()
    # Rule asks for phone, but these customers only consented to email.
    assert got == ("Can't Lose Them", "personal_win_back_call", "email", "customer_success", 1)
