"""The one Definitions object: assets, checks, the nightly job and its schedule."""

import logging

import dagster as dg

from orchestration.assets.ingest import raw_tables
from orchestration.assets.quality import accepted_tables, quality_checks
from orchestration.assets.reports import run_report
from orchestration.assets.segments import published_customer_segments, staged_customer_segments
from orchestration.assets.transform import dbt_models, dbt_resource, run_context
from orchestration.resources import WAREHOUSE_KEY, Warehouse
from segments.guard import record_failure
from segments.settings import AS_OF_TAG, PROGRESS_LOGGER, Settings

# DuckDB allows one writing process and dbt runs as a subprocess: steps run one at a time, in process.
nightly_segmentation = dg.define_asset_job(
    "nightly_segmentation",
    selection=dg.AssetSelection.all(),
    description="Load landing files, check them (quarantining bad rows), build features with dbt, assign "
    "segments, check their sizes against the last run, publish.",
    executor_def=dg.in_process_executor,
)

_settings = Settings.from_env()


@dg.schedule(
    job=nightly_segmentation,
    cron_schedule=_settings.schedule_cron,
    execution_timezone=_settings.timezone,
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
def nightly_segmentation_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    # The as-of date is the scheduled day, so a late or retried run still computes the same day.
    as_of = context.scheduled_execution_time.date().isoformat()
    return dg.RunRequest(run_key=as_of, tags={AS_OF_TAG: as_of})


@dg.run_failure_sensor(
    monitored_jobs=[nightly_segmentation],
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Records a failed scheduled run in segments.runs (status 'failed' and why).",
)
def record_failed_runs(context: dg.RunFailureSensorContext) -> None:
    run = context.dagster_run
    settings = Settings.from_env()
    record = context.instance.get_run_record_by_id(run.run_id)
    record_failure(
        settings,
        run_id=run.run_id,
        as_of=settings.resolve_as_of(run.tags),
        failure=context.failure_event.message or "the run failed",
        started_at=record.start_time if record else None,
        accept_drift=Settings.accept_drift(run.tags),
    )


@dg.logger(
    description="Hands step events and log lines to whoever listens on the 'segments.progress' "
    "Python logger (the CLI prints them as progress); silent otherwise."
)
def progress_logger(_init_context: dg.InitLoggerContext) -> logging.Logger:
    logger = logging.getLogger(PROGRESS_LOGGER)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    return logger


defs = dg.Definitions(
    assets=[
        raw_tables,
        accepted_tables,
        run_context,
        dbt_models,
        staged_customer_segments,
        published_customer_segments,
        run_report,
    ],
    asset_checks=quality_checks,
    jobs=[nightly_segmentation],
    schedules=[nightly_segmentation_schedule],
    sensors=[record_failed_runs],
    resources={"dbt": dbt_resource, WAREHOUSE_KEY: Warehouse()},
    executor=dg.in_process_executor,
    loggers={"progress": progress_logger, "console": dg.colored_console_logger},
)
