"""A process-wide manager of background jobs (training runs, baselines, sweeps).

A job is a function ``fn(report, stop_event)`` run in a daemon thread, so a person can switch
pages while a network trains and come back to it. The manager caps how many jobs run at once;
a job over the cap waits in a first-in, first-out queue. While it runs, the job calls
``report(**progress)`` to publish its latest figures, which any page can read from
``job.progress`` without waiting for the job.

Example:
    manager = JobManager(max_concurrent=2)

    def count(report, stop_event):
        for step in range(10):
            if stop_event.is_set():
                return step
            report(step=step, record=True)
        return 10

    job = manager.submit("Count to ten", count, owner="session-1")
    manager.wait(job.id, timeout=5)
    job.state, job.result  # ("finished", 10)

With a `JobBoard` (`core.jobs.board`, the run store's shared jobs table), every job is also a
row that other app processes read, the caps count every process's jobs, and a Stop pressed in
another process reaches the job; the `Job` objects here still own results and Stop handles.

Everything here is thread-safe: one lock and one condition guard all jobs' state, and waiting
uses the condition, never a busy loop. Streamlit is not imported.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from typing import Any

from core.jobs.board import JobBoard, JobBoardError, JobSnapshot
from core.jobs.caps import JobCaps, check_caps
from core.jobs.job import ACTIVE_STATES, Job, JobFunction, JobState
from core.jobs.job_rows import RunningJob, running_job

logger = logging.getLogger(__name__)


# After its time limit a job has this long to stop by itself before it is timed out; a job
# that keeps reporting progress (e.g. evaluating its partly trained model) or has not
# started its first batch yet gets more such periods, up to this many in all.
DEFAULT_STOP_GRACE_SECONDS = 10.0
MAX_GRACE_PERIODS = 6


class JobManager:
    """Runs jobs in daemon threads, at most ``max_concurrent`` at a time.

    Args:
        max_concurrent: How many jobs may run at once; the rest wait in a FIFO queue.
        keep_finished: How many done jobs to remember for `jobs`/`get`; older done jobs are
            forgotten (their results should be in the run store by then).
        history_limit: How many recorded events each job keeps (the oldest are dropped).
        max_job_seconds: Wall-clock seconds a job may run; then its stop event is set (it
            ends ``"stopped"``, keeping its result, with a `Job.stop_reason`). None: no limit.
        stop_grace_seconds: How long a job over its limit has to return, or at least to
            report progress (then it gets another period, up to `MAX_GRACE_PERIODS`); after
            that it is marked ``"timed out"`` without a result and its slot is freed (a
            thread cannot be killed: it finishes its current step in the background and is
            then ignored).
        board: The shared jobs table to mirror jobs in and count caps against (None: this
            manager's jobs alone, in memory).

    Raises:
        ValueError: If a limit is below 1.
    """

    def __init__(
        self,
        max_concurrent: int = 2,
        keep_finished: int = 50,
        history_limit: int = 1000,
        max_job_seconds: float | None = None,
        stop_grace_seconds: float = DEFAULT_STOP_GRACE_SECONDS,
        board: JobBoard | None = None,
    ) -> None:
        for label, value in (
            ("max_concurrent", max_concurrent),
            ("keep_finished", keep_finished),
            ("history_limit", history_limit),
        ):
            if int(value) < 1:
                raise ValueError(f"{label} must be at least 1, got {value}.")
        self.max_concurrent = int(max_concurrent)
        self.keep_finished = int(keep_finished)
        self.history_limit = int(history_limit)
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._jobs: dict[str, Job] = {}
        self._order: dict[str, int] = {}
        self._sequence = itertools.count()
        self._queue: deque[Job] = deque()
        self._threads: dict[str, threading.Thread] = {}
        self._closed = False
        # Time limits: (monotonic deadline, sequence, action, job), earliest first, served by
        # one watchdog thread that runs while any deadline is pending (not a timer per job).
        self._deadlines: list[tuple[float, int, Callable[[Job], None], Job]] = []
        self._deadline_sequence = itertools.count()
        self._watchdog: threading.Thread | None = None
        self._watchdog_wake = threading.Condition(self._lock)
        if max_job_seconds is not None and max_job_seconds <= 0:
            raise ValueError(f"max_job_seconds must be positive, got {max_job_seconds}.")
        self.max_job_seconds = max_job_seconds
        self.stop_grace_seconds = float(stop_grace_seconds)
        self.board = board
        self._elsewhere_unreadable = False
        if board is not None:
            board.on_stop_request(self._stop_requested_elsewhere)

    def submit(
        self,
        name: str,
        fn: JobFunction,
        owner: str | None = None,
        kind: str = "train",
        address: str | None = None,
        caps: JobCaps | None = None,
    ) -> Job:
        """Queue ``fn`` to run in the background and start it when a slot is free.

        Args:
            name: A display name, e.g. ``"784-128-10 relu, adam 0.001, 20 ep"``.
            fn: Called as ``fn(report, stop_event)`` in a daemon thread. ``report(**values)``
                merges ``values`` into the job's progress snapshot; ``report(record=True,
                **values)`` also appends them to the job's history (use it for epoch-level
                records). ``fn`` should check ``stop_event`` often and return early when it is
                set. Its return value becomes ``job.result``; an exception fails the job.
            owner: Who submits it (e.g. a visitor id), so pages can list their own jobs.
            kind: What it is, e.g. ``"train"``, ``"baseline"`` or ``"sweep"``.
            address: The network address it comes from (None when unknown, e.g. localhost).
            caps: Caps to check before queueing it, atomically with the queueing, so two
                tabs (or, with a board, two processes) submitting at once cannot both slip
                under a cap. With a board they count every live process's jobs; when its
                database cannot be reached, this manager's own.

        Returns:
            The new `Job`, in state ``"queued"`` or already ``"running"``.

        Raises:
            JobLimitError: If one of ``caps`` is reached; the message names it.
            ValueError: If ``fn`` is not callable or ``name`` is empty.
            RuntimeError: If the manager was shut down.
        """
        if not callable(fn):
            raise ValueError("A job needs a function to run, called as fn(report, stop_event).")
        if not str(name).strip():
            raise ValueError("A job needs a non-empty name.")
        caps = caps or JobCaps()
        with self._lock:
            self._refuse_when_closed()
        job = Job(self, str(name).strip(), fn, owner, kind, self.history_limit, address)
        admitted = self._admit(job, caps)
        with self._lock:
            if self._closed:
                if admitted:
                    job.state = JobState.CANCELLED
                    self._save_state(job)
                self._refuse_when_closed()
            if not admitted:
                self._check_caps(caps, owner, address)
            self._jobs[job.id] = job
            self._order[job.id] = next(self._sequence)
            self._queue.append(job)
            self._start_waiting_jobs()
            self._changed.notify_all()
            return job

    def _refuse_when_closed(self) -> None:
        if self._closed:
            raise RuntimeError("The job manager was shut down; no new jobs can start.")

    def _admit(self, job: Job, caps: JobCaps) -> bool:
        """Check the caps against every process's jobs and add the job's row: True when done.

        False without a board, or when its database cannot be used (then the caller checks
        the caps against this manager's jobs). Called without the lock: the board's exclusive
        transaction serialises admissions, here and in other processes.
        """
        if self.board is None:
            return False
        try:
            self.board.admit(job, caps, self.max_concurrent)
        except JobBoardError as error:
            logger.warning("Jobs of other processes are not counted for %s: %s", job.id, error)
            return False
        return True

    def _save_state(self, job: Job) -> None:
        """Write a job's new state to the board, if any (caller holds the lock)."""
        if self.board is not None:
            self.board.save_state(job)

    def _progress_reported(self, job: Job) -> None:
        """A job reported progress: pass it to the board, which writes it at its own rate."""
        if self.board is not None:
            self.board.save_progress(job)

    def _check_caps(self, caps: JobCaps, owner: str | None, address: str | None) -> None:
        """Raise JobLimitError if a new job of ``owner`` at ``address`` would pass a cap."""
        active = [job for job in self._jobs.values() if job.state in ACTIVE_STATES]
        check_caps(caps, active, len(self._queue), self.max_concurrent, owner, address)

    def transfer_owner(self, old_owner: str, new_owner: str) -> int:
        """Give every remembered job of ``old_owner`` to ``new_owner``.

        Args:
            old_owner: The owner the jobs were submitted under.
            new_owner: Their new owner.

        Returns:
            How many jobs changed owner.
        """
        with self._lock:
            moved = 0
            for job in self._jobs.values():
                if job.owner == old_owner:
                    job.owner = new_owner
                    moved += 1
        if self.board is not None:
            self.board.transfer_owner(old_owner, new_owner)
        return moved

    def set_max_concurrent(self, max_concurrent: int) -> None:
        """Change how many jobs may run at once (e.g. once a cluster says how many CPUs it has).

        Queued jobs start at once if the new cap leaves room; running jobs are never stopped.
        """
        with self._lock:
            self.max_concurrent = max(1, int(max_concurrent))
            self._start_waiting_jobs()
            self._changed.notify_all()

    def get(self, job_id: str) -> Job | None:
        """Return the job with this id, or None if it is unknown or was forgotten."""
        with self._lock:
            return self._jobs.get(job_id)

    def jobs(self, owner: str | None = None) -> list[Job]:
        """Return the remembered jobs, newest first; only ``owner``'s when one is given."""
        with self._lock:
            selected = [job for job in self._jobs.values() if owner is None or job.owner == owner]
            return sorted(selected, key=lambda job: self._order[job.id], reverse=True)

    def active_jobs(self, owner: str | None = None) -> list[Job]:
        """Return the queued and running jobs, newest first (``owner``'s only if given)."""
        return [job for job in self.jobs(owner) if job.state in ACTIVE_STATES]

    def jobs_elsewhere(self, owner: str) -> list[JobSnapshot]:
        """Return ``owner``'s jobs that other app processes run, newest first, as snapshots.

        Empty without a board, and when its database cannot be read (logged): this process's
        jobs are `jobs`.
        """
        if self.board is None:
            return []
        try:
            snapshots = self.board.jobs(owner)
        except JobBoardError as error:
            if not self._elsewhere_unreadable:  # Once per outage: pages ask every second.
                logger.warning("Jobs of other processes could not be read: %s", error)
            self._elsewhere_unreadable = True
            return []
        self._elsewhere_unreadable = False
        with self._lock:
            return [job for job in snapshots if not job.local and job.id not in self._jobs]

    def stop(self, job_id: str, owner: str | None = None) -> bool:
        """Stop a job of this process (as `Job.stop`) or ask the process that runs it.

        Args:
            job_id: The job's id.
            owner: Only stop it if it is this owner's (None: whoever's).

        Returns:
            True when a queued or running job was stopped or asked to stop.
        """
        job = self.get(job_id)
        if job is not None:
            if (owner is not None and job.owner != owner) or job.done:
                return False
            job.stop()
            return True
        if self.board is None:
            return False
        try:
            return self.board.request_stop(job_id, owner)
        except JobBoardError as error:
            logger.warning("Job %s could not be asked to stop: %s", job_id, error)
            return False

    def _stop_requested_elsewhere(self, job_id: str) -> None:
        """Another process asked (through the board) to stop one of this manager's jobs."""
        job = self.get(job_id)
        if job is not None and not job.done and not job.stop_requested:
            job.stop()

    @property
    def running_count(self) -> int:
        """How many jobs are running now."""
        with self._lock:
            return sum(job.state == JobState.RUNNING for job in self._jobs.values())

    @property
    def queued_count(self) -> int:
        """How many jobs wait in the queue."""
        with self._lock:
            return len(self._queue)

    def wait(self, job_id: str, timeout: float | None = None) -> Job:
        """Block until the job is done (finished, stopped, failed or cancelled).

        Args:
            job_id: The job's id.
            timeout: Seconds to wait at most; None waits for ever.

        Returns:
            The done `Job`.

        Raises:
            ValueError: If no job has this id.
            TimeoutError: If the job is still queued or running after ``timeout`` seconds.
        """
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                raise ValueError(f"No job with id {job_id!r} (it may have been forgotten).")
            if not self._changed.wait_for(lambda: job.done, timeout=timeout):
                raise TimeoutError(
                    f"Job {job.name!r} is still {job.state} after {timeout} seconds."
                )
            return job

    def shutdown(self, wait: bool = True, timeout: float | None = None) -> None:
        """Cancel queued jobs, ask running ones to stop and refuse new ones.

        Args:
            wait: Whether to wait for running jobs' threads to end.
            timeout: Seconds to wait for each thread at most (None: for ever).
        """
        with self._lock:
            self._closed = True
            for job in list(self._queue):
                self._stop(job)
            threads = list(self._threads.values())
            for job in self._jobs.values():
                if job.state == JobState.RUNNING:
                    job.stop_event.set()
        if wait:
            for thread in threads:
                thread.join(timeout)

    def _queue_position(self, job: Job) -> int | None:
        with self._lock:
            for position, queued_job in enumerate(self._queue, start=1):
                if queued_job is job:
                    return position
            return None

    def _stop(self, job: Job) -> None:
        with self._lock:
            already = job.stop_event.is_set()
            job.stop_event.set()
            if job.state == JobState.QUEUED:
                self._queue.remove(job)
                job.state = JobState.CANCELLED
                job.finished_at = time.time()
                self._save_state(job)
                self._forget_old_jobs()
                self._changed.notify_all()
            elif job.state == JobState.RUNNING and not already:
                self._save_state(job)  # Other processes show it "stopping".

    def _start_waiting_jobs(self) -> None:
        """Start queued jobs while there are free slots (caller holds the lock)."""
        while self._queue and self.running_count < self.max_concurrent:
            job = self._queue.popleft()
            job.state = JobState.RUNNING
            job.started_at = time.time()
            self._save_state(job)
            thread = threading.Thread(
                target=self._run, args=(job,), daemon=True, name=f"job-{job.id}"
            )
            self._threads[job.id] = thread
            thread.start()
            if self.max_job_seconds is not None:
                self._after(self.max_job_seconds, self._time_limit_reached, job)

    def _after(self, seconds: float, function: Callable[[Job], None], job: Job) -> None:
        """Call ``function(job)`` in ``seconds`` from the watchdog, unless the job ends first."""
        with self._lock:
            deadline = time.monotonic() + seconds
            entry = (deadline, next(self._deadline_sequence), function, job)
            heapq.heappush(self._deadlines, entry)
            if self._watchdog is None:
                self._watchdog = threading.Thread(
                    target=self._watch, daemon=True, name="job-watchdog"
                )
                self._watchdog.start()
            self._watchdog_wake.notify_all()

    def _forget_deadlines(self, job: Job) -> None:
        """Drop a job's pending time-limit actions once it ended (caller holds the lock)."""
        remaining = [entry for entry in self._deadlines if entry[3] is not job]
        if len(remaining) != len(self._deadlines):
            heapq.heapify(remaining)
            self._deadlines = remaining
            self._watchdog_wake.notify_all()

    def _watch(self) -> None:
        """The watchdog: run each due time-limit action; end when none is pending."""
        with self._lock:
            while self._deadlines:
                deadline, _, function, job = self._deadlines[0]
                delay = deadline - time.monotonic()
                if delay > 0:
                    self._watchdog_wake.wait(delay)
                    continue
                heapq.heappop(self._deadlines)
                try:
                    function(job)
                except Exception:  # One failing action must not end every job's time limit.
                    logger.exception("The time limit of job %s could not be applied.", job.id)
            self._watchdog = None

    def _time_limit_reached(self, job: Job) -> None:
        """Ask a job that ran `max_job_seconds` to stop, and time it out if it does not."""
        with self._lock:
            if job.state != JobState.RUNNING:
                return
            job.stop_reason = self._time_limit_reason()
            job.stop_event.set()
            self._save_state(job)
            job._grace_periods = 0
            job._updates_at_limit = job._progress_updates
            self._changed.notify_all()
        self._after(self.stop_grace_seconds, self._time_out, job)

    def _time_out(self, job: Job) -> None:
        """Give up on a job still running after its grace period: free its slot."""
        with self._lock:
            if job.state != JobState.RUNNING:
                return
            job._grace_periods += 1
            # A job that has reported since (it is evaluating or saving what it learned) or
            # never yet (it is still setting up, before any batch) is given more time.
            busy = job._progress_updates > job._updates_at_limit or job._progress_updates == 0
            if busy and job._grace_periods < MAX_GRACE_PERIODS:
                job._updates_at_limit = job._progress_updates
                self._after(self.stop_grace_seconds, self._time_out, job)
                return
            job.state = JobState.TIMED_OUT
            job.finished_at = time.time()
            job.stop_reason = job.error = (
                f"It reached this app's time limit of {_minutes(self.max_job_seconds)} but "
                f"could not stop within {self.stop_grace_seconds:g} seconds (one batch takes "
                "longer), so it was ended without a model. Use a smaller batch or network."
            )
            self._threads.pop(job.id, None)
            self._save_state(job)
            logger.warning("Job %s (%s) timed out and was detached.", job.id, job.name)
            if not self._closed:
                self._start_waiting_jobs()
            self._forget_old_jobs()
            self._changed.notify_all()

    def _time_limit_reason(self) -> str:
        return (
            f"It reached this app's time limit of {_minutes(self.max_job_seconds)} and "
            "stopped itself, keeping what it had learned."
        )

    def _run(self, job: Job) -> None:
        result: Any = None
        error: str | None = None
        details: str | None = None
        # The job's work may run elsewhere (a detached Ray actor): it learns its row and limits.
        running_job.set(
            RunningJob(
                id=job.id,
                deadline=None
                if self.max_job_seconds is None
                else (job.started_at or time.time()) + self.max_job_seconds,
                time_limit_reason=None
                if self.max_job_seconds is None
                else self._time_limit_reason(),
                stop_grace_seconds=self.stop_grace_seconds,
            )
        )
        try:
            result = job._fn(job._report, job.stop_event)
        except Exception as exception:  # A job's failure must not kill its thread silently.
            error = str(exception) or type(exception).__name__
            details = traceback.format_exc()
            logger.error("Job %s (%s) failed:\n%s", job.id, job.name, details)
        with self._lock:
            if job.state == JobState.TIMED_OUT:
                return  # Detached after its time limit: what it returns now is not used.
            job.result = result
            job.error = error
            job.traceback = details
            job.finished_at = time.time()
            if error is not None:
                job.state = JobState.FAILED
            elif job.stop_event.is_set():
                job.state = JobState.STOPPED
            else:
                job.state = JobState.FINISHED
            self._save_state(job)
            self._threads.pop(job.id, None)
            self._forget_deadlines(job)
            if not self._closed:
                self._start_waiting_jobs()
            self._forget_old_jobs()
            self._changed.notify_all()

    def _forget_old_jobs(self) -> None:
        """Drop the oldest done jobs beyond ``keep_finished`` (caller holds the lock)."""
        done = [job for job in self._jobs.values() if job.done]
        if len(done) <= self.keep_finished:
            return
        done.sort(key=lambda job: self._order[job.id])
        for job in done[: len(done) - self.keep_finished]:
            del self._jobs[job.id]
            del self._order[job.id]


def _minutes(seconds: float | None) -> str:
    if seconds is None:
        return "none"
    if seconds < 120:
        return f"{seconds:g} seconds"
    return f"{seconds / 60:g} minutes"
