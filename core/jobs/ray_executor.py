"""Running a job's work on a Ray cluster: `RayExecutor`, which falls back to threads.

A whole job (`RayExecutor.run_job`, used by `core.jobs.tasks`) belongs to the cluster, not to
the app process: a detached actor, the cluster's `JobDispatcher`, submits it as a task on a
warm worker, where it trains, stores its run and keeps its row on the jobs board
(`core.jobs.job_rows`) under that worker's own heartbeat, so it outlives the app process
that asked for it. While that process lives, it relays live
progress, passes on Stop and gets the result (metrics, history and the Keras model, which
pickles as `.keras` bytes). `RayExecutor.train` and `fit_baseline` run the training alone as
a Ray task whose result comes back to the server, which stores the run (an early-stopping
sweep, and a SQLite store through Ray Client). When a cluster cannot be reached, or goes
away, new jobs run on threads and `status_message()` says why.

Ray is optional (``requirements-ray.txt``) and imported only when a Ray address is set.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import os
import socket
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from core import settings
from core.jobs.job_rows import JobRow, JobRowError, RunningJob, running_job
from core.jobs.kinds import JobKind, JobState
from core.jobs.thread_executor import ProgressFunction, ThreadExecutor
from core.nn.baselines import train_baseline
from core.nn.training import train_model
from core.runs.engine import Database
from core.runs.heartbeats import heartbeat_for

logger = logging.getLogger(__name__)

PROGRESS_POLL_SECONDS = 0.1  # How often progress is relayed and Stop is passed on.
STOP_GRACE_SECONDS = 10.0  # After Stop, how long a Ray task may take before it is killed.
STOP_POLL_SECONDS = 0.5  # How often a detached job reads its row's Stop and its time limit.
# A detached job ends its own worker after its grace period; the app process kills it only
# this much later, if it has not ended by then (its worker stuck).
KILL_MARGIN_SECONDS = 5.0
NAMESPACE = "mnist_studio"  # The Ray namespace of the job dispatchers (detached actors).
# A job's events and Stop are dropped this long after anyone last asked (its watcher died).
TOKEN_KEPT_SECONDS = 900.0
# Progress kinds after which a training has left its loop (evaluating, then storing its run).
TRAINING_ENDED_KINDS = frozenset({"evaluating", "done"})
DATASET_REFS_KEPT = 4  # Datasets kept in the object store (the default one and uploads).
CORE_PACKAGE = Path(__file__).resolve().parents[1]  # The `core` package, for Ray workers.


class JobEndedWithoutModelError(RuntimeError):
    """A job did not stop when asked and was ended by force; nothing it learned was kept."""


class WorkerLostError(RuntimeError):
    """The process or machine running a job went away before the job finished."""


class ClusterUnavailableError(RuntimeError):
    """The cluster cannot take a job now (unreachable, or gone before the job reported
    anything): the job can run on this server instead."""


class _ClusterGoneBeforeStartError(ClusterUnavailableError):
    """The cluster went away before the job reported anything: it can run here instead."""


def _remote_functions():
    """Define the Ray task and actor once Ray is imported (they need its decorators)."""
    import ray  # Ray is optional and slow to import: only with a Ray address.

    @ray.remote(num_cpus=0)
    class JobBoard:
        """Progress events and stop requests of every running job, keyed by job token."""

        def __init__(self) -> None:
            self.events: dict[str, list[dict[str, Any]]] = {}
            self.stops: set[str] = set()

        def push(self, token: str, event: dict[str, Any]) -> None:
            self.events.setdefault(token, []).append(event)

        def drain(self, token: str) -> list[dict[str, Any]]:
            return self.events.pop(token, [])

        def request_stop(self, token: str) -> None:
            self.stops.add(token)

        def stop_requested(self, token: str) -> bool:
            return token in self.stops

        def forget(self, token: str) -> None:
            self.events.pop(token, None)
            self.stops.discard(token)

    @ray.remote(num_cpus=1, max_retries=0)
    def run_on_worker(kind: str, board, token: str, dataset, arguments: dict[str, Any]):
        """Run one job's work on a Ray worker, relaying progress through the job board.

        ``dataset`` is a top-level argument so that Ray hands the task the object store's
        copy (shared by every task on the node) rather than a reference to it.
        """
        stop_event = threading.Event()
        finished = threading.Event()

        def watch_for_stop() -> None:
            while not finished.wait(PROGRESS_POLL_SECONDS):
                try:
                    if ray.get(board.stop_requested.remote(token)):
                        stop_event.set()
                        return
                except Exception:  # The board is gone: the server went away, so stop.
                    stop_event.set()
                    return

        watcher = threading.Thread(target=watch_for_stop, daemon=True)
        watcher.start()
        # Each progress event says on which node it ran (bench_ray.py shows the placement).
        node = ray.get_runtime_context().get_node_id()
        try:
            if kind == JobKind.TRAIN:
                return train_model(
                    arguments["config"],
                    dataset,
                    on_progress=lambda event: board.push.remote(token, {**event, "node": node}),
                    stop_event=stop_event,
                )
            return train_baseline(
                arguments["key"],
                dataset,
                arguments["config"],
                report=lambda **progress: board.push.remote(token, progress),
                stop_event=stop_event,
            )
        finally:
            finished.set()

    @ray.remote(num_cpus=0, max_restarts=0, max_task_retries=0)
    class JobDispatcher:
        """Submits the cluster's detached jobs, so that they belong to it, not to an app process.

        One per cluster and version of the code (`dispatcher_name`), detached. A task
        submitted from here is owned by this actor: Ray does not end it when the app process
        that asked for it dies (a driver's own tasks end with it), and it runs on a warm
        worker that earlier jobs left with TensorFlow imported (an actor of its own per job
        would start a fresh worker every time). It also holds each job's progress events and
        Stop, keyed by a token, for whichever app process watches the job.
        """

        def __init__(self) -> None:
            self.lock = threading.Lock()
            self.jobs: dict[str, dict[str, Any]] = {}

        def _job(self, token: str) -> dict[str, Any]:
            now = time.monotonic()
            for old in [
                key for key, job in self.jobs.items() if now - job["seen"] > TOKEN_KEPT_SECONDS
            ]:
                del self.jobs[old]  # Nobody watched it for long: its app process is gone.
            job = self.jobs.setdefault(
                token, {"events": [], "stop": False, "stopping": False, "task": None}
            )
            job["seen"] = now
            return job

        def submit(self, token: str, work, dataset_list, job: RunningJob | None, url: str):
            """Start the job's task; return its result's reference, in a list (unresolved)."""
            with self.lock:
                entry = self._job(token)
                handle = ray.get_runtime_context().current_actor
                entry["task"] = run_detached_job.remote(
                    work, dataset_list[0], job, url, handle, token
                )
                return [entry["task"]]

        def push(self, token: str, record: bool, values: dict[str, Any]) -> None:
            with self.lock:
                events = self._job(token)["events"]
                last = events[-1] if events else None
                if not record and last is not None and not last.get("record"):
                    last.update(values)  # Only the latest figures matter between records.
                else:
                    events.append({**values, "record": record})

        def drain(self, token: str) -> tuple[list[dict[str, Any]], bool]:
            """The job's progress events since the last call, and whether it is stopping."""
            with self.lock:
                job = self._job(token)
                events, job["events"] = job["events"], []
                return events, job["stopping"]

        def request_stop(self, token: str) -> None:
            with self.lock:
                self._job(token)["stop"] = True

        def stop_requested(self, token: str, stopping: bool) -> bool:
            """Note whether the job itself is stopping; return whether Stop was asked here."""
            with self.lock:
                job = self._job(token)
                job["stopping"] = job["stopping"] or stopping
                return job["stop"]

        def cancel(self, token: str) -> None:
            """End the job's worker by force (it did not stop in time)."""
            with self.lock:
                task = self._job(token)["task"]
            if task is not None:
                ray.cancel(task, force=True)

        def forget(self, token: str) -> None:
            with self.lock:
                self.jobs.pop(token, None)

        def alive(self) -> bool:
            return True

    @ray.remote(num_cpus=1, max_retries=0)
    def run_detached_job(work, dataset, job: RunningJob | None, url: str, dispatcher, token: str):
        """Run a whole job on a worker (`_run_detached`), relaying through the dispatcher.

        Returns only once every progress event it sent has reached the dispatcher, so the
        app process that drains it after the result has them all.
        """
        stop_event = threading.Event()
        finished = threading.Event()
        sent: list[Any] = []

        def push(record: bool, values: dict[str, Any]) -> None:
            sent.append(dispatcher.push.remote(token, record, values))
            if len(sent) > 64:
                done, pending = ray.wait(sent, num_returns=len(sent), timeout=0)
                sent[:] = pending

        def relay_stop() -> None:
            while not finished.wait(PROGRESS_POLL_SECONDS):
                with contextlib.suppress(Exception):  # Without it, the jobs row still stops.
                    if ray.get(dispatcher.stop_requested.remote(token, stop_event.is_set())):
                        stop_event.set()

        threading.Thread(target=relay_stop, daemon=True, name="job-stop-relay").start()
        try:
            return _run_detached(work, dataset, job, url, stop_event, push)
        finally:
            finished.set()
            with contextlib.suppress(Exception):  # The dispatcher is gone: no one is waiting.
                ray.get(dispatcher.stop_requested.remote(token, stop_event.is_set()))
                ray.get(sent)

    return JobBoard, run_on_worker, JobDispatcher


@functools.lru_cache(maxsize=8)
def _worker_database(url: str) -> Database:
    """One `Database` (and connection pool) per URL for all the jobs a warm worker runs."""
    return Database(url)


@functools.lru_cache(maxsize=16)
def dispatcher_name(node: str | None = None) -> str:
    """The name of the cluster's `JobDispatcher` for this version of the `core` package.

    App processes of one version share it; after an upgrade the new code gets its own (the
    old one keeps running its jobs), and a SQLite store's jobs get one pinned to ``node``.
    """
    digest = hashlib.sha256()
    for path in sorted(CORE_PACKAGE.rglob("*.py")):
        digest.update(path.relative_to(CORE_PACKAGE).as_posix().encode())
        digest.update(path.read_bytes())
    name = f"dispatcher-{digest.hexdigest()[:12]}"
    return f"{name}-{node[:12]}" if node else name


def _run_detached(
    work: Callable[..., Any],
    dataset: Any,
    job: RunningJob | None,
    database_url: str,
    stop_event: threading.Event,
    push: Callable[[bool, dict[str, Any]], None],
) -> Any:
    """Run a job's work in this (worker) process, keeping its row on the jobs board.

    The row is claimed for this process, whose heartbeat (`core.runs.heartbeats`) also owns
    the run in progress that ``work`` notes, so the job lives as long as this worker; a Stop
    asked for by any process, or the job's time limit, sets ``stop_event``, and a job still
    running `RunningJob.stop_grace_seconds` later is ended with its worker.
    """
    database = _worker_database(database_url)
    row = None
    if job is not None:
        row = JobRow(database, job.id)
        try:
            claimed = row.claim(heartbeat_for(database).process_id)
        except (JobRowError, SQLAlchemyError) as error:
            logger.warning("Job %s runs without its row: %s", job.id, error)
            claimed = False
        if not claimed:  # No board keeps it: the app process alone tells how it ended.
            row = None
    progress: dict[str, Any] = {}
    grace = StopGrace(job.stop_grace_seconds if job is not None else STOP_GRACE_SECONDS)

    def report(record: bool = False, **values: Any) -> None:
        progress.update(values)
        grace.reported(values)
        push(record, values)
        if row is not None:
            row.write_progress(progress)

    finished = threading.Event()
    watcher = threading.Thread(
        target=_watch_detached_job,
        args=(row, job, stop_event, finished, progress, grace),
        daemon=True,
        name="job-stop-watcher",
    )
    watcher.start()
    try:
        result = work(dataset, report, stop_event)
    except Exception as error:
        if row is not None:
            row.end(JobState.FAILED, progress, str(error) or type(error).__name__)
        raise
    finally:
        finished.set()
    if row is not None:
        row.end(JobState.STOPPED if stop_event.is_set() else JobState.FINISHED, progress)
    return result


class StopGrace:
    """Whether a job asked to stop is stuck: silent for `seconds` while still training.

    A job that reports progress after Stop is still working its way out (the rest of a
    batch), and one that has reported its evaluation or its end has left the training loop
    (evaluating, storing its run): neither is ended by force.

    Args:
        seconds: How long a stopping job may go without a report.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._lock = threading.Lock()
        self._last_report: float | None = None
        self._training = True

    def reported(self, values: dict[str, Any]) -> None:
        """Note a progress report of the job."""
        with self._lock:
            self._last_report = time.monotonic()
            if values.get("kind") in TRAINING_ENDED_KINDS:
                self._training = False

    def stuck(self, stop_since: float) -> bool:
        """True when the job, asked to stop at ``stop_since`` (monotonic), is stuck."""
        with self._lock:
            quiet_since = max(stop_since, self._last_report or stop_since)
            return self._training and time.monotonic() - quiet_since > self.seconds


def _watch_detached_job(
    row: JobRow | None,
    job: RunningJob | None,
    stop_event: threading.Event,
    finished: threading.Event,
    progress: dict[str, Any],
    grace: StopGrace,
) -> None:
    """Set ``stop_event`` on a Stop from any process or at the time limit; end the worker
    when the job is stuck after it (`StopGrace`)."""
    stop_seen: float | None = None
    while not finished.wait(STOP_POLL_SECONDS):
        if not stop_event.is_set():
            if row is not None and row.stop_requested():
                stop_event.set()
            elif job is not None and job.deadline is not None and time.time() >= job.deadline:
                if row is not None and job.time_limit_reason:
                    row.write_message(job.time_limit_reason)
                stop_event.set()
        if stop_event.is_set():
            stop_seen = stop_seen or time.monotonic()
            if grace.stuck(stop_seen) and not finished.is_set():
                message = _ended_without_model_message(grace.seconds)
                if row is not None:
                    row.end(JobState.FAILED, progress, message)
                logger.warning("Job %s: %s", row and row.job_id, message)
                os._exit(1)


def _ended_without_model_message(grace_seconds: float) -> str:
    return (
        f"The job did not stop within {grace_seconds:.0f} seconds of being asked, so its Ray "
        "worker was ended; nothing it learned was kept."
    )


class RayExecutor:
    """Runs each job's work as a task on a Ray cluster; falls back to threads without one.

    Args:
        address: ``"local"`` (start a private Ray here), ``"auto"`` or ``"ray://host:port"``.
        num_cpus: CPUs of a private local Ray (None: all of this machine's).
        stop_grace_seconds: After Stop (or a time budget running out), how long a task may
            go on before it is cancelled by force, which kills its worker process.
    """

    name = "ray"

    def __init__(
        self,
        address: str,
        num_cpus: int | None = None,
        stop_grace_seconds: float = STOP_GRACE_SECONDS,
    ) -> None:
        self.address = address
        self.num_cpus = num_cpus
        self.stop_grace_seconds = stop_grace_seconds
        self.fallback = ThreadExecutor()
        self._lock = threading.Lock()
        self._connected = False
        self._problem: str | None = None
        self._board: Any = None
        self._run_on_worker: Any = None
        self._job_dispatcher: Any = None
        self._dispatchers: dict[str | None, Any] = {}
        self._dataset_refs: OrderedDict[int, tuple[Any, Any]] = OrderedDict()
        self._on_capacity: Callable[[int], None] | None = None

    # --- Connection ---------------------------------------------------------------------

    def connect(self) -> bool:
        """Connect to the cluster if not yet connected; return whether Ray is usable."""
        with self._lock:
            if self._connected:
                return True
            try:
                import ray  # Ray is optional and slow to import: only with a Ray address.

                if ray.is_initialized():  # A cluster that went away: start afresh.
                    ray.shutdown()
                _check_reachable(self.address)
                ray.init(**self._init_arguments())
                JobBoard, self._run_on_worker, self._job_dispatcher = _remote_functions()
                self._board = JobBoard.remote()
                self._dataset_refs.clear()
                self._dispatchers.clear()
                self._connected = True
                self._problem = None
                if self._on_capacity is not None:
                    self._on_capacity(int(ray.cluster_resources().get("CPU", 0)))
            except Exception as error:  # Any failure to reach Ray means: use threads.
                self._problem = (
                    f"The Ray cluster ({self.address}) cannot be reached ({_first_line(error)}); "
                    "new jobs run on this server instead."
                )
                logger.warning(self._problem)
                self._shutdown_quietly()
            return self._connected

    def _init_arguments(self) -> dict[str, Any]:
        # Workers get the app's `core` package and its settings; the data goes through the
        # object store, so workers need neither this checkout nor the MNIST files.
        environment = {
            name: value
            for name, value in settings.environment_settings().items()
            if value and name != "MNIST_STUDIO_RAY_ADDRESS"
        }
        environment.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        arguments: dict[str, Any] = {
            "runtime_env": {"py_modules": [str(CORE_PACKAGE)], "env_vars": environment},
            "logging_level": logging.WARNING,
            "log_to_driver": False,
        }
        if self.address == "local":
            arguments.update(address="local", include_dashboard=False, num_cpus=self.num_cpus)
        else:
            arguments["address"] = self.address
        return arguments

    def _forget_cluster_unless_alive(self) -> None:
        """After a lost worker: if the whole cluster is gone too, run new jobs here."""
        try:
            import ray  # Ray is optional and slow to import: only with a Ray address.

            ray.get(self._board.stop_requested.remote(""), timeout=5)
        except Exception as error:  # No answer from the board: the cluster is gone.
            self._problem = (
                f"The Ray cluster ({self.address}) went away ({_first_line(error)}); "
                "new jobs run on this server instead."
            )
            self._connected = False

    def _shutdown_quietly(self) -> None:
        with contextlib.suppress(Exception):  # Nothing more to clean up.
            import ray  # Ray is optional and slow to import: only with a Ray address.

            ray.shutdown()
        self._board = None
        self._dataset_refs.clear()
        self._dispatchers.clear()

    def start(self, on_capacity: Callable[[int], None]) -> None:
        """Call ``on_capacity(cpus)`` with the cluster's CPUs each time Ray is connected.

        Starting a local Ray takes seconds, so the page that first asks for the job manager
        does not wait for it: the first job connects, in its own thread, and the cap grows
        then (queued jobs start at once).
        """
        self._on_capacity = on_capacity

    def status_message(self) -> str | None:
        """Return why jobs run on this server instead of the cluster, or None if they do not."""
        return self._problem

    # --- Jobs ---------------------------------------------------------------------------

    def train(
        self,
        config: Any,
        dataset: Any,
        on_progress: ProgressFunction | None = None,
        stop_event: threading.Event | None = None,
    ):
        """Train on the cluster (or here, without one) and return the `TrainingResult`."""
        if not self.connect():
            return self.fallback.train(config, dataset, on_progress, stop_event)
        relay = on_progress or (lambda event: None)
        try:
            return self._run(JobKind.TRAIN, dataset, {"config": config}, relay, stop_event)
        except _ClusterGoneBeforeStartError:
            return self.fallback.train(config, dataset, on_progress, stop_event)

    def fit_baseline(
        self,
        key: str,
        dataset: Any,
        config: Any,
        report: Callable[..., None] | None = None,
        stop_event: threading.Event | None = None,
    ):
        """Fit a baseline on the cluster (or here, without one) and return its result."""
        if not self.connect():
            return self.fallback.fit_baseline(key, dataset, config, report, stop_event)
        arguments = {"key": key, "config": config}

        def relay(progress: dict[str, Any]) -> None:
            if report is not None:
                report(**progress)

        try:
            return self._run(JobKind.BASELINE, dataset, arguments, relay, stop_event)
        except _ClusterGoneBeforeStartError:
            return self.fallback.fit_baseline(key, dataset, config, report, stop_event)

    def runs_detached(self, database: Database) -> bool:
        """True when a whole job can run on the cluster and write its run to ``database``.

        Connects to the cluster first. PostgreSQL is reached from any node; a SQLite file
        only from this machine, so its jobs are kept on this node, and through Ray Client
        (``ray://``, whose driver runs elsewhere) they are not detached: their result comes
        back to this server, which stores it.
        """
        if not self.connect():
            return False
        return not (database.is_sqlite and self.address.startswith("ray://"))

    def run_job(
        self,
        work: Callable[..., Any],
        dataset: Any,
        database: Database,
        relay: Callable[[bool, dict[str, Any]], None],
        stop_event: threading.Event | None,
    ) -> Any:
        """Run a whole job on the cluster so that it outlives this process; return its result.

        ``work(dataset, report, stop_event)`` runs on a worker (pickled by reference: a
        module-level function or a `functools.partial` of one) and stores its run itself.
        The cluster's `JobDispatcher` submits it (a task owned by a detached actor is not
        ended with this process); on the worker it claims the job's row on the jobs board,
        so if this process dies the job goes on, its row says how it ended and other
        processes show its run. While this process lives, it
        relays the progress events (``relay(record, values)``) and passes Stop on; a job
        still running `KILL_MARGIN_SECONDS` after its own grace period is killed.

        Raises:
            ClusterUnavailableError: The cluster went away before the job reported anything
                (run it here instead).
            WorkerLostError: The worker (or the cluster) died while the job ran.
            JobEndedWithoutModelError: It did not stop in time after Stop.
            Exception: The job's own exception (e.g. a `ValueError` for the user).
        """
        import ray  # Ray is optional and slow to import: only with a Ray address.
        from ray import exceptions

        job = running_job.get()
        grace = StopGrace(
            (job.stop_grace_seconds if job is not None else self.stop_grace_seconds)
            + KILL_MARGIN_SECONDS
        )
        token = f"job-{job.id if job is not None else uuid.uuid4().hex[:12]}"
        started = False
        stop_sent_at: float | None = None
        dispatcher = None
        try:
            dispatcher = self._dispatcher(database)
            dataset_list = [self._dataset_ref(dataset)]  # In a list: passed on unresolved.
            (task,) = ray.get(
                dispatcher.submit.remote(token, work, dataset_list, job, database.url)
            )
            while True:
                ready, _ = ray.wait([task], timeout=PROGRESS_POLL_SECONDS)
                if ready:
                    break
                events, stopping = ray.get(dispatcher.drain.remote(token))
                for event in events:
                    started = True
                    grace.reported(event)
                    relay(event.pop("record"), event)
                if stopping and stop_event is not None:
                    stop_event.set()  # Asked from another process: this job ends "stopped".
                if stop_event is not None and stop_event.is_set() and stop_sent_at is None:
                    dispatcher.request_stop.remote(token)
                    stop_sent_at = time.monotonic()
                if stop_sent_at is not None and grace.stuck(stop_sent_at):
                    dispatcher.cancel.remote(token)
                    raise JobEndedWithoutModelError(_ended_without_model_message(grace.seconds))
            result = ray.get(task)
            events, stopped = ray.get(dispatcher.drain.remote(token))
            for event in events:
                relay(event.pop("record"), event)
            if stopped and stop_event is not None:
                stop_event.set()
            return result
        except exceptions.RayTaskError as error:
            raise _own_exception(error) from None
        except (exceptions.WorkerCrashedError, exceptions.NodeDiedError) as error:
            if stop_sent_at is not None:  # It ended its own worker: it did not stop in time.
                seconds = grace.seconds - KILL_MARGIN_SECONDS
                raise JobEndedWithoutModelError(_ended_without_model_message(seconds)) from None
            self._forget_cluster_unless_alive()
            if not started and not self._connected:
                raise _ClusterGoneBeforeStartError() from None
            raise WorkerLostError(
                "The Ray worker running this job died before it finished "
                f"({_first_line(error)}); the job failed and its run is kept as interrupted. "
                "Start it again."
            ) from None
        except (
            exceptions.RayActorError,
            exceptions.ObjectLostError,
            exceptions.RaySystemError,
            ConnectionError,
        ) as error:
            # The dispatcher (which owns the job's task) or the whole cluster went away.
            self._problem = (
                f"The Ray cluster ({self.address}) went away ({_first_line(error)}); "
                "new jobs run on this server instead."
            )
            self._connected = False
            with self._lock:
                self._dispatchers.clear()
            if not started:
                raise _ClusterGoneBeforeStartError() from None
            raise WorkerLostError(
                "The Ray cluster went away while this job ran; the job failed and its run is "
                "kept as interrupted. Start it again: it will run on this server."
            ) from None
        finally:
            if dispatcher is not None:
                with contextlib.suppress(Exception):  # Gone with the cluster: nothing to forget.
                    dispatcher.forget.remote(token)

    def _dispatcher(self, database: Database) -> Any:
        """The cluster's `JobDispatcher` for this code (and node, for a SQLite store).

        Named and detached, so every app process of one version shares it and it outlives
        them; created by the first one that needs it.
        """
        import ray  # Ray is optional and slow to import: only with a Ray address.
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        node = ray.get_runtime_context().get_node_id() if database.is_sqlite else None
        with self._lock:
            if node in self._dispatchers:
                return self._dispatchers[node]
            options: dict[str, Any] = {
                "name": dispatcher_name(node),
                "namespace": NAMESPACE,
                "lifetime": "detached",
                "get_if_exists": True,
                # Progress pushes from every running job, drains and Stops come in at once.
                "max_concurrency": 64,
            }
            if node is not None:  # The SQLite file is on this machine: so are its jobs.
                options["scheduling_strategy"] = NodeAffinitySchedulingStrategy(node, soft=False)
            dispatcher = self._job_dispatcher.options(**options).remote()
            ray.get(dispatcher.alive.remote(), timeout=120)
            self._dispatchers[node] = dispatcher
            return dispatcher

    def _dataset_ref(self, dataset: Any) -> Any:
        """Put ``dataset`` in the object store once per server and return its reference."""
        import ray  # Ray is optional and slow to import: only with a Ray address.

        with self._lock:
            key = id(dataset)
            if key in self._dataset_refs:
                self._dataset_refs.move_to_end(key)
                return self._dataset_refs[key][1]
            reference = ray.put(dataset)
            # Keeping the dataset itself keeps its id from being reused by another object.
            self._dataset_refs[key] = (dataset, reference)
            while len(self._dataset_refs) > DATASET_REFS_KEPT:
                self._dataset_refs.popitem(last=False)
            return reference

    def _run(
        self,
        kind: str,
        dataset: Any,
        arguments: dict[str, Any],
        relay: ProgressFunction,
        stop_event: threading.Event | None,
    ):
        import ray  # Ray is optional and slow to import: only with a Ray address.
        from ray import exceptions

        board = self._board
        token = uuid.uuid4().hex
        task = self._run_on_worker.remote(kind, board, token, self._dataset_ref(dataset), arguments)
        stop_sent_at: float | None = None
        started = False
        try:
            while True:
                ready, _ = ray.wait([task], timeout=PROGRESS_POLL_SECONDS)
                for event in ray.get(board.drain.remote(token)):
                    started = True
                    relay(event)
                if ready:
                    break
                if stop_event is not None and stop_event.is_set() and stop_sent_at is None:
                    board.request_stop.remote(token)
                    stop_sent_at = time.monotonic()
                if (
                    stop_sent_at is not None
                    and time.monotonic() - stop_sent_at > self.stop_grace_seconds
                ):
                    ray.cancel(task, force=True)
                    raise JobEndedWithoutModelError(
                        _ended_without_model_message(self.stop_grace_seconds)
                    )
            return ray.get(task)
        except exceptions.RayTaskError as error:
            raise _own_exception(error) from None
        except (exceptions.WorkerCrashedError, exceptions.NodeDiedError) as error:
            self._forget_cluster_unless_alive()
            if not started and not self._connected:
                raise _ClusterGoneBeforeStartError() from None
            raise WorkerLostError(
                "The Ray worker running this job died before it finished "
                f"({_first_line(error)}); the run is marked failed. Start it again."
            ) from None
        except (exceptions.RayActorError, exceptions.RaySystemError, ConnectionError) as error:
            self._problem = (
                f"The Ray cluster ({self.address}) went away ({_first_line(error)}); "
                "new jobs run on this server instead."
            )
            self._connected = False
            if not started:
                raise _ClusterGoneBeforeStartError() from None
            raise WorkerLostError(
                "The Ray cluster went away while this job ran; the run is marked failed. "
                "Start it again: it will run on this server."
            ) from None
        finally:
            # The board may be gone with the cluster; then there is nothing to forget.
            with contextlib.suppress(Exception):
                board.forget.remote(token)


def _check_reachable(address: str, timeout: float = 3.0) -> None:
    """Raise ConnectionError unless ``host:port`` (or ``ray://host:port``) accepts a connection.

    `ray.init` retries an address that does not answer for minutes; a plain connection
    attempt tells within seconds. ``local`` and ``auto`` need no check.
    """
    target = address.removeprefix("ray://")
    if address in {"local", "auto"} or ":" not in target:
        return
    host, _, port = target.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            return
    except (OSError, ValueError) as error:
        raise ConnectionError(f"nothing answers at {target}: {error}") from None


def _own_exception(error: Exception) -> Exception:
    """The job's own exception inside a `RayTaskError` (a ValueError with a message for the
    user, say), or a RuntimeError saying what went wrong."""
    cause = getattr(error, "cause", None)
    return cause if isinstance(cause, Exception) else RuntimeError(_first_line(error))


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0][:200] if text else type(error).__name__
