"""One job's row in the run store's ``jobs`` table, kept by whatever process runs the job.

`core.jobs.board.JobBoard` mirrors every app process's jobs; a job that runs detached on a Ray
cluster (`core.jobs.ray_executor`) keeps its own row from the worker's process with `JobRow`:
it claims the row (names its own process, so the row lives as long as the worker, whatever
becomes of the app process that submitted it), writes its progress at the eye's rate, reads
a Stop asked for by any process and writes how the job ended. `RunningJob` tells the work of
a job which row is its own: the manager sets `running_job` in the job's thread.
"""

from __future__ import annotations

import json
import logging
import math
import time
from contextvars import ContextVar
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

from core.jobs.kinds import ACTIVE_STATES, JobState
from core.runs.engine import Database, error_reason
from core.runs.schema import jobs

logger = logging.getLogger(__name__)

# The eye's rate: a job's progress row is written at most this often.
PROGRESS_SECONDS = 1.0
# A progress snapshot keeps at most this many figures, each text at most this long, and is
# left out when its JSON is still longer (a page shows a handful of scalars, never a curve).
MAX_PROGRESS_KEYS = 32
MAX_PROGRESS_TEXT = 200
MAX_PROGRESS_CHARS = 4000
ACTIVE_VALUES = tuple(state.value for state in ACTIVE_STATES)


@dataclass(frozen=True)
class RunningJob:
    """The job whose work runs in this thread, as its manager admitted it.

    Attributes:
        id: The job's id (its row in the ``jobs`` table).
        deadline: ``time.time()`` by which it must stop (its time limit), or None.
        time_limit_reason: What its row says when the time limit stops it, or None.
        stop_grace_seconds: After Stop, how long its work may go on before it is ended.
    """

    id: str
    deadline: float | None = None
    time_limit_reason: str | None = None
    stop_grace_seconds: float = 10.0


# The job whose work runs in this thread (set by `core.jobs.manager.JobManager`), or None.
running_job: ContextVar[RunningJob | None] = ContextVar("running_job", default=None)


def progress_snapshot(progress: dict[str, Any]) -> str:
    """Return the JSON a job's row keeps of its progress: its scalar figures, bounded.

    Lists (a curve's points) and other objects are left out; texts are cut to
    `MAX_PROGRESS_TEXT` characters, only the first `MAX_PROGRESS_KEYS` entries are
    looked at, and a
    snapshot still over `MAX_PROGRESS_CHARS` is written as ``{}``.
    """
    kept: dict[str, Any] = {}
    for key, value in list(progress.items())[:MAX_PROGRESS_KEYS]:
        if value is None or isinstance(value, bool):
            kept[str(key)] = value
        elif isinstance(value, Integral):
            kept[str(key)] = int(value)
        elif isinstance(value, Real):
            kept[str(key)] = float(value) if math.isfinite(float(value)) else None
        elif isinstance(value, str):
            kept[str(key)] = value[:MAX_PROGRESS_TEXT]
    text = json.dumps(kept)
    return text if len(text) <= MAX_PROGRESS_CHARS else "{}"


class JobRowError(RuntimeError):
    """A job's row cannot be read or written (the database is down or damaged)."""


class JobEndedError(RuntimeError):
    """A job's row says it ended before the process meant to run it could claim it."""


class JobRow:
    """One job's row, kept by the process that runs the job.

    Writes touch the row only while it is queued or running: a row that ended (here, or in
    another process that took this one for dead) stays as it ended.

    Args:
        database: The run store's database.
        job_id: The job's id.
        progress_seconds: Write its progress at most this often.
    """

    def __init__(
        self, database: Database, job_id: str, progress_seconds: float = PROGRESS_SECONDS
    ) -> None:
        self.database = database
        self.job_id = job_id
        self.progress_seconds = progress_seconds
        self._progress_written = -math.inf

    def claim(self, process: str) -> bool:
        """Name ``process`` as the one that runs the job; False when the job has no row
        (its manager keeps no board, or could not write to it).

        Raises:
            JobEndedError: If its row says it ended (e.g. its process was taken for dead).
            JobRowError: If the database cannot be used.
        """
        if self._write({"process": process, "updated": time.time()}, raising=True):
            return True
        try:
            with self.database.transaction() as connection:
                state = connection.execute(
                    sa.select(jobs.c.state).where(jobs.c.id == self.job_id)
                ).scalar_one_or_none()
        except SQLAlchemyError as error:
            raise JobRowError(error_reason(error)) from error
        if state is None:
            return False
        raise JobEndedError(
            f"The job had ended ({state}) before the cluster could start it; start it again."
        )

    def write_progress(self, progress: dict[str, Any], now: bool = False) -> None:
        """Write the job's progress, unless it was written less than `progress_seconds` ago."""
        clock = time.monotonic()
        if not now and clock - self._progress_written < self.progress_seconds:
            return
        self._progress_written = clock
        self._write({"progress_json": progress_snapshot(progress), "updated": time.time()})

    def write_message(self, message: str) -> None:
        """Write why the app stopped the job (its time limit)."""
        self._write({"message": message, "updated": time.time()})

    def end(self, state: JobState, progress: dict[str, Any], message: str | None = None) -> bool:
        """Write how the job ended (keeping the row's message when ``message`` is None).

        Returns:
            True when the row was still active and now says so; False when it had ended, or
            the database refused (logged).
        """
        values: dict[str, Any] = {
            "state": state.value,
            "progress_json": progress_snapshot(progress),
            "updated": time.time(),
        }
        if message is not None:
            values["message"] = message
        return self._write(values)

    def stop_requested(self) -> bool:
        """True when any process asked to stop the job (False when that cannot be read)."""
        try:
            with self.database.transaction() as connection:
                asked = connection.execute(
                    sa.select(jobs.c.stop_requested).where(jobs.c.id == self.job_id)
                ).scalar_one_or_none()
        except SQLAlchemyError as error:
            logger.warning("Job %s could not read its stop request: %s", self.job_id, error)
            return False
        return bool(asked)

    def _write(self, values: dict[str, Any], raising: bool = False) -> bool:
        condition = (jobs.c.id == self.job_id) & jobs.c.state.in_(ACTIVE_VALUES)
        try:
            with self.database.transaction() as connection:
                updated = connection.execute(jobs.update().where(condition).values(**values))
        except SQLAlchemyError as error:
            if raising:
                raise JobRowError(error_reason(error)) from error
            logger.warning("Job %s could not be written to the run store: %s", self.job_id, error)
            return False
        return bool(updated.rowcount)
