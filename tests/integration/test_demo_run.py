"""The whole job on generated demo data: every customer gets one row per scheme, no segment stays empty."""

from datetime import date

import duckdb
import pytest

from orchestration.runner import run_job
from segments.demo.generator import generate
from segments.rules import load_rule_file
from segments.settings import DEFAULT_RULES_DIR, Settings

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

    # three weeks later the value-based version is in force: every segment of every scheme is used,
    # the value models are fitted and recorded for the run, and the run report is written
    con.close()
    later = run_job(as_of=date(2026, 11, 22))
    assert later.success, later.failure
    settings = Settings.from_env()
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    current = load_rule_file(DEFAULT_RULES_DIR / "2026-11-22.yaml")
    sizes = dict(
        ((scheme, segment), n)
        for scheme, segment, n in con.execute(
            "select scheme, segment, count(*) from segments.customer_segments group by all"
        ).fetchall()
    )
    empty = [
        f"{name}: {rule.segment}"
        for name, scheme in current.schemes.items()
        for rule in [*scheme.rules, scheme.default]
        if not sizes.get((name, rule.segment))
    ]
    assert empty == []
    fits = con.execute(
        "select model, converged, customers > 0 from segments.clv_fits where run_id = ? order by model",
        [later.run_id],
    ).fetchall()
    assert fits == [("bgnbd", True, True), ("gamma_gamma", True, True)]
    bounds = con.execute(
        """select min(p_alive) >= 0 and max(p_alive) <= 1, count(*) filter (where frequency = 0 and p_alive is not null),
                  count(predicted_clv) > 0 from marts.customer_features"""
    ).fetchone()
    assert bounds == (True, 0, True)
    con.close()
    report = settings.reports_dir / later.run_id / "index.html"
    assert report.exists() and (settings.reports_dir / "latest.html").exists()
    assert report.read_text(encoding="utf-8").count('class="chart"') >= 4
