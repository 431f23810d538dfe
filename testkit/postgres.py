"""A throwaway PostgreSQL server for tests and benchmarks: Debian's postgresql-15, on loopback.

`PostgresServer.start` makes a fresh cluster in a temporary folder (``initdb``), starts it on a
free port with durability switched off (``fsync=off``: a test server, never a user's), and
`PostgresServer.new_database` hands out databases, one per test: empty, or copies of a
template database (much cheaper than running the run store's migrations on each). ``initdb``
refuses to run as root, so as root the cluster belongs to the ``postgres`` user (made by
Debian's package) and its programs run through ``runuser``. `scripts/ensure_postgres.sh`
installs the package where it is missing (``make test`` runs it).

Example:
    server = PostgresServer.start()
    url = server.new_database()  # postgresql+psycopg://postgres@127.0.0.1:PORT/test_1
    ...
    server.stop()
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

BIN_CANDIDATES = ("/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin")
# A test server: nothing it holds must survive a crash, so it never waits for the disk.
FAST_OPTIONS = (
    "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
    "-c max_connections=200 -c listen_addresses=127.0.0.1"
)


class PostgresUnavailableError(RuntimeError):
    """PostgreSQL's server programs are not installed (run scripts/ensure_postgres.sh)."""


def bin_dir() -> Path:
    """The folder with ``initdb``, ``pg_ctl`` and ``postgres``.

    Raises:
        PostgresUnavailableError: If no PostgreSQL server is installed.
    """
    configured = os.environ.get("MNIST_STUDIO_PG_BIN")
    for candidate in (configured, *BIN_CANDIDATES):
        if candidate and (Path(candidate) / "initdb").is_file():
            return Path(candidate)
    raise PostgresUnavailableError(
        "PostgreSQL 15 is not installed: run scripts/ensure_postgres.sh (Debian's "
        "postgresql-15 package) or set MNIST_STUDIO_PG_BIN to a folder with initdb."
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class PostgresServer:
    """A running throwaway cluster: its folder, port and the user its programs run as."""

    folder: Path
    port: int
    as_postgres_user: bool
    _numbers: itertools.count = field(default_factory=lambda: itertools.count(1))

    @classmethod
    def start(cls) -> PostgresServer:
        """Make a cluster in a new temporary folder and start it (a few seconds).

        Raises:
            PostgresUnavailableError: If PostgreSQL is not installed.
            subprocess.CalledProcessError: If initdb or the server fails (its output is in
                the error).
        """
        programs = bin_dir()
        as_postgres = os.geteuid() == 0
        folder = Path(tempfile.mkdtemp(prefix="mnist-studio-pg-"))
        if as_postgres:
            shutil.chown(folder, "postgres", "postgres")
        server = cls(folder=folder, port=_free_port(), as_postgres_user=as_postgres)
        server._run(
            str(programs / "initdb"), "-D", str(folder / "data"), "-U", "postgres",
            "-A", "trust", "--no-sync", "-E", "UTF8", "--locale", "C",
        )  # fmt: skip
        server.resume()
        return server

    def pause(self) -> None:
        """Stop the server at once (as a crash would), keeping its data: `resume` restarts it."""
        self._run(
            str(bin_dir() / "pg_ctl"), "-D", str(self.folder / "data"), "-m", "immediate",
            "-w", "stop",
        )  # fmt: skip

    def resume(self) -> None:
        """Start the server (again) on its port, and wait until it takes connections."""
        self._run(
            str(bin_dir() / "pg_ctl"), "-D", str(self.folder / "data"),
            "-l", str(self.folder / "server.log"),
            "-o", f"-p {self.port} -k {self.folder} {FAST_OPTIONS}", "-w", "-t", "60", "start",
        )  # fmt: skip

    def url(self, database: str = "postgres") -> str:
        """The SQLAlchemy URL of one of the server's databases."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def new_database(self, prefix: str = "test", template: str | None = None) -> str:
        """Create a database and return its URL: empty, or a copy of the database named
        ``template`` (PostgreSQL copies its files; no session may be connected to it)."""
        import psycopg

        name = f"{prefix}_{os.getpid()}_{next(self._numbers)}"
        copy_of = f' TEMPLATE "{template}"' if template else ""
        with psycopg.connect(
            f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True
        ) as connection:
            connection.execute(f'CREATE DATABASE "{name}"{copy_of}')
        return self.url(name)

    def stop(self) -> None:
        """Stop the server (immediately) and remove its folder."""
        with contextlib.suppress(subprocess.CalledProcessError):
            self.pause()
        shutil.rmtree(self.folder, ignore_errors=True)

    def _run(self, *command: str) -> None:
        if self.as_postgres_user:
            command = ("runuser", "-u", "postgres", "--", *command)
        subprocess.run(command, check=True, capture_output=True, text=True, cwd=self.folder)
