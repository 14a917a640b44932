"""Run the nightly job in process (the CLI and the benchmark use it) and summarise what was published."""

from __future__ import annotations

import contextlib
import logging
import re
import signal
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import dagster as dg
import duckdb

from segments.guard import claim, record_failure
from segments.lock import WarehouseLocked, release
from segments.preflight import PreflightError
from segments.publish.write_audit_publish import next_actions, segment_sizes
from segments.quality import results as quality_results
from segments.settings import ACCEPT_DRIFT_TAG, AS_OF_TAG, PROGRESS_LOGGER, Settings
from segments.warehouse import connect

TOP_ACTIONS = 8  # per owner in the summary


@dataclass(frozen=True)
class RunOutcome:
    success: bool
    run_id: str
    failure: str | None  # one line: which step failed and why
    step_seconds: dict[str, float]
    row_counts: dict[str, int]  # asset ("marts/customer_features") -> rows, as its materialization says


# The job's steps in the words of the pipeline's stages (step keys are Dagster's op names, e.g.
# marts__customer_features_gx_customer_features); a step missing here shows as its key.
STAGES = {
    "raw_tables": "load landing files",
    "accepted_tables": "quality gate",
    "pipeline__run_context": "run context",
    "dbt_models": "dbt build",
    "marts__customer_features_gx_customer_features": "quality gate on features",
    "segments_staging__customer_segments": "assign segments",
    "segments__customer_segments": "publish",
    "reports__run_report": "run report",
}
# Dagster's line for each step after a failed one ("... failed: ['raw_tables', 'raw_tables', ...]. Not executing.")
_NOT_EXECUTED = re.compile(r"Dependencies for step \S+ (failed|were not executed)")


def stage_name(step_key: str) -> str:
    return STAGES.get(step_key, step_key)


class _ProgressHandler(logging.Handler):
    """Forwards Dagster's step events and our own log lines as one short line each, named by stage. A failure
    is one line: the steps it leaves out are not listed (the CLI's last line says why the run stopped)."""

    def __init__(self, progress: Callable[[str], None]):
        super().__init__(logging.DEBUG)  # step events are logged at DEBUG
        self.progress = progress

    def emit(self, record: logging.LogRecord) -> None:
        meta = getattr(record, "dagster_meta", None) or {}
        event = meta.get("dagster_event")
        step = meta.get("step_key") or ""
        if event is not None:
            kind = event.event_type_value
            if kind == "STEP_START":
                self.progress(f"{stage_name(step)} …")
            elif kind == "STEP_SUCCESS":
                self.progress(
                    f"{stage_name(step)} done ({event.event_specific_data.duration_ms / 1000:.1f} s)"
                )
            elif kind == "STEP_FAILURE":
                self.progress(f"{stage_name(step)} FAILED")
        elif record.levelno >= logging.INFO and meta.get("orig_message"):
            message = meta["orig_message"]
            if _NOT_EXECUTED.match(message):
                return
            # dagster-dbt narrates its subprocess handling; only our own dbt lines are worth showing
            if step != "dbt_models" or message.startswith("dbt "):
                self.progress(f"  {message}" if step else message)  # indented under its stage's line


# dagster.yaml of an instance this project makes: no telemetry, whose banner would land among the progress lines
DAGSTER_YAML = "telemetry:\n  enabled: false\n"


def dagster_instance(settings: Settings) -> dg.DagsterInstance:
    """The Dagster instance runs are recorded in: DAGSTER_HOME, by default ``<data dir>/dagster``, the one
    `make ui` shows. A missing folder, or a missing or empty dagster.yaml, is made with telemetry off; a
    dagster.yaml with content is someone's configuration and kept."""
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.is_file() or not config.read_text(encoding="utf-8").strip():
        config.write_text(DAGSTER_YAML, encoding="utf-8")
    return dg.DagsterInstance.from_config(str(home))  # as DagsterInstance.get() does with DAGSTER_HOME


def run_job(
    *, as_of: date, progress: Callable[[str], None] | None = None, accept_drift: bool = False
) -> RunOutcome:
    """Run ``nightly_segmentation`` for ``as_of`` (passed to every step as a run tag). ``accept_drift``: publish
    despite load anomalies and segment-size drift (recorded with the run)."""
    settings = Settings.from_env()
    run_id = str(uuid.uuid4())  # Dagster's form of run id, known before the run so the lock can name it
    try:
        # the warehouse is this run's, and everything knowable now is checked, before Dagster loads the job
        claim(settings, run_id=run_id, as_of=as_of, accept_drift=accept_drift)
    except (WarehouseLocked, PreflightError) as exc:
        return RunOutcome(False, run_id, str(exc), {}, {})
    try:
        # imported here, after the claim: loading the definitions loads the dbt assets from the manifest that
        # preflight makes, and costs seconds that a refused run should not wait for
        from orchestration.definitions import defs

        job = defs.resolve_job_def("nightly_segmentation")
        instance = dagster_instance(settings)
    except BaseException:
        release(settings.warehouse)
        raise
    handler = _ProgressHandler(progress) if progress else None
    progress_logger = logging.getLogger(PROGRESS_LOGGER)
    if handler:
        progress_logger.addHandler(handler)
    log_path = settings.data_dir / "logs" / "last_run.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    previous_sigterm = _stop_on_sigterm()
    try:
        # dagster-dbt echoes every dbt event to stdout: keep it in a log file, not on the terminal
        with log_path.open("w", encoding="utf-8") as log, contextlib.redirect_stdout(log):
            result = job.execute_in_process(
                instance=instance,
                run_id=run_id,
                tags={AS_OF_TAG: as_of.isoformat(), **({ACCEPT_DRIFT_TAG: "true"} if accept_drift else {})},
                raise_on_error=False,
                run_config={"loggers": {"progress": {}, "console": {"config": {"log_level": "CRITICAL"}}}},
            )
    except BaseException:
        release(settings.warehouse)
        raise
    finally:
        if previous_sigterm is not None:
            signal.signal(signal.SIGTERM, previous_sigterm)
        if handler:
            progress_logger.removeHandler(handler)
    steps = {
        e.step_key: e.event_specific_data.duration_ms / 1000
        for e in result.all_events
        if e.event_type_value == "STEP_SUCCESS" and e.step_key
    }
    materializations = [e.materialization for e in result.get_asset_materialization_events()]
    row_counts = {
        m.asset_key.to_user_string(): m.metadata["dagster/row_count"].value
        for m in materializations
        if "dagster/row_count" in m.metadata
    }
    failure = None if result.success else _failure(result)
    try:
        if failure:
            record = instance.get_run_record_by_id(result.run_id)
            record_failure(
                settings,
                run_id=result.run_id,
                as_of=as_of,
                failure=failure,
                started_at=record.start_time if record else None,
                accept_drift=accept_drift,
            )
    finally:
        release(settings.warehouse)  # after the failure is recorded: no other run writes in between
    return RunOutcome(result.success, result.run_id, failure, steps, row_counts)


def _stop_on_sigterm():
    """SIGTERM (a scheduler's or a container's stop) interrupts the run as Ctrl-C does: Dagster fails the
    running step (dagster-dbt stops dbt), the run is recorded as failed and the lock released. Returns the
    handler it replaced (None when not in the main thread, where signals cannot be handled)."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"stopped by signal {signum} (SIGTERM)")

    return signal.signal(signal.SIGTERM, interrupt)


# "segments.errors.IngestError: " or "_duckdb.BinderException: " in front of the message says nothing to a user
_EXCEPTION_PREFIX = re.compile(r"^[\w.]+(?:Error|Exception): ")


def _failure(result: dg.ExecuteInProcessResult) -> str:
    """The first reason the run failed, phrased for a person: a failed quality check names its expectations."""
    for evaluation in result.get_asset_check_evaluations():
        if not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR:
            description = evaluation.description or evaluation.check_name
            return (
                f"blocking check {evaluation.check_name} on {evaluation.asset_key.to_user_string()} failed: "
                f"{description}; nothing was published"
            )
    for event in result.all_events:
        if event.event_type_value == "STEP_FAILURE":
            error = event.event_specific_data.error
            while error.cause is not None and error.cls_name == "DagsterExecutionStepExecutionError":
                error = error.cause
            if error.cls_name == "DagsterExecutionInterruptedError":
                return f"stopped (SIGTERM or Ctrl-C) during step {event.step_key}; nothing was published"
            message = error.message.strip().splitlines()[0] if error.message else error.cls_name
            message = _EXCEPTION_PREFIX.sub("", message)
            return f"step {event.step_key} failed: {message}; nothing was published"
    return "the run failed before any step started"


def _identity_line(con: duckdb.DuckDBPyConnection) -> str:
    """How orders found their customer."""
    methods = dict(
        con.execute("select match_method, share_of_orders from marts.identity_match_summary").fetchall()
    )
    crm = sum(methods.get(m, 0) for m in ("crm_id", "email", "org_number"))
    detail = ", ".join(f"{m} {100 * methods.get(m, 0):.1f} %" for m in ("crm_id", "email", "org_number"))
    guests = sum(methods.get(m, 0) for m in ("guest_email", "guest_org"))
    return (
        f"Orders matched to a CRM customer: {100 * crm:.1f} % ({detail}); guests {100 * guests:.1f} %, "
        f"unresolved {100 * methods.get('unresolved', 0):.1f} %"
    )


TOP_QUARANTINE = 6  # reasons listed in the summary


def _quality_lines(con: duckdb.DuckDBPyConnection, run_id: str) -> list[str]:
    """Checks run, warnings, rows quarantined per reason, accepted drift."""
    checks, failed_warn, accepted = con.execute(
        """select count(*), count(*) filter (where not success and not (blocks and not accepted)),
                  string_agg(case when accepted then suite || ': ' || coalesce(note, expectation) end, '; ')
           from segments.quality_results where run_id = ?""",
        [run_id],
    ).fetchone()
    reasons = quality_results.quarantine_counts(con, run_id)
    quarantined = sum(n for *_, n in reasons)
    lines = [
        f"Quality: {checks:,} checks, {failed_warn:,} failed without blocking; "
        f"{quarantined:,} rows quarantined (excluded downstream; `segments quarantine list`)"
    ]
    for entity, expectation, column, n in reasons[:TOP_QUARANTINE]:
        lines.append(
            f"  {entity:<18} {expectation.removeprefix('expect_column_values_to_')}({column}) {n:>8,}"
        )
    if len(reasons) > TOP_QUARANTINE:
        lines.append(f"  ({len(reasons) - TOP_QUARANTINE} more reasons)")
    if accepted:
        lines.append(f"Accepted with --accept-drift: {accepted}")
    return lines


def summary(settings: Settings, run_id: str, *, elapsed: float) -> str:
    """Read back the published snapshot (what readers see): sizes per scheme, actions per owner."""
    con = duckdb.connect(str(settings.published_segments), read_only=True)
    try:
        run = con.execute(
            "select as_of, rule_version, rules_sha256, customers from runs where run_id = ?", [run_id]
        ).fetchone()
        sizes = segment_sizes(con, "customer_segments")
        entities = dict(con.execute("select distinct scheme, entity from customer_segments").fetchall())
        actions = next_actions(con, "customer_segments")
        file_name = con.execute(
            "select file_name from rule_versions where rule_version = ?", [run[1]]
        ).fetchone()
    finally:
        con.close()
    as_of, version, sha, customers = run
    # the job has finished, so the warehouse can be opened (read-only) for what the snapshot does not hold
    with connect(settings, read_only=True) as warehouse:
        identity, quality = _identity_line(warehouse), _quality_lines(warehouse, run_id)
    lines = [
        f"Published run {run_id} as of {as_of}: {customers:,} customers in {elapsed:.1f} s",
        f"Rule version {version} ({file_name[0]}, sha256 {sha[:12]}…)",
        identity,
        *quality,
        "",
        "Segments per scheme",
    ]
    width = max((len(segment) for _, segment, _, _ in sizes), default=10) + 2
    scheme = None
    for name, segment, n, share in sizes:
        if name != scheme:
            lines.append(f"  {name} ({entities.get(name, 'customer')}s)")
            scheme = name
        lines.append(f"    {segment:<{width}} {n:>10,}  {share:5.1f} %")
    lines += [
        "",
        f"Next actions per owner (the {TOP_ACTIONS} largest; all in the snapshot's customer_segments)",
    ]
    width = max((len(action) for _, action, _, _ in actions), default=10) + 2
    shown: dict[str, int] = {}
    for name, action, channel, n in actions:
        shown[name] = shown.get(name, 0) + 1
        if shown[name] == 1:
            lines.append(f"  {name}")
        if shown[name] <= TOP_ACTIONS:
            lines.append(f"    {action:<{width}} {channel:<6} {n:>10,}")
    for name, count in shown.items():
        if count > TOP_ACTIONS:
            lines.append(f"  ({name}: {count - TOP_ACTIONS} more action/channel pairs)")
    report = settings.reports_dir / run_id / "index.html"
    lines += ["", f"Read-only snapshot for tools: {settings.published_segments}"]
    if report.exists():
        lines += [f"Report: {report}"]
    docs = settings.reports_dir / run_id / "data_docs" / "index.html"
    if docs.exists():
        lines += [f"Quality results (Great Expectations Data Docs): {docs}"]
    return "\n".join(lines)
