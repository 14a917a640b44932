"""``segments explain CUSTOMER_ID``: why a customer has its segment and next action, from the published snapshot."""

from __future__ import annotations

import argparse
from pathlib import Path

from segments import features
from segments.cli.arguments import iso_date
from segments.dbt_manifest import ensure_manifest
from segments.errors import SegmentsError
from segments.explain import explain, render
from segments.settings import Settings
from segments.warehouse import describe, open_for_reading, table_exists


def add_parser(commands) -> None:
    explain = commands.add_parser(
        "explain", help="why a customer (or contact) has its segment and next action, today or on a past date"
    )
    explain.add_argument("entity_id", metavar="CUSTOMER_ID", help="customer id (or contact id)")
    explain.add_argument("--as-of", type=iso_date, help="YYYY-MM-DD (default: last run)")
    explain.add_argument(
        "--snapshot", type=Path, help="published snapshot file (default data/published/segments.duckdb)"
    )
    explain.add_argument("--format", choices=["text", "json"], default="text")
    explain.set_defaults(handler=_explain)


def _explain(args: argparse.Namespace) -> int:
    types = features.entity_columns(features.catalogue_from_manifest(ensure_manifest()))
    settings = Settings.from_env()
    # the published snapshot file; on PostgreSQL the published tables themselves, unless --snapshot names one
    snapshot = args.snapshot or (None if settings.target == "postgres" else settings.published_segments)
    with open_for_reading(settings, snapshot) as con:
        if not (table_exists(con, "runs") or table_exists(con, "segments.runs")):
            raise SegmentsError(
                f"{describe(settings, snapshot)} holds no published segments: run `segments run` first"
            )
        explanations = explain(con, args.entity_id, args.as_of, column_types=types)
    print(render(explanations, args.format), end="")
    return 0
