"""The whole job on generated demo data: every customer gets one row per scheme, no segment stays empty."""

from datetime import date

import duckdb
import pytest

from orchestration.demo.generator import generate
from orchestration.rules import load_rule_file
from orchestration.runner import run_job
from orchestration.settings import DEFAULT_RULES_DIR, Settings

pytestmark = pytest.mark.integration
AS_OF = date(2026, 11, 1)


def test_demo_data_gets_every_default_segment(pipeline_env):
    generate(pipeline_env / "landing", customers=3000, seed=42, as_of=AS_OF)
    outcome = run_job(as_of=AS_OF)
    assert outcome.success, outcome.failure

    con = duckdb.connect(str(Settings.from_env().warehouse), read_only=True)
    rules = load_rule_file(DEFAULT_RULES_DIR / "2026-11-01.yaml")
    customers = con.execute("select count(*) from marts.dim_customers").fetchone()[0]
    assert customers > 3000  # CRM customers plus webshop guests
    per_scheme = con.execute(
        """select scheme, count(*), count(distinct customer_id),
                  count(*) filter (where customer_id not in (select customer_id from marts.dim_customers))
           from segments.customer_segments group by scheme order by scheme"""
    ).fetchall()
    assert per_scheme == [(scheme, customers, customers, 0) for scheme in sorted(rules.schemes)]

    sizes = dict(
        ((scheme, segment), n)
        for scheme, segment, n in con.execute(
            "select scheme, segment, count(*) from segments.customer_segments group by all"
        ).fetchall()
    )
    for name, scheme in rules.schemes.items():
        for outcome_rule in [*scheme.rules, scheme.default]:
            assert sizes.get((name, outcome_rule.segment), 0) > 0, f"{name}: {outcome_rule.segment} is empty"
    # consent is respected on real-looking data too
    assert (
        con.execute(
            """select count(*) from segments.customer_segments s join marts.dim_customers d using (customer_id)
           where (s.action_channel = 'email' and not d.consent_email) or (s.action_channel = 'sms' and not d.consent_sms)
              or (s.action_channel = 'phone' and not d.consent_phone) or (s.action_channel = 'post' and not d.consent_post)"""
        ).fetchone()[0]
        == 0
    )
