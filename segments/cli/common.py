"""What several commands share: where progress goes, and which run's features a command evaluates."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from segments import features
from segments.errors import SegmentsError

ALLOW_UNPUBLISHED = "evaluate features a run left behind without publishing (the command says which as-of)"


def progress(message: str) -> None:
    # progress goes to stderr: stdout carries the summary (and dbt's own log is kept in data/logs/)
    print(f"  {time.strftime('%H:%M:%S')}  {message}", file=sys.stderr, flush=True)


def feature_tables(con, path: Path) -> dict[str, dict[str, str]]:
    """The feature tables' columns, or a clear error for a warehouse the job has not built yet."""
    try:
        return features.catalogue_from_warehouse(con)
    except LookupError as exc:
        raise SegmentsError(f"{path}: {exc}") from None


def say_features(con, args: argparse.Namespace) -> None:
    """Which run's features a command evaluates (on stderr); refuses a failed run's leftovers."""
    line = features.built_by(con, allow_unpublished=args.allow_unpublished)
    if line:
        print(line, file=sys.stderr)
