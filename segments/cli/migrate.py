"""``segments migrate``: bring a warehouse made by an earlier release to this release's schema version."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from segments.contract import SCHEMA_VERSION
from segments.errors import SegmentsError
from segments.guard import migrate_warehouse
from segments.settings import Settings
from segments.warehouse import describe


def add_parser(commands) -> None:
    migrate = commands.add_parser(
        "migrate",
        help="bring the warehouse's tables to this release's schema version (a run does this by itself)",
    )
    migrate.add_argument(
        "--warehouse", type=Path, help="DuckDB warehouse file (default data/warehouse.duckdb)"
    )
    migrate.set_defaults(handler=_migrate)


def _migrate(args: argparse.Namespace) -> int:
    settings = Settings.from_env(warehouse=args.warehouse)
    if args.warehouse is not None and settings.target == "postgres":
        settings = replace(settings, target="duckdb")  # --warehouse names a DuckDB file
    where = describe(settings)
    if settings.target == "duckdb" and not settings.warehouse.is_file():
        raise SegmentsError(f"no DuckDB file at {settings.warehouse}: nothing to migrate")
    before, applied = migrate_warehouse(settings)
    if not applied:
        print(f"{where}: at schema version {SCHEMA_VERSION} already, nothing to do")
        return 0
    print(f"{where}: schema version {before or 0} -> {SCHEMA_VERSION}")
    for migration in applied:
        print(f"  {migration.version}  {migration.description}")
    return 0
