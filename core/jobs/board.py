"""Every app process's jobs in the run store's ``jobs`` table, so any process can read them.

`JobManager` (`core.jobs.manager`) runs a job in its own process and keeps the `Job` object
(its result, history and Stop handle) there; `JobBoard` mirrors each job as a row that every
process sharing the database reads: its state, name, kind, owner, a keyed hash of its network
address (`core.runs.database.RunRecords.address_key`, as the run store records it), its
latest progress figures and a message. State changes are written at once; progress at most
once every `PROGRESS_SECONDS` per job, whatever the job's reporting rate.

Admission: `JobBoard.admit` checks the caps (`core.jobs.caps`) against every live process's
queued and running jobs and inserts the new row in one exclusive transaction, so two
processes admitting at once cannot both slip under a cap. Jobs of a process that stopped
beating (`core.runs.heartbeats`) stop counting: whichever process notices first marks them
failed, once. A Stop pressed in another process sets the row's ``stop_requested``; the owning
process reads it on its heartbeat and stops the job.

A job run detached on a Ray cluster claims its row for its worker's process
(`core.jobs.job_rows.JobRow`), which then keeps it: it lives on with that worker, whatever
becomes of the app process that submitted it, and reads its Stop itself.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from core.jobs.caps import JobCaps, check_caps
from core.jobs.job import DONE_STATES, Job, JobState
from core.jobs.job_rows import ACTIVE_VALUES, PROGRESS_SECONDS, progress_snapshot
from core.runs.database import RunRecords
from core.runs.engine import Database, error_reason
from core.runs.heartbeats import ProcessHeartbeat, heartbeat_for
from core.runs.schema import jobs, processes

logger = logging.getLogger(__name__)

# A visitor's job list shows at most this many jobs (as a manager remembers 50 by default).
MAX_LISTED = 50
# Ended jobs' rows are deleted this long after they ended (at the next admission).
ENDED_ROWS_KEPT_SECONDS = 24 * 3600.0
# After a failed progress write or read, the board is not asked again for this long: a
# database that is down must not slow a training at every report or a page at every rerun.
BACKOFF_SECONDS = 30.0
DEAD_PROCESS_MESSAGE = (
    "It was interrupted: the server process that ran it stopped (it restarted or crashed). "
    "Its run is kept as interrupted on the Compare page; start it again to train it anew."
)


class JobBoardError(RuntimeError):
    """The shared jobs table cannot be read or written (the database is down or damaged)."""


@dataclass(frozen=True)
class JobSnapshot:
    """One job as its row says, readable in any process.

    Attributes:
        id: The job's id (the same as its `Job.id` in the process that runs it).
        name, kind, owner: As given at submission.
        state: A `JobState`.
        progress: The latest progress figures written (scalars only).
        message: Why it failed or was stopped by the app, else None.
        process: The id of the process that runs it (`ProcessHeartbeat.process_id`).
        local: True when that process is this one.
        stop_requested: A Stop was asked for.
        submitted_at, updated_at: ``time.time()`` stamps.
    """

    id: str
    name: str
    kind: str
    owner: str | None
    state: JobState
    progress: dict[str, Any] = field(default_factory=dict)
    message: str | None = None
    process: str = ""
    local: bool = False
    stop_requested: bool = False
    submitted_at: float = 0.0
    updated_at: float = 0.0

    @property
    def done(self) -> bool:
        """True once the job ended (finished, stopped, failed, cancelled or timed out)."""
        return self.state in DONE_STATES


class JobBoard:
    """The ``jobs`` table of one database, seen from one process.

    Writing methods never raise: a database that cannot be written is logged and the job
    goes on in its process. Reading methods and `admit` raise `JobBoardError`.

    Args:
        database: The run store's database (`core.runs.engine.Database`).
        heartbeat: This process's heartbeat on it; by default `heartbeat_for(database)`
            (started at first use). Tests pass their own to act as several processes.
        progress_seconds: Write a job's progress at most this often.
        clock: The monotonic clock the progress rate is measured with (tests pass their own).
    """

    def __init__(
        self,
        database: Database,
        heartbeat: ProcessHeartbeat | None = None,
        progress_seconds: float = PROGRESS_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.database = database
        self.progress_seconds = float(progress_seconds)
        self._clock = clock
        self._heartbeat = heartbeat
        self._records = RunRecords(database)  # Creates or upgrades the schema; hashes addresses.
        self._lock = threading.Lock()
        self._last_progress: dict[str, float] = {}
        self._progress_paused_until = -math.inf
        self._reads_paused_until = -math.inf
        self._stop_callbacks: list[Callable[[str], None]] = []
        self._listening = False

    def __repr__(self) -> str:
        return f"JobBoard({self.database.display_url!r})"

    # --- This process -----------------------------------------------------------------------

    @property
    def heartbeat(self) -> ProcessHeartbeat:
        """This process's heartbeat, started (and its stop requests listened to) on first use.

        Raises:
            JobBoardError: If the database cannot be written.
        """
        try:
            if self._heartbeat is None:
                self._heartbeat = heartbeat_for(self.database)
            else:
                self._heartbeat.start()
        except SQLAlchemyError as error:
            raise JobBoardError(error_reason(error)) from error
        with self._lock:
            if not self._listening:
                self._listening = True
                self._heartbeat.on_beat(self._on_beat)
        return self._heartbeat

    @property
    def process_id(self) -> str:
        """This process's id in the ``processes`` and ``jobs`` tables."""
        return self.heartbeat.process_id

    def _on_beat(self) -> None:
        self.apply_stop_requests()

    def on_stop_request(self, callback: Callable[[str], None]) -> None:
        """Call ``callback(job_id)`` when another process asks to stop one of this one's jobs."""
        with self._lock:
            self._stop_callbacks.append(callback)

    # --- Admission -------------------------------------------------------------------------

    def admit(self, job: Job, caps: JobCaps, slots: int) -> None:
        """Check the caps against every live process's jobs and add ``job``'s row, at once.

        Args:
            job: The new job (state ``"queued"``), not yet known to its manager.
            caps: The caps to check.
            slots: How many jobs this process runs at once (for the queue's message).

        Raises:
            JobLimitError: If a cap is reached; nothing is written then.
            JobBoardError: If the database cannot be used.
        """
        process = self.process_id
        now = time.time()
        try:
            address = self._records.address_key(job.address)
            with self.database.transaction(exclusive=True) as connection:
                self._end_jobs_of_dead_processes(connection, now)
                active = connection.execute(
                    sa.select(jobs.c.owner, jobs.c.address, jobs.c.state).where(
                        jobs.c.state.in_(ACTIVE_VALUES)
                    )
                ).all()
                queued = sum(row.state == JobState.QUEUED for row in active)
                check_caps(caps, list(active), queued, slots, job.owner, address)
                connection.execute(
                    jobs.insert().values(
                        id=job.id, process=process, owner=job.owner, address=address,
                        kind=str(job.kind), name=job.name, state=job.state.value,
                        created=job.submitted_at, updated=now, progress_json="{}",
                        message=None, stop_requested=False,
                    )
                )  # fmt: skip
                connection.execute(
                    jobs.delete().where(
                        jobs.c.state.not_in(ACTIVE_VALUES),
                        jobs.c.updated < now - ENDED_ROWS_KEPT_SECONDS,
                    )
                )
        except SQLAlchemyError as error:
            raise JobBoardError(error_reason(error)) from error

    def end_jobs_of_dead_processes(self) -> int:
        """Mark the queued and running jobs of stopped processes failed; return how many.

        Each such job is marked once, by whichever process calls this (or admits a job, or
        reads a dead process's job) first.

        Raises:
            JobBoardError: If the database cannot be used.
        """
        try:
            with self.database.transaction(exclusive=True) as connection:
                return self._end_jobs_of_dead_processes(connection, time.time())
        except SQLAlchemyError as error:
            raise JobBoardError(error_reason(error)) from error

    def _end_jobs_of_dead_processes(self, connection: Connection, now: float) -> int:
        alive = self._live_processes(connection)
        ended = connection.execute(
            jobs.update()
            .where(jobs.c.state.in_(ACTIVE_VALUES), jobs.c.process.not_in(alive))
            .values(state=JobState.FAILED.value, message=DEAD_PROCESS_MESSAGE, updated=now)
        ).rowcount
        if ended:
            logger.warning("%d job(s) of app processes that stopped were marked failed.", ended)
        return ended

    def _live_processes(self, connection: Connection) -> list[str]:
        """This process and every other one with a row that is still beating."""
        heartbeat = self.heartbeat
        known = set(connection.execute(sa.select(processes.c.id)).scalars())
        return sorted((known - heartbeat.dead_processes(connection)) | {heartbeat.process_id})

    # --- Writing this process's jobs -------------------------------------------------------

    def save_state(self, job: Job) -> None:
        """Write ``job``'s state, message, stop request and latest progress now.

        Called by the manager (holding its lock) at every change of state. A row that
        another process already ended (it took this process for dead) stays ended.
        """
        values: dict[str, Any] = {
            "state": job.state.value,
            "message": job.error or job.stop_reason,
            "stop_requested": job.stop_requested,
            "updated": time.time(),
            "progress_json": progress_snapshot(job.progress),
        }
        if job.done:
            with self._lock:
                self._last_progress.pop(job.id, None)
        self._write(job.id, values)

    def save_progress(self, job: Job) -> None:
        """Write ``job``'s progress, unless it was written less than `progress_seconds` ago."""
        now = self._clock()
        with self._lock:
            if now < self._progress_paused_until:
                return
            last = self._last_progress.get(job.id)
            if last is not None and now - last < self.progress_seconds:
                return
            self._last_progress[job.id] = now
        values = {"progress_json": progress_snapshot(job.progress), "updated": time.time()}
        if not self._write(job.id, values):
            with self._lock:
                self._progress_paused_until = now + BACKOFF_SECONDS

    def transfer_owner(self, old_owner: str, new_owner: str) -> None:
        """Give every row of ``old_owner``, in any process, to ``new_owner``."""
        try:
            with self.database.transaction() as connection:
                connection.execute(
                    jobs.update().where(jobs.c.owner == old_owner).values(owner=new_owner)
                )
        except SQLAlchemyError as error:
            logger.warning(
                "The jobs of a visitor could not be handed over: %s", error_reason(error)
            )

    def _write(self, job_id: str, values: dict[str, Any]) -> bool:
        """Update one queued or running row; log and return False when the database refuses."""
        condition = (jobs.c.id == job_id) & jobs.c.state.in_(ACTIVE_VALUES)
        try:
            with self.database.transaction() as connection:
                connection.execute(jobs.update().where(condition).values(**values))
        except SQLAlchemyError as error:
            logger.warning("Job %s could not be written to the run store: %s", job_id, error)
            return False
        return True

    # --- Any process's jobs ----------------------------------------------------------------

    def jobs(self, owner: str) -> list[JobSnapshot]:
        """Return ``owner``'s newest jobs (at most `MAX_LISTED`) in every process.

        A queued or running job of a process that stopped is marked failed first.

        Raises:
            JobBoardError: If the database cannot be read (now, or at a try less than
                `BACKOFF_SECONDS` ago).
        """
        if self._clock() < self._reads_paused_until:
            raise JobBoardError("The run store's database could not be read a moment ago.")
        query = (
            sa.select(jobs)
            .where(jobs.c.owner == owner)
            .order_by(jobs.c.created.desc(), jobs.c.id)
            .limit(MAX_LISTED)
        )
        try:
            process = self.process_id
            with self.database.transaction() as connection:
                rows = connection.execute(query).all()
                elsewhere = {
                    row.process
                    for row in rows
                    if row.state in ACTIVE_VALUES and row.process != process
                }
                orphaned = bool(elsewhere) and bool(
                    elsewhere - set(self._live_processes(connection))
                )
            if orphaned:
                self.end_jobs_of_dead_processes()
                with self.database.transaction() as connection:
                    rows = connection.execute(query).all()
        except (SQLAlchemyError, JobBoardError) as error:
            self._reads_paused_until = self._clock() + BACKOFF_SECONDS
            raise JobBoardError(error_reason(error)) from error
        return [_snapshot(row, process) for row in rows]

    def request_stop(self, job_id: str, owner: str | None = None) -> bool:
        """Ask the process that runs a queued or running job to stop it (on its next beat).

        Args:
            job_id: The job's id.
            owner: Only stop it if it is this owner's (None: whoever's).

        Returns:
            True when the job was active (and is now asked to stop).

        Raises:
            JobBoardError: If the database cannot be written.
        """
        condition = (jobs.c.id == job_id) & jobs.c.state.in_(ACTIVE_VALUES)
        if owner is not None:
            condition = condition & (jobs.c.owner == owner)
        try:
            with self.database.transaction() as connection:
                updated = connection.execute(
                    jobs.update().where(condition).values(stop_requested=True)
                ).rowcount
        except SQLAlchemyError as error:
            raise JobBoardError(error_reason(error)) from error
        return bool(updated)

    def apply_stop_requests(self) -> list[str]:
        """Pass this process's active jobs that another process asked to stop to the
        `on_stop_request` callbacks (called on every heartbeat); return their ids."""
        try:
            with self.database.transaction() as connection:
                asked = list(
                    connection.execute(
                        sa.select(jobs.c.id).where(
                            jobs.c.process == self.process_id,
                            jobs.c.stop_requested.is_(True),
                            jobs.c.state.in_(ACTIVE_VALUES),
                        )
                    ).scalars()
                )
        except (SQLAlchemyError, JobBoardError) as error:
            logger.warning("Stop requests could not be read from the run store: %s", error)
            return []
        with self._lock:
            callbacks = list(self._stop_callbacks)
        for job_id in asked:
            for callback in callbacks:
                callback(job_id)
        return asked


def _snapshot(row: Any, process: str) -> JobSnapshot:
    try:
        progress = json.loads(row.progress_json or "{}")
    except ValueError:
        progress = {}
    return JobSnapshot(
        id=row.id,
        name=row.name,
        kind=row.kind,
        owner=row.owner,
        state=JobState(row.state),
        progress=progress if isinstance(progress, dict) else {},
        message=row.message,
        process=row.process,
        local=row.process == process,
        stop_requested=bool(row.stop_requested),
        submitted_at=float(row.created),
        updated_at=float(row.updated),
    )
