"""Trainings and baselines as background jobs that record their run in the store.

`make_training_job` and `make_baseline_job` return the job functions that pages hand to
`core.jobs.manager.JobManager.submit` (through `ui.submit_job`). Each one journals the run while it
is in progress (`RunStore.begin_run`/`end_run`, so a crash leaves an "interrupted" run),
has the executor (`core.jobs.executors`: this process, or a Ray cluster) train or fit it, saves
the result as a run and returns a `JobOutcome`, which becomes the job's ``result``. On a Ray
cluster all of it runs detached, on a worker (`core.jobs.ray_executor.RayExecutor.run_job`),
which opens the same store (`StoreLocation`) and also makes a finished training the owner's
current model (`adopt_as_current_model`), so the job outlives the app process.
A training job also reports its live batch curve (`LiveCurve`) and compares the run with
the owner's previous one (`core.runs.comparison.comparison_note`).
"""

from __future__ import annotations

import logging
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy.exc import SQLAlchemyError

from core.jobs.executors import get_executor
from core.jobs.ray_executor import ClusterUnavailableError, RayExecutor
from core.jobs.thread_executor import ThreadExecutor
from core.nn.baselines import BaselineResult
from core.nn.config import TrainingConfig
from core.nn.training import TrainingResult
from core.runs.comparison import comparison_note
from core.runs.current_models import ADOPT, CurrentModelRecord, CurrentModelStore, after_training
from core.runs.display import epochs_text, training_run_name, unique_name
from core.runs.errors import DamagedRunStoreError, RunStoreError
from core.runs.pruning import PruneQuota
from core.runs.records import RunStatus
from core.runs.training_outcome import completed_epochs, model_label

if TYPE_CHECKING:
    from core.data.datasets import Dataset
    from core.runs import RunStore

logger = logging.getLogger(__name__)

JobFunction = Callable[[Callable[..., None], threading.Event], "JobOutcome"]
Executor = ThreadExecutor | RayExecutor


@dataclass(frozen=True)
class JobOutcome:
    """What a training or baseline job returns (its `core.jobs.job.Job.result`).

    Plain and picklable, like the results it holds, which a Ray worker sends back.

    Attributes:
        result: The `core.nn.training.TrainingResult` or `core.nn.baselines.BaselineResult`.
        run_id: The stored run's id (None when saving it failed).
        save_error: Why the run could not be saved, or None.
        note: For a training, what changed against the owner's previous run and how it
            did (None for a first run or a baseline).
        name: The stored run's name (None when it was not stored).
        decision: For a training that ran detached on a cluster, what the job itself decided
            for the owner's current model (`adopt_as_current_model`); None when the page
            that watches the job decides.
        replaced: The owner's current model before that decision, if any.
        replaced_accuracy: Its test accuracy, if known.
    """

    result: TrainingResult | BaselineResult
    run_id: str | None
    save_error: str | None = None
    note: str | None = None
    name: str | None = None
    decision: str | None = None
    replaced: CurrentModelRecord | None = None
    replaced_accuracy: float | None = None


@contextmanager
def _journalled(
    store: RunStore, kind: str, name: str, config: dict[str, Any], owner: str | None, dataset: str
) -> Iterator[None]:
    """Note a run in progress for the `with` block, so a crash leaves it "interrupted".

    A store whose database is away when the run starts does not stop the work: the run
    trains without that safety net, and its save says whether the database came back.
    """
    try:
        handle = store.begin_run(kind, name, config, owner, dataset)
    except DamagedRunStoreError as error:
        logger.warning("Run %r is not noted as in progress: %s", name, error)
        handle = None
    try:
        yield
    finally:
        if handle is not None:
            store.end_run(handle)


# Trainings ------------------------------------------------------------------------------------


MAX_BATCH_POINTS = 1500


class LiveCurve:
    """The batch points of a live training curve: at most `limit`, spread over the whole run.

    Every `stride`-th batch event is kept; when the kept points reach the limit, every
    other one is dropped and the stride doubles, so the points stay evenly spaced from the
    first batch on, however long the training. The newest event is always shown last.

    Args:
        limit: The most points `points()` returns (at least 2).
    """

    KEYS = ("epochs_trained", "loss", "accuracy")

    def __init__(self, limit: int = MAX_BATCH_POINTS) -> None:
        if limit < 2:
            raise ValueError(f"A live curve needs room for at least 2 points, not {limit}.")
        self.limit = limit
        self.stride = 1
        self._count = 0
        self._kept: list[dict[str, float]] = []
        self._latest: dict[str, float] | None = None

    def add(self, event: dict[str, Any]) -> None:
        """Take the figures of a ``"batch"`` progress event of `train_model`."""
        point = {key: event[key] for key in self.KEYS}
        if self._count % self.stride == 0:
            self._kept.append(point)
            if len(self._kept) >= self.limit:
                del self._kept[1::2]
                self.stride *= 2
        self._count += 1
        self._latest = point

    def points(self) -> tuple[dict[str, float], ...]:
        """The curve, oldest first, ending with the newest event."""
        if self._latest is None or (self._kept and self._kept[-1] is self._latest):
            return tuple(self._kept)
        return (*self._kept, self._latest)


def previous_run(store: RunStore, owner: str | None) -> tuple[TrainingConfig, float, float] | None:
    """Return (config, test accuracy, training seconds) of the owner's latest network run.

    Args:
        store: A `core.runs.RunStore`.
        owner: Whose runs to look at (e.g. a session id).

    Returns:
        The figures of the newest stored network run with a test accuracy, or None.
    """
    runs = store.list_runs(owner=owner)
    runs = runs[(runs["kind"] == "network") & runs["test_accuracy"].notna()]
    if runs.empty:
        return None
    latest = runs.sort_values(["created", "id"]).iloc[-1]
    try:
        config = TrainingConfig.from_dict(store.get_run(latest["id"]).config)
    except ValueError:
        return None
    return config, float(latest["test_accuracy"]), float(latest["train_seconds"])


def stopped_epochs(result: TrainingResult) -> int | None:
    """Whole epochs a stopped training finished, or None when it trained all it was asked."""
    return len(result.history.get("loss", ())) if result.stopped else None


def save_training_result(
    store: RunStore,
    result: TrainingResult,
    dataset: Dataset,
    owner: str | None = None,
    name: str | None = None,
    stopped_early: str | None = None,
    address: str | None = None,
    names_shared: bool = False,
) -> str:
    """Store a finished or stopped training as a run of kind ``"network"``.

    Unless given a name, the run is named after what was trained
    (`core.runs.display.training_run_name`: a stopped run says "9 of 20 ep, stopped"),
    with "(2)", "(3)"… when the owner already has a run of that name. Its summary, too,
    says how many epochs were trained.

    Args:
        store: A `core.runs.RunStore`.
        result: What `train_model` returned.
        dataset: The `core.data.datasets.Dataset` it was trained on.
        owner: Who trained it (e.g. a session id).
        name: The run's display name (default: what was trained, unique among the owner's
            runs).
        stopped_early: Why a sweep's early stopping ended it, kept with its metrics as
            ``stopped_early`` (see `core.jobs.sweeps.stopped_early_reason`), or None.
        address: The network address it was trained from (for the store's caps), or None.
        names_shared: Make the name unique among every stored run, not only the owner's
            (where everyone sees every run, as without the demo profile).

    Returns:
        The new run's id.

    Raises:
        core.runs.RunStoreError: If the run cannot be stored.
    """
    done = stopped_epochs(result)
    summary = result.config.summary(dataset.num_classes, epochs_text(result.config, done))
    if not name:
        taken = store.list_runs(owner=None if names_shared else owner)["name"]
        name = unique_name(training_run_name(result.config, dataset.num_classes, done), taken)
    return store.save_run(
        kind="network",
        name=name,
        config=result.config.to_dict(),
        history=result.history,
        metrics={**result.metrics, **({"stopped_early": stopped_early} if stopped_early else {})},
        timings=result.timings,
        confusion_matrix=result.confusion_matrix,
        model=result.model,
        status=RunStatus.STOPPED if result.stopped else RunStatus.FINISHED,
        owner=owner,
        parameters=result.parameters,
        dataset=dataset.name,
        summary=summary,
        epochs=int(result.epochs_trained),
        address=address,
    )  # fmt: skip


def make_training_job(
    config: TrainingConfig,
    dataset: Dataset,
    store: RunStore,
    owner: str | None = None,
    early_stop: Callable[[dict[str, Any]], str | None] | None = None,
    address: str | None = None,
    names_shared: bool = False,
) -> JobFunction:
    """Return a job function for `core.jobs.manager.JobManager.submit`: train, save, compare.

    The job reports every progress event (epoch events recorded in the job's history, the
    running batch figures as a growing `batch_points` tuple), saves the finished or stopped
    run to `store`, and compares it with the owner's previous run.

    Args:
        config: The training configuration.
        dataset: A `core.data.datasets.Dataset`.
        store: A `core.runs.RunStore`.
        owner: Who trains (e.g. a session id); the run is saved under this owner.
        early_stop: Called with each epoch's progress event; a sentence it returns stops
            the job there and is stored with the run (`core.jobs.sweeps.SuccessiveHalving`).
        address: The visitor's network address (`core.visitors.identity.address_for_limits`), for
            the run store's caps per address; None when unknown.
        names_shared: Name the run uniquely among every stored run (see
            `save_training_result`).

    Returns:
        `fn(report, stop_event)` returning a `JobOutcome` with the `TrainingResult`, the
        run id (None if saving failed, with `save_error` saying why) and the comparison
        note (None for a first run).
    """

    def run(report: Callable[..., None], stop_event: threading.Event) -> JobOutcome:
        executor = get_executor()
        cluster = _cluster_for(executor, store) if early_stop is None else None
        if cluster is not None:
            work = partial(
                _train_detached, config, owner, address, names_shared, StoreLocation.of(store)
            )
            try:
                return _run_on_cluster(cluster, work, dataset, store, report, stop_event)
            except ClusterUnavailableError:
                pass  # The cluster went away before the job started: train here.
        return _train_and_save(
            config, dataset, store, owner, early_stop, address, names_shared,
            executor, report, stop_event,
        )  # fmt: skip

    return run


def _train_and_save(
    config: TrainingConfig,
    dataset: Dataset,
    store: RunStore,
    owner: str | None,
    early_stop: Callable[[dict[str, Any]], str | None] | None,
    address: str | None,
    names_shared: bool,
    executor: Executor,
    report: Callable[..., None],
    stop_event: threading.Event,
) -> JobOutcome:
    """The work of `make_training_job`: journal the run, train it, save it, compare it."""
    curve = LiveCurve(MAX_BATCH_POINTS)
    stopped_early: list[str] = []

    def on_progress(event: dict[str, Any]) -> None:
        if event["kind"] == "batch":
            curve.add(event)
            report(batch_points=curve.points(), **event)
        else:
            report(record=event["kind"] == "epoch", **event)
        if early_stop is not None and event["kind"] == "epoch" and not stop_event.is_set():
            reason = early_stop(event)
            if reason:
                stopped_early.append(reason)
                stop_event.set()

    summary = config.summary(dataset.num_classes)
    with _journalled(store, "network", summary, config.to_dict(), owner, dataset.name):
        result = executor.train(config, dataset, on_progress, stop_event)
        previous = previous_run(store, owner)
        run_id, save_error, name = None, None, None
        try:
            # On a cluster the stop may arrive after the last epoch: then none happened.
            reason = stopped_early[0] if stopped_early and result.stopped else None
            run_id = save_training_result(
                store,
                result,
                dataset,
                owner,
                stopped_early=reason,
                address=address,
                names_shared=names_shared,
            )
            name = store.get_run(run_id).name
        except (OSError, ValueError) as error:
            # The trained model is still returned and usable; only the record is missing.
            save_error = str(error)
    note = None
    if previous is not None:
        note = comparison_note(*previous, config, result.test_accuracy, result.train_seconds)
    return JobOutcome(result=result, run_id=run_id, save_error=save_error, note=note, name=name)


# Baselines ------------------------------------------------------------------------------------


def save_baseline_result(
    store: RunStore,
    result: BaselineResult,
    name: str | None = None,
    owner: str | None = None,
    dataset_name: str | None = "MNIST",
    address: str | None = None,
) -> str:
    """Save a baseline's result as a run of kind ``"baseline"`` in a `core.runs.RunStore`.

    Args:
        store: The `core.runs.RunStore`.
        result: What `train_baseline` returned.
        name: The run's display name (default: the baseline's label).
        owner: Who trained it (e.g. a session id), or None.
        dataset_name: The dataset's name.
        address: The network address it was trained from (for the store's caps), or None.

    Returns:
        The new run's id.

    Raises:
        core.runs.RunStoreError: If the run cannot be stored.
    """
    simple_params = {
        name_: value
        for name_, value in result.estimator_params.items()
        if value is None or isinstance(value, (bool, int, float, str))
    }
    config = {"baseline": result.key, **result.settings, "estimator": simple_params}
    metrics = {
        "test_accuracy": None if np.isnan(result.test_accuracy) else result.test_accuracy,
        "test_images": result.test_images,
        "train_images": result.train_images,
        "model_size_bytes": result.model_size_bytes,
    }
    timings = {"train_seconds": result.train_seconds, "predict_seconds": result.predict_seconds}
    return store.save_run(
        "baseline", name or result.key, config, None, metrics, timings,
        confusion_matrix=result.confusion_matrix, model=result.estimator,
        status=RunStatus.STOPPED if result.stopped else RunStatus.FINISHED, owner=owner,
        parameters=result.parameters, dataset=dataset_name, summary=result.summary(),
        address=address,
    )  # fmt: skip


def make_baseline_job(
    key: str,
    config: TrainingConfig,
    dataset: Dataset,
    store: RunStore,
    owner: str | None = None,
    address: str | None = None,
) -> JobFunction:
    """Return a job function that fits the baseline `key` on `config`'s data and stores it.

    Args:
        key: A label of `core.nn.baselines.BASELINES`.
        config: The configuration whose split, scaling, training-set size and seed to use.
        dataset: The `core.data.datasets.Dataset`.
        store: The `core.runs.RunStore`.
        owner: Who trains it.
        address: The visitor's network address, for the run store's caps; None when unknown.

    Returns:
        `fn(report, stop_event)` returning a `JobOutcome` with the `BaselineResult` and the
        run id (a run that cannot be stored fails the job).
    """

    def run(report: Callable[..., None], stop_event: threading.Event) -> JobOutcome:
        executor = get_executor()
        cluster = _cluster_for(executor, store)
        if cluster is not None:
            work = partial(_fit_detached, key, config, owner, address, StoreLocation.of(store))
            try:
                return _run_on_cluster(cluster, work, dataset, store, report, stop_event)
            except ClusterUnavailableError:
                pass  # The cluster went away before the job started: fit it here.
        return _fit_and_save(
            key, config, dataset, store, owner, address, executor, report, stop_event
        )

    return run


def _fit_and_save(
    key: str,
    config: TrainingConfig,
    dataset: Dataset,
    store: RunStore,
    owner: str | None,
    address: str | None,
    executor: Executor,
    report: Callable[..., None],
    stop_event: threading.Event,
) -> JobOutcome:
    """The work of `make_baseline_job`: journal the run, fit the baseline, save it."""

    def on_progress(**progress: Any) -> None:
        done, total = progress.get("done") or 0, progress.get("total") or 1
        report(fraction=min(1.0, done / total), **progress)

    with _journalled(store, "baseline", key, {"baseline": key}, owner, dataset.name):
        result = executor.fit_baseline(key, dataset, config, on_progress, stop_event)
        run_id = save_baseline_result(
            store, result, owner=owner, dataset_name=dataset.name, address=address
        )
    return JobOutcome(result=result, run_id=run_id)


# Jobs that outlive the app process: on a Ray cluster -------------------------------------------


@dataclass(frozen=True)
class StoreLocation:
    """Where a `core.runs.RunStore` is and what it keeps, so a Ray worker opens the same store.

    Attributes:
        folder: The store's folder (with PostgreSQL only a cache of loaded models).
        database_url: Its PostgreSQL URL, or None for the SQLite file in ``folder``.
        quota: Its pruning quotas (`core.runs.pruning.PruneQuota`).
        max_model_bytes: The largest model it keeps (None: any size).
    """

    folder: str
    database_url: str | None
    quota: PruneQuota
    max_model_bytes: int | None

    @classmethod
    def of(cls, store: RunStore) -> StoreLocation:
        """The location of an open store."""
        return cls(
            folder=str(store.folder),
            database_url=None if store.database.is_sqlite else store.database.url,
            quota=store.quota,
            # The store keeps the limit with its model files (RunStore has no public copy).
            max_model_bytes=store._model_files.max_model_bytes,
        )

    def open(self) -> RunStore:
        """Open the store here; with PostgreSQL, on a machine without its folder, with a cache
        folder of this machine's own."""
        from core.runs import RunStore
        from core.runs.errors import RunStoreError

        def open_in(folder: str) -> RunStore:
            return RunStore(
                folder, **vars(self.quota), database_url=self.database_url,
                max_model_bytes=self.max_model_bytes,
            )  # fmt: skip

        try:
            return open_in(self.folder)
        except RunStoreError:
            if self.database_url is None:
                raise
            return open_in(str(Path(tempfile.gettempdir()) / "mnist-studio-worker-runs"))


def _cluster_for(executor: Executor, store: RunStore) -> RayExecutor | None:
    """The cluster that runs the job as a whole, detached from this process, or None."""
    if isinstance(executor, RayExecutor) and executor.runs_detached(store.database):
        return executor
    return None


def _run_on_cluster(
    cluster: RayExecutor,
    work: Callable[..., JobOutcome],
    dataset: Dataset,
    store: RunStore,
    report: Callable[..., None],
    stop_event: threading.Event,
) -> JobOutcome:
    """Run ``work`` on the cluster (`RayExecutor.run_job`), relaying its progress to ``report``."""

    def relay(record: bool, values: dict[str, Any]) -> None:
        report(record=record, **values)

    return cluster.run_job(work, dataset, store.database, relay, stop_event)


def _train_detached(
    config: TrainingConfig,
    owner: str | None,
    address: str | None,
    names_shared: bool,
    location: StoreLocation,
    dataset: Dataset,
    report: Callable[..., None],
    stop_event: threading.Event,
) -> JobOutcome:
    """A training job's work on a Ray worker: as on the server, then the current model too."""
    store = location.open()
    outcome = _train_and_save(
        config, dataset, store, owner, None, address, names_shared,
        ThreadExecutor(), report, stop_event,
    )  # fmt: skip
    report(run_id=outcome.run_id, run_name=outcome.name)
    return adopt_as_current_model(store, owner, outcome)


def _fit_detached(
    key: str,
    config: TrainingConfig,
    owner: str | None,
    address: str | None,
    location: StoreLocation,
    dataset: Dataset,
    report: Callable[..., None],
    stop_event: threading.Event,
) -> JobOutcome:
    """A baseline job's work on a Ray worker, as on the server."""
    store = location.open()
    outcome = _fit_and_save(
        key, config, dataset, store, owner, address, ThreadExecutor(), report, stop_event
    )
    report(run_id=outcome.run_id, run_name=outcome.name)
    return outcome


def adopt_as_current_model(store: RunStore, owner: str | None, outcome: JobOutcome) -> JobOutcome:
    """Make a stored training the owner's current model when `after_training` says so.

    What the Train page does for a job it watches, done by the job itself when no page of
    its process may be left to do it (a job detached on a cluster).

    Returns:
        ``outcome`` with the decision, and the model it replaced (with its accuracy).
    """
    result = outcome.result
    if owner is None or outcome.run_id is None or not isinstance(result, TrainingResult):
        return outcome
    current_models = CurrentModelStore(store.database)
    try:
        replaced = current_models.get(owner)
        replaced_run = None if replaced is None else store.find_run(replaced.run_id)
        replaced_accuracy = None if replaced_run is None else replaced_run.test_accuracy
        decision = after_training(
            result.stopped, completed_epochs(result), result.test_accuracy, replaced_accuracy
        )
        if decision == ADOPT:
            label = model_label(outcome.name or outcome.run_id, result.test_accuracy)
            current_models.set(owner, outcome.run_id, label)
    except (SQLAlchemyError, RunStoreError) as error:
        logger.warning("Run %s could not be made the current model: %s", outcome.run_id, error)
        return outcome
    return replace(
        outcome, decision=decision, replaced=replaced, replaced_accuracy=replaced_accuracy
    )
