"""A run store's database: the SQLite table of run records, `RunRecords`.

Owns ``runs.sqlite`` (WAL mode, schema version in ``user_version``): its schema and its
migration from older versions, the queries that add, list, read, rename, re-own and delete
records, the log of recent saves per network address, and the sentence shown when the
database is damaged. It never touches a model file: a record only names its file, with its
size and SHA-256 (`core.runs.model_files` writes and reads them). The record itself, and the
checks on a new one, are `core.runs.records`.

Each query opens its own connection, so job threads can save runs while pages read.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from core.runs.errors import DamagedRunStoreError, RunNotFoundError, RunStoreError
from core.runs.records import clean_name

# 2: each run's saving address (hashed) and its number among its owner's runs; the saves log.
SCHEMA_VERSION = 2
_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    created TEXT NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    owner TEXT,
    dataset TEXT,
    summary TEXT,
    parameters INTEGER,
    epochs INTEGER,
    train_seconds REAL,
    predict_seconds REAL,
    test_accuracy REAL,
    test_loss REAL,
    model_file TEXT,
    model_size INTEGER,
    model_sha256 TEXT,
    config_json TEXT NOT NULL,
    history_json TEXT NOT NULL,
    metrics_json TEXT NOT NULL,
    timings_json TEXT NOT NULL,
    confusion_json TEXT,
    address TEXT,
    owner_number INTEGER
);
CREATE INDEX IF NOT EXISTS runs_owner ON runs (owner);
CREATE TABLE IF NOT EXISTS saves (
    address TEXT,
    owner TEXT,
    created TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS saves_created ON saves (created);
CREATE TABLE IF NOT EXISTS store_secrets (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""
# Columns added after schema 1, with their types: a store written by an older version gets
# them on opening (existing runs get no address and their number among their owner's runs).
_ADDED_COLUMNS = {"address": "TEXT", "owner_number": "INTEGER"}
# How far back the saves log counts a network address's (or an owner's) recent volume.
VOLUME_WINDOW = timedelta(hours=24)

# The columns `list_rows` reads: those of LIST_COLUMNS in the table, and the model file's
# name (LIST_COLUMNS' has_model says whether that file is present). The configuration's
# split and seed say which images a run was tested on (`core.data.held_out`).
_LIST_QUERY = (
    "SELECT id, created, name, kind, summary, parameters, epochs, train_seconds, "
    "predict_seconds, test_accuracy, test_loss, model_size, status, owner, "
    "dataset, model_file, "
    "CASE WHEN json_valid(config_json) THEN json_extract(config_json, '$.split') END AS split, "
    "CASE WHEN json_valid(config_json) THEN json_extract(config_json, '$.seed') END AS seed "
    "FROM runs"
)


class RunRecords:
    """The ``runs`` table of one SQLite database, created on first use.

    Opening never raises for a damaged database: the reason is kept in `open_error` and
    every later call tries again, so moving a damaged file aside takes effect without
    restarting the app.

    Args:
        database_path: The database file, e.g. ``<run store>/runs.sqlite``.
    """

    def __init__(self, database_path: Path) -> None:
        self.database_path = database_path
        self.open_error: str | None = None
        self._secret: bytes | None = None
        self.try_to_open()

    def try_to_open(self) -> bool:
        """Create or check the database; remember why it failed. Returns True when usable."""
        try:
            self._initialise()
        except sqlite3.DatabaseError as error:
            self.open_error = self.damaged_message(error)
            return False
        self.open_error = None
        return True

    def usable(self) -> bool:
        """True when the database opened, now or on a new try."""
        return self.open_error is None or self.try_to_open()

    def raise_if_damaged(self) -> None:
        """Raise `DamagedRunStoreError` unless the database opened, now or on a new try."""
        if not self.usable():
            raise DamagedRunStoreError(str(self.open_error))

    def damaged_message(self, error: Exception, readable: int | None = None) -> str:
        """The sentence a user sees when the database cannot be read, and what to do."""
        read = "" if not readable else f" The first {readable} runs could be read."
        return (
            f"The run store database {self.database_path} cannot be read ({error})."
            f"{read} Move the file aside (MNIST Studio then starts a fresh one) or "
            "restore it from a backup."
        )

    def insert(self, record: dict[str, Any]) -> None:
        """Add a record: `record_fields` plus id, created, address and the model file's columns.

        The run gets the next number among its owner's runs, and its save is logged with its
        address (see `recent_saves`), in the same transaction.

        Raises:
            RunStoreError: If SQLite refuses it (nothing is stored then).
        """
        columns = ", ".join(record)
        placeholders = ", ".join(f":{column}" for column in record)
        try:
            with self._connection() as connection:
                connection.execute(f"INSERT INTO runs ({columns}) VALUES ({placeholders})", record)
                connection.execute(
                    "UPDATE runs SET owner_number = (SELECT COALESCE(MAX(owner_number), 0) + 1 "
                    "FROM runs WHERE owner IS :owner) WHERE id = :id",
                    {"owner": record.get("owner"), "id": record["id"]},
                )
                connection.execute(
                    "INSERT INTO saves (address, owner, created) VALUES (?, ?, ?)",
                    (record.get("address"), record.get("owner"), record["created"]),
                )
                cutoff = (datetime.now(UTC) - VOLUME_WINDOW).isoformat(timespec="seconds")
                connection.execute("DELETE FROM saves WHERE created < ?", (cutoff,))
        except (sqlite3.Error, TypeError) as error:
            raise RunStoreError(f"Could not save run {record['name']!r}: {error}.") from error

    def address_key(self, address: str | None) -> str | None:
        """Return how a network address is recorded: a keyed hash, never the address itself.

        The key is the store's own random secret, so the record cannot be matched against
        the (small) space of IPv4 addresses by anyone without it.

        Args:
            address: A network address or prefix
                (`core.visitors.identity.address_for_limits`), or None.

        Returns:
            ``"a:"`` and 16 hex digits, or None when there is no address.
        """
        if not address:
            return None
        digest = hmac.new(self._address_secret(), address.encode(), hashlib.sha256)
        return "a:" + digest.hexdigest()[:16]

    def recent_saves_by_group(self) -> dict[tuple[str | None, str | None], int]:
        """Count the saves of the last `VOLUME_WINDOW` per (owner, address key).

        Pruned and deleted runs still count: this is the volume a network address (or a
        cookie) sent, not what it holds.

        Returns:
            (owner, address key) -> saves; empty when the database cannot be read.
        """
        if not self.usable():
            return {}
        cutoff = (datetime.now(UTC) - VOLUME_WINDOW).isoformat(timespec="seconds")
        try:
            with self._connection() as connection:
                rows = connection.execute(
                    "SELECT owner, address, COUNT(*) FROM saves WHERE created >= ? "
                    "GROUP BY owner, address",
                    (cutoff,),
                ).fetchall()
        except sqlite3.DatabaseError:
            return {}
        return {(row[0], row[1]): int(row[2]) for row in rows}

    def prune_rows(self) -> list[dict[str, Any]]:
        """Read what pruning needs of every run (id, created, owner, address, model_size).

        Raises:
            DamagedRunStoreError: If the database cannot be read.
        """
        self.raise_if_damaged()
        try:
            with self._connection() as connection:
                rows = connection.execute(
                    "SELECT id, created, owner, address, model_size FROM runs "
                    "ORDER BY created DESC, rowid DESC"
                ).fetchall()
        except sqlite3.DatabaseError as error:
            raise DamagedRunStoreError(self.damaged_message(error)) from error
        return [dict(row) for row in rows]

    def _address_secret(self) -> bytes:
        """The store's random key for `address_key`, made on first use, then remembered."""
        if self._secret is not None:
            return self._secret
        with self._connection() as connection:
            connection.execute(
                "INSERT OR IGNORE INTO store_secrets (name, value) VALUES ('address_key', ?)",
                (secrets.token_hex(32),),
            )
            row = connection.execute(
                "SELECT value FROM store_secrets WHERE name = 'address_key'"
            ).fetchone()
        self._secret = bytes.fromhex(row["value"])
        return self._secret

    def list_rows(self, owner: str | None) -> tuple[list[dict[str, Any]], list[str]]:
        """Read the records for a list of runs, newest first; never raises.

        Args:
            owner: Only this owner's runs when given; every run when None.

        Returns:
            The rows read (the columns of `LIST_COLUMNS` but has_model, and model_file), and
            messages about what could not be read.
        """
        if not self.usable():
            return [], [str(self.open_error)]
        query = _LIST_QUERY
        arguments: tuple = ()
        if owner is not None:
            query += " WHERE owner = ?"
            arguments = (owner,)
        query += " ORDER BY created DESC, rowid DESC"
        rows: list[dict[str, Any]] = []
        messages: list[str] = []
        try:
            with self._connection() as connection:
                for row in connection.execute(query, arguments):
                    rows.append(dict(row))
        except sqlite3.DatabaseError as error:
            messages.append(self.damaged_message(error, readable=len(rows)))
        return rows, messages

    def numbers(self, owner: str | None = None) -> dict[str, int]:
        """Return run id -> number; empty when the database is unreadable.

        Args:
            owner: With an owner, their runs numbered among their own (1, 2, ...); without,
                every run with the record's SQLite rowid (numbered across the store).
        """
        if not self.usable():
            return {}
        try:
            with self._connection() as connection:
                if owner is None:
                    rows = connection.execute("SELECT rowid AS number, id FROM runs").fetchall()
                else:
                    rows = connection.execute(
                        "SELECT owner_number AS number, id FROM runs WHERE owner = ?", (owner,)
                    ).fetchall()
        except sqlite3.DatabaseError:
            return {}
        return {row["id"]: int(row["number"]) for row in rows if row["number"] is not None}

    def fetch(self, run_id: str) -> dict[str, Any]:
        """Return a run's whole record (every column).

        Raises:
            RunNotFoundError: If no run has this id.
            DamagedRunStoreError: If the database cannot be read.
        """
        self.raise_if_damaged()
        try:
            with self._connection() as connection:
                row = connection.execute(
                    "SELECT * FROM runs WHERE id = ?", (str(run_id),)
                ).fetchone()
        except sqlite3.DatabaseError as error:
            raise DamagedRunStoreError(self.damaged_message(error)) from error
        if row is None:
            raise RunNotFoundError(f"No run with id {run_id!r}; it may have been deleted.")
        return dict(row)

    def rename(self, run_id: str, name: str) -> None:
        """Give a run a new display name (see `clean_name`).

        Raises:
            RunStoreError: If the name is empty or too long.
            RunNotFoundError: If no run has this id.
            DamagedRunStoreError: If the database cannot be written.
        """
        name = clean_name(name)
        changed = self._write("UPDATE runs SET name = ? WHERE id = ?", (name, run_id))
        if not changed:
            raise RunNotFoundError(f"No run with id {run_id!r}; it may have been deleted.")

    def delete(self, run_id: str) -> None:
        """Delete a run's record (none is fine).

        Raises:
            DamagedRunStoreError: If the database cannot be written.
        """
        self._write("DELETE FROM runs WHERE id = ?", (run_id,))

    def transfer_owner(self, old_owner: str, new_owner: str) -> int:
        """Give every run of ``old_owner`` to ``new_owner``; return how many changed.

        Raises:
            DamagedRunStoreError: If the database cannot be written.
        """
        self.raise_if_damaged()
        try:
            with self._connection() as connection:
                # The adopted runs are numbered after the new owner's own, oldest first.
                start = connection.execute(
                    "SELECT COALESCE(MAX(owner_number), 0) FROM runs WHERE owner = ?",
                    (new_owner,),
                ).fetchone()[0]
                moved = connection.execute(
                    "SELECT id FROM runs WHERE owner = ? ORDER BY owner_number, rowid",
                    (old_owner,),
                ).fetchall()
                connection.executemany(
                    "UPDATE runs SET owner = ?, owner_number = ? WHERE id = ?",
                    [(new_owner, start + index, row["id"]) for index, row in enumerate(moved, 1)],
                )
                connection.execute(
                    "UPDATE saves SET owner = ? WHERE owner = ?", (new_owner, old_owner)
                )
        except sqlite3.DatabaseError as error:
            raise DamagedRunStoreError(self.damaged_message(error)) from error
        return len(moved)

    def _write(self, statement: str, arguments: tuple) -> int:
        """Run one change in its own transaction; return how many rows it changed."""
        self.raise_if_damaged()
        try:
            with self._connection() as connection:
                return connection.execute(statement, arguments).rowcount
        except sqlite3.DatabaseError as error:
            raise DamagedRunStoreError(self.damaged_message(error)) from error

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        """Open a connection for one call: commit on success, roll back on error, close."""
        connection = sqlite3.connect(self.database_path, timeout=30)
        connection.row_factory = sqlite3.Row
        try:
            with connection:
                yield connection
        finally:
            connection.close()

    def _initialise(self) -> None:
        with self._connection() as connection:
            version = connection.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise sqlite3.DatabaseError(
                    f"it was written by a newer MNIST Studio (schema {version}, "
                    f"this one reads {SCHEMA_VERSION})"
                )
            connection.execute("PRAGMA journal_mode=WAL")
            connection.executescript(_SCHEMA)
            if version < SCHEMA_VERSION:
                _migrate(connection)
            connection.execute("CREATE INDEX IF NOT EXISTS runs_address ON runs (address)")
            connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _migrate(connection: sqlite3.Connection) -> None:
    """Bring a store written by an older version up to `SCHEMA_VERSION` (nothing is lost).

    Adds the columns of `_ADDED_COLUMNS` (another process may have added them meanwhile) and
    numbers each owner's existing runs in the order they were saved.
    """
    present = {row[1] for row in connection.execute("PRAGMA table_info(runs)")}
    for column, column_type in _ADDED_COLUMNS.items():
        if column not in present:
            try:
                connection.execute(f"ALTER TABLE runs ADD COLUMN {column} {column_type}")
            except sqlite3.OperationalError as error:
                if "duplicate column" not in str(error):
                    raise
    connection.execute(
        "UPDATE runs SET owner_number = (SELECT COUNT(*) FROM runs AS earlier "
        "WHERE earlier.owner IS runs.owner AND earlier.rowid <= runs.rowid) "
        "WHERE owner_number IS NULL"
    )
