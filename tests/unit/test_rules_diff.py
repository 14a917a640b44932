"""Rule diff: evaluate two versions on the same rows, compare, render."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import duckdb

from orchestration.rules import load_rule_file
from orchestration.rules.diff import diff_rule_sets, render, with_champion

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
