"""``segments postgres start|stop|status``: a throwaway local PostgreSQL cluster for SEGMENTS_TARGET=postgres
when no SEGMENTS_POSTGRES_DSN is set (`make run TARGET=postgres` starts it)."""

from __future__ import annotations

import argparse

from segments.engines.cluster import Cluster
from segments.settings import Settings


def add_parser(commands) -> None:
    postgres = commands.add_parser(
        "postgres",
        help="start, stop or show the throwaway local PostgreSQL cluster under the data folder",
    )
    postgres.add_argument("action", choices=("start", "stop", "status", "remove"))
    postgres.add_argument(
        "--install",
        action="store_true",
        help="install Debian's postgresql-15 package first if no server is installed (start only)",
    )
    postgres.set_defaults(handler=_postgres)


def _postgres(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    cluster = Cluster.at(settings.postgres_dir)
    if args.action == "start":
        dsn = cluster.start(install=args.install)
        print(f"local PostgreSQL running in {cluster.folder}: {dsn}")
        print(
            "stop it with `segments postgres stop` (or `make postgres-stop`); its data stays until `remove`"
        )
    elif args.action == "stop":
        print(f"stopped the local PostgreSQL in {cluster.folder}" if cluster.stop() else "it was not running")
    elif args.action == "remove":
        cluster.remove()
        print(f"removed the local PostgreSQL cluster in {cluster.folder}")
    else:
        state = "running" if cluster.running() else "stopped"
        print(
            f"local PostgreSQL in {cluster.folder}: {state}"
            + (f", {cluster.dsn}" if state == "running" else "")
        )
    return 0
