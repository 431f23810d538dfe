"""Jobs that train a model and keep it: what the Train and Compare pages submit.

Each factory returns a function ``fn(report, stop_event)`` for `core.jobs.JobManager.submit`.
The function trains, stores the run in a `core.runs.RunStore` (a stopped run too, marked
as stopped) and returns a dict with the run's id and the training result.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from core.config import TrainingConfig

JobFunction = Callable[..., dict[str, Any]]


def store_network(
    store,
    result,
    name: str | None = None,
    owner: str | None = None,
    dataset_name: str | None = "MNIST",
) -> str:
    """Save a network's `core.training.TrainingResult` as a run of kind ``"network"``.

    Args:
        store: The `core.runs.RunStore`.
        result: What `core.training.train_model` returned.
        name: The run's display name (default: the configuration's summary).
        owner: Who trained it (e.g. a session id), or None.
        dataset_name: The dataset's name.

    Returns:
        The new run's id.
    """
    return store.save_run(
        "network",
        name or result.config.summary(),
        result.config.to_dict(),
        result.history,
        {**result.metrics, "epochs_trained": result.epochs_trained},
        result.timings,
        confusion_matrix=result.confusion_matrix,
        model=result.model,
        status="stopped" if result.stopped else "finished",
        owner=owner,
        parameters=result.parameters,
        dataset=dataset_name,
        summary=result.config.summary(),
        epochs=len(result.history.get("loss", [])),
    )


def network_job(
    config: TrainingConfig,
    dataset,
    store,
    owner: str | None = None,
    name: str | None = None,
) -> JobFunction:
    """Return a job function that trains `config` on `dataset` and stores the run.

    Args:
        config: The training configuration.
        dataset: The `core.data.Dataset` to train on.
        store: The `core.runs.RunStore` that keeps the run.
        owner: Who trains it (e.g. a session id), stored with the run.
        name: The run's display name.
    """

    def run(report, stop_event) -> dict[str, Any]:
        from core.training import train_model

        def on_progress(progress: dict[str, Any]) -> None:
            report(record=progress.get("kind") == "epoch", **progress)

        result = train_model(config, dataset, on_progress=on_progress, stop_event=stop_event)
        run_id = store_network(store, result, name=name, owner=owner, dataset_name=dataset.name)
        return {"run_id": run_id, "result": result}

    return run


def baseline_job(
    key: str,
    config: TrainingConfig,
    dataset,
    store,
    owner: str | None = None,
) -> JobFunction:
    """Return a job function that fits the baseline `key` on `config`'s data and stores it.

    Args:
        key: A label of `core.baselines.BASELINES`.
        config: The configuration whose split, scaling, training-set size and seed to use.
        dataset: The `core.data.Dataset`.
        store: The `core.runs.RunStore`.
        owner: Who trains it.
    """

    def run(report, stop_event) -> dict[str, Any]:
        from core.baselines import store_baseline, train_baseline

        def on_progress(**progress: Any) -> None:
            done, total = progress.get("done") or 0, progress.get("total") or 1
            report(fraction=min(1.0, done / total), **progress)

        result = train_baseline(
            key, dataset, config, report=on_progress, stop_event=stop_event
        )
        run_id = store_baseline(store, result, owner=owner, dataset_name=dataset.name)
        return {"run_id": run_id, "result": result}

    return run
