"""Everything a run can know at start-up fails it in its first seconds, before anything is written."""

from __future__ import annotations

import hashlib
import shutil
import time
from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest

from orchestration.cli import main
from orchestration.runner import run_job
from segments import guard, lock
from segments.contract import migrate
from segments.preflight import OWNER_FILE, PreflightError, check
from segments.settings import DEFAULT_RULES_DIR, Settings
from tests.conftest import held_elsewhere, point_settings_at, query
from tests.fixtures import handcrafted

AS_OF = date(2026, 12, 2)


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data folder with landing files and a copy of the shipped rules; no warehouse yet."""
    rules = tmp_path / "rules"
    shutil.copytree(DEFAULT_RULES_DIR, rules)
    data = point_settings_at(monkeypatch, tmp_path / "data", rules)
    handcrafted.write_landing(data / "landing")
    return data


def used_warehouse(path: Path, *, published: date, version: str = "2026-12-01", sha: str = "0" * 64) -> None:
    """A warehouse that published ``version`` (recorded with ``sha``) as of ``published``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path))
    migrate(con)
    con.execute(
        "insert into segments.rule_versions (rule_version, rules_sha256, file_name, file_text, effective_from, "
        "first_used_run_id, recorded_at, role) values (?, ?, ?, 'text', ?, 'run-1', ?, 'champion')",
        [version, sha, f"{version}.yaml", date(2026, 12, 1), datetime(2026, 12, 1)],
    )
    con.execute(
        "insert into segments.runs (run_id, as_of, status) values ('run-1', ?, 'published')", [published]
    )
    con.close()


def problems(settings: Settings, as_of: date = AS_OF) -> list[str]:
    with pytest.raises(PreflightError) as refused:
        check(settings, as_of)
    return refused.value.problems


def test_a_clean_start_passes(env):
    assert check(Settings.from_env(), AS_OF).last_published_as_of is None


def test_every_problem_known_at_start_up_is_named_at_once(env, tmp_path):
    shutil.rmtree(env / "landing")
    shutil.rmtree(tmp_path / "rules")
    found = problems(Settings.from_env())
    assert len(found) == 2
    assert found[0].startswith(f"no landing files in {env / 'landing'}")
    assert "rule folder does not exist" in found[1]


def test_an_edited_rule_version_that_was_already_used_is_refused(env):
    used_warehouse(env / "warehouse.duckdb", published=date(2026, 12, 1))
    (found,) = problems(Settings.from_env())
    assert found.startswith(
        "2026-12-01.yaml: rule version 2026-12-01 was already used (run run-1) with sha256 0000"
    )
    assert "save the change as a new version file" in found


def test_an_as_of_before_the_last_published_one_is_refused(env, tmp_path):
    rules = tmp_path / "rules"
    sha = hashlib.sha256((rules / "2026-12-01.yaml").read_bytes()).hexdigest()
    used_warehouse(env / "warehouse.duckdb", published=date(2026, 12, 2), sha=sha)
    (found,) = problems(Settings.from_env(), date(2026, 12, 1))
    assert found.startswith("as-of 2026-12-01 is before the last published as-of 2026-12-02")


def test_a_rule_that_does_not_compile_against_the_feature_catalogue_is_refused(env, tmp_path):
    newest = tmp_path / "rules" / "2026-12-01.yaml"
    newest.write_text(
        newest.read_text().replace("when: frequency = 0", "when: frequency_weeks = 0"), encoding="utf-8"
    )
    (found,) = problems(Settings.from_env())
    assert "2026-12-01.yaml:" in found and "frequency_weeks" in found


def test_a_snapshot_folder_of_another_warehouse_is_refused(env, tmp_path, monkeypatch):
    (env / "published").mkdir()
    (env / "published" / OWNER_FILE).write_text("another-warehouse\n")
    (found,) = problems(Settings.from_env())
    assert found.startswith(f"{env / 'published'} holds the snapshot of another warehouse")
    monkeypatch.setenv("SEGMENTS_PUBLISHED_DIR", str(tmp_path / "elsewhere"))
    check(Settings.from_env(), AS_OF)


def test_a_run_with_a_start_up_problem_fails_in_seconds_and_writes_nothing(env, tmp_path):
    used_warehouse(env / "warehouse.duckdb", published=date(2026, 12, 1))
    before = (env / "warehouse.duckdb").read_bytes()
    started = time.monotonic()
    outcome = run_job(as_of=AS_OF)
    assert time.monotonic() - started < 20  # no Dagster step, no dbt: preflight only
    assert not outcome.success and outcome.step_seconds == {}
    assert outcome.failure.startswith("the run cannot start: 2026-12-01.yaml: rule version 2026-12-01 was")
    # recorded as refused, and nothing else changed
    status, failure = query(
        env / "warehouse.duckdb",
        "select status, failure from segments.runs where run_id = ?",
        [outcome.run_id],
    )[0]
    assert status == "refused" and failure == outcome.failure
    assert query(env / "warehouse.duckdb", "select count(*) from segments.runs")[0][0] == 2
    assert before != (env / "warehouse.duckdb").read_bytes()  # the refusal itself is the only write
    assert not (env / "published").exists()


def test_rules_validate_reports_an_edited_version_that_was_already_used(env, capsys):
    used_warehouse(env / "warehouse.duckdb", published=date(2026, 12, 1))
    assert main(["rules", "validate", "--no-data"]) == 1
    err = capsys.readouterr().err
    assert "error: 2026-12-01.yaml: rule version 2026-12-01 was already used (run run-1)" in err


def test_a_run_refused_while_the_warehouse_was_locked_is_shown_and_then_recorded(env, tmp_path, capsys):
    rules = tmp_path / "rules"
    sha = hashlib.sha256((rules / "2026-12-01.yaml").read_bytes()).hexdigest()
    warehouse = env / "warehouse.duckdb"
    used_warehouse(warehouse, published=date(2026, 12, 1), sha=sha)
    settings = Settings.from_env()
    with held_elsewhere(warehouse, "first"), pytest.raises(lock.WarehouseLocked):
        guard.claim(settings, run_id="second", as_of=AS_OF)
    assert main(["runs"]) == 0
    shown = capsys.readouterr().out
    assert "second" in shown and "refused" in shown and "another run (run first, started at" in shown
    # the next run to hold the warehouse records it (and the killed holder, as interrupted)
    with guard.claimed(settings, run_id="third", as_of=AS_OF):
        pass
    assert not guard.unrecorded_path(warehouse).exists()
    recorded = dict(query(warehouse, "select run_id, status from segments.runs"))
    assert recorded == {"run-1": "published", "second": "refused", "first": "failed"}


def test_a_failure_recorded_while_another_run_holds_the_warehouse_is_kept_for_it(env, tmp_path):
    from segments.guard import record_failure

    rules = tmp_path / "rules"
    sha = hashlib.sha256((rules / "2026-12-01.yaml").read_bytes()).hexdigest()
    warehouse = env / "warehouse.duckdb"
    used_warehouse(warehouse, published=date(2026, 12, 1), sha=sha)
    settings = Settings.from_env()
    with held_elsewhere(warehouse, "busy"):
        # as the UI's failure sensor does, after a run launched from the UI failed
        record_failure(settings, run_id="ui-run", as_of=AS_OF, failure="step x failed: y", started_at=None)
    assert [(e["run_id"], e["status"]) for e in guard.unrecorded_runs(warehouse)] == [("ui-run", "failed")]
    with guard.claimed(settings, run_id="next", as_of=AS_OF):
        pass
    assert query(warehouse, "select status, failure from segments.runs where run_id = 'ui-run'") == [
        ("failed", "step x failed: y")
    ]
