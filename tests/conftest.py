from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from segments.engines.cluster import Cluster, server_bin
from segments.settings import DEFAULT_RULES_DIR

SETTINGS_VARIABLES = (
    "SEGMENTS_DATA_DIR",
    "SEGMENTS_WAREHOUSE",
    "SEGMENTS_LANDING_DIR",
    "SEGMENTS_RULES_DIR",
    "SEGMENTS_PUBLISHED_DIR",
    "SEGMENTS_REPORTS_DIR",
    "SEGMENTS_AS_OF",
    "SEGMENTS_DUCKDB_MEMORY_LIMIT",
    "SEGMENTS_TARGET",
    "SEGMENTS_POSTGRES_DSN",
    "SEGMENTS_POSTGRES_DIR",
    "DAGSTER_HOME",
)


def point_settings_at(env: pytest.MonkeyPatch, data: Path, rules: Path = DEFAULT_RULES_DIR) -> Path:
    """Every setting from ``data`` (and ``rules``): no test reads or writes the user's data/."""
    for name in SETTINGS_VARIABLES:
        # setenv first so that ``env`` records every variable: leaving it also removes what run_job and the CLI
        # export into os.environ meanwhile (a session fixture's run would otherwise leak into later tests)
        env.setenv(name, "")
        env.delenv(name)
    env.setenv("SEGMENTS_DATA_DIR", str(data))
    env.setenv("SEGMENTS_RULES_DIR", str(rules))
    return data


@pytest.fixture
def pipeline_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point every setting at a temporary data folder: no test reads or writes the user's data/."""
    data = point_settings_at(monkeypatch, tmp_path / "data")
    monkeypatch.setenv("SEGMENTS_DUCKDB_MEMORY_LIMIT", "1GB")
    return data


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[str]:
    """A throwaway PostgreSQL cluster for the whole session (a second to start; segments.engines.cluster):
    its DSN. Skipped where no server is installed, failed where CI requires one (SEGMENTS_REQUIRE_POSTGRES=1)."""
    if server_bin() is None:
        reason = "no PostgreSQL server installed (Debian: apt-get install postgresql-15)"
        if os.environ.get("SEGMENTS_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"{reason} (SEGMENTS_REQUIRE_POSTGRES=1: the PostgreSQL tests may not be skipped)")
        pytest.skip(reason)
    cluster = Cluster.at(Path(tempfile.mkdtemp(prefix="segments-postgres-")))
    dsn = cluster.start()
    try:
        yield dsn
    finally:
        cluster.remove()


@pytest.fixture
def postgres_dsn(postgres_cluster: str) -> Iterator[str]:
    """A new, empty database in the session's cluster for one test (dropped after it): its DSN."""
    import psycopg  # only the tests that use Postgres need it

    name = f"test_{uuid.uuid4().hex[:12]}"
    try:
        yield postgres_database(postgres_cluster, name)
    finally:
        with psycopg.connect(postgres_cluster, autocommit=True) as admin:
            admin.execute(f"drop database if exists {name} with (force)")


def query(path: Path, sql: str, params=None) -> list[tuple]:
    """Read a DuckDB file (warehouse or snapshot) read-only, as a tool would, and close it again."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


@pytest.fixture(autouse=True)
def _restore_settings_environment():
    """Every test starts from, and leaves, the same settings environment: the CLI and ``run_job`` write their
    settings into os.environ (so Dagster steps and dbt see them), which would leak into the next test."""
    names = [n for n in os.environ if n.startswith("SEGMENTS_")] + ["DAGSTER_HOME"]
    saved = {n: os.environ.get(n) for n in names}
    yield
    for name in [n for n in os.environ if n.startswith("SEGMENTS_")] + ["DAGSTER_HOME"]:
        if saved.get(name) is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = saved[name]


@contextlib.contextmanager
def held_elsewhere(warehouse: Path, run_id: str):
    """Another process holding the warehouse's lock for the block."""
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from pathlib import Path; from segments import lock\n"
         "lock.acquire(Path(sys.argv[1]), run_id=sys.argv[2]); print('held', flush=True); time.sleep(600)",
         str(warehouse), run_id],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        yield
    finally:
        holder.kill()
        holder.wait()


def postgres_database(dsn: str, name: str, *, template: str | None = None) -> str:
    """A new, empty database ``name`` on the server of ``dsn`` (a copy of database ``template`` if given),
    replacing one of that name; returns its DSN, a URL (the form SEGMENTS_POSTGRES_DSN takes)."""
    import psycopg  # only the tests that use Postgres need it
    from psycopg import sql
    from psycopg.conninfo import conninfo_to_dict

    with psycopg.connect(dsn, autocommit=True) as con:
        con.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))
        create = sql.SQL("create database {}").format(sql.Identifier(name))
        if template:
            create += sql.SQL(" template {}").format(sql.Identifier(template))
        con.execute(create)
    parts = conninfo_to_dict(dsn)
    return f"postgresql://{parts['user']}@{parts['host']}:{parts['port']}/{name}"
