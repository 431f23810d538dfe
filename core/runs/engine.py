"""The run store's database connection: one SQLAlchemy engine for SQLite or PostgreSQL.

`Database` opens the database a ``database_url`` names (``core.settings.database_url``):
none means today's SQLite file in the run store's folder, ``postgresql+psycopg://...`` a
PostgreSQL server that many app processes share. Every query of the store goes through
`Database.transaction`, so one code path serves both. ``exclusive=True`` makes a transaction
that no other writer of the same database runs beside (SQLite's ``BEGIN IMMEDIATE``; a
PostgreSQL advisory transaction lock): what checks a quota and then writes (saving a run,
admitting a job) does both in one such transaction, whichever process it runs in.

A URL is checked before anything connects: only the two backends are accepted, and the
password never appears in a message (`redacted_url`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.pool import NullPool

from core.runs.errors import RunStoreError

SQLITE_NAME = "runs.sqlite"
# Every exclusive transaction takes this PostgreSQL advisory lock ("MNISTrun" in ASCII).
ADVISORY_LOCK_KEY = 0x4D4E495354_72_75_6E & 0x7FFFFFFFFFFFFFFF
# How long a connection waits for another writer (SQLite) or to connect (PostgreSQL).
BUSY_SECONDS = 30
CONNECT_SECONDS = 5
BACKENDS = ("sqlite", "postgresql")


def error_reason(error: BaseException) -> str:
    """A database error in the database's own words, short: one line, no SQL, no parameters.

    A refused or failed connection keeps only its cause ("Connection refused", not the
    driver's whole paragraph), which is what a person can act on.
    """
    original = getattr(error, "orig", None) or error
    lines = str(original).strip().splitlines()
    first = lines[0].strip() if lines else ""
    if "failed: " in first:
        first = first.rsplit("failed: ", 1)[1]
    return first or type(original).__name__


class DatabaseUrlError(RunStoreError):
    """The ``database_url`` setting cannot be used: the message says why and what to set."""


def redacted_url(url: str) -> str:
    """Return a database URL fit for a message or a log: its password replaced by ``***``."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):  # ValueError: a port that is not a number.
        return "(a value that is not a database URL)"


def checked_url(url: str | None, folder: Path) -> str:
    """Return the SQLAlchemy URL to open: ``url`` checked, or the SQLite file in ``folder``.

    Raises:
        DatabaseUrlError: If ``url`` is not a SQLite or PostgreSQL (psycopg) URL.
    """
    if not url:
        return f"sqlite:///{folder / SQLITE_NAME}"
    try:
        parsed = make_url(url.strip())
    except (ArgumentError, ValueError) as error:  # ValueError: a port that is not a number.
        raise DatabaseUrlError(
            f"The database_url setting is not a database URL ({redacted_url(url)}). Use "
            "postgresql+psycopg://user:password@host:5432/database, or leave it unset for "
            "the SQLite file in runs_dir."
        ) from error
    if parsed.get_backend_name() not in BACKENDS:
        raise DatabaseUrlError(
            f"The database_url setting names a {parsed.get_backend_name()!r} database; MNIST "
            "Studio keeps runs in PostgreSQL (postgresql+psycopg://...) or, with the "
            "setting unset, in a SQLite file in runs_dir."
        )
    if parsed.get_backend_name() == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


class Database:
    """One database (SQLite file or PostgreSQL server) and its connection pool.

    Creating it connects to nothing; the first transaction does.

    Args:
        url: A URL accepted by `checked_url` (already checked).
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.display_url = redacted_url(url)
        self.dialect = make_url(url).get_backend_name()
        self._local = threading.local()
        if self.dialect == "sqlite":
            # A new connection per transaction, as sqlite3 would: a file moved aside or
            # restored is seen at once, and no connection outlives a damaged file.
            self.engine: Engine = sa.create_engine(
                url,
                poolclass=NullPool,
                connect_args={"timeout": BUSY_SECONDS, "check_same_thread": False},
            )
            _sqlite_transactions(self.engine)
        else:
            self.engine = sa.create_engine(
                url,
                pool_pre_ping=True,
                pool_size=4,
                max_overflow=8,
                pool_timeout=BUSY_SECONDS,
                connect_args={"connect_timeout": CONNECT_SECONDS},
            )

    def __repr__(self) -> str:
        return f"Database({self.display_url!r})"

    @property
    def is_sqlite(self) -> bool:
        """True for the embedded SQLite backend."""
        return self.dialect == "sqlite"

    @contextmanager
    def transaction(self, exclusive: bool = False) -> Iterator[Connection]:
        """Open a transaction: committed when the block ends, rolled back on an exception.

        Inside an `exclusive` block of the same thread, the block's connection is reused
        (no new transaction), so a method that reads or writes can be called on its own or
        as part of a larger exclusive change.

        Args:
            exclusive: No other exclusive transaction on this database (in any process)
                runs at the same time.
        """
        shared = getattr(self._local, "connection", None)
        if shared is not None:
            yield shared
            return
        with self.engine.connect() as connection:
            if exclusive and self.is_sqlite:
                connection.execution_options(sqlite_immediate=True)
            with connection.begin():
                if exclusive and not self.is_sqlite:
                    connection.execute(
                        sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY}
                    )
                if exclusive:
                    self._local.connection = connection
                try:
                    yield connection
                finally:
                    if exclusive:
                        self._local.connection = None

    def unreachable_message(self, error: BaseException) -> str:
        """The sentence for a PostgreSQL server that cannot be reached: why, and what to do."""
        return (
            f"The run store database {self.display_url} cannot be reached "
            f"({error_reason(error)}). Stored runs are safe there: check that the server is "
            "running and the database_url setting is right, then reload the page."
        )

    def dispose(self) -> None:
        """Close the pool's connections (tests and a shutting-down process)."""
        self.engine.dispose()


def _sqlite_transactions(engine: Engine) -> None:
    """Let SQLAlchemy, not Python's sqlite3 module, say when a SQLite transaction begins.

    Python's module opens transactions lazily and never for DDL; with its own handling off,
    each SQLAlchemy transaction sends ``BEGIN`` (``BEGIN IMMEDIATE`` for an exclusive one,
    which takes the database's write lock at once instead of failing at its first write).
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={BUSY_SECONDS * 1000}")
        # The journal mode is kept in the file: switch only a file that is not in WAL yet
        # (the switch wants the file to itself, and every transaction opens a connection).
        if cursor.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:
        immediate = connection.get_execution_options().get("sqlite_immediate")
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
