"""Train a network on a dataset with live progress and a stop switch.

`train_model` is the one training path of the app, used by the Train page's background
job, the tests and the benchmark:

1. split the dataset (`core.data.make_splits`),
2. build the compiled model (`core.model.build_model`),
3. fit it with a Keras callback that reports progress and honours a stop event,
4. evaluate it on the held-out test images (loss, accuracy, confusion matrix).

Speed without changing the maths: several batches run per call into TensorFlow
(`steps_per_execution`, chosen from this machine's measured speed so one call takes about a
tenth of a second, which also bounds how long Stop takes), the images stay `uint8` until the
model's first layer, and the convolutional front computes in bfloat16 on CPUs that have it
(`core.precision`). Each run measures its images per second once its first chunks have run
and records it (`core.throughput`), so time estimates come from this machine. The gradient
steps, their order and the seeded shuffling are the same as a plain `model.fit`, also when
several trainings run at once in different threads (`core.model.SEEDING`).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from core import throughput
from core.config import TrainingConfig
from core.model import SEEDING, count_parameters
from core.precision import effective_precision, training_precision

if TYPE_CHECKING:
    from core.data import Dataset
    from core.runs import RunStore

ProgressFunction = Callable[[dict[str, Any]], None]

# At most this many batch-level progress events a second (epoch events always go out).
PROGRESS_EVENTS_PER_SECOND = 4.0
# One call into TensorFlow should take about this long, so Stop acts well under a second.
TARGET_SECONDS_PER_EXECUTION = 0.1
MAX_STEPS_PER_EXECUTION = 64
# Training throughput assumed before this machine has measured any (see core.throughput).
ASSUMED_FLOPS_PER_SECOND = throughput.ASSUMED_FLOPS_PER_SECOND
# Images per second are measured over the chunks after the first (which includes tracing)
# once this many seconds have passed.
MEASURE_AFTER_SECONDS = 0.5
# Fixed cost of one gradient step on top of its arithmetic (dispatch, optimizer update).
ASSUMED_STEP_OVERHEAD_SECONDS = 0.001
PREDICT_BATCH_SIZE = 1024
# Probabilities are clipped like Keras does before the log in cross-entropy.
EPSILON = 1e-7

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


@dataclass
class TrainingResult:
    """What one training run produced.

    Attributes:
        model: The trained (or, when stopped, partly trained) compiled Keras model.
        config: The configuration it was trained with.
        history: Per-epoch lists: loss, accuracy, val_loss, val_accuracy (the validation
            lists are empty without a validation set). A stopped run's unfinished epoch is
            not in it.
        stopped: True when Stop ended the training early.
        seconds: Wall-clock seconds of training (the fit, without the final evaluation).
        test_loss: Cross-entropy on the test images.
        test_accuracy: Share of test images classified correctly (0 to 1).
        confusion_matrix: Counts, true class in rows, predicted class in columns.
        epochs_trained: Epochs done, with a fraction for a stopped epoch (e.g. 2.4).
        samples_per_second: Training images processed per second.
        evaluate_seconds: Seconds spent predicting the test images.
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
    history: dict[str, list[float]]
    stopped: bool
    seconds: float
    test_loss: float
    test_accuracy: float
    confusion_matrix: np.ndarray
    epochs_trained: float
    samples_per_second: float
    evaluate_seconds: float
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
            "train_seconds": self.seconds,
            "predict_seconds": self.evaluate_seconds,
            "samples_per_second": self.samples_per_second,
            "precision": self.precision,
        }


def training_flops_per_sample(config: TrainingConfig, num_classes: int = 10) -> float:
    """Estimate floating-point operations to train on one image (forward + backward).

    A forward pass costs 2 operations per weight use (multiply and add); the backward pass
    about twice the forward pass. Dense weights are used once per image; a convolution's
    weights once per output position.

    Args:
        config: The training configuration.
        num_classes: Number of output classes.

    Returns:
        The estimated operations per training image.
    """
    forward = 0.0
    if config.architecture == "cnn":
        channels, side = 1, 28
        for filters in config.conv_filters:
            forward += 2.0 * side * side * 9 * channels * filters
            channels, side = filters, side // 2
        inputs = side * side * channels
    else:
        inputs = 784
    for units in (*config.hidden_layers, num_classes):
        forward += 2.0 * inputs * units
        inputs = units
    return 3.0 * forward


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
            `core.throughput`); None assumes `ASSUMED_FLOPS_PER_SECOND`.

    Returns:
        A step count between 1 and `MAX_STEPS_PER_EXECUTION`, at most the batches per epoch.
    """
    if images_per_second:
        step_seconds = config.batch_size / images_per_second
    else:
        step_seconds = training_flops_per_sample(config, num_classes) * config.batch_size
        step_seconds = step_seconds / ASSUMED_FLOPS_PER_SECOND + ASSUMED_STEP_OVERHEAD_SECONDS
    steps = int(TARGET_SECONDS_PER_EXECUTION / max(step_seconds, 1e-9))
    batches = math.ceil(num_train / config.batch_size)
    return max(1, min(steps, MAX_STEPS_PER_EXECUTION, batches))


def cross_entropy(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """Mean cross-entropy of predicted probabilities against integer labels.

    The same number as Keras's categorical cross-entropy with one-hot labels (what the
    article uses) and its sparse variant with integer labels.

    Args:
        probabilities: (N, classes) predicted probabilities.
        labels: (N,) integer labels.

    Returns:
        The mean of -log(probability of the true class), probabilities clipped to
        [1e-7, 1 - 1e-7] as Keras does.
    """
    chosen = probabilities[np.arange(len(labels)), labels.astype(np.int64)]
    return float(-np.mean(np.log(np.clip(chosen, EPSILON, 1.0 - EPSILON))))


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


def _progress_callback(
    *,
    epochs: int,
    batches: int,
    batch_size: int,
    num_train: int,
    validation: tuple[np.ndarray, np.ndarray] | None,
    on_progress: ProgressFunction | None,
    stop_event: threading.Event | None,
    on_train_begin: Callable[[], None] | None = None,
    on_measured: Callable[[float], None] | None = None,
):
    """Return a Keras callback that reports progress, validates and watches Stop.

    `on_train_begin` is called once `fit` has set up its data, before the first batch;
    `on_measured(images_per_second)` once the speed after the first chunk is known.
    Stop is checked after every chunk of batches (after its progress event, so a stop
    asked for while handling that event lands exactly there) and at each epoch's end.
    """
    import keras

    class ProgressCallback(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.history: dict[str, list[float | None]] = {
                "loss": [],
                "accuracy": [],
                "val_loss": [],
                "val_accuracy": [],
            }
            self.stopped = False
            self.epoch = 0
            self.batch = 0
            self.start = time.perf_counter()
            self.last_event = 0.0
            self.events = 0
            self.latest: dict[str, Any] = {}
            self.validation_seconds = 0.0
            # (time, samples, validation seconds) at the end of the first chunk, which
            # includes TensorFlow's tracing; speed is measured from there on.
            self.mark: tuple[float, int, float] | None = None
            self.measured_images_per_second: float | None = None

        # Helpers ---------------------------------------------------------------------

        def _check_stop(self) -> None:
            if stop_event is not None and stop_event.is_set() and not self.stopped:
                self.stopped = True
                self.model.stop_training = True

        def steps_done(self) -> int:
            return self.epoch * batches + self.batch

        def epochs_trained(self) -> float:
            return self.epoch + self.batch / batches

        def samples_done(self) -> int:
            return self.epoch * num_train + min(self.batch * batch_size, num_train)

        def steady_images_per_second(self) -> float | None:
            """Images per second since the first chunk (tracing and validation left out)."""
            if self.mark is None:
                return None
            marked_at, marked_samples, marked_validation = self.mark
            seconds = time.perf_counter() - marked_at
            seconds -= self.validation_seconds - marked_validation
            samples = self.samples_done() - marked_samples
            return samples / seconds if samples > 0 and seconds > 0 else None

        def _measure(self) -> None:
            if self.mark is None:
                self.mark = (time.perf_counter(), self.samples_done(), self.validation_seconds)
                return
            if self.measured_images_per_second is not None:
                return
            if time.perf_counter() - self.mark[0] < MEASURE_AFTER_SECONDS:
                return
            rate = self.steady_images_per_second()
            if rate is not None:
                self.measured_images_per_second = rate
                if on_measured is not None:
                    on_measured(rate)

        def _emit(self, kind: str, **values: Any) -> None:
            elapsed = time.perf_counter() - self.start
            steps = self.steps_done()
            # Samples seen so far: whole epochs plus this epoch's batches (last may be short).
            samples = self.samples_done()
            fraction = min(1.0, steps / (epochs * batches))
            train_seconds = max(elapsed - self.validation_seconds, 1e-9)
            per_step = train_seconds / steps if steps else None
            eta = None
            if per_step is not None:
                remaining = (epochs * batches - steps) * per_step
                if self.epoch and self.validation_seconds:
                    remaining += (epochs - self.epoch) * self.validation_seconds / self.epoch
                eta = max(0.0, remaining)
            event = {
                "kind": kind,
                "phase": "training",
                "epoch": min(self.epoch + 1, epochs) if kind != "epoch" else self.epoch,
                "epochs": epochs,
                "batch": self.batch,
                "batches": batches,
                "fraction": fraction,
                "epochs_trained": self.epochs_trained(),
                "samples_per_second": samples / train_seconds if steps else None,
                "measured_images_per_second": self.measured_images_per_second,
                "elapsed": elapsed,
                "eta": eta,
            }
            event.update(values)
            self.latest = event
            self.events += 1
            self.last_event = time.perf_counter()
            if on_progress is not None:
                on_progress(event)

        # Keras hooks -----------------------------------------------------------------

        def on_train_begin(self, logs=None) -> None:
            if on_train_begin is not None:
                on_train_begin()
            self.start = time.perf_counter()
            self._emit("start", loss=None, accuracy=None, val_loss=None, val_accuracy=None)
            self._check_stop()

        def on_epoch_begin(self, epoch, logs=None) -> None:
            self.epoch = epoch
            self.batch = 0
            self._check_stop()

        def on_train_batch_begin(self, batch, logs=None) -> None:
            self._check_stop()

        def on_train_batch_end(self, batch, logs=None) -> None:
            # With steps_per_execution, `batch` is the last batch of the chunk (0-based).
            self.batch = min(batch + 1, batches)
            self._measure()
            now = time.perf_counter()
            if now - self.last_event >= 1.0 / PROGRESS_EVENTS_PER_SECOND:
                logs = logs or {}
                self._emit(
                    "batch",
                    loss=_float(logs.get("loss")),
                    accuracy=_float(logs.get("accuracy")),
                    # The latest epoch's validation figures, until the next epoch ends.
                    val_loss=self.latest.get("val_loss"),
                    val_accuracy=self.latest.get("val_accuracy"),
                )
            self._check_stop()

        def on_epoch_end(self, epoch, logs=None) -> None:
            if self.stopped and self.batch < batches:
                # An unfinished epoch is not a point on the epoch curves.
                return
            logs = logs or {}
            self.epoch = epoch + 1
            self.batch = 0
            loss, accuracy = _float(logs.get("loss")), _float(logs.get("accuracy"))
            val_loss = val_accuracy = None
            if validation is not None:
                started = time.perf_counter()
                x_val, y_val = validation
                probabilities = self.model.predict(x_val, batch_size=PREDICT_BATCH_SIZE, verbose=0)
                val_loss = cross_entropy(probabilities, y_val)
                val_accuracy = float(np.mean(probabilities.argmax(axis=1) == y_val))
                self.validation_seconds += time.perf_counter() - started
                self.history["val_loss"].append(val_loss)
                self.history["val_accuracy"].append(val_accuracy)
                logs["val_loss"], logs["val_accuracy"] = val_loss, val_accuracy
            self.history["loss"].append(loss)
            self.history["accuracy"].append(accuracy)
            self._emit(
                "epoch",
                loss=loss,
                accuracy=accuracy,
                val_loss=val_loss,
                val_accuracy=val_accuracy,
            )
            self._check_stop()

    return ProgressCallback()


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def train_model(
    config: TrainingConfig,
    dataset: Dataset,
    on_progress: ProgressFunction | None = None,
    stop_event: threading.Event | None = None,
) -> TrainingResult:
    """Train the network of `config` on `dataset` and evaluate it on the test images.

    Args:
        config: The training configuration.
        dataset: A `core.data.Dataset`.
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

    Returns:
        The `TrainingResult`.

    Raises:
        ValueError: When the dataset cannot be split as the configuration asks (e.g. a
            training-set size larger than the images available).
    """
    from core.data import make_splits
    from core.model import build_model

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
        callback = _progress_callback(
            epochs=config.epochs,
            batches=batches,
            batch_size=batch_size,
            num_train=num_train,
            validation=validation,
            on_progress=on_progress,
            stop_event=stop_event,
            on_train_begin=seeding.release,
            on_measured=lambda rate: throughput.record(config, precision, rate),
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
        throughput.record(config, precision, steady_rate)

    if on_progress is not None:
        on_progress({**callback.latest, "kind": "evaluating", "phase": "evaluating"})
    evaluate_started = time.perf_counter()
    probabilities = model.predict(splits.x_test, batch_size=PREDICT_BATCH_SIZE, verbose=0)
    evaluate_seconds = time.perf_counter() - evaluate_started
    predictions = probabilities.argmax(axis=1)
    from sklearn.metrics import confusion_matrix

    matrix = confusion_matrix(splits.y_test, predictions, labels=np.arange(num_classes))
    train_seconds = max(seconds - callback.validation_seconds, 1e-9)
    epochs_trained = callback.epochs_trained() if stopped else float(callback.epoch)
    result = TrainingResult(
        model=model,
        config=config,
        history=callback.history,
        stopped=stopped,
        seconds=seconds,
        test_loss=cross_entropy(probabilities, splits.y_test),
        test_accuracy=float(np.mean(predictions == splits.y_test)),
        confusion_matrix=matrix,
        epochs_trained=epochs_trained,
        samples_per_second=epochs_trained * num_train / train_seconds,
        evaluate_seconds=evaluate_seconds,
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


def _more_or_fewer(before: float, after: float, more: str, fewer: str) -> str | None:
    if after > before:
        return more
    if after < before:
        return fewer
    return None


# What can differ between two configurations -> how to say it (None when it is the same).
CHANGE_DESCRIPTIONS: dict[str, Callable[[TrainingConfig, TrainingConfig], str | None]] = {
    "architecture": lambda b, a: (
        None if a.architecture == b.architecture else f"{a.architecture} network"
    ),
    "conv_filters": lambda b, a: (
        None
        if a.architecture != "cnn" or b.architecture != "cnn"
        else _more_or_fewer(
            sum(b.conv_filters), sum(a.conv_filters), "more filters", "fewer filters"
        )
    ),
    "layers": lambda b, a: _more_or_fewer(
        len(b.hidden_layers), len(a.hidden_layers), "more layers", "fewer layers"
    ),
    "neurons": lambda b, a: _more_or_fewer(
        sum(b.hidden_layers), sum(a.hidden_layers), "more neurons", "fewer neurons"
    ),
    "activation": lambda b, a: (
        None if a.activation == b.activation else f"{a.activation} instead of {b.activation}"
    ),
    "dropout": lambda b, a: _more_or_fewer(b.dropout, a.dropout, "more dropout", "less dropout"),
    "optimizer": lambda b, a: None if a.optimizer == b.optimizer else f"{a.optimizer} optimizer",
    "learning_rate": lambda b, a: _more_or_fewer(
        b.learning_rate, a.learning_rate, "higher learning rate", "lower learning rate"
    ),
    "batch_size": lambda b, a: _more_or_fewer(
        b.batch_size, a.batch_size, "larger batches", "smaller batches"
    ),
    "epochs": lambda b, a: _more_or_fewer(b.epochs, a.epochs, "more epochs", "fewer epochs"),
    "scaling": lambda b, a: (
        None
        if a.scaling == b.scaling
        else ("raw pixels" if a.scaling == "raw" else "scaled pixels")
    ),
    "split": lambda b, a: None if a.split == b.split else f"{a.split} split",
    "validation": lambda b, a: _more_or_fewer(
        b.validation_fraction, a.validation_fraction, "more validation", "less validation"
    ),
    "train_size": lambda b, a: _more_or_fewer(
        b.train_size or 60_000, a.train_size or 60_000, "more images", "fewer images"
    ),
    "seed": lambda b, a: None if a.seed == b.seed else "another seed",
}


def comparison_note(
    previous: TrainingConfig,
    previous_accuracy: float,
    previous_seconds: float,
    current: TrainingConfig,
    accuracy: float,
    seconds: float,
) -> str:
    """Say what changed against the previous run, e.g. "more neurons, +0.4 points, 1.8x slower".

    Args:
        previous: The previous run's configuration.
        previous_accuracy: Its test accuracy (0 to 1).
        previous_seconds: Its training time.
        current: This run's configuration.
        accuracy: This run's test accuracy (0 to 1).
        seconds: This run's training time.

    Returns:
        One line: the changes (or "same settings"), the accuracy difference in percentage
        points (or, when the two were tested on different images, that they cannot be
        compared) and the speed ratio.
    """
    changes = [
        text for describe in CHANGE_DESCRIPTIONS.values() if (text := describe(previous, current))
    ]
    points = (accuracy - previous_accuracy) * 100
    # The article split draws its test images with the seed; the official test set is fixed.
    same_test_set = previous.split == current.split and (
        current.split == "official" or previous.seed == current.seed
    )
    accuracy_change = f"{points:+.1f} points"
    if not same_test_set:
        accuracy_change = "accuracies not comparable (tested on other images)"
    ratio = seconds / max(previous_seconds, 1e-9)
    if ratio >= 1.05:
        speed = f"{ratio:.1f}x slower"
    elif ratio <= 1 / 1.05:
        speed = f"{1 / ratio:.1f}x faster"
    else:
        speed = "about as fast"
    return f"{', '.join(changes) or 'same settings'}, {accuracy_change}, {speed}"


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


def save_training_result(
    store: RunStore,
    result: TrainingResult,
    dataset: Dataset,
    owner: str | None = None,
    name: str | None = None,
    stopped_early: str | None = None,
) -> str:
    """Store a finished or stopped training as a run of kind ``"network"``.

    Args:
        store: A `core.runs.RunStore`.
        result: What `train_model` returned.
        dataset: The `core.data.Dataset` it was trained on.
        owner: Who trained it (e.g. a session id).
        name: The run's display name (default: the configuration's summary).
        stopped_early: Why a sweep's early stopping ended it, kept with its metrics as
            ``stopped_early`` (see `core.sweeps.stopped_early_reason`), or None.

    Returns:
        The new run's id.

    Raises:
        core.runs.RunStoreError: If the run cannot be stored.
    """
    summary = result.config.summary(dataset.num_classes)
    return store.save_run(
        kind="network",
        name=name or summary,
        config=result.config.to_dict(),
        history=result.history,
        metrics={**result.metrics, **({"stopped_early": stopped_early} if stopped_early else {})},
        timings=result.timings,
        confusion_matrix=result.confusion_matrix,
        model=result.model,
        status="stopped" if result.stopped else "finished",
        owner=owner,
        parameters=result.parameters,
        dataset=dataset.name,
        summary=summary,
        epochs=int(result.epochs_trained),
    )  # fmt: skip


def make_training_job(
    config: TrainingConfig,
    dataset: Dataset,
    store: RunStore,
    owner: str | None = None,
    early_stop: Callable[[dict[str, Any]], str | None] | None = None,
) -> Callable[[Callable[..., None], threading.Event], dict[str, Any]]:
    """Return a job function for `core.jobs.JobManager.submit`: train, save, compare.

    The job reports every progress event (epoch events recorded in the job's history, the
    running batch figures as a growing `batch_points` tuple), saves the finished or stopped
    run to `store`, and compares it with the owner's previous run.

    Args:
        config: The training configuration.
        dataset: A `core.data.Dataset`.
        store: A `core.runs.RunStore`.
        owner: Who trains (e.g. a session id); the run is saved under this owner.
        early_stop: Called with each epoch's progress event; a sentence it returns stops
            the job there and is stored with the run (`core.sweeps.SuccessiveHalving`).

    Returns:
        `fn(report, stop_event)` returning a dict: `result` (`TrainingResult`), `run_id`
        (None if saving failed), `save_error` (message or None) and `note` (the
        comparison with the previous run, or None for a first run).
    """

    def run(report: Callable[..., None], stop_event: threading.Event) -> dict[str, Any]:
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
        journal = store.begin_run("network", summary, config.to_dict(), owner, dataset.name)
        try:
            from core.executors import get_executor

            result = get_executor().train(config, dataset, on_progress, stop_event)
            previous = previous_run(store, owner)
            run_id, save_error = None, None
            try:
                # On a cluster the stop may arrive after the last epoch: then none happened.
                reason = stopped_early[0] if stopped_early and result.stopped else None
                run_id = save_training_result(store, result, dataset, owner, stopped_early=reason)
            except (OSError, ValueError) as error:
                # The trained model is still returned and usable; only the record is missing.
                save_error = str(error)
        finally:
            store.end_run(journal)
        note = None
        if previous is not None:
            note = comparison_note(*previous, config, result.test_accuracy, result.seconds)
        return {"result": result, "run_id": run_id, "save_error": save_error, "note": note}

    return run
