"""Compiling and running rule sets in DuckDB: match order, NULLs, consent, provenance, quoting."""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pytest

from segments.rules import (
    OUTPUT_COLUMNS,
    RuleSet,
    RuleValidationError,
    assign_segments,
    compile_assignments,
    load_rule_file,
)

AS_OF = date(2026, 11, 2)
AT = datetime(2026, 11, 2, 3, 15, 0)
FEATURE_TYPES = {
    "customer_id": "VARCHAR",
    "amount": "DECIMAL(18,2)",
    "orders": "INTEGER",
    "note": "VARCHAR",
    "consent_email": "BOOLEAN",
    "consent_sms": "BOOLEAN",
    "consent_phone": "BOOLEAN",
    "consent_post": "BOOLEAN",
    "preferred_channel": "VARCHAR",
}


def rule_file(tmp_path: Path, rules: str, *, default="nothing_yet", header="", extra_scheme="") -> RuleSet:
    """A one-scheme (``tier``) rule file; ``rules`` is YAML list items at 6 spaces."""
    text = (
        'version: "toy-1"\neffective_from: 2026-01-01\ndescription: Toy\nauthor: Tests\n'
        + header
        + "schemes:\n  tier:\n"
        + ("    rules:\n" + rules if rules else "    rules: []\n")
        + f"    default:\n      id: {default}\n      segment: Nothing Yet\n"
        + "      next_action: {action: wait, channel: email, owner: marketing_automation, priority: 5}\n"
        + extra_scheme
    )
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    return load_rule_file(path, FEATURE_TYPES)


def rule(rule_id: str, when: str, *, segment: str | None = None, channel: str = "email") -> str:
    return (
        f"      - id: {rule_id}\n        segment: {segment or rule_id.title()}\n        when: {when}\n"
        f"        next_action: {{action: act_{rule_id}, channel: {channel}, owner: sales, priority: 2}}\n"
    )


def customers(con: duckdb.DuckDBPyConnection, *rows: dict) -> str:
    """Create table ``features`` with one row per dict (missing keys NULL); returns the source SQL."""
    con.execute(
        "CREATE OR REPLACE TABLE features ("
        + ", ".join(f"{name} {type_}" for name, type_ in FEATURE_TYPES.items())
        + ")"
    )
    for row in rows:
        full = {"consent_email": True, **row}
        names = list(full)
        con.execute(
            f"INSERT INTO features ({', '.join(names)}) VALUES ({', '.join('?' for _ in names)})",
            [full[n] for n in names],
        )
    return "SELECT * FROM features"


def run(rules: RuleSet, *rows: dict, scheme: str = "tier") -> dict[str, tuple]:
    con = duckdb.connect()
    source = customers(con, *rows)
    assign_segments(
        con, rules, source_sql=source, target_table="segments", run_id="run-1", as_of=AS_OF, assigned_at=AT
    )
    return {
        r[0]: r[1:]
        for r in con.execute(
            "SELECT customer_id, rule_id, segment, next_action, action_channel FROM segments WHERE scheme = ?",
            [scheme],
        ).fetchall()
    }


def test_first_matching_rule_wins_and_order_matters(tmp_path):
    big_first = rule_file(tmp_path, rule("big", "amount >= 100") + rule("any", "amount > 0"))
    any_first = rule_file(tmp_path, rule("any", "amount > 0") + rule("big", "amount >= 100"))
    rows = [{"customer_id": "c1", "amount": 500}, {"customer_id": "c2", "amount": 5}]
    assert {k: v[0] for k, v in run(big_first, *rows).items()} == {"c1": "big", "c2": "any"}
    assert {k: v[0] for k, v in run(any_first, *rows).items()} == {"c1": "any", "c2": "any"}


def test_default_applies_when_nothing_matches(tmp_path):
    rules = rule_file(tmp_path, rule("big", "amount >= 100"))
    result = run(rules, {"customer_id": "c1", "amount": 1})
    assert result == {"c1": ("nothing_yet", "Nothing Yet", "wait", "email")}


def test_null_features_never_match(tmp_path):
    rules = rule_file(
        tmp_path,
        rule("big", "amount >= 100")
        + rule("not_big", "not (amount >= 100)")
        + rule("unknown_amount", "amount is null and orders > 0"),
    )
    result = run(
        rules,
        {"customer_id": "null_amount", "amount": None, "orders": 3},
        {"customer_id": "all_null"},
        {"customer_id": "small", "amount": 5},
    )
    assert {k: v[0] for k, v in result.items()} == {
        "null_amount": "unknown_amount",  # skipped both amount rules, NOT (NULL) is not true
        "all_null": "nothing_yet",  # orders > 0 is NULL too
        "small": "not_big",
    }


def test_division_by_zero_is_no_match_not_an_error(tmp_path):
    rules = rule_file(tmp_path, rule("avg", "amount / orders > 10") + rule("odd", "orders % 0 = 1"))
    result = run(
        rules,
        {"customer_id": "c1", "amount": 50, "orders": 0},
        {"customer_id": "c2", "amount": 50, "orders": 2},
    )
    assert {k: v[0] for k, v in result.items()} == {"c1": "nothing_yet", "c2": "avg"}


CONSENT_CASES = [
    # (rule channel, consents email/sms/phone/post, preferred_channel, expected action_channel)
    ("email", (True, True, True, True), None, "email"),
    ("email", (False, True, True, True), None, "sms"),  # no email consent -> next in channel_order
    ("email", (False, False, False, True), None, "post"),
    ("email", (False, False, False, False), None, "none"),  # no consent at all
    ("email", (None, None, None, None), None, "none"),  # unknown consent is no consent
    ("phone", (True, True, True, False), None, "phone"),
    ("phone", (True, True, False, False), None, "email"),
    ("post", (False, True, False, True), None, "post"),
    ("none", (True, True, True, True), "sms", "none"),  # none stays none
    ("preferred", (True, True, True, True), "sms", "sms"),
    ("preferred", (True, True, True, True), " SMS ", "sms"),
    ("preferred", (True, True, True, True), None, "email"),  # preferred NULL -> first of channel_order
    ("preferred", (True, True, True, True), "carrier_pigeon", "email"),  # not a channel -> first of order
    ("preferred", (True, False, True, True), "sms", "email"),  # preferred without consent -> fallback
    ("preferred", (False, False, False, False), "sms", "none"),
]


@pytest.mark.parametrize(("channel", "consents", "preferred", "expected"), CONSENT_CASES)
def test_consent_decides_the_channel(tmp_path, channel, consents, preferred, expected):
    rules = rule_file(tmp_path, rule("r", "amount > 0", channel=channel))
    email, sms, phone, post = consents
    row = {
        "customer_id": "c1",
        "amount": 1,
        "consent_email": email,
        "consent_sms": sms,
        "consent_phone": phone,
        "consent_post": post,
        "preferred_channel": preferred,
    }
    assert run(rules, row)["c1"][3] == expected


@pytest.mark.parametrize(
    ("channel", "consents", "preferred", "expected"),
    [
        ("preferred", (True, True, True, True), None, "post"),  # first of the custom order
        ("email", (False, True, False, True), None, "post"),  # fallback follows the custom order
        ("email", (False, True, False, False), None, "sms"),
        ("email", (False, False, True, False), None, "none"),  # phone is not in this channel_order
        ("phone", (False, False, True, False), None, "phone"),  # ...but can be asked for explicitly
    ],
)
def test_custom_channel_order(tmp_path, channel, consents, preferred, expected):
    rules = rule_file(
        tmp_path, rule("r", "amount > 0", channel=channel), header="channel_order: [post, sms, email]\n"
    )
    assert rules.channel_order == ["post", "sms", "email"]
    email, sms, phone, post = consents
    row = {"customer_id": "c1", "amount": 1, "consent_email": email, "consent_sms": sms}
    row |= {"consent_phone": phone, "consent_post": post, "preferred_channel": preferred}
    assert run(rules, row)["c1"][3] == expected


def test_no_email_consent_never_gets_email(tmp_path):
    rules = rule_file(
        tmp_path, rule("a", "amount > 10", channel="email") + rule("b", "amount > 0", channel="preferred")
    )
    rows = [
        {
            "customer_id": f"c{i}",
            "amount": amount,
            "consent_email": False,
            "consent_sms": sms,
            "preferred_channel": pref,
        }
        for i, (amount, sms, pref) in enumerate(
            [(20, True, None), (20, False, "email"), (5, True, "email"), (5, False, None), (0, True, "email")]
        )
    ]
    channels = {v[3] for v in run(rules, *rows).values()}
    assert "email" not in channels and channels == {"sms", "none"}


def test_output_columns_types_and_provenance(tmp_path):
    rules = rule_file(tmp_path, rule("big", "amount >= 100"))
    con = duckdb.connect()
    source = customers(con, {"customer_id": "c1", "amount": 100}, {"customer_id": "c2", "amount": 1})
    rows = assign_segments(
        con,
        rules,
        source_sql=source,
        target_table="main.segments",
        run_id="run-42",
        as_of=AS_OF,
        assigned_at=AT,
    )
    assert rows == 2
    described = con.execute("DESCRIBE main.segments").fetchall()
    assert [(r[0], r[1]) for r in described] == list(OUTPUT_COLUMNS.items())
    assert list(OUTPUT_COLUMNS) == [
        "customer_id", "scheme", "segment", "rule_id", "next_action", "action_channel", "action_owner",
        "action_priority", "rule_version", "rules_sha256", "run_id", "as_of", "assigned_at",
        "entity", "entity_id", "experiment", "arm", "evidence",
    ]  # fmt: skip
    got = con.execute("SELECT * FROM main.segments ORDER BY customer_id").fetchall()
    sha = hashlib.sha256((tmp_path / "rules.yaml").read_bytes()).hexdigest()
    assert got == [
        ("c1", "tier", "Big", "big", "act_big", "email", "sales", 2, "toy-1", sha, "run-42", AS_OF, AT,
         "customer", "c1", None, "champion", '{"amount":100.00}'),
        ("c2", "tier", "Nothing Yet", "nothing_yet", "wait", "email", "marketing_automation", 5, "toy-1", sha,
         "run-42", AS_OF, AT, "customer", "c2", None, "champion", '{"amount":1.00}'),
    ]  # fmt: skip


def test_timezone_aware_assigned_at_is_stored_in_utc(tmp_path):
    rules = rule_file(tmp_path, rule("big", "amount >= 100"))
    sql = compile_assignments(
        rules,
        source_sql="SELECT 'c1' AS customer_id, 1 AS amount",
        run_id="r",
        as_of=AS_OF,
        assigned_at=datetime(2026, 11, 2, 5, 15, tzinfo=timezone(timedelta(hours=2))),
    )
    assert "CAST('2026-11-02 03:15:00' AS TIMESTAMP)" in sql
    assert datetime(2026, 11, 2, 3, 15, tzinfo=UTC).replace(tzinfo=None) == AT


def test_one_row_per_customer_per_scheme(tmp_path):
    second = (
        "  size:\n    rules:\n"
        + rule("many", "orders >= 10").replace("      ", "      ", 1)
        + "    default:\n      id: few\n      segment: Few\n"
        + "      next_action: {action: none_yet, channel: none, owner: sales, priority: 4}\n"
    )
    rules = rule_file(tmp_path, rule("big", "amount >= 100"), extra_scheme=second)
    con = duckdb.connect()
    source = customers(con, *({"customer_id": f"c{i}", "amount": i * 30, "orders": i * 3} for i in range(6)))
    rows = assign_segments(
        con, rules, source_sql=source, target_table="segments", run_id="r", as_of=AS_OF, assigned_at=AT
    )
    assert rows == 12
    per_customer = con.execute(
        "SELECT scheme, count(*), count(DISTINCT customer_id) FROM segments GROUP BY scheme ORDER BY scheme"
    ).fetchall()
    assert per_customer == [("size", 6, 6), ("tier", 6, 6)]
    assert con.execute(
        "SELECT rule_id FROM segments WHERE customer_id = 'c4' ORDER BY scheme"
    ).fetchall() == [
        ("many",),
        ("big",),
    ]


def test_quotes_in_names_and_values_are_escaped(tmp_path):
    rules = rule_file(
        tmp_path,
        rule("cant_lose", "note = 'it''s \"quoted\"'", segment='"Can\'t Lose Them"')
        + rule("dq", "note = 'x'", segment="'Say \"hi\"; DROP TABLE features; --'"),
    )
    con = duckdb.connect()
    source = customers(
        con, {"customer_id": "o'neil", "note": 'it\'s "quoted"'}, {"customer_id": "c2", "note": "x"}
    )
    assign_segments(
        con,
        rules,
        source_sql=source,
        target_table="segments",
        run_id="run 'quoted'",
        as_of=AS_OF,
        assigned_at=AT,
    )
    got = con.execute("SELECT customer_id, segment, run_id FROM segments ORDER BY customer_id").fetchall()
    assert got == [
        ("c2", 'Say "hi"; DROP TABLE features; --', "run 'quoted'"),
        ("o'neil", "Can't Lose Them", "run 'quoted'"),
    ]
    assert con.execute("SELECT count(*) FROM features").fetchone() == (2,)


def test_sql_is_rendered_from_the_parsed_condition(tmp_path):
    rules = rule_file(tmp_path, rule("big", "AMOUNT>=100   and  orders<>2"))
    sql = compile_assignments(
        rules, source_sql="SELECT * FROM features", run_id="r", as_of=AS_OF, assigned_at=AT
    )
    assert 'WHEN ("amount" >= 100 AND "orders" <> 2) THEN \'big\'' in sql
    assert "AMOUNT>=100" not in sql


@pytest.mark.parametrize(
    "evil",
    [
        "1=1; DROP TABLE features",
        "(SELECT count(*) FROM features) > 0",
        "amount > 0 -- ) OR (TRUE",
        "getenv('HOME') = ''",
    ],
)
def test_compile_refuses_conditions_that_bypassed_the_loader(tmp_path, evil):
    rules = rule_file(tmp_path, rule("big", "amount >= 100"))
    tier = rules.schemes["tier"]
    tampered = dataclasses.replace(tier, rules=[dataclasses.replace(tier.rules[0], when=evil)])
    hacked = dataclasses.replace(rules, schemes={"tier": tampered})
    con = duckdb.connect()
    source = customers(con, {"customer_id": "c1", "amount": 1})
    with pytest.raises(RuleValidationError) as info:
        assign_segments(
            con, hacked, source_sql=source, target_table="segments", run_id="r", as_of=AS_OF, assigned_at=AT
        )
    assert str(info.value).startswith(f"{rules.path}:10:15: schemes.tier.rules[0].when: ")
    assert con.execute("SELECT count(*) FROM features").fetchone() == (1,)
    assert con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'segments'"
    ).fetchone() == (0,)


def test_assign_replaces_the_table_and_checks_arguments(tmp_path):
    rules = rule_file(tmp_path, rule("big", "amount >= 100"))
    con = duckdb.connect()
    source = customers(con, {"customer_id": "c1", "amount": 1})
    kwargs = {"source_sql": source + ";\n", "run_id": "r", "as_of": AS_OF, "assigned_at": AT}
    assert assign_segments(con, rules, target_table="segments", **kwargs) == 1
    customers(con, {"customer_id": "c1", "amount": 1}, {"customer_id": "c2", "amount": 1})
    assert assign_segments(con, rules, target_table="segments", **kwargs) == 2
    with pytest.raises(ValueError, match="target_table"):
        assign_segments(con, rules, target_table='x"; drop table features; --', **kwargs)
    with pytest.raises(TypeError, match="as_of must be a date"):
        compile_assignments(rules, source_sql=source, run_id="r", as_of=AT, assigned_at=AT)


def test_scheme_without_rules_gets_its_default(tmp_path):
    rules = rule_file(tmp_path, "")
    assert rules.schemes["tier"].rules == []
    assert run(rules, {"customer_id": "c1", "amount": 1})["c1"][0] == "nothing_yet"
