"""A run store's records: the ``runs`` table and the saves log, on SQLite or PostgreSQL.

`RunRecords` owns the queries that add, list, read, rename, re-own and delete records, the
log of recent saves per network address, and the sentence shown when the database cannot be
read or reached. It opens the database (`core.runs.engine.Database`) and brings its schema
up to date (`core.runs.schema_upgrade`) on first use. It never touches a model's bytes: a
record only names its model file, with its size and SHA-256 (`core.runs.model_files` and
`core.runs.model_blobs` keep them). The record itself, and the checks on a new one, are
`core.runs.records`.

Each call runs in its own transaction, or in the caller's exclusive one
(`RunRecords.exclusive`), so job threads can save runs while pages read, and a save's quota
check, insert and pruning happen as one step whichever process makes them.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from core.runs.engine import Database, error_reason
from core.runs.errors import DamagedRunStoreError, RunNotFoundError, RunStoreError
from core.runs.records import clean_name, split_and_seed
from core.runs.schema import model_blobs, runs, runs_in_progress, saves, store_secrets
from core.runs.schema_upgrade import NewerSchemaError, upgrade

logger = logging.getLogger(__name__)

# How far back the saves log counts a network address's (or an owner's) recent volume.
VOLUME_WINDOW = timedelta(hours=24)

# The columns `list_rows` reads: those of LIST_COLUMNS in the table, and the model file's
# name (LIST_COLUMNS' has_model says whether that file is present). The split and seed say
# which images a run was tested on (`core.data.held_out`).
_LIST_COLUMNS = [
    runs.c[name]
    for name in (
        "id", "created", "name", "kind", "summary", "parameters", "epochs", "train_seconds",
        "predict_seconds", "test_accuracy", "test_loss", "model_size", "status", "owner",
        "dataset", "model_file", "split", "seed",
    )
]  # fmt: skip
# Newest first: by creation time, then by the order of saving.
_NEWEST_FIRST = (runs.c.created.desc(), runs.c.seq.desc())


class RunRecords:
    """The ``runs`` table and the saves log of one database, created or upgraded on first use.

    Opening never raises for a database that cannot be read or reached: the reason is kept
    in `open_error` and every later call tries again, so moving a damaged file aside (or
    the database server coming back) takes effect without restarting the app.

    Args:
        database: The database (`core.runs.engine.Database`).
    """

    def __init__(self, database: Database) -> None:
        self.database = database
        self.open_error: str | None = None
        self._secret: bytes | None = None
        # Changes this process made to the runs (see `change_marker`).
        self._writes = 0
        self.try_to_open()

    def try_to_open(self) -> bool:
        """Create, upgrade or check the schema; remember why it failed. True when usable."""
        try:
            upgrade(self.database)
        except NewerSchemaError as error:
            return self._failed(str(error))
        except DBAPIError as error:
            return self._failed(self.damaged_message(error))
        if self.open_error is not None:
            logger.warning("The run store database %s is usable again.", self.database.display_url)
        self.open_error = None
        return True

    def _failed(self, message: str) -> bool:
        """Keep why the database cannot be used; log it once (a sentence, no traceback)."""
        if message != self.open_error:
            logger.error("%s", message)
        self.open_error = message
        return False

    def usable(self) -> bool:
        """True when the database opened, now or on a new try."""
        return self.open_error is None or self.try_to_open()

    def raise_if_damaged(self) -> None:
        """Raise `DamagedRunStoreError` unless the database opened, now or on a new try."""
        if not self.usable():
            raise DamagedRunStoreError(str(self.open_error))

    def damaged_message(self, error: Exception, readable: int | None = None) -> str:
        """The sentence a user sees when the database cannot be used, and what to do."""
        read = "" if not readable else f" The first {readable} runs could be read."
        reason = error_reason(error)
        if self.database.is_sqlite:
            return (
                f"The run store database {self.database.display_url.removeprefix('sqlite:///')}"
                f" cannot be read ({reason}).{read} Move the file aside (MNIST Studio then "
                "starts a fresh one) or restore it from a backup."
            )
        return self.database.unreachable_message(error) + read

    def exclusive(self) -> AbstractContextManager[Connection]:
        """A transaction in which no other process's exclusive change runs.

        Every call of this object made inside the block (in the same thread) joins it: a
        save checks the quotas, inserts and prunes as one step.
        """
        return self.database.transaction(exclusive=True)

    def change_marker(self) -> tuple | None:
        """Return a value that differs whenever a run was saved, renamed, deleted or moved to
        another owner, so reads can be kept until it changes; one small query.

        It holds this process's count of writes and, for every process's: on PostgreSQL the
        number of runs and of stored models and the newest row version (`xmin`) of each;
        on SQLite (which keeps no row versions) the number of runs and the highest run
        number, so another process's saves and deletions show, its renames only with the
        next of those. None when the database cannot be read: read again then.
        """
        if self.database.is_sqlite:
            query = sa.select(sa.func.count(), sa.func.max(runs.c.seq)).select_from(runs)
        else:
            newest = sa.func.max(
                sa.cast(sa.cast(sa.literal_column("xmin"), sa.Text), sa.BigInteger)
            )
            run_versions = sa.select(sa.func.count(), newest).select_from(runs).subquery()
            model_versions = (
                sa.select(sa.func.count(), newest)
                .select_from(model_blobs)
                .where(model_blobs.c.chunk == 0)
                .subquery()
            )
            # One row each: joined on nothing (an explicit cross join, no SAWarning).
            query = sa.select(run_versions, model_versions).select_from(
                run_versions.join(model_versions, sa.true())
            )
        if self.open_error is not None:
            return None
        try:
            with self.database.transaction() as connection:
                return (self._writes, *connection.execute(query).one())
        except DBAPIError:
            return None

    def insert(self, record: dict[str, Any]) -> None:
        """Add a record: `record_fields` plus id, created, address and the model file's columns.

        The run gets the next number across the store and among its owner's runs, and its
        save is logged with its address (see `recent_saves`), in one exclusive transaction.

        Raises:
            RunStoreError: If the database refuses it (nothing is stored then).
        """
        split, seed = split_and_seed(record.get("config_json"))
        try:
            with self.exclusive() as connection:
                next_seq = connection.execute(
                    sa.select(sa.func.coalesce(sa.func.max(runs.c.seq), 0) + 1)
                ).scalar_one()
                next_number = connection.execute(
                    sa.select(sa.func.coalesce(sa.func.max(runs.c.owner_number), 0) + 1).where(
                        runs.c.owner.is_not_distinct_from(record.get("owner"))
                    )
                ).scalar_one()
                connection.execute(
                    runs.insert().values(
                        **record, seq=next_seq, owner_number=next_number, split=split, seed=seed
                    )
                )
                connection.execute(
                    saves.insert().values(
                        address=record.get("address"),
                        owner=record.get("owner"),
                        created=record["created"],
                    )
                )
                cutoff = (datetime.now(UTC) - VOLUME_WINDOW).isoformat(timespec="seconds")
                connection.execute(saves.delete().where(saves.c.created < cutoff))
        except sa.exc.OperationalError as error:
            if self.database.is_sqlite:
                raise RunStoreError(
                    f"Could not save run {record['name']!r}: {error_reason(error)}."
                ) from error
            # The server went away: say so as a page does, with what to do.
            raise RunStoreError(
                f"Could not save run {record['name']!r}. {self.damaged_message(error)}"
            ) from error
        except (DBAPIError, sa.exc.StatementError, TypeError) as error:
            raise RunStoreError(
                f"Could not save run {record['name']!r}: {error_reason(error)}."
            ) from error
        finally:
            self._writes += 1  # After the commit: a read kept before it is not used again.

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
        query = (
            sa.select(saves.c.owner, saves.c.address, sa.func.count())
            .where(saves.c.created >= cutoff)
            .group_by(saves.c.owner, saves.c.address)
        )
        try:
            with self.database.transaction() as connection:
                rows = connection.execute(query).all()
        except DBAPIError:
            return {}
        return {(row[0], row[1]): int(row[2]) for row in rows}

    def prune_rows(self) -> list[dict[str, Any]]:
        """Read what pruning needs of every run (id, created, owner, address, model_size).

        Raises:
            DamagedRunStoreError: If the database cannot be read.
        """
        self.raise_if_damaged()
        query = sa.select(
            runs.c.id, runs.c.created, runs.c.owner, runs.c.address, runs.c.model_size
        ).order_by(*_NEWEST_FIRST)
        with self._reading() as connection:
            return [dict(row._mapping) for row in connection.execute(query)]

    def _address_secret(self) -> bytes:
        """The store's random key for `address_key`, made on first use, then remembered."""
        if self._secret is not None:
            return self._secret
        # Exclusive: on SQLite, a read that then writes would fail at once ("database is
        # locked") if another process wrote in between, instead of waiting its turn.
        with self.database.transaction(exclusive=True) as connection:
            existing = connection.execute(
                sa.select(store_secrets.c.value).where(store_secrets.c.name == "address_key")
            ).scalar_one_or_none()
            if existing is None:
                insert = sqlite.insert if self.database.is_sqlite else postgresql.insert
                connection.execute(
                    insert(store_secrets)
                    .values(name="address_key", value=secrets.token_hex(32))
                    .on_conflict_do_nothing()
                )
                existing = connection.execute(
                    sa.select(store_secrets.c.value).where(store_secrets.c.name == "address_key")
                ).scalar_one()
        self._secret = bytes.fromhex(existing)
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
        query = sa.select(*_LIST_COLUMNS).order_by(*_NEWEST_FIRST)
        if owner is not None:
            query = query.where(runs.c.owner == owner)
        rows: list[dict[str, Any]] = []
        messages: list[str] = []
        try:
            with self.database.transaction() as connection:
                for row in connection.execute(query):
                    rows.append(dict(row._mapping))
        except DBAPIError as error:
            messages.append(self.damaged_message(error, readable=len(rows)))
            if not self.database.is_sqlite and isinstance(error, sa.exc.OperationalError):
                # The server went away: every page's banner says so until it is back.
                self._failed(self.damaged_message(error))
        return rows, messages

    def numbers(self, owner: str | None = None) -> dict[str, int]:
        """Return run id -> number; empty when the database is unreadable.

        Args:
            owner: With an owner, their runs numbered among their own (1, 2, ...); without,
                every run with its number across the store (1 for the first run saved).
        """
        if not self.usable():
            return {}
        if owner is None:
            query = sa.select(runs.c.seq, runs.c.id)
        else:
            query = sa.select(runs.c.owner_number, runs.c.id).where(runs.c.owner == owner)
        try:
            with self.database.transaction() as connection:
                rows = connection.execute(query).all()
        except DBAPIError:
            return {}
        return {row[1]: int(row[0]) for row in rows if row[0] is not None}

    def fetch(self, run_id: str) -> dict[str, Any]:
        """Return a run's whole record (every column).

        Raises:
            RunNotFoundError: If no run has this id.
            DamagedRunStoreError: If the database cannot be read.
        """
        self.raise_if_damaged()
        with self._reading() as connection:
            row = connection.execute(sa.select(runs).where(runs.c.id == str(run_id))).one_or_none()
        if row is None:
            raise RunNotFoundError(f"No run with id {run_id!r}; it may have been deleted.")
        return dict(row._mapping)

    def rename(self, run_id: str, name: str) -> None:
        """Give a run a new display name (see `clean_name`).

        Raises:
            RunStoreError: If the name is empty or too long.
            RunNotFoundError: If no run has this id.
            DamagedRunStoreError: If the database cannot be written.
        """
        name = clean_name(name)
        changed = self._write(runs.update().where(runs.c.id == run_id).values(name=name))
        if not changed:
            raise RunNotFoundError(f"No run with id {run_id!r}; it may have been deleted.")

    def delete(self, run_id: str) -> None:
        """Delete a run's record (none is fine).

        Raises:
            DamagedRunStoreError: If the database cannot be written.
        """
        self._write(runs.delete().where(runs.c.id == run_id))

    def transfer_owner(self, old_owner: str, new_owner: str) -> int:
        """Give every run of ``old_owner`` to ``new_owner``; return how many changed.

        Raises:
            DamagedRunStoreError: If the database cannot be written.
        """
        self.raise_if_damaged()
        try:
            with self.exclusive() as connection:
                # The adopted runs are numbered after the new owner's own, oldest first.
                start = connection.execute(
                    sa.select(sa.func.coalesce(sa.func.max(runs.c.owner_number), 0)).where(
                        runs.c.owner == new_owner
                    )
                ).scalar_one()
                moved = (
                    connection.execute(
                        sa.select(runs.c.id)
                        .where(runs.c.owner == old_owner)
                        .order_by(runs.c.owner_number, runs.c.seq)
                    )
                    .scalars()
                    .all()
                )
                for index, run_id in enumerate(moved, 1):
                    connection.execute(
                        runs.update()
                        .where(runs.c.id == run_id)
                        .values(owner=new_owner, owner_number=start + index)
                    )
                connection.execute(
                    saves.update().where(saves.c.owner == old_owner).values(owner=new_owner)
                )
                # A run still training is the new owner's too, if its process dies.
                connection.execute(
                    runs_in_progress.update()
                    .where(runs_in_progress.c.owner == old_owner)
                    .values(owner=new_owner)
                )
        except DBAPIError as error:
            raise DamagedRunStoreError(self.damaged_message(error)) from error
        finally:
            self._writes += 1
        return len(moved)

    def _write(self, statement: sa.Executable) -> int:
        """Run one change in its own transaction; return how many rows it changed."""
        self.raise_if_damaged()
        try:
            with self.database.transaction() as connection:
                return connection.execute(statement).rowcount
        except DBAPIError as error:
            raise DamagedRunStoreError(self.damaged_message(error)) from error
        finally:
            self._writes += 1

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        """A transaction whose database errors become `DamagedRunStoreError`."""
        try:
            with self.database.transaction() as connection:
                yield connection
        except DBAPIError as error:
            raise DamagedRunStoreError(self.damaged_message(error)) from error
