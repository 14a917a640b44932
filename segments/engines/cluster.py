"""A throwaway local PostgreSQL cluster: for `make run TARGET=postgres` without a DSN, and for the tests.

It uses Debian's ``postgresql-15`` server programs. ``initdb`` and ``pg_ctl`` refuse to run as root, so as root
the cluster folder is given to the ``postgres`` system user and the programs run as that user; otherwise they
run as the caller. The server listens on 127.0.0.1 only, trusts local connections (it holds demo or test data;
never point it at real customers) and keeps its socket in the cluster folder, so it touches nothing system-wide.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

from segments.errors import SegmentsError

__all__ = ["Cluster", "server_bin"]

DEBIAN_PACKAGE = "postgresql-15"
_BIN_DIRS = (
    Path("/usr/lib/postgresql/15/bin"),
    Path("/usr/lib/postgresql/16/bin"),
    Path("/usr/lib/postgresql/17/bin"),
)
SYSTEM_USER = "postgres"


def server_bin() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl``, or None when no server is installed."""
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    return next((d for d in _BIN_DIRS if (d / "pg_ctl").is_file()), None)


def install_server() -> Path:
    """Install Debian's server package (root, or sudo), the way `make run TARGET=postgres` offers to."""
    as_root = [] if os.geteuid() == 0 else ["sudo"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for step in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", DEBIAN_PACKAGE]):
        done = subprocess.run([*as_root, *step], env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise SegmentsError(
                f"could not install {DEBIAN_PACKAGE} ({' '.join(step)}: {_last_line(done)}); install a PostgreSQL "
                "server, or set SEGMENTS_POSTGRES_DSN to an existing database"
            )
    found = server_bin()
    if found is None:
        raise SegmentsError(f"{DEBIAN_PACKAGE} is installed but no pg_ctl was found")
    return found


@dataclass(frozen=True)
class Cluster:
    """A cluster in ``folder`` (data in ``folder/data``, socket and log beside it), on ``port``."""

    folder: Path
    port: int

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    @property
    def data(self) -> Path:
        return self.folder / "data"

    @classmethod
    def at(cls, folder: Path, port: int | None = None) -> Cluster:
        """The cluster in ``folder``: its recorded port if it has been started before, else ``port`` or a free
        one."""
        folder = folder.resolve()
        recorded = folder / "port"
        if port is None and recorded.is_file():
            port = int(recorded.read_text().strip())
        return cls(folder, port or _free_port())

    def running(self) -> bool:
        if not (self.data / "postmaster.pid").is_file():
            return False
        return self._ctl(["status"], check=False).returncode == 0

    def start(self, *, install: bool = False) -> str:
        """Make (first time) and start the cluster; returns its DSN. Starting a running cluster does nothing."""
        bin_dir = server_bin() or (install_server() if install else None)
        if bin_dir is None:
            raise SegmentsError(
                f"no PostgreSQL server is installed (Debian: apt-get install {DEBIAN_PACKAGE}); or set "
                "SEGMENTS_POSTGRES_DSN to an existing database"
            )
        if self.running():
            return self.dsn
        self.folder.mkdir(parents=True, exist_ok=True)
        self._own(self.folder)
        if not (self.data / "PG_VERSION").is_file():
            self._run(
                [
                    str(bin_dir / "initdb"),
                    "-D",
                    str(self.data),
                    "-U",
                    "postgres",
                    "-A",
                    "trust",
                    "-E",
                    "UTF8",
                    "--no-locale",
                    "--no-sync",
                ],
                what="initdb",
            )
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._ctl(["-w", "-l", str(self.folder / "server.log"), "-o", options, "start"])
        (self.folder / "port").write_text(f"{self.port}\n")
        return self.dsn

    def stop(self) -> bool:
        """Stop the server (fast shutdown); False when it was not running."""
        if not self.running():
            return False
        self._ctl(["-w", "-m", "fast", "stop"])
        return True

    def remove(self) -> None:
        """Stop the server and delete the cluster folder."""
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)

    def _ctl(self, args: list[str], *, check: bool = True) -> subprocess.CompletedProcess:
        bin_dir = server_bin()
        if bin_dir is None:
            raise SegmentsError("no PostgreSQL server is installed")
        return self._run([str(bin_dir / "pg_ctl"), "-D", str(self.data), *args], what="pg_ctl", check=check)

    def _run(self, argv: list[str], *, what: str, check: bool = True) -> subprocess.CompletedProcess:
        as_user = {"user": SYSTEM_USER, "group": SYSTEM_USER, "extra_groups": []} if os.geteuid() == 0 else {}
        done = subprocess.run(argv, capture_output=True, text=True, cwd=self.folder, **as_user)
        if check and done.returncode != 0:
            log = self.folder / "server.log"
            tail = log.read_text(errors="replace").strip().splitlines()[-1:] if log.is_file() else []
            detail = "; ".join([_last_line(done), *tail])
            raise SegmentsError(f"{what} failed for the local PostgreSQL cluster in {self.folder}: {detail}")
        return done

    @staticmethod
    def _own(folder: Path) -> None:
        """As root, hand the cluster folder to the postgres user (who must also be able to reach it)."""
        if os.geteuid() != 0:
            return
        shutil.chown(folder, SYSTEM_USER, SYSTEM_USER)
        folder.chmod(0o700)
        blocked = [parent for parent in folder.parents if not parent.stat().st_mode & 0o001]
        if (
            blocked
        ):  # the server runs as postgres and must walk down to its folder; others' modes are not ours
            raise SegmentsError(
                f"the postgres user cannot enter {blocked[0]}, so it cannot reach the cluster in {folder}: put "
                "the cluster under a folder others may enter (SEGMENTS_POSTGRES_DIR), or set SEGMENTS_POSTGRES_DSN"
            )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _last_line(done: subprocess.CompletedProcess) -> str:
    lines = (done.stderr or done.stdout or "").strip().splitlines()
    return lines[-1] if lines else f"exit status {done.returncode}"
