"""Train a network on a dataset with live progress and a stop switch.

`train_model` is the one training path of the app, used by the training jobs
(`core.jobs.tasks`), the tests and the benchmarks:

1. split the dataset (`core.data.splits.make_splits`),
2. build the compiled model (`core.nn.model.build_model`),
3. fit it with `core.nn.progress.TrainingProgress`, the Keras callback that reports
   progress, validates each epoch and honours a stop event,
4. score it on the held-out test images with `core.nn.evaluation.evaluate` (loss, accuracy,
   confusion matrix), as the Evaluate page does.

Speed without changing the maths: several batches run per call into TensorFlow
(`steps_per_execution`, chosen from this machine's measured speed so one call takes about a
tenth of a second, which also bounds how long Stop takes), the images stay `uint8` until the
model's first layer, and the convolutional front computes in bfloat16 on CPUs that have it
(`core.nn.precision`). Each run measures its images per second once its first chunks have run
and records it (`core.nn.throughput`), so time estimates come from this machine. The gradient
steps, their order and the seeded shuffling are the same as a plain `model.fit`, also when
several trainings run at once in different threads (`core.nn.model.SEEDING`).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from core.data.splits import make_splits
from core.nn import throughput
from core.nn.architecture import count_parameters, training_flops_per_sample
from core.nn.config import TrainingConfig
from core.nn.model import SEEDING, build_model
from core.nn.precision import effective_precision, training_precision

if TYPE_CHECKING:
    from core.data.datasets import Dataset

ProgressFunction = Callable[[dict[str, Any]], None]

# At most this many batch-level progress events a second (epoch events always go out).
PROGRESS_EVENTS_PER_SECOND = 4.0
# One call into TensorFlow should take about this long, so Stop acts well under a second.
TARGET_SECONDS_PER_EXECUTION = 0.1
MAX_STEPS_PER_EXECUTION = 64

PROGRESS_KEYS = (
    "phase",
    "epoch",
    "epochs",
    "batch",
    "batches",
    "fraction",
    "loss",
    "accuracy",
    "val_loss",
    "val_accuracy",
    "samples_per_second",
    "elapsed",
    "eta",
)


@dataclass(frozen=True)
class TrainingResult:
    """What one training run produced.

    Attributes:
        model: The trained (or, when stopped, partly trained) compiled Keras model.
        config: The configuration it was trained with.
        history: Per-epoch lists: loss, accuracy, val_loss, val_accuracy (the validation
            lists are empty without a validation set) and, when the test set was scored
            each epoch, test_loss and test_accuracy. A stopped run's unfinished epoch is
            not in it.
        stopped: True when Stop ended the training early.
        train_seconds: Wall-clock seconds of training (the fit with its validation and
            per-epoch test scoring, without the final evaluation).
        test_loss: Cross-entropy on the test images.
        test_accuracy: Share of test images classified correctly (0 to 1).
        confusion_matrix: Counts, true class in rows, predicted class in columns.
        epochs_trained: Epochs done, with a fraction for a stopped epoch (e.g. 2.4).
        samples_per_second: Training images processed per second.
        predict_seconds: Seconds spent predicting and scoring the test images.
        parameters: Number of parameters of the model.
        num_train, num_val, num_test: Sizes of the three splits.
        precision: What the run computed in: "bfloat16" (its convolutional front) or
            "float32".
        epochs_completed: Whole epochs done.
        batches_into_epoch: Batches done of the epoch after those (0 unless stopped).
        batches_per_epoch: Batches in one epoch.
    """

    model: Any
    config: TrainingConfig
    history: dict[str, list[float | None]]
    stopped: bool
    train_seconds: float
    test_loss: float
    test_accuracy: float
    confusion_matrix: np.ndarray
    epochs_trained: float
    samples_per_second: float
    predict_seconds: float
    parameters: int
    num_train: int
    num_val: int
    num_test: int
    precision: str = "float32"
    epochs_completed: int = 0
    batches_into_epoch: int = 0
    batches_per_epoch: int = 0

    @property
    def stopped_after(self) -> str:
        """Where training ended, exactly, e.g. "5 epochs and 120 of 352 batches of epoch 6"."""
        text = f"{self.epochs_completed} epoch{'s' if self.epochs_completed != 1 else ''}"
        if self.batches_into_epoch:
            text += (
                f" and {self.batches_into_epoch:,} of {self.batches_per_epoch:,} batches "
                f"of epoch {self.epochs_completed + 1}"
            )
        return text

    @property
    def metrics(self) -> dict[str, float]:
        """Test metrics, as the run store takes them."""
        return {"test_accuracy": self.test_accuracy, "test_loss": self.test_loss}

    @property
    def timings(self) -> dict[str, float | str]:
        """Timings (and the precision they were measured in), as the run store takes them."""
        return {
            "train_seconds": self.train_seconds,
            "predict_seconds": self.predict_seconds,
            "samples_per_second": self.samples_per_second,
            "precision": self.precision,
        }


def choose_steps_per_execution(
    config: TrainingConfig,
    num_train: int,
    num_classes: int = 10,
    images_per_second: float | None = None,
) -> int:
    """Pick how many batches run per call into TensorFlow.

    More batches per call cut Python overhead (large for a small model on a CPU); fewer keep
    Stop and the progress bar responsive. Aim for about `TARGET_SECONDS_PER_EXECUTION`.

    Args:
        config: The training configuration.
        num_train: Number of training images.
        num_classes: Number of output classes.
        images_per_second: This machine's measured training speed for the network (see
            `core.nn.throughput`); None assumes `core.nn.throughput.ASSUMED_FLOPS_PER_SECOND`.

    Returns:
        A step count between 1 and `MAX_STEPS_PER_EXECUTION`, at most the batches per epoch.
    """
    if images_per_second:
        step_seconds = config.batch_size / images_per_second
    else:
        step_seconds = training_flops_per_sample(config, num_classes) * config.batch_size
        step_seconds = (
            step_seconds / throughput.ASSUMED_FLOPS_PER_SECOND + throughput.STEP_OVERHEAD_SECONDS
        )
    steps = int(TARGET_SECONDS_PER_EXECUTION / max(step_seconds, 1e-9))
    batches = math.ceil(num_train / config.batch_size)
    return max(1, min(steps, MAX_STEPS_PER_EXECUTION, batches))


class _HeldLock:
    """A lock acquired now and released by the first `release()` (later calls do nothing),
    so it can be let go early from a callback and still safely in a `finally`."""

    def __init__(self, lock) -> None:
        self._lock = lock
        lock.acquire()
        self._held = True

    def release(self) -> None:
        if self._held:
            self._held = False
            self._lock.release()


def train_model(
    config: TrainingConfig,
    dataset: Dataset,
    on_progress: ProgressFunction | None = None,
    stop_event: threading.Event | None = None,
    score_test_each_epoch: bool | None = None,
) -> TrainingResult:
    """Train the network of `config` on `dataset` and evaluate it on the test images.

    Args:
        config: The training configuration.
        dataset: A `core.data.datasets.Dataset`.
        on_progress: Called (in the training thread) with a progress dict: keys `kind`
            ("start", "batch", "epoch", "evaluating", "done"), `phase`, `epoch`, `epochs`,
            `batch`, `batches`, `fraction` (0-1 overall), `loss`, `accuracy` (running
            averages over the epoch so far), `val_loss`, `val_accuracy` (epoch events),
            `samples_per_second`, `elapsed`, `eta` (seconds), `epochs_trained`. Batch
            events come at most `PROGRESS_EVENTS_PER_SECOND` times a second.
        stop_event: When set, training ends after the current chunk of batches (a chunk
            is sized to take about `TARGET_SECONDS_PER_EXECUTION`); the partly trained
            model is evaluated and returned with `stopped=True`, and the result says
            exactly how far it got (`epochs_completed`, `batches_into_epoch`).
        score_test_each_epoch: Score the test images at the end of every epoch too (history
            ``test_loss``, ``test_accuracy``; epoch events carry them). None (the default)
            does so when there is no validation set, as in the article's preset, so the
            curves still show how far the held-out accuracy lags behind the training one.

    Returns:
        The `TrainingResult`.

    Raises:
        ValueError: When the dataset cannot be split as the configuration asks (e.g. a
            training-set size larger than the images available).
    """
    # scikit-learn (evaluation's metrics) and Keras (the progress callback) take seconds to
    # import: only a training pays for them.
    from core.nn.evaluation import evaluate
    from core.nn.progress import TrainingProgress

    splits = make_splits(
        dataset,
        split=config.split,
        validation_fraction=config.validation_fraction,
        train_size=config.train_size,
        seed=config.seed,
    )
    num_classes = dataset.num_classes
    num_train = len(splits.x_train)
    if num_train == 0:
        raise ValueError("No training images are left; lower the validation fraction.")
    batch_size = min(config.batch_size, num_train)
    batches = math.ceil(num_train / batch_size)
    precision = effective_precision(config, training_precision())
    measured_rate, _, measured = throughput.images_per_second(config, precision)
    steps_per_execution = choose_steps_per_execution(
        config, num_train, num_classes, measured_rate if measured else None
    )
    validation = (splits.x_val, splits.y_val) if len(splits.x_val) else None
    if score_test_each_epoch is None:
        score_test_each_epoch = validation is None
    test = (splits.x_test, splits.y_test) if score_test_each_epoch and len(splits.x_test) else None
    # The seed is process-wide: keep other threads from reseeding until `fit` has traced its
    # shuffling (it reads the seed then), so the same seed gives the same run even when
    # several train at once. `fit` calls `on_train_begin` right after making its dataset.
    seeding = _HeldLock(SEEDING)
    try:
        model = build_model(
            config,
            num_classes,
            steps_per_execution=steps_per_execution,
            precision=precision,
            steps_per_epoch=batches,
        )
        callback = TrainingProgress(
            epochs=config.epochs,
            batches=batches,
            batch_size=batch_size,
            num_train=num_train,
            validation=validation,
            test=test,
            on_progress=on_progress,
            stop_event=stop_event,
            on_train_begin=seeding.release,
            on_measured=lambda rate: throughput.record(config, precision, rate, num_classes),
            events_per_second=PROGRESS_EVENTS_PER_SECOND,
        )
        started = time.perf_counter()
        if stop_event is None or not stop_event.is_set():
            model.fit(
                splits.x_train,
                splits.y_train,
                batch_size=batch_size,
                epochs=config.epochs,
                shuffle=True,
                callbacks=[callback],
                verbose=0,
            )
        else:
            callback.stopped = True
    finally:
        seeding.release()
    seconds = time.perf_counter() - started
    stopped = callback.stopped
    steady_rate = callback.steady_images_per_second()
    if steady_rate is not None and callback.measured_images_per_second is not None:
        # The whole run after its first chunk is a better figure than its first seconds.
        throughput.record(config, precision, steady_rate, num_classes)

    if on_progress is not None:
        on_progress(
            {
                **callback.latest,
                "kind": "evaluating",
                "phase": "evaluating",
                "measured_images_per_second": callback.measured_images_per_second,
            }
        )
    evaluate_started = time.perf_counter()
    evaluation = evaluate(model, splits.x_test, splits.y_test, dataset.class_names)
    predict_seconds = time.perf_counter() - evaluate_started
    fit_seconds = max(seconds - callback.validation_seconds, 1e-9)
    epochs_trained = callback.epochs_trained() if stopped else float(callback.epoch)
    result = TrainingResult(
        model=model,
        config=config,
        history=callback.history,
        stopped=stopped,
        train_seconds=seconds,
        test_loss=evaluation.loss,
        test_accuracy=evaluation.accuracy,
        confusion_matrix=np.array(evaluation.confusion_matrix),
        epochs_trained=epochs_trained,
        samples_per_second=epochs_trained * num_train / fit_seconds,
        predict_seconds=predict_seconds,
        parameters=count_parameters(config, num_classes),
        num_train=num_train,
        num_val=len(splits.x_val),
        num_test=len(splits.x_test),
        precision=precision,
        epochs_completed=callback.epoch,
        batches_into_epoch=callback.batch if stopped else 0,
        batches_per_epoch=batches,
    )
    if on_progress is not None:
        on_progress(
            {
                **callback.latest,
                "kind": "done",
                "phase": "done",
                "fraction": 1.0 if not stopped else callback.latest.get("fraction", 0.0),
                "eta": 0.0,
                "test_loss": result.test_loss,
                "test_accuracy": result.test_accuracy,
                "stopped": stopped,
            }
        )
    return result
