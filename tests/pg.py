"""A real PostgreSQL server for tests: `initdb` + `pg_ctl` in a temporary directory.

`PostgresServer` finds the server binaries (`PATH`, else Debian's `/usr/lib/postgresql/*/bin`),
creates a cluster with password (SCRAM) authentication for user `assurance`, and runs it on a free
loopback port with Unix sockets off. PostgreSQL refuses to run as root, so under root every command
runs as `nobody` through `runuser` and the data directory belongs to `nobody`. `stop()` /
`start()` restart the same cluster (for "database restart mid-run" tests); `url` carries no
password (tests pass it via `[store] password_env`). Nothing here is mocked.
"""

from __future__ import annotations

import contextlib
import glob
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

USER = "assurance"
PASSWORD = secrets.token_hex(12)  # a throwaway cluster on loopback, fresh every run
DATABASE = "assurance"


def server_bin(name: str) -> str | None:
    """The path of PostgreSQL program `name`, or None when the server is not installed."""
    found = shutil.which(name)
    if found is not None:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class PostgresServer:
    """One throwaway PostgreSQL cluster on 127.0.0.1."""

    def __init__(self) -> None:
        initdb, pg_ctl = server_bin("initdb"), server_bin("pg_ctl")
        if initdb is None or pg_ctl is None:
            raise RuntimeError(
                "PostgreSQL server binaries not found; install Debian's `postgresql` (.ci/run does)"
            )
        self._initdb, self._pg_ctl = initdb, pg_ctl
        self._root = Path(tempfile.mkdtemp(prefix="assurance-pg-"))
        self.data = self._root / "data"
        self.port = free_port()
        self._as_root = os.geteuid() == 0

    @property
    def url(self) -> str:
        """`postgresql://assurance@127.0.0.1:PORT/assurance` (password separately)."""
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{DATABASE}"

    def _run(self, *argv: str) -> None:
        command = ["runuser", "-u", "nobody", "--", *argv] if self._as_root else list(argv)
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def init(self) -> None:
        """initdb with SCRAM auth, then create the database."""
        pwfile = self._root / "pw"
        pwfile.write_text(PASSWORD)
        if self._as_root:
            shutil.chown(self._root, "nobody")
            shutil.chown(pwfile, "nobody")
        self._run(
            self._initdb,
            "-D",
            str(self.data),
            "-U",
            USER,
            "--auth=scram-sha-256",
            f"--pwfile={pwfile}",
            "--no-sync",
            "-E",
            "UTF8",
        )
        pwfile.unlink()
        self.start()
        self._psql(f"CREATE DATABASE {DATABASE}")

    def start(self) -> None:
        """Start (or restart after `stop`) the server and wait until it accepts connections."""
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=''"
            " -c fsync=off -c max_connections=100 -c shared_buffers=16MB"
        )
        log = str(self._root / "server.log")  # -l: the server must not inherit our pipes
        self._run(
            self._pg_ctl, "-D", str(self.data), "-l", log, "-o", options, "-w", "-t", "60", "start"
        )

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (`fast` disconnects clients; `immediate` is a crash)."""
        self._run(self._pg_ctl, "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def create_database(self, name: str) -> str:
        """Create database `name`; its URL (no password)."""
        self._psql(f"CREATE DATABASE {name}")
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{name}"

    def _psql(self, sql: str) -> None:
        psql = server_bin("psql") or "psql"
        env = {**os.environ, "PGPASSWORD": PASSWORD}
        subprocess.run(
            [
                psql,
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                USER,
                "-d",
                "postgres",
                "-c",
                sql,
            ],
            check=True,
            capture_output=True,
            env=env,
            timeout=60,
        )

    def close(self) -> None:
        """Stop the server if running and delete the cluster."""
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
            self.stop("immediate")
        shutil.rmtree(self._root, ignore_errors=True)
