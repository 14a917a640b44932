"""Loading rule files: schema errors and condition errors, each with an exact file:line:col."""

from __future__ import annotations

import hashlib
import pickle
from datetime import date
from pathlib import Path

import pytest

from segments.rules import (
    DEFAULT_CHANNEL_ORDER,
    RuleError,
    RuleValidationError,
    load_rule_file,
)

# Line numbers below refer to this text (1-based); `when` values start at column 15.
TOY = """\
version: "toy-1"
effective_from: 2026-01-01
description: Toy rules
author: Tests
schemes:
  tier:
    rules:
      - id: big
        segment: Big
        when: amount >= 100
        next_action: {action: call, channel: phone, owner: sales, priority: 1}
      - id: small
        segment: Small
        when: amount > 0
        next_action: {action: mail, channel: email, owner: marketing_automation, priority: 3}
    default:
      id: nothing_yet
      segment: Nothing Yet
      next_action: {action: wait, channel: none, owner: marketing_automation, priority: 5}
"""
COLUMNS = {
    "customer_id": "VARCHAR",
    "amount": "DECIMAL(18,2)",
    "orders": "INTEGER",
    "customer_type": "VARCHAR",
    "country": "VARCHAR",
    "is_top": "BOOLEAN",
    "first_order_date": "DATE",
    "preferred_channel": "VARCHAR",
}


def write(tmp_path: Path, text: str, name: str = "rules.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def errors_of(path: Path, columns=COLUMNS) -> list[str]:
    with pytest.raises(RuleValidationError) as info:
        load_rule_file(path, columns)
    return [str(e) for e in info.value.errors]


def test_toy_file_loads_with_positions_and_provenance(tmp_path):
    path = write(tmp_path, TOY)
    rules = load_rule_file(path, COLUMNS)
    assert rules.version == "toy-1"
    assert rules.effective_from == date(2026, 1, 1)
    assert rules.channel_order == list(DEFAULT_CHANNEL_ORDER) == ["email", "sms", "phone", "post"]
    assert rules.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert rules.text == TOY and rules.path == path
    tier = rules.schemes["tier"]
    assert tier.name == "tier"
    assert [(r.id, r.line, r.when_line, r.when_col) for r in tier.rules] == [
        ("big", 8, 10, 15),
        ("small", 12, 14, 15),
    ]
    assert tier.rules[0].next_action.owner == "sales"
    assert tier.default.id == "nothing_yet" and tier.default.line == 17


def test_rule_error_formats():
    assert str(RuleError("boom", file="a.yaml", line=3, col=5)) == "a.yaml:3:5: boom"
    assert str(RuleError("boom", file="a.yaml")) == "a.yaml: boom"
    both = RuleValidationError(
        [RuleError("second", file="a.yaml", line=9, col=1), RuleError("first", file="a.yaml", line=2, col=4)]
    )
    assert str(both) == "a.yaml:2:4: first\na.yaml:9:1: second"
    assert (both.file, both.line, both.col, both.message) == ("a.yaml", 2, 4, "first")
    assert isinstance(both, RuleError)
    assert str(pickle.loads(pickle.dumps(both))) == str(both)


def test_wrong_owner_points_at_the_value(tmp_path):
    path = write(
        tmp_path, TOY.replace("owner: marketing_automation, priority: 3", "owner: marketing, priority: 3")
    )
    assert errors_of(path) == [
        f"{path}:15:60: schemes.tier.rules[1].next_action.owner: "
        "'marketing' is not one of marketing_automation, sales, customer_success"
    ]


def test_block_style_error_position(tmp_path):
    text = TOY.replace(
        "        next_action: {action: call, channel: phone, owner: sales, priority: 1}\n",
        "        next_action:\n          action: call\n          channel: fax\n          owner: sales\n"
        "          priority: 1\n",
    )
    path = write(tmp_path, text)
    assert errors_of(path) == [
        f"{path}:13:20: schemes.tier.rules[0].next_action.channel: "
        "'fax' is not one of email, sms, phone, post, preferred, none"
    ]


def test_unknown_key_points_at_the_key_and_suggests(tmp_path):
    path = write(tmp_path, TOY.replace("        when: amount > 0\n", "        whne: amount > 0\n"))
    assert errors_of(path) == [
        f"{path}:12:9: schemes.tier.rules[1]: missing required key 'when'",
        f"{path}:14:9: schemes.tier.rules[1]: unknown key 'whne' (did you mean 'when'?)",
    ]


def test_missing_default_points_at_the_scheme(tmp_path):
    text = TOY.split("    default:\n")[0]
    path = write(tmp_path, text)
    assert errors_of(path) == [
        f"{path}:6:3: tier: missing required key 'default'".replace("tier", "schemes.tier")
    ]


def test_every_error_in_a_file_is_reported_at_once(tmp_path):
    text = (
        TOY.replace("priority: 1}", "priority: 9}")
        .replace("channel: email", "channel: fax")
        .replace("when: amount > 0", "when: amount > 0 and nope = 1")
        .replace("author: Tests\n", "")
    )
    path = write(tmp_path, text)
    assert errors_of(path) == [
        f"{path}:1:1: file: missing required key 'author'",
        f"{path}:10:77: schemes.tier.rules[0].next_action.priority: 9 is out of range: "
        "expected a whole number from 1 (highest) to 5",
        f"{path}:13:30: schemes.tier.rules[1].when: unknown column 'nope'",
        f"{path}:14:46: schemes.tier.rules[1].next_action.channel: "
        "'fax' is not one of email, sms, phone, post, preferred, none",
    ]


def test_unquoted_version_is_explained(tmp_path):
    path = write(tmp_path, TOY.replace('version: "toy-1"', "version: 2026-01-01"))
    assert errors_of(path) == [
        f'{path}:1:10: version: expected text in quotes, e.g. version: "2026-11-01", got date 2026-01-01'
    ]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "id: small",
            "id: big",
            "12:13: schemes.tier.rules[1].id: duplicate rule id 'big' in scheme tier (first used on line 8)",
        ),
        (
            "id: nothing_yet",
            "id: small",
            "17:11: schemes.tier.default.id: duplicate rule id 'small' in scheme tier (first used on line 12)",
        ),
        (
            "id: small",
            "id: Small",
            "12:13: schemes.tier.rules[1].id: 'Small' is not snake_case (lowercase letters, digits and _, starting with a letter)",
        ),
        (
            "  tier:",
            "  Tier-2:",
            "6:3: schemes.Tier-2: 'Tier-2' is not snake_case (lowercase letters, digits and _, starting with a letter)",
        ),
        (
            "segment: Small",
            "segment: Small\n        segment: Tiny",
            "14:9: duplicate key 'segment' (first given on line 13)",
        ),
        (
            "priority: 3}",
            "priority: '3'}",
            "15:92: schemes.tier.rules[1].next_action.priority: expected a whole number from 1 (highest) to 5, got text '3'",
        ),
        (
            "schemes:\n",
            "channel_order: [sms, sms]\nschemes:\n",
            "5:22: channel_order[1]: 'sms' is listed twice",
        ),
        (
            "when: amount > 0\n",
            "when:\n",
            "14:9: schemes.tier.rules[1].when: expected text, got an empty value",
        ),
        (
            "    rules:\n",
            "    rules: {}\n    x:\n",
            "7:12: schemes.tier.rules: expected a list, got mapping {}",
        ),
    ],
)
def test_schema_and_semantic_errors(tmp_path, old, new, expected):
    path = write(tmp_path, TOY.replace(old, new, 1))
    assert f"{path}:{expected}" in errors_of(path)


def test_yaml_syntax_error_has_a_position(tmp_path):
    path = write(tmp_path, TOY.replace("segment: Big", "segment: [Big"))
    (message,) = errors_of(path)
    assert message.startswith(f"{path}:10:13: invalid YAML:")


def test_empty_file(tmp_path):
    path = write(tmp_path, "# nothing here\n")
    assert errors_of(path) == [f"{path}:1:1: the file is empty"]


def test_required_schemes(tmp_path):
    path = write(tmp_path, TOY)
    with pytest.raises(RuleValidationError) as info:
        load_rule_file(path, required_schemes=("tier", "value_tier"))
    assert str(info.value) == f"{path}:5:1: schemes: missing required scheme(s): value_tier"


# --- conditions ------------------------------------------------------------------------------------------


def with_when(condition: str) -> str:
    return TOY.replace("when: amount > 0\n", f"when: {condition}\n")


@pytest.mark.parametrize(
    ("condition", "col", "message"),
    [
        ("amount > 0 and amuont < 5", 30, "unknown column 'amuont' (did you mean amount?)"),
        (
            "getenv('HOME') = ''",
            15,
            "unknown function getenv() is not allowed; allowed functions: abs, cast,",
        ),
        ("orders > 1 and read_csv('/etc/passwd') is not null", 30, "function read_csv() is not allowed"),
        ("1=1; drop table x", 18, "';' is not allowed"),
        ("(select 1) = 1", 16, "subqueries (SELECT ...) are not allowed"),
        ("amount in (select amount from customers)", 15, "IN needs a list of literal values"),
        ("exists(select 1)", 22, "subqueries (SELECT ...) are not allowed"),
        ("amount > 0 -- and the rest is hidden", 26, "comments are not allowed in a condition"),
        ("amount > 0 /* or true */", 26, "comments are not allowed in a condition"),
        ("amount > 0 /* never closed", 26, "comments are not allowed in a condition"),
        ("'-- only a comment'", 15, "comments are not allowed in a condition"),
        ("customers.amount > 0", 15, "qualified column `customers.amount` is not allowed; write just amount"),
        ("amount > $1", 24, "parameters/placeholders ($1) are not allowed"),
        ("amount > ?", 24, "parameters/placeholders (?) are not allowed"),
        ("sum(amount) > 0", 15, "aggregate function sum() is not allowed"),
        ("row_number() over () = 1", 15, "window functions (row_number() OVER ...) are not allowed"),
        ("pragma_version() is not null", 15, "unknown function pragma_version() is not allowed"),
        (
            "current_date > first_order_date",
            15,
            "current_date is not allowed: a rule must give the same result",
        ),
        ("cast(amount as json) is null", 20, "cast to JSON is not allowed"),
        ("amount >", 22, "syntax error: Required keyword: 'expression' missing for GT"),
        ("country = 'SE", 25, "unterminated string or quoted name"),
        ("country in ('SE', customer_type)", 33, "IN (...) may only list literal values"),
        ("amount >> 2 = 0", 15, "(bitwise right shift) is not allowed; allowed: column names, literals,"),
    ],
)
def test_bad_conditions_are_rejected_with_position(tmp_path, condition, col, message):
    path = write(tmp_path, with_when(condition))
    (error,) = errors_of(path)
    prefix = f"{path}:14:{col}: schemes.tier.rules[1].when: "
    assert error.startswith(prefix), error
    assert message in error


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        (
            "customer_type > 5",
            "DuckDB cannot evaluate it: Binder Error: Cannot compare values of type VARCHAR",
        ),
        ("amount > 'lots'", 'Conversion Error: Could not convert string "lots" to DECIMAL(18,2)'),
        ("amount + 1", "the condition must be true/false, but it is of type DECIMAL(18,2)"),
        ("customer_type", "the condition must be true/false, but it is of type VARCHAR"),
        ("lower(orders) = 'x'", "No function matches the given name and argument types 'lower(INTEGER)'"),
    ],
)
def test_type_errors_point_at_the_condition(tmp_path, condition, message):
    path = write(tmp_path, with_when(condition))
    (error,) = errors_of(path)
    assert error.startswith(f"{path}:14:15: schemes.tier.rules[1].when: "), error
    assert message in error


def test_catalogue_may_hold_types_conditions_do_not_use(tmp_path):
    columns = COLUMNS | {
        "tags": "VARCHAR[]",
        "meta": "STRUCT(a INTEGER, b VARCHAR)",
        "level": "ENUM('lo', 'hi')",
    }
    path = write(tmp_path, with_when("list_contains(tags, 'vip') and amount > 0"))
    assert load_rule_file(path, columns).schemes["tier"].rules[1].when.startswith("list_contains")
    path = write(tmp_path, with_when("list_contains(tags, 1.5)"))
    assert "DuckDB cannot evaluate it" in errors_of(path, columns)[0]


def test_conditions_are_only_syntax_checked_without_columns(tmp_path):
    path = write(tmp_path, with_when("no_such_column > 1"))
    assert load_rule_file(path).schemes["tier"].rules[1].when == "no_such_column > 1"
    path = write(tmp_path, with_when("getenv('HOME') = ''"))
    assert "getenv() is not allowed" in errors_of(path, columns=None)[0]


def test_condition_errors_are_reported_with_schema_errors(tmp_path):
    path = write(tmp_path, with_when("nope > 1").replace("priority: 1}", "priority: 0}"))
    assert [e.split(": ")[1] for e in errors_of(path)] == [
        "schemes.tier.rules[0].next_action.priority",
        "schemes.tier.rules[1].when",
    ]


@pytest.mark.parametrize(
    ("when_yaml", "line", "col"),
    [
        ('"amount > 0 and nope > 1"', 14, 31),  # double-quoted: +1 for the quote
        ("'country = ''it''''s'' and nope > 1'", 14, 42),  # '' is one character of the value
        ("|\n          amount > 0\n          and nope > 1", 16, 15),  # literal block, second line
        ("amount > 0\n          and nope > 1", 15, 15),  # plain scalar folded over two lines
    ],
)
def test_positions_inside_quoted_and_multiline_conditions(tmp_path, when_yaml, line, col):
    path = write(tmp_path, TOY.replace("when: amount > 0\n", f"when: {when_yaml}\n"))
    (error,) = errors_of(path)
    assert error.startswith(f"{path}:{line}:{col}: schemes.tier.rules[1].when: unknown column 'nope'"), error


@pytest.mark.parametrize(
    "condition",
    [
        "amount between 10 and 20 or orders is null",
        "country in ('SE', 'NO') and not is_top",
        "country like 'S%' or country ilike 'n_'",
        "case when customer_type = 'b2b' then amount > 1000 else amount > 100 end",
        "coalesce(orders, 0) % 2 = 0 and -amount < 0",
        "first_order_date >= date '2026-01-01' and year(first_order_date) = 2026 and month(first_order_date) < 13",
        "date_diff('day', first_order_date, date '2026-12-31') > 30",
        "abs(round(amount, 1)) >= floor(amount) and ceil(amount) <= greatest(amount, 1) + least(1, 2)",
        "nullif(trim(upper(lower(country))), '') is not null and length(country) = 2 and len(country) = 2",
        "starts_with(country, 'S') or ends_with(country, 'E') or contains(country, 'x')",
        "list_contains(['SE', 'NO'], country) and cast(orders as double) / 2 > 0.5",
        "try_cast(country as integer) is null and amount::integer > 0",
        "is_top is true or customer_type = 'it''s'",
        'AMOUNT > 1 and "orders" > 1',
    ],
)
def test_allowed_conditions_load(tmp_path, condition):
    path = write(tmp_path, with_when(condition))
    assert load_rule_file(path, COLUMNS).schemes["tier"].rules[1].when == condition


def test_file_that_is_not_utf8(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes(TOY.replace("Big", "Stor kund \xe5").encode("latin-1"))
    with pytest.raises(RuleValidationError) as info:
        load_rule_file(path)
    assert str(info.value) == f"{path}:9: the file is not valid UTF-8 text"
