"""Classical scikit-learn baselines, trained on the same split and pixels as the networks.

The article's last exercise: train a Random Forest instead of a neural network and compare.
`BASELINES` is the registry of classifiers (adding one is one entry); `train_baseline` fits
one on exactly the training images a network with the same split, training size and seed
would see, measures it on the same test images, and reports progress where the estimator
gives it, so it can run as a background job with a working Stop:

- Random Forest grows its trees in chunks (``warm_start``), so Stop ends it between chunks;
- logistic regression runs its solver in chunks of iterations (``warm_start``);
- k-nearest neighbours and naive Bayes fit at once (fitting only stores statistics); the
  k-NN cost is in predicting, which runs in chunks that Stop can end.

A Stop during fitting keeps what was fitted so far (e.g. 30 of 100 trees) and still measures
it on the whole test set (quick for these models). A Stop during prediction ends it; the
accuracy is then measured on the test images predicted so far (`BaselineResult.test_images`).
"""

from __future__ import annotations

import pickle
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from core.data import Dataset, make_splits, scale_images
from core.nn.config import TrainingConfig

Report = Callable[..., None]
PREDICT_CHUNK = 1000


@dataclass(frozen=True)
class BaselineSpec:
    """One classical classifier of the registry.

    Attributes:
        description: One sentence for the page: what it does, in plain words.
        make_estimator: ``seed -> unfitted estimator``.
        fit: ``(estimator, X_train, y_train, progress, stop_event) -> None``; fits, possibly
            in chunks, calling ``progress(done, total, unit)`` after each chunk and returning
            early when ``stop_event`` is set.
        count_parameters: ``fitted estimator -> int``, the numbers the model stores.
    """

    description: str
    make_estimator: Callable[[int], Any]
    fit: Callable[..., None]
    count_parameters: Callable[[Any], int]


@dataclass(frozen=True)
class BaselineResult:
    """A fitted baseline and how it did on the test images.

    Attributes:
        key: Its `BASELINES` label, e.g. ``"Random Forest"``.
        estimator: The fitted scikit-learn estimator (expects flattened, scaled pixels).
        test_accuracy: Accuracy (0 to 1) on the test images predicted (NaN if none).
        train_seconds: Time spent fitting.
        predict_seconds: Time spent predicting the test images.
        model_size_bytes: Size of the pickled estimator.
        confusion_matrix: ``(classes, classes)`` counts, true labels in rows.
        stopped: True when Stop ended fitting or prediction early.
        train_images: How many images it was fitted on.
        test_images: How many test images it was measured on (all unless stopped).
        parameters: How many numbers the fitted model stores (see `BaselineSpec`).
        settings: The data settings used: split, scaling, train_size, validation_fraction,
            seed.
        estimator_params: The estimator's hyperparameters (``get_params()``).
    """

    key: str
    estimator: Any
    test_accuracy: float
    train_seconds: float
    predict_seconds: float
    model_size_bytes: int
    confusion_matrix: np.ndarray
    stopped: bool
    train_images: int
    test_images: int
    parameters: int
    settings: dict[str, Any] = field(default_factory=dict)
    estimator_params: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> str:
        """A one-line description, e.g. "Random Forest, 60,000 images, unit pixels"."""
        return f"{self.key}, {self.train_images:,} images, {self.settings['scaling']} pixels"


# Fitting strategies ---------------------------------------------------------------------------


def _fit_at_once(estimator, features, labels, progress, stop_event) -> None:
    estimator.fit(features, labels)
    progress(1, 1, "fit")


def _grow_trees_in_chunks(trees_per_chunk: int) -> Callable[..., None]:
    """Fit a forest ``trees_per_chunk`` trees at a time (``warm_start``), up to its size."""

    def fit(estimator, features, labels, progress, stop_event) -> None:
        total = estimator.n_estimators
        estimator.set_params(warm_start=True)
        grown = 0
        while grown < total:
            grown = min(total, grown + trees_per_chunk)
            estimator.set_params(n_estimators=grown)
            estimator.fit(features, labels)
            progress(grown, total, "trees")
            if stop_event.is_set():
                break

    return fit


def _iterate_solver_in_chunks(iterations_per_chunk: int) -> Callable[..., None]:
    """Run an iterative solver in chunks of iterations (``warm_start``), up to ``max_iter``."""

    def fit(estimator, features, labels, progress, stop_event) -> None:
        # scikit-learn takes seconds to import: only a baseline that runs pays for it.
        from sklearn.exceptions import ConvergenceWarning
        from threadpoolctl import threadpool_limits

        total = estimator.max_iter
        estimator.set_params(warm_start=True, max_iter=iterations_per_chunk)
        done = 0
        while done < total:
            # The solver's matrix products are small: one BLAS thread is as fast on an idle
            # machine and 20x faster than contending threads on a busy one (measured).
            with warnings.catch_warnings(), threadpool_limits(limits=1, user_api="blas"):
                # Each chunk stops at its iteration limit on purpose.
                warnings.simplefilter("ignore", ConvergenceWarning)
                estimator.fit(features, labels)
            iterations = int(np.max(estimator.n_iter_))
            done = min(total, done + iterations)
            converged = iterations < iterations_per_chunk
            progress(total if converged else done, total, "iterations")
            if converged or stop_event.is_set():
                break
        estimator.set_params(max_iter=total)

    return fit


# Estimators -----------------------------------------------------------------------------------


def _random_forest(seed: int):
    # scikit-learn takes seconds to import: only a baseline that runs pays for it.
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(n_estimators=100, n_jobs=-1, random_state=seed)


def _logistic_regression(seed: int):
    # scikit-learn takes seconds to import: only a baseline that runs pays for it.
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=100, random_state=seed)


def _nearest_neighbours(seed: int):
    # scikit-learn takes seconds to import: only a baseline that runs pays for it.
    from sklearn.neighbors import KNeighborsClassifier

    return KNeighborsClassifier(n_neighbors=3, n_jobs=-1)


def _naive_bayes(seed: int):
    # scikit-learn takes seconds to import: only a baseline that runs pays for it.
    from sklearn.naive_bayes import GaussianNB

    return GaussianNB()


def _forest_nodes(forest) -> int:
    return int(sum(tree.tree_.node_count for tree in forest.estimators_))


def _linear_weights(model) -> int:
    return int(model.coef_.size + model.intercept_.size)


def _stored_training_values(model) -> int:
    return int(model._fit_X.size)


def _class_statistics(model) -> int:
    return int(model.theta_.size + model.var_.size + model.class_prior_.size)


BASELINES: dict[str, BaselineSpec] = {
    "Random Forest": BaselineSpec(
        description="100 decision trees, each grown on a random resample of the images; "
        "they vote on the digit.",
        make_estimator=_random_forest,
        fit=_grow_trees_in_chunks(trees_per_chunk=10),
        count_parameters=_forest_nodes,
    ),
    "Logistic regression": BaselineSpec(
        description="One weight per pixel and digit (a network without hidden layers), "
        "fitted by the L-BFGS solver.",
        make_estimator=_logistic_regression,
        fit=_iterate_solver_in_chunks(iterations_per_chunk=10),
        count_parameters=_linear_weights,
    ),
    "k-nearest neighbours": BaselineSpec(
        description="Keeps every training image and labels a new one like the majority "
        "of its 3 closest training images: no training, slow predictions.",
        make_estimator=_nearest_neighbours,
        fit=_fit_at_once,
        count_parameters=_stored_training_values,
    ),
    "Gaussian naive Bayes": BaselineSpec(
        description="Models each pixel of each digit as an independent bell curve; "
        "very fast, but pixels are far from independent.",
        make_estimator=_naive_bayes,
        fit=_fit_at_once,
        count_parameters=_class_statistics,
    ),
}


# Training -------------------------------------------------------------------------------------


class _ByteCounter:
    """A write-only file that only counts bytes (to size a pickle without holding it)."""

    def __init__(self) -> None:
        self.size = 0

    def write(self, data) -> int:
        written = memoryview(data).nbytes
        self.size += written
        return written


def pickled_size(estimator: Any) -> int:
    """Return the size in bytes of ``estimator`` pickled, uncompressed (the run store's file
    is the same pickle compressed, several times smaller)."""
    counter = _ByteCounter()
    pickle.dump(estimator, counter, protocol=pickle.HIGHEST_PROTOCOL)
    return counter.size


def _data_settings(
    config: TrainingConfig | None,
    split: str,
    scaling: str,
    train_size: int | None,
    seed: int,
    validation_fraction: float,
) -> dict[str, Any]:
    if config is not None:
        return {
            name: getattr(config, name)
            for name in ("split", "scaling", "train_size", "validation_fraction", "seed")
        }
    return {
        "split": split,
        "scaling": scaling,
        "train_size": train_size,
        "validation_fraction": validation_fraction,
        "seed": seed,
    }


def train_baseline(
    key: str,
    dataset: Dataset,
    config: TrainingConfig | None = None,
    *,
    split: str = "official",
    scaling: str = "unit",
    train_size: int | None = None,
    seed: int = 0,
    validation_fraction: float = 0.0,
    report: Report | None = None,
    stop_event: threading.Event | None = None,
) -> BaselineResult:
    """Fit a classical baseline and measure it on the test images.

    Args:
        key: A label of `BASELINES`, e.g. ``"Random Forest"``.
        dataset: The dataset (`core.data.datasets.Dataset`).
        config: A `core.nn.config.TrainingConfig` whose split, scaling, train_size,
            validation_fraction and seed are used, so the baseline is fitted on exactly the
            training images that network saw (its validation images are left out). When None,
            the keyword arguments below are used instead.
        split: A `core.data.splits.SPLITS` key ("official" or "article").
        scaling: "unit" (pixels / 255) or "raw" (0-255), as `core.data.scaling.scale_images`.
        train_size: Fit on a stratified subset of this many training images (None: all).
        seed: Seed of the split, the subset and the estimator.
        validation_fraction: Share of the training part left out, as for a network.
        report: Called as ``report(stage=..., done=..., total=..., unit=...)`` after each
            chunk, e.g. the `core.jobs.manager` job's ``report``. Optional.
        stop_event: When set, fitting ends after the current chunk, or prediction after the
            current chunk of test images. Optional.

    Returns:
        A `BaselineResult`.

    Raises:
        ValueError: An unknown baseline, or invalid data settings.
    """
    if key not in BASELINES:
        raise ValueError(f"Unknown baseline {key!r}; choose one of: {', '.join(BASELINES)}.")
    spec = BASELINES[key]
    settings = _data_settings(config, split, scaling, train_size, seed, validation_fraction)
    stop_event = stop_event or threading.Event()
    report = report or (lambda **values: None)

    splits = make_splits(
        dataset,
        split=settings["split"],
        validation_fraction=settings["validation_fraction"],
        train_size=settings["train_size"],
        seed=settings["seed"],
    )
    X_train = scale_images(splits.x_train, settings["scaling"], flatten=True)
    y_train = splits.y_train
    X_test = scale_images(splits.x_test, settings["scaling"], flatten=True)
    y_test = splits.y_test

    estimator = spec.make_estimator(settings["seed"])
    report(stage="fitting", done=0, total=1, unit="fit")

    def fit_progress(done: int, total: int, unit: str) -> None:
        report(stage="fitting", done=done, total=total, unit=unit)

    started = time.perf_counter()
    spec.fit(estimator, X_train, y_train, fit_progress, stop_event)
    train_seconds = time.perf_counter() - started
    stopped = stop_event.is_set()

    predictions, predict_seconds = _predict_in_chunks(
        estimator, X_test, report, stop_event, stop_already_seen=stopped
    )
    stopped = stopped or stop_event.is_set()
    evaluated = len(predictions)

    # core.nn.evaluation imports scikit-learn's metrics (seconds): only a finished run pays.
    from core.nn.evaluation import confusion_counts

    matrix = confusion_counts(y_test[:evaluated], predictions, dataset.num_classes)
    accuracy = float(np.mean(predictions == y_test[:evaluated])) if evaluated else float("nan")
    return BaselineResult(
        key=key,
        estimator=estimator,
        test_accuracy=accuracy,
        train_seconds=train_seconds,
        predict_seconds=predict_seconds,
        model_size_bytes=pickled_size(estimator),
        confusion_matrix=matrix,
        stopped=stopped,
        train_images=len(y_train),
        test_images=evaluated,
        parameters=spec.count_parameters(estimator),
        settings=settings,
        estimator_params=estimator.get_params(),
    )


def _predict_in_chunks(
    estimator, X_test, report: Report, stop_event: threading.Event, stop_already_seen: bool
) -> tuple[np.ndarray, float]:
    """Predict in chunks, ending early on a Stop that arrives during prediction."""
    parts: list[np.ndarray] = []
    seconds = 0.0
    total = len(X_test)
    for start in range(0, total, PREDICT_CHUNK):
        if stop_event.is_set() and not stop_already_seen:
            break
        started = time.perf_counter()
        parts.append(estimator.predict(X_test[start : start + PREDICT_CHUNK]))
        seconds += time.perf_counter() - started
        report(
            stage="predicting",
            done=min(total, start + PREDICT_CHUNK),
            total=total,
            unit="test images",
        )
    predictions = np.concatenate(parts) if parts else np.empty(0, dtype=np.uint8)
    return predictions.astype(np.uint8), seconds
