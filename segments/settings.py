"""Every setting of the pipeline, read from the environment in one place.

Settings are read when a run starts (not at import), so the CLI, the schedule and tests can point the same
definitions at different folders. The warehouse path is one variable, ``SEGMENTS_WAREHOUSE``, read here and
by dbt's ``profiles.yml``, so Python and dbt always open the same file.

What a run publishes belongs to the warehouse it reads: the snapshot and the reports default to folders
beside the warehouse file (``published/`` and ``reports/``), so a backfill into a scratch warehouse can never
replace the snapshot that tools read from the default one. Both can be given explicitly.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
EXPECTATIONS_DIR = PROJECT_ROOT / "expectations"
DEFAULT_RULES_DIR = PROJECT_ROOT / "segment_rules"
# dbt is installed beside this interpreter (the project's venv), whether or not the venv is on PATH.
DBT_EXECUTABLE = Path(sys.executable).with_name("dbt")

# Run tag that carries the as-of date from the CLI or the schedule into every asset.
AS_OF_TAG = "segments/as_of"
# Run tag set by `segments run --accept-drift` (or by a person launching the job): publish despite load
# anomalies and segment-size drift; what it let through is recorded in segments.runs.
ACCEPT_DRIFT_TAG = "segments/accept_drift"
# Python logger that the Dagster "progress" logger writes to (see definitions.py, runner.py).
PROGRESS_LOGGER = "segments.progress"


TARGETS = ("duckdb", "postgres")  # SEGMENTS_TARGET: the warehouse engine every stage of a run uses


class SettingsError(ValueError):
    """A setting has a value the pipeline cannot use."""


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    warehouse: Path
    landing_dir: Path
    rules_dir: Path
    published_dir: Path
    reports_dir: Path  # run reports (``<run_id>/index.html``, ``latest.html``) and the rules audit document
    dagster_home: Path  # the Dagster instance runs are recorded in (the one `make ui` shows)
    as_of: date | None  # None: the run's own date in `timezone`
    timezone: str
    schedule_cron: str
    duckdb_memory_limit: str
    duckdb_threads: int
    target: str = "duckdb"  # one of TARGETS
    # a libpq connection URL (postgresql://user@host:port/dbname?...); the password from PGPASSWORD or ~/.pgpass
    postgres_dsn: str = ""
    postgres_dir: Path | None = None  # the throwaway local cluster of `segments postgres start` (no DSN set)
    drift_max_share: float = 0.25  # a segment whose size moves more than this share blocks the publish
    drift_min_entities: int = 100  # ... if it has at least this many entities before or after

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, *, warehouse: Path | None = None) -> Settings:
        """``warehouse``: a command's ``--warehouse``; the folders that belong to it follow it."""
        env = dict(os.environ if env is None else env)
        if warehouse is not None:
            env["SEGMENTS_WAREHOUSE"] = str(warehouse)
        data_dir = Path(env.get("SEGMENTS_DATA_DIR", "data")).expanduser().resolve()
        as_of_text = env.get("SEGMENTS_AS_OF", "").strip()
        timezone = env.get("SEGMENTS_TIMEZONE", "Europe/Stockholm")
        try:
            ZoneInfo(timezone)
        except Exception as exc:
            raise SettingsError(f"SEGMENTS_TIMEZONE={timezone!r} is not an IANA time zone") from exc
        threads = env.get("SEGMENTS_DUCKDB_THREADS", "")
        warehouse = _path(env, "SEGMENTS_WAREHOUSE", data_dir / "warehouse.duckdb")
        target = env.get("SEGMENTS_TARGET", "").strip().lower() or "duckdb"
        if target not in TARGETS:
            raise SettingsError(f"SEGMENTS_TARGET={target!r} is not one of {', '.join(TARGETS)}")
        dsn = env.get("SEGMENTS_POSTGRES_DSN", "").strip()
        if dsn and not dsn.startswith(("postgresql://", "postgres://")):
            raise SettingsError(
                "SEGMENTS_POSTGRES_DSN must be a connection URL (postgresql://user@host:port/dbname); keep the "
                "password in PGPASSWORD or ~/.pgpass"
            )
        return cls(
            data_dir=data_dir,
            warehouse=warehouse,
            landing_dir=_path(env, "SEGMENTS_LANDING_DIR", data_dir / "landing"),
            rules_dir=_path(env, "SEGMENTS_RULES_DIR", DEFAULT_RULES_DIR),
            published_dir=_path(env, "SEGMENTS_PUBLISHED_DIR", warehouse.parent / "published"),
            reports_dir=_path(env, "SEGMENTS_REPORTS_DIR", warehouse.parent / "reports"),
            dagster_home=_path(env, "DAGSTER_HOME", data_dir / "dagster"),
            as_of=parse_as_of(as_of_text, "SEGMENTS_AS_OF") if as_of_text else None,
            timezone=timezone,
            schedule_cron=env.get("SEGMENTS_SCHEDULE_CRON", "0 2 * * *"),
            duckdb_memory_limit=env.get("SEGMENTS_DUCKDB_MEMORY_LIMIT", "3GB"),
            duckdb_threads=int(threads) if threads else (os.cpu_count() or 2),
            target=target,
            postgres_dsn=dsn,
            postgres_dir=_path(env, "SEGMENTS_POSTGRES_DIR", data_dir / "postgres"),
            drift_max_share=_number(env, "SEGMENTS_DRIFT_MAX_SHARE", 0.25, float),
            drift_min_entities=_number(env, "SEGMENTS_DRIFT_MIN_ENTITIES", 100, int),
        )

    def resolve_as_of(self, run_tags: dict[str, str] | None = None) -> date:
        """The run's as-of date: the run tag (CLI, schedule), else SEGMENTS_AS_OF, else today."""
        tagged = (run_tags or {}).get(AS_OF_TAG)
        if tagged:
            return parse_as_of(tagged, f"run tag {AS_OF_TAG}")
        if self.as_of:
            return self.as_of
        return datetime.now(ZoneInfo(self.timezone)).date()

    @staticmethod
    def accept_drift(run_tags: dict[str, str] | None) -> bool:
        return (run_tags or {}).get(ACCEPT_DRIFT_TAG, "").lower() in ("1", "true", "yes")

    @property
    def postgres_url(self) -> str:
        """SEGMENTS_POSTGRES_DSN, else the local cluster that `segments postgres start` made in postgres_dir."""
        if self.postgres_dsn:
            return self.postgres_dsn
        recorded = self.postgres_dir / "port" if self.postgres_dir else None
        if recorded and recorded.is_file():
            return f"postgresql://postgres@127.0.0.1:{recorded.read_text().strip()}/postgres"
        raise SettingsError(
            "SEGMENTS_TARGET=postgres needs SEGMENTS_POSTGRES_DSN (postgresql://user@host:port/dbname), or a local "
            "cluster: `segments postgres start`"
        )

    @property
    def published_segments(self) -> Path:
        return self.published_dir / "segments.duckdb"

    def export_to_environ(self) -> None:
        """Make subprocesses (dbt) see the same paths as this process."""
        os.environ["SEGMENTS_DATA_DIR"] = str(self.data_dir)
        os.environ["SEGMENTS_WAREHOUSE"] = str(self.warehouse)
        os.environ["SEGMENTS_LANDING_DIR"] = str(self.landing_dir)
        os.environ["SEGMENTS_RULES_DIR"] = str(self.rules_dir)
        os.environ["SEGMENTS_PUBLISHED_DIR"] = str(self.published_dir)
        os.environ["SEGMENTS_REPORTS_DIR"] = str(self.reports_dir)
        os.environ["SEGMENTS_DUCKDB_MEMORY_LIMIT"] = self.duckdb_memory_limit
        os.environ["SEGMENTS_TARGET"] = self.target
        if self.target == "postgres":
            os.environ["SEGMENTS_POSTGRES_DSN"] = self.postgres_url
            os.environ.update(postgres_profile_environ(self.postgres_url))


def postgres_profile_environ(dsn: str) -> dict[str, str]:
    """What dbt's ``postgres`` profile (profiles.yml) reads: the DSN's parts, as libpq resolves them. The
    password is never put here: libpq (under dbt-postgres) reads PGPASSWORD or ~/.pgpass itself."""
    from psycopg.conninfo import conninfo_to_dict  # psycopg only for the postgres target

    parts = conninfo_to_dict(dsn)
    if parts.get("password"):
        raise SettingsError(
            "SEGMENTS_POSTGRES_DSN carries a password: put it in PGPASSWORD or ~/.pgpass instead"
        )
    return {
        "SEGMENTS_PG_HOST": str(parts.get("host") or os.environ.get("PGHOST", "localhost")),
        "SEGMENTS_PG_PORT": str(parts.get("port") or os.environ.get("PGPORT", "5432")),
        "SEGMENTS_PG_USER": str(parts.get("user") or os.environ.get("PGUSER", "postgres")),
        "SEGMENTS_PG_DBNAME": str(parts.get("dbname") or os.environ.get("PGDATABASE", "postgres")),
        "SEGMENTS_PG_SSLMODE": str(parts.get("sslmode") or "prefer"),
    }


def parse_as_of(text: str, where: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise SettingsError(f"{where}: {text!r} is not a date (YYYY-MM-DD)") from exc


def _number(env: dict[str, str], name: str, default, kind):
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        value = kind(text)
    except ValueError as exc:
        raise SettingsError(f"{name}={text!r} is not a {kind.__name__}") from exc
    if value < 0:
        raise SettingsError(f"{name}={text!r} must not be negative")
    return value


def _path(env: dict[str, str], name: str, default: Path) -> Path:
    value = env.get(name, "").strip()
    return Path(value).expanduser().resolve() if value else default
