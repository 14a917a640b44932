"""Rule versions end to end on the hand-crafted customers: impact preview, effective dating, reproducible
runs, explanations for past dates, lint, the audit report, and a champion/challenger experiment.

The new version 2026-11-05 changes two rules of rfm_lifecycle (see tests/fixtures/handcrafted.py for the
scores):
- new_customers: ``r_score = 5 and f_score = 1`` -> ``r_score >= 4 and f_score = 1``: B4 (4 1 1) moves from
  Promising to New Customers, and the promising rule (``r_score = 4 and f_score = 1``) can never match again;
- at_risk: ``r_score <= 2 and f_score >= 3`` -> ``f_score >= 2``: B8 (2 2 2) moves from Hibernating and the
  guest B10 (1 2 2) from Lost, both to At Risk.
Nothing else moves: 8 of 11 customers keep their rfm_lifecycle segment, all 11 their value tier.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from datetime import date

import pytest

from orchestration.cli import main as cli
from orchestration.runner import run_job
from segments.settings import DEFAULT_RULES_DIR, Settings
from tests.conftest import point_settings_at, query
from tests.fixtures import handcrafted

pytestmark = pytest.mark.integration

B4, B8, B10 = "C0000004", "C0000008", handcrafted.GUEST_ID
V1, V2 = "2026-11-01", "2026-11-05"


def new_version(text: str, version: str, *, effective: str | None = None) -> str:
    changed = (
        text.replace(f'version: "{V1}"', f'version: "{version}"')
        .replace(f"effective_from: {V1}", f"effective_from: {effective or version}")
        .replace("when: r_score = 5 and f_score = 1", "when: r_score >= 4 and f_score = 1")
        .replace("when: r_score <= 2 and f_score >= 3", "when: r_score <= 2 and f_score >= 2")
    )
    assert changed.count(version) >= 2 and "r_score >= 4 and f_score = 1" in changed
    return changed


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    """Runs on 11-01 (v1 in force, v2 valid but future), again on 11-01 (same inputs), then on 11-05 (v2)."""
    root = tmp_path_factory.mktemp("rule_versions")
    data, rules = root / "data", root / "rules"
    rules.mkdir()
    v1 = (DEFAULT_RULES_DIR / f"{V1}.yaml").read_text(encoding="utf-8")
    (rules / f"{V1}.yaml").write_text(v1, encoding="utf-8")
    (rules / f"{V2}.yaml").write_text(new_version(v1, V2), encoding="utf-8")
    with pytest.MonkeyPatch.context() as env:
        point_settings_at(env, data, rules)
        handcrafted.write_landing(data / "landing")
        runs = {}
        for name, as_of in (("first", date(2026, 11, 1)), ("rerun", date(2026, 11, 1))):
            outcome = run_job(as_of=as_of)
            assert outcome.success, outcome.failure
            runs[name] = outcome.run_id
        # the diff is previewed on the data of 11-01, before v2 is used
        settings = Settings.from_env()
        runs["preview"] = _capture(["rules", "diff", V1, V2, "--format", "json"])
        runs["preview_md"] = _capture(["rules", "diff", V1, V2, "--format", "markdown"])
        runs["lint"] = _capture(["rules", "validate", str(rules)], code=0)
        outcome = run_job(as_of=date(2026, 11, 5))
        assert outcome.success, outcome.failure
        runs["v2"] = outcome.run_id
        yield settings, rules, runs, env


def _capture(argv: list[str], code: int = 0) -> str:
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert cli(argv) == code
    return out.getvalue()


def matrix(migrations) -> dict[tuple[str, str, str], int]:
    return {(m["scheme"], m["from_segment"], m["to_segment"]): m["entities"] for m in migrations}


EXPECTED_MOVES = {
    ("rfm_lifecycle", "Promising", "New Customers"): 1,
    ("rfm_lifecycle", "Hibernating", "At Risk"): 1,
    ("rfm_lifecycle", "Lost", "At Risk"): 1,
}


def test_diff_previews_the_migration_matrix_without_publishing(history):
    _settings, _, runs, _ = history
    preview = json.loads(runs["preview"])
    cells = matrix(preview["migrations"])
    moves = {k: v for k, v in cells.items() if k[1] != k[2]}
    assert moves == EXPECTED_MOVES
    stays = {k[1]: v for k, v in cells.items() if k[1] == k[2] and k[0] == "rfm_lifecycle"}
    assert sum(stays.values()) == 8 and "Promising" not in stays and "Hibernating" not in stays
    assert preview["moved"] == {"rfm_lifecycle": 3}
    assert preview["entities"] == {"rfm_lifecycle": 11, "value_tier": 11}
    sizes = {(s["scheme"], s["segment"]): (s["before"], s["after"]) for s in preview["sizes"]}
    assert sizes[("rfm_lifecycle", "At Risk")] == (1, 3)
    assert sizes[("rfm_lifecycle", "Promising")] == (1, 0)
    actions = {(a["before"], a["after"]): a["entities"] for a in preview["action_changes"]}
    assert (
        actions[
            (
                "second_purchase_incentive via sms (marketing_automation)",  # B4 has only sms consent
                "onboarding_series via sms (marketing_automation)",
            )
        ]
        == 1
    )
    assert "+        when: r_score >= 4 and f_score = 1" in preview["text_diff"]
    md = runs["preview_md"]
    assert "| before \\ after |" in md and "```diff" in md
    assert "3 of 11 entities change segment (27.3 %)" in md


def test_future_version_is_recorded_but_not_used_until_its_date(history):
    settings, _, runs, _ = history
    rows = query(
        settings.warehouse,
        "select rule_version, first_used_run_id, first_used_as_of from segments.rule_versions order by 1",
    )
    assert rows == [(V1, runs["first"], date(2026, 11, 1)), (V2, runs["v2"], date(2026, 11, 5))]
    used = query(settings.warehouse, "select run_id, rule_version from segments.runs order by finished_at")
    assert used == [(runs["first"], V1), (runs["rerun"], V1), (runs["v2"], V2)]


def test_same_inputs_and_version_give_the_same_output_fingerprint(history):
    settings, _, runs, _ = history
    rows = dict(
        (r[0], r[1:])
        for r in query(
            settings.warehouse,
            "select run_id, input_fingerprint, output_fingerprint, rows_per_scheme, status from segments.runs",
        )
    )
    first, rerun, v2 = rows[runs["first"]], rows[runs["rerun"]], rows[runs["v2"]]
    assert first == rerun and first[1] is not None and len(first[1]) == 64
    assert json.loads(first[2]) == {"rfm_lifecycle": 11, "value_tier": 11}
    assert v2[0] == first[0]  # same landing files
    assert v2[1] != first[1]  # other rules (and as-of)


def test_impact_at_first_use_equals_the_preview(history):
    settings, _, runs, _ = history
    rows = query(
        settings.warehouse,
        """select previous_version, run_id, scheme, from_segment, to_segment, entities
           from segments.rule_version_impact where rule_version = ?""",
        [V2],
    )
    assert {(r[0], r[1]) for r in rows} == {(V1, runs["v2"])}
    moves = {(r[2], r[3], r[4]): r[5] for r in rows if r[3] != r[4]}
    assert moves == EXPECTED_MOVES
    changes = query(
        settings.published_segments,
        "select customer_id, from_segment, to_segment from segment_changes where run_id = ? order by 1",
        [runs["v2"]],
    )
    assert changes == [
        (B4, "Promising", "New Customers"),
        (B8, "Hibernating", "At Risk"),
        (B10, "Lost", "At Risk"),
    ]


def test_explain_a_past_date_after_the_rules_changed(history):
    _, _, _runs, _ = history
    past = json.loads(_capture(["explain", B4, "--as-of", "2026-11-03", "--format", "json"]))
    rfm = next(e for e in past if e["scheme"] == "rfm_lifecycle")
    assert (rfm["segment"], rfm["rule_id"], rfm["rule_version"]) == ("Promising", "promising", V1)
    assert rfm["valid_from"] == "2026-11-01" and rfm["valid_to"] == "2026-11-05"
    assert rfm["matched"]["when"] == "r_score = 4 and f_score = 1"
    assert [r["rule_id"] for r in rfm["not_matched"]] == [
        "prospect", "champions", "cant_lose_them", "at_risk", "loyal_customers", "new_customers",
    ]  # fmt: skip
    new_customers = rfm["not_matched"][-1]
    assert "r_score = 5 is false (r_score = 4)" in new_customers["reason"]
    assert rfm["consistent"] is True
    assert rfm["evidence"]["r_score"] == 4 and rfm["evidence"]["f_score"] == 1

    today = _capture(["explain", B4])
    assert "rfm_lifecycle (customer C0000004): New Customers  [since 2026-11-05]" in today
    assert f"rule version {V2} ({V2}.yaml" in today
    text = _capture(["explain", B4, "--as-of", "2026-11-03"])
    assert "rfm_lifecycle (customer C0000004): Promising  [since 2026-11-01 until 2026-11-05]" in text
    assert _capture(["explain", "nobody"], code=1) == ""


def test_lint_finds_the_shadowed_rule_of_the_new_version(history):
    _, _rules, runs, _ = history
    lint = runs["lint"]
    shadowed = [line for line in lint.splitlines() if "rule 'promising' can never match" in line]
    assert len(shadowed) == 1
    assert f"{V2}.yaml:65:1: warning:" in shadowed[0] and "'new_customers'" in shadowed[0]
    assert not any(f"{V1}.yaml" in line and "never match" in line for line in lint.splitlines())


def test_audit_report_lists_versions_runs_impact_and_sizes(history, tmp_path):
    _, _, runs, _ = history
    out = _capture(["report", "rules", "--out", str(tmp_path)])
    assert "rules_report.html" in out
    html = (tmp_path / "rules_report.html").read_text(encoding="utf-8")
    md = (tmp_path / "rules_report.md").read_text(encoding="utf-8")
    for version in (V1, V2):
        assert version in html and version in md
    assert runs["first"] in md and runs["v2"] in md
    assert "r_score &gt;= 4 and f_score = 1" in html or "r_score >= 4 and f_score = 1" in md
    assert "<svg" in html and "<script" not in html


def test_experiment_arms_are_stable_and_reported(history, tmp_path):
    settings, rules, _, env = history
    experiment_rules = tmp_path / "rules"
    shutil.copytree(rules, experiment_rules)
    v2 = (rules / f"{V2}.yaml").read_text(encoding="utf-8")
    champion = (
        v2.replace(f'version: "{V2}"', 'version: "2026-11-06"')
        .replace(f"effective_from: {V2}", "effective_from: 2026-11-06")
        .replace(
            "schemes:\n",
            'experiment:\n  name: winback_call\n  challenger: "2026-11-06-call"\n  challenger_share: 0.4\n'
            '  holdout_share: 0.3\n  salt: "winback-1"\n\nschemes:\n',
            1,
        )
    )
    challenger = (
        'version: "2026-11-06-call"\neffective_from: 2026-11-06\nrole: challenger\n'
        "description: Call instead of email\nauthor: Tests\nschemes:\n  value_tier:\n    rules:\n"
        "      - id: key_account\n        segment: Key Account\n        when: is_top_20pct\n"
        "        next_action: {action: account_review, channel: phone, owner: sales, priority: 1}\n"
        "    default:\n      id: everyone_else\n      segment: Everyone Else\n"
        "      next_action: {action: call_to_say_thanks, channel: phone, owner: customer_success, priority: 2}\n"
    )
    (experiment_rules / "2026-11-06.yaml").write_text(champion, encoding="utf-8")
    (experiment_rules / "2026-11-06-call.yaml").write_text(challenger, encoding="utf-8")
    env.setenv("SEGMENTS_RULES_DIR", str(experiment_rules))
    arms = []
    for day in (6, 7):
        outcome = run_job(as_of=date(2026, 11, day))
        assert outcome.success, outcome.failure
        arms.append(
            query(
                settings.warehouse,
                """select entity_id, scheme, arm, segment, next_action, rule_version from segments.customer_segments
                   order by 1, 2""",
            )
        )
    first = {(r[0], r[1]): r[2] for r in arms[0]}
    assert first == {(r[0], r[1]): r[2] for r in arms[1]}  # stable across runs
    for (customer, _), arm in first.items():
        u = int(hashlib.md5(f"winback-1:{customer}".encode()).hexdigest()[:8], 16) / 2**32
        assert arm == ("holdout" if u < 0.3 else "challenger" if u < 0.7 else "champion")
    for _entity_id, scheme, arm, segment, action, version in arms[1]:
        if arm == "holdout":
            assert action == "no_action_holdout"
        if arm == "challenger" and scheme == "value_tier":
            assert version == "2026-11-06-call" and segment in ("Key Account", "Everyone Else")
        else:
            assert version == "2026-11-06"
    recorded = query(settings.warehouse, "select customer_id, arm from segments.experiment_assignments")
    assert dict(recorded) == {c: a for (c, _), a in first.items()}

    # the impact at first use and the diff see the version as published: arms included
    value_arms = [arm for (_, scheme), arm in first.items() if scheme == "value_tier"]
    held = value_arms.count("holdout")

    # the challenger's new segment (its Key Account rule is the champion's)
    def everyone_else(run: int) -> int:
        return sum(r[1] == "value_tier" and r[3] == "Everyone Else" for r in arms[run])

    assert everyone_else(0) and everyone_else(1)  # the data exercises the challenger arm
    impact = query(
        settings.warehouse,
        """select sum(entities) from segments.rule_version_impact
           where rule_version = '2026-11-06' and scheme = 'value_tier' and from_segment <> to_segment""",
    )
    assert impact == [(everyone_else(0),)]
    preview = json.loads(
        _capture(["rules", "diff", V2, "2026-11-06", "--rules", str(experiment_rules), "--format", "json"])
    )
    assert preview["new_experiment"]["name"] == "winback_call" and preview["old_experiment"] is None
    assert preview["moved"].get("value_tier", 0) == everyone_else(1)
    after = {a["arm"]: a["after"] for a in preview["arm_sizes"] if a["scheme"] == "value_tier"}
    assert after == {arm: value_arms.count(arm) for arm in set(value_arms)}
    into_holdout = [
        a for a in preview["arm_changes"] if a["scheme"] == "value_tier" and a["to_arm"] == "holdout"
    ]
    assert [(a["from_arm"], a["entities"], a["action_changes"]) for a in into_holdout] == (
        [("champion", held, held)] if held else []
    )

    report = json.loads(_capture(["report", "experiment", "winback_call", "--format", "json"]))
    assert report is not None
    text = _capture(["report", "experiment", "winback_call"])
    for arm in ("champion", "challenger", "holdout"):
        if arm in set(first.values()):
            assert arm in text
    assert _capture(["report", "experiment", "nope"], code=1) == ""
