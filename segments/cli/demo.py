"""``segments demo-data``: seeded, realistic CRM and sales exports, never over files that are not its own."""

from __future__ import annotations

import argparse
import logging
import time
from datetime import date
from pathlib import Path

from segments.cli.arguments import iso_date, non_negative_int, whole_number
from segments.cli.common import progress
from segments.demo.writers import file_name
from segments.errors import SegmentsError
from segments.ingest.schemas import ENTITIES
from segments.settings import Settings


def add_parser(commands) -> None:
    demo = commands.add_parser("demo-data", help="write seeded, realistic CRM and sales exports")
    demo.add_argument("--customers", type=whole_number, default=10_000, metavar="N")
    demo.add_argument("--out", type=Path, help="landing folder to write (default data/landing)")
    demo.add_argument("--seed", type=non_negative_int, default=42, metavar="S")
    demo.add_argument("--as-of", type=iso_date, help="YYYY-MM-DD (default today)")
    demo.add_argument(
        "--force", action="store_true", help="write even into a folder that holds files other than demo data"
    )
    demo.set_defaults(handler=_demo_data)


DEMO_MARKER = ".demo-as-of"  # in a landing folder made by `segments demo-data`: the as-of date of its files


def _demo_data(args: argparse.Namespace) -> int:
    # imported here: numpy and pyarrow cost the other commands' start-up nearly half a second
    from segments.demo.generator import generate

    if args.customers < 1:
        raise SegmentsError("--customers must be at least 1")
    out = args.out or Settings.from_env().landing_dir
    foreign = [] if args.force else _not_demo_data(out)
    if foreign:
        shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
        raise SegmentsError(
            f"{out} holds files that are not demo data of `segments demo-data` ({shown}): demo data would "
            "replace or sit beside them; choose an empty folder with --out, or pass --force to write there anyway"
        )
    logging.getLogger().setLevel(logging.WARNING)
    started = time.monotonic()
    counts = generate(out, customers=args.customers, seed=args.seed, as_of=args.as_of, progress=progress)
    # Demo exports are as of a day, like a nightly export: `make run` makes new ones when the day has passed
    # (yesterday's files would rightly trip the freshness gate a few nights later).
    (out / DEMO_MARKER).write_text(f"{(args.as_of or date.today()).isoformat()}\n", encoding="utf-8")
    for entity, rows in counts.items():
        print(f"  {entity:<20} {rows:>12,} rows")
    print(f"demo data for {args.customers:,} customers in {out} ({time.monotonic() - started:.1f} s)")
    return 0


def _not_demo_data(folder: Path) -> list[str]:
    """The entries of ``folder`` that this command did not write: all of them unless its marker is there (a
    real export may use the demo files' names), else those besides the demo files. None in a missing or empty
    folder."""
    if not folder.exists():
        return []
    if not folder.is_dir():
        raise SegmentsError(f"--out {folder} is a file, not a folder")
    entries = sorted(p.name for p in folder.iterdir())
    if DEMO_MARKER not in entries:
        return entries
    own = {DEMO_MARKER, *(file_name(entity) for entity in ENTITIES)}
    return [name for name in entries if name not in own]
