"""Rule diff: evaluate two versions on the same rows, compare, render."""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest

from segments.reports.rule_diff import render
from segments.rules import assign_segments, load_rule_file
from segments.rules.comparison import diff_rule_sets, with_champion

COLUMNS = {
    "customer_id": "VARCHAR",
    "amount": "INTEGER",
    "consent_email": "BOOLEAN",
    "preferred_channel": "VARCHAR",
}
ACTION = "{{action: {a}, channel: email, owner: {o}, priority: 3}}"


def rules(tmp_path: Path, name: str, bar: int, *, extra: str = "", role: str = "") -> object:
    text = (
        f'version: "{name}"\neffective_from: 2026-01-01\ndescription: d\nauthor: a\n{role}schemes:\n'
        f"  tier:\n    rules:\n      - id: big\n        segment: Big\n        when: amount >= {bar}\n"
        f"        next_action: {ACTION.format(a='call', o='sales')}\n"
        f"    default:\n      id: small\n      segment: Small\n"
        f"      next_action: {ACTION.format(a='mail', o='marketing_automation')}\n{extra}"
    )
    path = tmp_path / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return load_rule_file(path, COLUMNS)


EXTRA = (
    "  flag:\n    rules: []\n    default:\n      id: all\n      segment: All\n"
    f"      next_action: {ACTION.format(a='hello', o='marketing_automation')}\n"
)


def source() -> tuple[duckdb.DuckDBPyConnection, dict[str, str]]:
    con = duckdb.connect()
    con.execute(
        "create table f as select 'c' || i as customer_id, i * 10 as amount, true as consent_email, false as consent_sms, false as consent_phone, false as consent_post, "
        "null::varchar as preferred_channel from range(10) t(i)"
    )  # amounts 0, 10, ..., 90
    return con, {"customer": "select customer_id as entity_id, * from f"}


def test_migration_matrix_sizes_and_action_changes(tmp_path):
    con, sources = source()
    old, new = rules(tmp_path, "v1", 50), rules(tmp_path, "v2", 30, extra=EXTRA)
    diff = diff_rule_sets(con, old, new, sources, as_of=date(2026, 1, 2))
    cells = {(m.scheme, m.from_segment, m.to_segment): m.entities for m in diff.migrations}
    assert cells == {
        ("tier", "Big", "Big"): 5,  # 50..90
        ("tier", "Small", "Small"): 3,  # 0..20
        ("tier", "Small", "Big"): 2,  # 30, 40
        ("flag", None, "All"): 10,  # a new scheme
    }
    assert diff.moved == {"tier": 2, "flag": 10}
    assert diff.entities == {"flag": 10, "tier": 10}
    sizes = {(s.scheme, s.segment): (s.before, s.after) for s in diff.sizes}
    assert sizes == {("tier", "Big"): (5, 7), ("tier", "Small"): (5, 3), ("flag", "All"): (0, 10)}
    changes = {(a.owner, a.before, a.after): a.entities for a in diff.action_changes}
    assert changes == {
        ("sales", "mail via email (marketing_automation)", "call via email (sales)"): 2,
        ("marketing_automation", "(none)", "hello via email (marketing_automation)"): 10,
    }
    assert "-        when: amount >= 50\n+        when: amount >= 30" in diff.text_diff
    # nothing is left behind in the database
    assert con.execute(
        "select count(*) from duckdb_tables() where table_name like 'rules_diff%'"
    ).fetchone() == (0,)

    md = render(diff, "markdown")
    assert "### Scheme tier: 2 of 10 entities change segment (20.0 %)" in md
    assert "| before \\ after | Big | Small |" in md and "| Small | 2 | 3 |" in md
    assert "### Scheme flag is new: 10 entities get a segment" in md
    text = render(diff, "table")
    assert "Small       Big         2" in text.splitlines()  # the moves, not the matrix, in a terminal
    assert "Big           5      7      +2" in text.splitlines()
    assert json.loads(render(diff, "json"))["moved"] == {"tier": 2, "flag": 10}


def test_identical_versions_show_unchanged_schemes(tmp_path):
    con, sources = source()
    a, b = rules(tmp_path, "v1", 50), rules(tmp_path, "v1b", 50)
    text = render(diff_rule_sets(con, a, b, sources, as_of=date(2026, 1, 2)))
    assert "Scheme tier: 0 of 10 entities change segment (0.0 %) - unchanged" in text
    assert "No entity gets a different next action." in text


def test_a_challenger_is_compared_with_the_champion_schemes_it_keeps(tmp_path):
    con, sources = source()
    champion = rules(tmp_path, "v1", 50, extra=EXTRA)
    challenger = rules(tmp_path, "v1c", 30, role="role: challenger\n")
    applied = with_champion(challenger, champion)
    assert set(applied.schemes) == {"tier", "flag"} and applied.version == "v1c"
    diff = diff_rule_sets(con, champion, applied, sources, as_of=date(2026, 1, 2))
    assert diff.moved == {"tier": 2}


# --- experiments: each version as it is published, arms included ----------------------------------------

ARM_SOURCE_ROWS = 400
EXPERIMENT = (
    'experiment:\n  name: lower_bar\n  challenger: "v2c"\n  challenger_share: 0.3\n'
    '  holdout_share: 0.2\n  salt: "s1"\n'
)


def arm_of(customer_id: str) -> str:
    """The documented assignment (see the compiler), computed independently of the SQL."""
    u = int(hashlib.md5(f"s1:{customer_id}".encode()).hexdigest()[:8], 16) / 2**32
    return "holdout" if u < 0.2 else "challenger" if u < 0.5 else "champion"


def test_holdout_and_challenger_arms_are_changes_in_every_format(tmp_path):
    con = duckdb.connect()
    con.execute(
        f"""create table f as select 'c' || i as customer_id, (i % 100)::integer as amount, true as consent_email,
            false as consent_sms, false as consent_phone, false as consent_post, null::varchar as preferred_channel
            from range({ARM_SOURCE_ROWS}) t(i)"""
    )
    sources = {"customer": "select customer_id as entity_id, * from f"}
    old = rules(tmp_path, "v1", 50)  # no experiment
    new = rules(tmp_path, "v2", 50, role=EXPERIMENT)  # the same rules, with an experiment
    challenger = rules(tmp_path, "v2c", 30, role="role: challenger\n")  # a lower bar: 30..49 move to Big
    # hand-computed expectations from the documented hash
    arms = {f"c{i}": arm_of(f"c{i}") for i in range(ARM_SOURCE_ROWS)}
    amount = {f"c{i}": i % 100 for i in range(ARM_SOURCE_ROWS)}
    holdout = [c for c, a in arms.items() if a == "holdout"]
    in_challenger = [c for c, a in arms.items() if a == "challenger"]
    moving = [c for c in in_challenger if 30 <= amount[c] < 50]  # Small -> Big, mail -> call
    assert holdout and moving  # the data exercises both arms

    diff = diff_rule_sets(con, old, new, sources, as_of=date(2026, 1, 2), new_challenger=challenger)

    assert diff.moved == {"tier": len(moving)}  # segment changes of the challenger arm count as changes
    assert diff.arm_moves == {"tier": len(holdout) + len(in_challenger)}
    sizes = {(a.arm, a.before, a.after) for a in diff.arm_sizes}
    champion_after = ARM_SOURCE_ROWS - len(holdout) - len(in_challenger)
    assert sizes == {
        ("champion", ARM_SOURCE_ROWS, champion_after),
        ("challenger", 0, len(in_challenger)),
        ("holdout", 0, len(holdout)),
    }
    by_arm = {
        (a.from_arm, a.to_arm): (a.entities, a.segment_changes, a.action_changes) for a in diff.arm_changes
    }
    assert by_arm == {
        ("champion", "champion"): (champion_after, 0, 0),
        ("champion", "challenger"): (len(in_challenger), len(moving), len(moving)),
        ("champion", "holdout"): (len(holdout), 0, len(holdout)),  # they keep their segment, lose the action
    }
    holdout_big = sum(amount[c] >= 50 for c in holdout)
    changes = {(a.before, a.after): a.entities for a in diff.action_changes}
    assert changes == {
        ("mail via email (marketing_automation)", "call via email (sales)"): len(moving),
        ("call via email (sales)", "no_action_holdout via none (sales)"): holdout_big,
        (
            "mail via email (marketing_automation)",
            "no_action_holdout via none (marketing_automation)",
        ): len(holdout) - holdout_big,
    }
    # the diff used the published statement: the same rows as assign_segments would write
    assign_segments(
        con, new, source_sql=sources, target_table="published", run_id="r", as_of=date(2026, 1, 2),
        assigned_at=datetime(2026, 1, 2), challenger=challenger,
    )  # fmt: skip
    published = dict(con.execute("select entity_id, arm from published").fetchall())
    assert published == arms

    text = render(diff, "table")
    assert "No entity gets a different next action." not in text
    assert "Experiment before: none" in text
    assert (
        "Experiment after: lower_bar: 50 % champion, 30 % challenger (v2c), 20 % holdout (no action)" in text
    )
    lines = text.splitlines()
    holdout_row = next(line for line in lines if line.startswith("champion    holdout"))
    assert holdout_row.split()[2:5] == [f"{len(holdout):,}", "0", f"{len(holdout):,}"]
    assert holdout_row.endswith("into the holdout: no next action")
    challenger_row = next(line for line in lines if line.startswith("champion    challenger"))
    assert challenger_row.split()[2:5] == [f"{len(in_challenger):,}", f"{len(moving):,}", f"{len(moving):,}"]
    assert f"Scheme tier: {len(moving)} of {ARM_SOURCE_ROWS} entities change segment" in text

    md = render(diff, "markdown")
    assert "- Experiment after: lower_bar" in md
    assert "**Experiment arms (tier): entities per arm**" in md
    assert f"| holdout | 0 | {len(holdout)} | +{len(holdout)} |" in md
    assert (
        f"| champion | holdout | {len(holdout)} | 0 | {len(holdout)} | into the holdout: no next action |"
        in md
    )
    assert f"| champion | challenger | {len(in_challenger)} | {len(moving)} | {len(moving)} |" in md
    assert (
        f"| sales | tier | call via email (sales) | no_action_holdout via none (sales) | {holdout_big} |"
        in md
    )

    data = json.loads(render(diff, "json"))
    assert data["old_experiment"] is None and data["new_experiment"]["name"] == "lower_bar"
    assert data["arm_moves"] == {"tier": len(holdout) + len(in_challenger)}
    assert {(a["arm"], a["after"]) for a in data["arm_sizes"]} == {
        ("champion", champion_after), ("challenger", len(in_challenger)), ("holdout", len(holdout)),
    }  # fmt: skip
    cells = {(a["from_arm"], a["to_arm"]): a["action_changes"] for a in data["arm_changes"]}
    assert cells[("champion", "holdout")] == len(holdout)
    assert cells[("champion", "challenger")] == len(moving)
    assert data["moved"] == {"tier": len(moving)}

    # and back: leaving the experiment gives the holdout its action again
    back = render(diff_rule_sets(con, new, old, sources, as_of=date(2026, 1, 2), old_challenger=challenger))
    assert "holdout     champion" in back and "out of the holdout: a next action again" in back


def test_a_version_with_an_experiment_needs_its_challenger(tmp_path):
    con, sources = source()
    old, new = rules(tmp_path, "v1", 50), rules(tmp_path, "v2", 50, role=EXPERIMENT)
    with pytest.raises(ValueError, match="declares experiment lower_bar: pass its challenger"):
        diff_rule_sets(con, old, new, sources, as_of=date(2026, 1, 2))
