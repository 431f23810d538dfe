"""Running a job's work on a Ray cluster: `RayExecutor`, which falls back to threads.

`RayExecutor` sends the training to a Ray cluster as a task and stays in the job's thread
only to relay live progress, to pass on Stop, and to bring the result (metrics, history and
the Keras model, which pickles as `.keras` bytes) back to the server, which stores the run.
When a cluster cannot be reached, or goes away, new jobs run on threads and
`status_message()` says why.

Ray is optional (``requirements-ray.txt``) and imported only when a Ray address is set.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core import settings
from core.jobs.kinds import JobKind
from core.jobs.thread_executor import ProgressFunction, ThreadExecutor
from core.nn.baselines import train_baseline
from core.nn.training import train_model

logger = logging.getLogger(__name__)

PROGRESS_POLL_SECONDS = 0.1  # How often progress is relayed and Stop is passed on.
STOP_GRACE_SECONDS = 10.0  # After Stop, how long a Ray task may take before it is killed.
DATASET_REFS_KEPT = 4  # Datasets kept in the object store (the default one and uploads).
CORE_PACKAGE = Path(__file__).resolve().parents[1]  # The `core` package, for Ray workers.


class JobEndedWithoutModelError(RuntimeError):
    """A job did not stop when asked and was ended by force; nothing it learned was kept."""


class WorkerLostError(RuntimeError):
    """The process or machine running a job went away before the job finished."""


class _ClusterGoneBeforeStartError(RuntimeError):
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

    return JobBoard, run_on_worker


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
                JobBoard, self._run_on_worker = _remote_functions()
                self._board = JobBoard.remote()
                self._dataset_refs.clear()
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
                        f"The job did not stop within {self.stop_grace_seconds:.0f} seconds of "
                        "being asked, so its Ray worker was ended; nothing it learned was kept."
                    )
            return ray.get(task)
        except exceptions.RayTaskError as error:
            # The job's own exception (a ValueError with a message for the user, say).
            cause = getattr(error, "cause", None)
            if isinstance(cause, Exception):
                raise cause from None
            raise RuntimeError(_first_line(error)) from None
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


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0][:200] if text else type(error).__name__
