"""Entity levels and champion/challenger experiments in the compiled statement."""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest

from segments.rules import (
    RuleValidationError,
    active_version,
    assign_segments,
    challenger_for,
    load_rule_versions,
)

AS_OF = date(2026, 12, 2)
AT = datetime(2026, 12, 2, 3, 0)
CUSTOMER = {"customer_id": "VARCHAR", "amount": "DOUBLE", "customer_type": "VARCHAR"}
CONTACT = {"contact_id": "VARCHAR", "customer_id": "VARCHAR", "opens": "INTEGER"}
CONSENT = {f"consent_{c}": "BOOLEAN" for c in ("email", "sms", "phone", "post")} | {
    "preferred_channel": "VARCHAR"
}
COLUMNS = {
    "customer": CUSTOMER | CONSENT,
    "account": CUSTOMER | CONSENT,
    "contact": CONTACT | CONSENT,
}
ACTION = "{{action: {a}, channel: {c}, owner: marketing_automation, priority: 3}}"


def champion(experiment: str = "", version: str = "v1", effective: str = "2026-12-01") -> str:
    return f"""\
version: "{version}"
effective_from: {effective}
description: Champion
author: Tests
{experiment}schemes:
  value:
    rules:
      - id: big
        segment: Big
        when: amount >= 100
        next_action: {ACTION.format(a="thank_you", c="email")}
    default:
      id: small
      segment: Small
      next_action: {ACTION.format(a="nurture", c="email")}
  users:
    entity: contact
    rules:
      - id: engaged
        segment: Engaged
        when: opens >= 3
        next_action: {ACTION.format(a="product_tips", c="email")}
    default:
      id: dormant
      segment: Dormant
      next_action: {ACTION.format(a="reactivate", c="sms")}
  firms:
    entity: account
    rules: []
    default:
      id: any_firm
      segment: Firm
      next_action: {ACTION.format(a="account_review", c="phone")}
"""


CHALLENGER = f"""\
version: "v1-challenger"
effective_from: 2026-12-01
role: challenger
description: Challenger with a lower bar
author: Tests
schemes:
  value:
    rules:
      - id: big
        segment: Big
        when: amount >= 50
        next_action: {ACTION.format(a="call_big", c="phone")}
    default:
      id: small
      segment: Small
      next_action: {ACTION.format(a="nurture", c="email")}
"""
EXPERIMENT = """experiment:
  name: lower_bar
  challenger: "v1-challenger"
  challenger_share: 0.3
  holdout_share: 0.2
  salt: "s1"
"""


def folder(tmp_path: Path, files: dict[str, str]) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


def warehouse(customers: int = 400) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute(
        f"""create table customers as select 'c' || i as customer_id, (i % 200)::double as amount,
            case when i % 2 = 0 then 'b2b' else 'b2c' end as customer_type,
            true as consent_email, true as consent_sms, true as consent_phone, false as consent_post,
            null::varchar as preferred_channel
            from range({customers}) t(i)"""
    )
    con.execute(
        """create table contacts as select 'p' || i as contact_id, 'c' || (i // 2) as customer_id,
           (i % 5)::integer as opens, true as consent_email, false as consent_sms, false as consent_phone,
           false as consent_post, null::varchar as preferred_channel from range(10) t(i)"""
    )
    return con


SOURCES = {
    "customer": "select customer_id as entity_id, * from customers",
    "account": "select customer_id as entity_id, * from customers where customer_type = 'b2b'",
    "contact": "select contact_id as entity_id, * from contacts",
}


def assign(con, rules, challenger=None, run_id="r1") -> None:
    assign_segments(
        con, rules, source_sql=SOURCES, target_table="assigned", run_id=run_id, as_of=AS_OF, assigned_at=AT,
        challenger=challenger,
    )  # fmt: skip


def expected_arm(customer_id: str, salt: str = "s1", holdout: float = 0.2, challenger: float = 0.3) -> str:
    u = int(hashlib.md5(f"{salt}:{customer_id}".encode()).hexdigest()[:8], 16) / 2**32
    return "holdout" if u < holdout else "challenger" if u < holdout + challenger else "champion"


def test_each_scheme_segments_its_own_entity_level(tmp_path):
    rule_sets = load_rule_versions(folder(tmp_path, {"v1.yaml": champion()}), COLUMNS)
    con = warehouse(customers=10)
    assign(con, rule_sets[0])
    counts = con.execute("select scheme, entity, count(*) from assigned group by all order by 1").fetchall()
    assert counts == [("firms", "account", 5), ("users", "contact", 10), ("value", "customer", 10)]
    contact = con.execute(
        "select customer_id, segment, evidence from assigned where entity_id = 'p7' and scheme = 'users'"
    ).fetchone()
    assert contact == ("c3", "Dormant", '{"opens":2}')
    assert con.execute("select distinct arm, experiment from assigned").fetchall() == [("champion", None)]


def test_a_contact_condition_cannot_use_customer_columns(tmp_path):
    text = champion().replace("when: opens >= 3", "when: amount >= 3")
    with pytest.raises(RuleValidationError, match="unknown column 'amount'"):
        load_rule_versions(folder(tmp_path, {"v1.yaml": text}), COLUMNS)


def test_experiment_arms_follow_the_documented_hash_and_treatments(tmp_path):
    files = {"v1.yaml": champion(EXPERIMENT), "v1-challenger.yaml": CHALLENGER}
    rule_sets = load_rule_versions(folder(tmp_path, files), COLUMNS)
    rules = active_version(rule_sets, AS_OF)
    challenger = challenger_for(rule_sets, rules)
    assert (rules.version, challenger.version) == ("v1", "v1-challenger")
    con = warehouse()
    assign(con, rules, challenger)
    rows = con.execute(
        """select customer_id, entity_id, scheme, arm, segment, next_action, action_channel, rule_version, experiment
           from assigned"""
    ).fetchall()
    arms = {}
    for customer_id, _entity_id, scheme, arm, segment, action, channel, version, experiment in rows:
        assert experiment == "lower_bar"
        assert arm == expected_arm(customer_id), customer_id
        arms.setdefault(customer_id, set()).add(arm)
        if arm == "holdout":
            assert (action, channel, version) == ("no_action_holdout", "none", "v1")
        elif scheme == "value" and arm == "challenger":
            assert version == "v1-challenger"
            amount = int(customer_id[1:]) % 200
            assert segment == ("Big" if amount >= 50 else "Small")
        elif scheme == "value":
            amount = int(customer_id[1:]) % 200
            assert (segment, version) == ("Big" if amount >= 100 else "Small", "v1")
        else:  # schemes the challenger does not change
            assert version == "v1"
    # an account and its contacts share the arm; the shares are close to the declared ones
    assert all(len(a) == 1 for a in arms.values())
    shares = con.execute(
        "select arm, count(*) / 400 from assigned where scheme = 'value' group by arm order by arm"
    ).fetchall()
    share = dict(shares)
    assert abs(share["holdout"] - 0.2) < 0.06 and abs(share["challenger"] - 0.3) < 0.07


def test_arms_are_stable_across_runs_and_rule_versions(tmp_path):
    first = load_rule_versions(
        folder(tmp_path / "a", {"v1.yaml": champion(EXPERIMENT), "c.yaml": CHALLENGER}), COLUMNS
    )
    con = warehouse()
    assign(
        con,
        first[0] if first[0].role == "champion" else first[1],
        challenger_for(first, active_version(first, AS_OF)),
    )
    before = dict(con.execute("select customer_id, arm from assigned where scheme = 'value'").fetchall())
    # a new champion version (different rules) with the same experiment
    v2 = champion(EXPERIMENT, version="v2", effective="2026-12-02").replace("amount >= 100", "amount >= 120")
    second = load_rule_versions(folder(tmp_path / "b", {"v2.yaml": v2, "c.yaml": CHALLENGER}), COLUMNS)
    rules = active_version(second, AS_OF)
    assert rules.version == "v2"
    assign(con, rules, challenger_for(second, rules), run_id="r2")
    after = dict(con.execute("select customer_id, arm from assigned where scheme = 'value'").fetchall())
    assert after == before


def test_experiment_problems_are_reported_with_file_and_line(tmp_path):
    too_much = EXPERIMENT.replace("0.2", "0.8")
    with pytest.raises(RuleValidationError) as caught:
        load_rule_versions(
            folder(tmp_path / "a", {"v1.yaml": champion(too_much), "c.yaml": CHALLENGER}), COLUMNS
        )
    assert "v1.yaml:9:18: experiment.holdout_share: challenger_share + holdout_share is 1.1" in str(
        caught.value
    )

    unknown = EXPERIMENT.replace('challenger: "v1-challenger"', 'challenger: "nope"')
    with pytest.raises(RuleValidationError) as caught:
        load_rule_versions(
            folder(tmp_path / "b", {"v1.yaml": champion(unknown), "c.yaml": CHALLENGER}), COLUMNS
        )
    assert (
        "v1.yaml:7:1: experiment.challenger: no rule file has version 'nope' (challenger versions here: v1-challenger)"
        in str(caught.value)
    )

    not_a_challenger = CHALLENGER.replace("role: challenger\n", "")
    with pytest.raises(RuleValidationError, match="is a champion file; add `role: challenger`"):
        load_rule_versions(
            folder(tmp_path / "c", {"v1.yaml": champion(EXPERIMENT), "c.yaml": not_a_challenger}), COLUMNS
        )


def test_a_challenger_is_never_the_active_version(tmp_path):
    late = CHALLENGER.replace("2026-12-01", "2026-12-02")
    rule_sets = load_rule_versions(folder(tmp_path, {"v1.yaml": champion(), "c.yaml": late}), COLUMNS)
    assert active_version(rule_sets, date(2027, 1, 1)).version == "v1"
