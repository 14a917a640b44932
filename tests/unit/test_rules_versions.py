"""A folder of rule versions: loading, duplicate detection and choosing the version in force."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest

from segments.rules import RuleError, RuleValidationError, active_version, load_rule_versions


def rule_text(version: str, effective_from: str) -> str:
    return f"""\
version: "{version}"
effective_from: {effective_from}
description: Version {version}
author: Tests
schemes:
  tier:
    rules:
      - id: big
        segment: Big
        when: amount >= 100
        next_action: {{action: call, channel: phone, owner: sales, priority: 1}}
    default:
      id: small
      segment: Small
      next_action: {{action: mail, channel: email, owner: marketing_automation, priority: 5}}
"""


def folder_with(tmp_path: Path, files: dict[str, str]) -> Path:
    folder = tmp_path / "segment_rules"
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


@pytest.fixture
def three_versions(tmp_path):
    # File names deliberately do not sort like the dates.
    return folder_with(
        tmp_path,
        {
            "b-first.yaml": rule_text("2026-01-01", "2026-01-01"),
            "a-second.yml": rule_text("2026-06-01", "2026-06-01"),
            "c-future.yaml": rule_text("2099-01-01", "2099-01-01"),
            "schema.json": "{}",
            "README.md": "not a rule file",
            ".#b-first.yaml": "editor lock file: ignored",
        },
    )


def test_loads_every_rule_file_sorted_by_effective_from(three_versions):
    loaded = load_rule_versions(three_versions)
    assert [r.version for r in loaded] == ["2026-01-01", "2026-06-01", "2099-01-01"]
    assert [r.path.name for r in loaded] == ["b-first.yaml", "a-second.yml", "c-future.yaml"]


@pytest.mark.parametrize(
    ("as_of", "expected"),
    [
        (date(2026, 1, 1), "2026-01-01"),  # effective on its own day
        (date(2026, 5, 31), "2026-01-01"),
        (date(2026, 6, 1), "2026-06-01"),
        (date(2030, 1, 1), "2026-06-01"),  # the future-dated file is not chosen yet
        (date(2099, 1, 1), "2099-01-01"),
    ],
)
def test_active_version_is_latest_effective_on_or_before(three_versions, as_of, expected):
    loaded = load_rule_versions(three_versions)
    assert active_version(loaded, as_of).version == expected
    assert active_version(list(reversed(loaded)), as_of).version == expected  # input order does not matter


def test_no_version_in_effect_names_the_earliest(three_versions):
    loaded = load_rule_versions(three_versions)
    with pytest.raises(RuleError) as info:
        active_version(loaded, date(2025, 12, 31))
    assert str(info.value) == (
        f"{loaded[0].path}:2:1: no rule version is in effect on 2025-12-31: the earliest, "
        "version '2026-01-01', takes effect on 2026-01-01"
    )
    with pytest.raises(RuleError, match="no rule versions"):
        active_version([], date(2026, 1, 1))
    with pytest.raises(TypeError):
        active_version(loaded, datetime(2026, 1, 1, 12))


def test_duplicate_version_names_both_files(tmp_path):
    folder = folder_with(
        tmp_path,
        {"one.yaml": rule_text("v1", "2026-01-01"), "two.yaml": rule_text("v1", "2026-02-01")},
    )
    with pytest.raises(RuleValidationError) as info:
        load_rule_versions(folder)
    assert str(info.value) == (
        f"{folder / 'two.yaml'}:1:1: version: v1 is also used by {folder / 'one.yaml'} (line 1); "
        "each rule file needs its own version"
    )


def test_duplicate_effective_from_names_both_files(tmp_path):
    folder = folder_with(
        tmp_path,
        {"one.yaml": rule_text("v1", "2026-01-01"), "two.yaml": rule_text("v2", "2026-01-01")},
    )
    with pytest.raises(RuleValidationError) as info:
        load_rule_versions(folder)
    assert str(info.value) == (
        f"{folder / 'two.yaml'}:2:1: effective_from: 2026-01-01 is also used by {folder / 'one.yaml'} (line 2); "
        "each rule file needs its own effective_from"
    )


def test_errors_from_every_file_are_collected(tmp_path):
    folder = folder_with(
        tmp_path,
        {
            "one.yaml": rule_text("v1", "2026-01-01").replace("owner: sales", "owner: boss"),
            "two.yaml": rule_text("v2", "2026-02-01").replace("amount >= 100", "amount >= (select 1)"),
            "three.yaml": rule_text("v3", "2026-03-01"),
        },
    )
    with pytest.raises(RuleValidationError) as info:
        load_rule_versions(folder)
    assert [(Path(e.file).name, e.line) for e in info.value.errors] == [("one.yaml", 11), ("two.yaml", 10)]


def test_empty_or_missing_folder(tmp_path):
    folder = folder_with(tmp_path, {"schema.json": "{}"})
    with pytest.raises(RuleError) as info:
        load_rule_versions(folder)
    assert str(info.value).startswith(f"{folder}: no rule files (*.yaml, *.yml) in this folder")
    with pytest.raises(RuleError, match="rule folder does not exist"):
        load_rule_versions(tmp_path / "nope")


def test_columns_are_checked_for_every_file(three_versions):
    with pytest.raises(RuleValidationError) as info:
        load_rule_versions(three_versions, {"customer_id": "VARCHAR", "revenue": "DOUBLE"})
    assert len(info.value.errors) == 3
    assert all("unknown column 'amount'" in e.message for e in info.value.errors)
