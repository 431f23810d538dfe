"""Runs in progress: a row per run being trained, so a run whose process dies is still kept.

Owns the ``runs_in_progress`` table. `RunsInProgress.begin` writes a row naming the run
(kind, name, configuration, owner, dataset) and the process that trains it: this process's
id in ``processes`` (`core.runs.heartbeats`), whose heartbeat starts then and beats every
2 s; `RunsInProgress.end` deletes the row. `RunsInProgress.recover` hands each row of a dead
process to a function that records it as an "interrupted" run, exactly once whichever
process notices first: the row is claimed (a DELETE that must remove it) and the run
recorded in one exclusive transaction, so two processes racing never both record it and a
crash between the two never loses it. The dead processes' rows in ``processes`` go once
their runs are recorded. `PeriodicRecovery` runs the recovery every few beats, so a run
of a process killed on another machine appears without a restart.

Earlier versions journalled a run in a JSON file (`core.runs.journal`);
`RunsInProgress.recover_journals` records those once, so an upgrade loses nothing.

It stores no runs: `RunStore` (`core.runs.store`) passes the function that saves one.
"""

from __future__ import annotations

import contextlib
import json
import logging
import secrets
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row
from sqlalchemy.exc import DBAPIError

from core.runs.database import RunRecords
from core.runs.errors import DamagedRunStoreError, RunStoreError
from core.runs.heartbeats import ProcessHeartbeat
from core.runs.journal import recover_journals
from core.runs.records import to_json
from core.runs.schema import processes, runs_in_progress

logger = logging.getLogger(__name__)

# Every this many heartbeats (2 s each), a store looks for runs of dead processes.
RECOVER_EVERY_BEATS = 5


@dataclass(frozen=True)
class RunInProgress:
    """A run being trained, as `RunsInProgress.begin` noted it.

    Attributes:
        id: The row's id (the handle `begin` returns); ``"journal:<file>"`` for a journal
            of an earlier version.
        process: The id of the process training it (`ProcessHeartbeat.process_id`), or
            None for a journal of an earlier version.
        kind: ``"network"`` or ``"baseline"``.
        name: The run's display name.
        config: The configuration as a plain dict.
        owner: Who trains it.
        dataset: The dataset's name.
        started: When it started (ISO 8601, UTC), if known.
    """

    id: str
    process: str | None
    kind: str
    name: str
    config: dict[str, Any]
    owner: str | None
    dataset: str | None
    started: str | None


RecordInterrupted = Callable[[RunInProgress], str]


class RunsInProgress:
    """The ``runs_in_progress`` rows of one database, and their recovery.

    Args:
        records: The store's records (their database and its error messages).
        heartbeat: This process's heartbeat on that database (started by `begin`).
    """

    def __init__(self, records: RunRecords, heartbeat: ProcessHeartbeat) -> None:
        self.records = records
        self.heartbeat = heartbeat
        self._lock = threading.Lock()
        # Rows `end` could not delete yet (the database was away): deleted on a later call.
        self._ended: set[str] = set()

    def begin(
        self, kind: str, name: str, config: dict[str, Any], owner: str | None, dataset: str | None
    ) -> str:
        """Write the row of a run that has started, owned by this (beating) process.

        Returns:
            The row's id: the handle to pass to `end`.

        Raises:
            DamagedRunStoreError: If the database cannot be written.
        """
        self.records.raise_if_damaged()
        row_id = secrets.token_hex(8)
        try:
            self.heartbeat.start()
            with self.records.database.transaction() as connection:
                connection.execute(
                    runs_in_progress.insert().values(
                        id=row_id, process=self.heartbeat.process_id, kind=kind, name=name,
                        config_json=to_json(config), owner=owner, dataset=dataset,
                        started=datetime.now(UTC).isoformat(timespec="seconds"),
                    )
                )  # fmt: skip
        except DBAPIError as error:
            raise DamagedRunStoreError(self.records.damaged_message(error)) from error
        self._delete_ended()
        return row_id

    def end(self, row_id: str) -> None:
        """Delete a row written by `begin` (its run was saved, or failed); never raises.

        A row that cannot be deleted now (the database is away) is deleted by a later
        `begin`, `end` or `recover` of this object.
        """
        with self._lock:
            self._ended.add(row_id)
        self._delete_ended()

    def in_progress(self) -> list[RunInProgress]:
        """Every run in progress in the database, oldest first (any process's).

        Raises:
            DamagedRunStoreError: If the database cannot be read.
        """
        self.records.raise_if_damaged()
        query = sa.select(runs_in_progress).order_by(
            runs_in_progress.c.started, runs_in_progress.c.id
        )
        try:
            with self.records.database.transaction() as connection:
                return [_from_row(row) for row in connection.execute(query)]
        except DBAPIError as error:
            raise DamagedRunStoreError(self.records.damaged_message(error)) from error

    def recover(self, record: RecordInterrupted) -> list[str]:
        """Record the runs of dead processes as interrupted, each exactly once.

        A process is dead when `ProcessHeartbeat.dead_processes` says so, or when its row
        in ``processes`` is gone (it stopped, or another process forgot it). The runs of
        live processes, this one included, are left alone.

        Each row is claimed and recorded in one exclusive transaction; when the database
        fails meanwhile, the transaction is undone and the row stays for the next call.
        A row that ``record`` refuses for its content (not the database) is dropped with an
        error in the log, so it never blocks the recovery of the others.

        Args:
            record: Called inside the claiming transaction (its calls of the store join
                it) with the run; returns the id of the interrupted run it recorded.

        Returns:
            The ids ``record`` returned, oldest run first; empty when the database cannot
            be reached (the reason is logged).
        """
        self._delete_ended()
        try:
            with self.records.database.transaction() as connection:
                dead = self._dead_processes(connection)
                rows = connection.execute(
                    sa.select(runs_in_progress)
                    .where(runs_in_progress.c.process.in_(sorted(dead)))
                    .order_by(runs_in_progress.c.started, runs_in_progress.c.id)
                ).all()
        except DBAPIError as error:
            logger.warning(
                "Runs of stopped processes could not be looked for: %s",
                self.records.damaged_message(error),
            )
            return []
        recovered = []
        for row in rows:
            run_id = self._recover_one(row, record)
            if run_id is not None:
                logger.warning(
                    "Run %s of process %s is recorded as interrupted: %s.",
                    row.name, row.process, dead[row.process],
                )  # fmt: skip
                recovered.append(run_id)
        self._forget(set(dead))
        return recovered

    def recover_journals(self, folder: Path, record: RecordInterrupted) -> list[str]:
        """Record the journals an earlier version left in ``folder`` (see `core.runs.journal`).

        The folder is removed once empty: no journal is written there any more.

        Returns:
            The ids ``record`` returned.

        Raises:
            DamagedRunStoreError: If the database failed meanwhile (the journals not yet
                recorded stay for another try).
        """

        def record_journal(entry: dict[str, Any]) -> str:
            run = RunInProgress(
                id=f"journal:{entry.get('pid')}:{entry.get('started')}",
                process=None,
                kind=entry["kind"],
                name=entry["name"],
                config=entry["config"],
                owner=entry.get("owner"),
                dataset=entry.get("dataset"),
                started=entry.get("started"),
            )
            try:
                return record(run)
            except RunStoreError as error:
                if _database_failed(error):
                    raise DamagedRunStoreError(str(error)) from error
                raise

        recovered = recover_journals(folder, record_journal)
        with contextlib.suppress(OSError):  # Missing, or holding a live writer's journal.
            folder.rmdir()
        return recovered

    def _dead_processes(self, connection: Connection) -> dict[str, str]:
        """The dead processes, and the owners of runs in progress that have no row, each
        with why it counts as dead."""
        dead = self.heartbeat.why_dead(connection)
        orphans = connection.execute(
            sa.select(runs_in_progress.c.process)
            .distinct()
            .where(runs_in_progress.c.process.not_in(sa.select(processes.c.id)))
        ).scalars()
        for orphan in orphans:
            dead.setdefault(orphan, "no row in processes")
        dead.pop(self.heartbeat.process_id, None)
        return dead

    def _recover_one(self, row: Row, record: RecordInterrupted) -> str | None:
        """Claim one row and record its run in one exclusive transaction; None if not."""
        try:
            run = _from_row(row)
            with self.records.exclusive() as connection:
                claimed = connection.execute(
                    runs_in_progress.delete().where(runs_in_progress.c.id == run.id)
                ).rowcount
                if claimed != 1:
                    return None  # Another process recorded it meanwhile.
                return record(run)
        except DBAPIError as error:
            logger.warning(
                "Run %s of a stopped process stays in progress for now: %s",
                row.name,
                self.records.damaged_message(error),
            )
        except (RunStoreError, ValueError, TypeError) as error:
            if _database_failed(error):
                logger.warning(
                    "Run %s of a stopped process stays in progress for now: %s", row.name, error
                )
                return None
            logger.error(
                "Run %s (%s) of stopped process %s cannot be kept as interrupted and is "
                "dropped: %s",
                row.name, row.id, row.process, error,
            )  # fmt: skip
            self._drop(row.id)
        return None

    def _drop(self, row_id: str) -> None:
        try:
            with self.records.database.transaction() as connection:
                connection.execute(runs_in_progress.delete().where(runs_in_progress.c.id == row_id))
        except DBAPIError:
            pass  # Tried again at the next recovery.

    def _forget(self, dead: set[str]) -> None:
        """Remove the rows in ``processes`` of dead processes that have no run left."""
        if not dead:
            return
        try:
            with self.records.database.transaction() as connection:
                remaining = set(
                    connection.execute(
                        sa.select(runs_in_progress.c.process)
                        .distinct()
                        .where(runs_in_progress.c.process.in_(sorted(dead)))
                    ).scalars()
                )
                for process in sorted(dead - remaining):
                    self.heartbeat.forget(connection, process)
        except DBAPIError:
            pass  # Forgotten at the next recovery.

    def _delete_ended(self) -> None:
        """Delete the rows `end` was given; keep those the database did not take."""
        with self._lock:
            ended = sorted(self._ended)
        if not ended:
            return
        try:
            with self.records.database.transaction() as connection:
                deleted = connection.execute(
                    runs_in_progress.delete().where(runs_in_progress.c.id.in_(ended))
                ).rowcount
        except DBAPIError as error:
            logger.warning(
                "A run's end could not be noted yet: %s", self.records.damaged_message(error)
            )
            return
        with self._lock:
            self._ended.difference_update(ended)
        if deleted < len(ended):
            logger.warning(
                "%d run(s) of this process had been recorded as interrupted by another "
                "process, which took this one for dead.",
                len(ended) - deleted,
            )


class PeriodicRecovery:
    """A heartbeat callback: every few beats, call a store's recovery while the store lives.

    It holds the recovery method weakly, so a store that is no longer used is neither kept
    alive by the process-wide heartbeat nor called; the callback then removes itself.

    Args:
        heartbeat: The heartbeat it is registered with (`ProcessHeartbeat.on_beat`).
        recover: A bound method, e.g. ``RunStore.recover_interrupted``.
        every_beats: Call it on every this many beats.
    """

    def __init__(
        self,
        heartbeat: ProcessHeartbeat,
        recover: Callable[[], object],
        every_beats: int = RECOVER_EVERY_BEATS,
    ) -> None:
        self.heartbeat = heartbeat
        self.every_beats = every_beats
        self._recover = weakref.WeakMethod(recover)
        self._beats = 0

    def __call__(self) -> None:
        self._beats += 1
        if self._beats % self.every_beats:
            return
        recover = self._recover()
        if recover is None:
            self.heartbeat.remove_on_beat(self)
            return
        recover()


def _from_row(row: Row) -> RunInProgress:
    """A `RunInProgress` from a ``runs_in_progress`` row.

    Raises:
        ValueError: If its configuration is not JSON.
    """
    return RunInProgress(
        id=row.id,
        process=row.process,
        kind=row.kind,
        name=row.name,
        config=json.loads(row.config_json),
        owner=row.owner,
        dataset=row.dataset,
        started=row.started,
    )


def _database_failed(error: Exception) -> bool:
    """True when a store error comes from the database (away, or damaged), not the run."""
    return isinstance(error, DamagedRunStoreError) or isinstance(error.__cause__, DBAPIError)
