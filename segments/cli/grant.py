"""``segments grant``: the PostgreSQL roles that read the published tables, granted to the login roles named."""

from __future__ import annotations

import argparse

from segments.contract.privileges import AUDITOR, READER
from segments.errors import SegmentsError
from segments.publish.roles import grant_roles
from segments.settings import Settings
from segments.warehouse import connect


def add_parser(commands) -> None:
    grant = commands.add_parser(
        "grant",
        help=f"PostgreSQL: make or update the roles {READER} and {AUDITOR} and grant them to login roles",
        description=f"Make (or update) the group roles {READER} (SELECT on the published segments, their "
        f"changes and sizes) and {AUDITOR} (also history, rule versions, runs and quality results): USAGE "
        "on schema segments and SELECT on their tables only, nothing in raw, accepted, staging, marts or "
        "segments_staging. Safe to run again.",
    )
    grant.add_argument(
        "--login", action="append", default=[], metavar="ROLE", help=f"a login role to grant {READER} to"
    )
    grant.add_argument(
        "--auditor", action="append", default=[], metavar="ROLE", help=f"a login role to grant {AUDITOR} to"
    )
    grant.set_defaults(handler=_grant)


def _grant(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    if settings.target != "postgres":
        raise SegmentsError(
            "roles are a PostgreSQL feature (SEGMENTS_TARGET=postgres); on DuckDB, tools read the snapshot "
            f"file {settings.published_segments} read-only, and file permissions decide who may"
        )
    with connect(settings) as con:
        granted = grant_roles(con, readers=args.login, auditors=args.auditor)
    for role in granted:
        state = "created" if role.created else "updated"
        members = ", ".join(role.members) or "no login role yet"
        print(
            f"{role.role} ({state}): select on {len(role.tables)} tables in schema segments; members: {members}"
        )
        print(f"  {', '.join(role.tables) or '(none yet: the first run makes them)'}")
    return 0
