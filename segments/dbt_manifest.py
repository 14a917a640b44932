"""Build dbt's manifest (``dbt parse``) when it is missing or older than the dbt project files.

Dagster builds its asset graph from the manifest; it is a build artifact, never committed.
Run as ``python -m segments.dbt_manifest``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from segments.errors import SegmentsError
from segments.settings import DBT_EXECUTABLE, DBT_PROJECT_DIR

MANIFEST = DBT_PROJECT_DIR / "target" / "manifest.json"
SOURCES = ("*.sql", "*.py", "*.yml", "*.yaml", "*.csv")


def _newest_source() -> float:
    return max(
        p.stat().st_mtime
        for pattern in SOURCES
        for p in DBT_PROJECT_DIR.rglob(pattern)
        if "target" not in p.parts
    )


def ensure_manifest(force: bool = False) -> Path:
    if not force and MANIFEST.exists() and MANIFEST.stat().st_mtime >= _newest_source():
        return MANIFEST
    result = subprocess.run(
        [
            str(DBT_EXECUTABLE),
            "parse",
            "--quiet",
            "--project-dir",
            str(DBT_PROJECT_DIR),
            "--profiles-dir",
            str(DBT_PROJECT_DIR),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        detail = (result.stdout + result.stderr).strip().splitlines()
        raise SegmentsError(
            "dbt parse failed: " + (detail[-1] if detail else f"exit code {result.returncode}")
        )
    MANIFEST.touch()
    return MANIFEST


if __name__ == "__main__":
    try:
        print(ensure_manifest(force="--force" in sys.argv))
    except SegmentsError as exc:
        sys.exit(f"error: {exc}")
