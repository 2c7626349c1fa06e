"""PostgreSQL from Debian's packages, for the scans in which a leaked connection is the point.

:func:`postgres_binaries` finds ``initdb``/``pg_ctl``/``psql`` of the installed
server, and installs the ``postgresql`` package with apt-get when there is none
(one ``apt-get update`` first; as root, or through ``sudo -n``).  A failed install
skips the tests that need it, and fails them in CI (``CI=true``), like the editor
installs.  :class:`Cluster` runs a throw-away cluster in a temporary directory,
listening on 127.0.0.1 only, on a free port, with no Unix socket; as root it runs
as the ``postgres`` user that the package creates, since PostgreSQL refuses to run
as root.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from tests.editors.support import skip_or_fail
from tests.goservices import free_port

PACKAGE = "postgresql"
#: Connections the cluster accepts: the scans hold one per leaked transaction.
MAX_CONNECTIONS = 400


def _installed() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


def _install() -> str | None:
    """apt-get install the server; None when it went in, else what went wrong."""
    prefix: list[str] = []
    if os.geteuid() != 0:
        if shutil.which("sudo") is None:
            return "not root, and no sudo"
        prefix = ["sudo", "-n"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (
        ["apt-get", "update", "-q"],
        ["apt-get", "install", "-y", "-q", "--no-install-recommends", PACKAGE],
    ):
        sys.stderr.write(f"postgres set-up: {' '.join(command)}\n")
        try:
            result = subprocess.run(
                [*prefix, *command], env=env, capture_output=True, text=True, timeout=900, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"{' '.join(command)}: {exc}"
        if result.returncode != 0:
            return f"{' '.join(command)} exited {result.returncode}: {result.stderr.strip()[-500:]}"
    return None


def postgres_binaries() -> Path:
    """The directory of the server's programs, installing Debian's package when missing."""
    found = _installed()
    if found is None:
        problem = _install()
        found = _installed()
        if found is None:
            skip_or_fail(f"PostgreSQL could not be installed from Debian's packages ({problem or 'no initdb'})")
    assert found is not None
    return found


class Cluster:
    """A PostgreSQL cluster of its own on 127.0.0.1:port; ``stop`` removes it."""

    def __init__(self, binaries: Path) -> None:
        self.binaries = binaries
        self.port = free_port()
        self.directory = Path(tempfile.mkdtemp(prefix="golsp-leaks-pg-"))
        self.data = self.directory / "data"
        self._user: Callable[[], None] | None = None
        if os.geteuid() == 0:
            account = pwd.getpwnam("postgres")
            os.chown(self.directory, account.pw_uid, account.pw_gid)

            def become() -> None:
                os.setgid(account.pw_gid)
                os.setuid(account.pw_uid)

            self._user = become

    def _run(self, program: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "PGHOST": "127.0.0.1", "PGPORT": str(self.port), "PGUSER": "postgres", "LC_ALL": "C"}
        return subprocess.run(
            [str(self.binaries / program), *args],
            cwd=self.directory,
            env=env,
            preexec_fn=self._user,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def _must(self, program: str, *args: str) -> None:
        result = self._run(program, *args)
        assert result.returncode == 0, f"{program} {' '.join(args)}:\n{result.stdout}{result.stderr}"

    def start(self) -> Cluster:
        self._must("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -c unix_socket_directories='' "
            f"-c max_connections={MAX_CONNECTIONS} -c fsync=off -c synchronous_commit=off"
        )
        self._must("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.directory / "log"), "-w", "-t", "60", "start")
        return self

    def create_database(self, name: str) -> str:
        """A new, empty database; its URL for lib/pq."""
        self._must("psql", "-q", "-d", "postgres", "-c", f'CREATE DATABASE "{name}"')
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}?sslmode=disable"

    def query(self, database: str, sql: str) -> str:
        result = self._run("psql", "-At", "-d", database, "-c", sql)
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop", timeout=60)
        finally:
            for _ in range(3):
                shutil.rmtree(self.directory, ignore_errors=True)
                if not self.directory.exists():
                    break
                time.sleep(0.2)
