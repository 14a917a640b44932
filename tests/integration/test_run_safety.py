"""Runs that can never hurt what is published: where a run publishes, one run per warehouse, kill -9 at any
stage, and the marts a failed run leaves behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from orchestration.cli import main as cli
from orchestration.runner import run_job
from segments.settings import Settings
from tests.conftest import point_settings_at, query
from tests.fixtures import handcrafted
from tests.integration.conftest import copy_data

pytestmark = pytest.mark.integration

# progress lines (stderr of `segments run`) that say a stage has started: kill -9 right there
STAGES = {
    "ingest": "load landing files …",
    "quality gate": "quality gate …",
    "dbt": "dbt build as of",
    "rules": "assign segments …",
    "publish": "publish …",
    "report": "run report …",
}


def private_env(run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of a shared run's data folder, every setting pointing at it (and restored after: the
    CLI writes its flags into the environment)."""
    data = copy_data(run, tmp_path / "data")
    point_settings_at(monkeypatch, data)
    return data


def snapshot_state(settings: Settings) -> tuple[bytes, bytes, list[str]]:
    """The snapshot's bytes, latest.html's bytes, and any temporary file beside them."""
    leftovers = sorted(
        str(p.relative_to(settings.data_dir))
        for folder in (settings.published_dir, settings.reports_dir)
        for p in folder.rglob("*.tmp")
    )
    return (
        settings.published_segments.read_bytes(),
        (settings.reports_dir / "latest.html").read_bytes(),
        leftovers,
    )


def test_a_backfill_into_another_warehouse_leaves_the_default_snapshot_and_reports_alone(
    handcrafted_run, tmp_path, monkeypatch
):
    data = private_env(handcrafted_run, tmp_path, monkeypatch)
    default = Settings.from_env()
    before = snapshot_state(default)
    scratch = tmp_path / "scratch" / "wh.duckdb"
    assert cli(["run", "--warehouse", str(scratch), "--as-of", str(handcrafted.AS_OF)]) == 0
    assert snapshot_state(default) == before
    assert (scratch.parent / "published" / "segments.duckdb").is_file()
    assert (scratch.parent / "reports" / "latest.html").is_file()
    # and another warehouse cannot take the default one's snapshot folder over, even when told to
    monkeypatch.setenv("SEGMENTS_WAREHOUSE", str(data / "other.duckdb"))
    monkeypatch.setenv("SEGMENTS_PUBLISHED_DIR", str(default.published_dir))
    monkeypatch.setenv("SEGMENTS_REPORTS_DIR", str(tmp_path / "other-reports"))
    outcome = run_job(as_of=handcrafted.AS_OF)
    assert not outcome.success
    assert f"{default.published_dir} holds the snapshot of another warehouse" in outcome.failure
    assert snapshot_state(default) == before


def _start_run(data: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEGMENTS_")}
    env.update(SEGMENTS_DATA_DIR=str(data), SEGMENTS_RULES_DIR=os.environ["SEGMENTS_RULES_DIR"])
    return subprocess.Popen(
        [sys.executable, "-m", "orchestration.cli", "run", "--as-of", handcrafted.AS_OF.isoformat()],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: kill -9 takes dbt's process with it
    )


def _kill_at(run: subprocess.Popen, marker: str) -> None:
    for line in run.stderr:
        if marker in line:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()
            return
    run.wait()
    pytest.fail(f"the run ended (exit {run.returncode}) before {marker!r}")


@pytest.mark.crash
def test_kill_9_at_every_stage_leaves_the_snapshot_whole_and_the_next_run_recovers(
    handcrafted_run, tmp_path, monkeypatch
):
    data = private_env(handcrafted_run, tmp_path, monkeypatch)
    settings = Settings.from_env()
    before = snapshot_state(settings)
    for stage, marker in STAGES.items():
        run = _start_run(data)
        if stage == "dbt":
            # meanwhile, a second run (as from the schedule) is refused in seconds, naming the holder
            started = time.monotonic()
            for line in run.stderr:
                if marker in line:
                    break
            second = run_job(as_of=handcrafted.AS_OF)
            assert time.monotonic() - started < 60
            assert not second.success and second.failure.startswith("another run (run ")
            assert "holds the warehouse" in second.failure
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()
        else:
            _kill_at(run, marker)
        after = snapshot_state(settings)
        if after[:2] != before[:2]:  # killed after the rename: the snapshot is the new run's, all of it
            assert stage == "report", f"killed at {stage}, the snapshot changed"
            (complete,) = query(
                settings.published_segments,
                "select count(*) = count(*) filter (where run_id = (select run_id from runs where status = "
                "'published' order by published_at desc limit 1)) from customer_segments",
            )[0]
            assert complete
            before = after
    # SIGTERM (a scheduler stopping the job) ends the run cleanly: recorded as failed, lock released
    published = "select * from customer_segments order by all"
    published_before = query(settings.published_segments, published)
    run = _start_run(data)
    for line in run.stderr:
        if STAGES["dbt"] in line:
            run.send_signal(signal.SIGTERM)
            break
    assert run.wait(timeout=60) == 1
    assert (
        "error: stopped (SIGTERM or Ctrl-C) during step dbt_models; nothing was published"
        in run.stderr.read()
    )
    stopped = "select count(*) from runs where failure like 'stopped (SIGTERM%'"
    assert query(settings.warehouse, stopped.replace("from runs", "from segments.runs")) == [(1,)]
    # the snapshot now lists the stopped run too, its published data unchanged
    assert query(settings.published_segments, stopped) == [(1,)]
    assert query(settings.published_segments, published) == published_before
    assert snapshot_state(settings)[1:] == before[1:]
    # the next run recovers: it publishes what an uninterrupted run publishes
    outcome = run_job(as_of=handcrafted.AS_OF)
    assert outcome.success, outcome.failure
    fingerprint = "select output_fingerprint from segments.runs where run_id = ?"
    assert query(settings.warehouse, fingerprint, [outcome.run_id]) == query(
        handcrafted_run.settings.warehouse, fingerprint, [handcrafted_run.outcome.run_id]
    )
    assert snapshot_state(settings)[2] == []
    statuses = query(
        settings.warehouse,
        "select status, failure from segments.runs where status <> 'published' order by started_at",
    )
    interrupted = [f for s, f in statuses if s == "failed" and f.startswith("interrupted: its process")]
    refused = [f for s, f in statuses if s == "refused"]
    # the run killed while writing its report had published: it stays a published run
    assert len(interrupted) == len(STAGES) - 1, statuses
    assert len(refused) == 1 and refused[0].startswith("another run (run "), statuses
    # `segments runs` shows them
    assert cli(["runs", "--limit", "20"]) == 0


def test_the_marts_of_a_run_that_did_not_publish_are_refused_by_the_rule_tools(
    handcrafted_run, tmp_path, monkeypatch, capsys
):
    import duckdb

    data = private_env(handcrafted_run, tmp_path, monkeypatch)
    con = duckdb.connect(str(data / "warehouse.duckdb"))
    con.execute("update pipeline.run_context set run_id = 'stopped-run', as_of = date '2026-11-25'")
    con.execute(
        "insert into segments.runs (run_id, as_of, status, failure) values "
        "('stopped-run', date '2026-11-25', 'failed', 'step dbt_models failed: boom')"
    )
    con.close()
    for argv in (
        ["rules", "diff", "2026-11-22", "2026-12-01"],
        ["rules", "validate"],
        ["report", "experiment", "winback_2026_12"],
    ):
        assert cli(argv) == 1, argv
        err = capsys.readouterr().err
        assert (
            "features as of 2026-11-25 were built by run stopped-run, which did not publish (failed: " in err
        )
        assert "--allow-unpublished" in err
    assert cli(["rules", "diff", "2026-11-22", "2026-12-01", "--allow-unpublished", "--format", "json"]) == 0
    captured = capsys.readouterr()
    assert "features as of 2026-11-25 were built by run stopped-run" in captured.err
    assert captured.out.lstrip().startswith("{")
