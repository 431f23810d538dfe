"""One background job as the pages see it: its state, progress, history and Stop.

`JobManager` (`core.jobs.manager`) creates, queues and runs jobs; a `Job` is the snapshot any
page may read from any thread, under the manager's lock.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

from core.jobs.kinds import ACTIVE_STATES as ACTIVE_STATES
from core.jobs.kinds import DONE_STATES as DONE_STATES
from core.jobs.kinds import JobKind as JobKind  # Re-exported: pages import them from here.
from core.jobs.kinds import JobState as JobState

ReportFunction = Callable[..., None]
JobFunction = Callable[[ReportFunction, threading.Event], Any]


class JobKeeper(Protocol):
    """What a `Job` asks of the manager that keeps it (`core.jobs.manager.JobManager`)."""

    _lock: threading.RLock

    def _queue_position(self, job: Job) -> int | None: ...

    def _stop(self, job: Job) -> None: ...

    def _progress_reported(self, job: Job) -> None: ...


class Job:
    """One background job, as seen by the pages.

    Read its attributes at any time from any thread; they are snapshots taken under the
    manager's lock. Create jobs with `JobManager.submit`, never directly.

    Attributes:
        id: A unique id (12 hexadecimal characters).
        name: The display name given at submission.
        owner: Who submitted it (e.g. a visitor id), or None.
        address: The network address it was submitted from, or None.
        kind: What it is, a `JobKind` (``"train"``, ``"baseline"`` or ``"sweep"``).
        state: ``"queued"``, ``"running"``, ``"finished"``, ``"stopped"``, ``"failed"``
            or ``"cancelled"`` (a queued job that was stopped).
        result: What ``fn`` returned (also set for a stopped job), else None.
        error: The exception's message of a failed job, fit to show a user, else None.
        traceback: The full traceback of a failed job, for logs only (never show it).
        submitted_at, started_at, finished_at: ``time.time()`` stamps (None until reached).
        stop_reason: Why the app (not the owner) stopped the job, e.g. its time limit, else
            None. A job that did not stop in time ends ``"timed out"`` with no result.
    """

    def __init__(
        self,
        manager: JobKeeper,
        name: str,
        fn: JobFunction,
        owner: str | None,
        kind: str,
        history_limit: int,
        address: str | None = None,
    ) -> None:
        self.id = uuid.uuid4().hex[:12]
        self.name = name
        self.owner = owner
        self.address = address
        self.kind = kind
        self.state = JobState.QUEUED
        self.result: Any = None
        self.error: str | None = None
        self.traceback: str | None = None
        self.submitted_at = time.time()
        self.started_at: float | None = None
        self.finished_at: float | None = None
        self.stop_event = threading.Event()
        self.stop_reason: str | None = None
        self._manager = manager
        self._fn = fn
        self._progress: dict[str, Any] = {}
        self._history: deque[dict[str, Any]] = deque(maxlen=history_limit)
        self._progress_updates = 0
        self._grace_periods = 0
        self._updates_at_limit = 0

    def __repr__(self) -> str:
        return f"Job(id={self.id!r}, name={self.name!r}, state={self.state!r})"

    @property
    def progress(self) -> dict[str, Any]:
        """A copy of the latest progress snapshot (all keys ever reported, latest values)."""
        with self._manager._lock:
            return dict(self._progress)

    @property
    def history(self) -> list[dict[str, Any]]:
        """A copy of the recorded events (oldest first), e.g. one per epoch."""
        with self._manager._lock:
            return [dict(entry) for entry in self._history]

    @property
    def queue_position(self) -> int | None:
        """1 for the next job to start, 2 for the one after, ...; None when not queued."""
        return self._manager._queue_position(self)

    @property
    def done(self) -> bool:
        """True once the job finished, stopped, failed or was cancelled."""
        return self.state in DONE_STATES

    @property
    def stop_requested(self) -> bool:
        """True once `stop` was called."""
        return self.stop_event.is_set()

    @property
    def queued_seconds(self) -> float:
        """How long the job waited in the queue (so far, if it is still waiting)."""
        end = self.started_at or self.finished_at or time.time()
        return max(0.0, end - self.submitted_at)

    @property
    def elapsed_seconds(self) -> float:
        """How long the job has run (0 while queued)."""
        if self.started_at is None:
            return 0.0
        return max(0.0, (self.finished_at or time.time()) - self.started_at)

    def stop(self) -> None:
        """Ask the job to stop.

        A running job sees its ``stop_event`` set and should return soon; it then ends in
        state ``"stopped"`` (its return value is kept as ``result``). A queued job is taken
        out of the queue and ends in state ``"cancelled"`` without running. Stopping a job
        that is already done does nothing.
        """
        self._manager._stop(self)

    def _report(self, record: bool = False, **progress: Any) -> None:
        """Merge ``progress`` into the snapshot; with ``record=True`` also append it to history."""
        with self._manager._lock:
            self._progress.update(progress)
            self._progress_updates += 1  # The time limit tells a busy job from a stuck one.
            if record:
                entry = dict(progress)
                entry.setdefault("elapsed_seconds", self.elapsed_seconds)
                self._history.append(entry)
        # Outside the lock: the manager may write it to the shared jobs table.
        self._manager._progress_reported(self)
