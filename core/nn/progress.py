"""The Keras callback of `core.nn.training.train_model`: live progress, validation and Stop.

This module imports Keras at its top, because `TrainingProgress` subclasses
`keras.callbacks.Callback` as Keras's own callbacks do (`keras/src/callbacks`, e.g.
`TerminateOnNaN`). Only `core.nn.training.train_model` imports it, inside the function, so
the pages that import `core` modules at start-up never pay for TensorFlow's import.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import keras
import numpy as np

from core.nn.evaluation import cross_entropy, predict_images

ProgressFunction = Callable[[dict[str, Any]], None]

# Images per second are measured over the chunks after the first (which includes tracing)
# once this many seconds have passed.
MEASURE_AFTER_SECONDS = 0.5


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


class TrainingProgress(keras.callbacks.Callback):
    """Reports a training's progress, validates each finished epoch and honours Stop.

    Stop is checked before and after every chunk of batches (after the chunk's progress
    event, so a stop asked for while handling that event lands exactly there) and at each
    epoch's end; it sets `model.stop_training`, which ends `fit` after the chunk.

    Validation is done here, at the end of each finished epoch (`core.nn.evaluation`'s batched
    prediction and cross-entropy, the same as the test set's), and not by Keras's own
    ``fit(validation_data=...)``: Keras validates after every epoch loop, also one that a
    Stop broke off in its middle, so Stop would wait for a whole validation pass (and, in
    the first epoch, for the tracing of the evaluation function). Measured on 6,000
    validation images, Stop took 2.5 s instead of 0.003 s that way, still 0.7 s when the
    callback ends the evaluation at once (`bench/bench_stop_validation.py`). A stopped,
    unfinished epoch is neither validated nor a point on the epoch curves.

    Args:
        epochs: Epochs the training was asked for.
        batches: Batches in one epoch.
        batch_size: Images in one batch.
        num_train: Training images in one epoch.
        validation: ``(images, labels)`` to validate on after each epoch, or None.
        test: ``(images, labels)`` of the test set to score after each epoch too, or None:
            a run without a validation set (the article's) shows its train/test gap so.
        on_progress: Called with each progress event (a dict, see `core.nn.training`), or None.
        stop_event: When set, training ends after the current chunk of batches.
        on_train_begin: Called once `fit` has set up its data, before the first batch.
        on_measured: Called as ``on_measured(images_per_second)`` once the speed after the
            first chunk is known.
        events_per_second: At most this many batch events a second (epoch events always
            go out); `core.nn.training.PROGRESS_EVENTS_PER_SECOND` in the app.
        measure_after_seconds: Measure the speed once this long has passed after the first
            chunk; None for `MEASURE_AFTER_SECONDS`.

    Attributes:
        history: Per-epoch ``loss``, ``accuracy``, ``val_loss``, ``val_accuracy`` and, when
            the test set is scored each epoch, ``test_loss`` and ``test_accuracy``.
        stopped: True once Stop was seen.
        epoch: Epochs finished.
        batch: Batches done of the epoch after those.
        latest: The last progress event sent.
        validation_seconds: Time spent validating and scoring the test set each epoch
            (left out of the speed figures).
        measured_images_per_second: The speed passed to ``on_measured``, once known.
    """

    def __init__(
        self,
        *,
        epochs: int,
        batches: int,
        batch_size: int,
        num_train: int,
        validation: tuple[np.ndarray, np.ndarray] | None = None,
        test: tuple[np.ndarray, np.ndarray] | None = None,
        on_progress: ProgressFunction | None = None,
        stop_event: threading.Event | None = None,
        on_train_begin: Callable[[], None] | None = None,
        on_measured: Callable[[float], None] | None = None,
        events_per_second: float,
        measure_after_seconds: float | None = None,
    ) -> None:
        super().__init__()
        self.epochs = epochs
        self.batches = batches
        self.batch_size = batch_size
        self.num_train = num_train
        self.validation = validation
        self.test = test
        self.on_progress = on_progress
        self.stop_event = stop_event
        self.begin_hook = on_train_begin
        self.on_measured = on_measured
        self.events_per_second = events_per_second
        self.measure_after_seconds = (
            MEASURE_AFTER_SECONDS if measure_after_seconds is None else measure_after_seconds
        )

        self.history: dict[str, list[float | None]] = {
            "loss": [],
            "accuracy": [],
            "val_loss": [],
            "val_accuracy": [],
        }
        if test is not None:
            self.history["test_loss"] = []
            self.history["test_accuracy"] = []
        self.stopped = False
        self.epoch = 0
        self.batch = 0
        self.start = time.perf_counter()
        self.last_event = 0.0
        self.events = 0
        self.latest: dict[str, Any] = {}
        self.validation_seconds = 0.0
        # (time, samples, validation seconds) at the end of the first chunk, which includes
        # TensorFlow's tracing; speed is measured from there on.
        self.mark: tuple[float, int, float] | None = None
        self.measured_images_per_second: float | None = None

    # Figures -------------------------------------------------------------------------------

    def steps_done(self) -> int:
        """Gradient steps done so far."""
        return self.epoch * self.batches + self.batch

    def epochs_trained(self) -> float:
        """Epochs done, with the fraction of the current one."""
        return self.epoch + self.batch / self.batches

    def samples_done(self) -> int:
        """Training images seen so far (the last batch of an epoch may be short)."""
        return self.epoch * self.num_train + min(self.batch * self.batch_size, self.num_train)

    def steady_images_per_second(self) -> float | None:
        """Images per second since the first chunk (tracing and validation left out)."""
        if self.mark is None:
            return None
        marked_at, marked_samples, marked_validation = self.mark
        seconds = time.perf_counter() - marked_at
        seconds -= self.validation_seconds - marked_validation
        samples = self.samples_done() - marked_samples
        return samples / seconds if samples > 0 and seconds > 0 else None

    # Helpers -------------------------------------------------------------------------------

    def _check_stop(self) -> None:
        if self.stop_event is not None and self.stop_event.is_set() and not self.stopped:
            self.stopped = True
            self.model.stop_training = True

    def _measure(self, *, at_end: bool = False) -> None:
        if self.mark is None:
            self.mark = (time.perf_counter(), self.samples_done(), self.validation_seconds)
            return
        if self.measured_images_per_second is not None:
            return
        if not at_end and time.perf_counter() - self.mark[0] < self.measure_after_seconds:
            return
        rate = self.steady_images_per_second()
        if rate is not None:
            self.measured_images_per_second = rate
            if self.on_measured is not None:
                self.on_measured(rate)

    def _validate(self, images: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
        started = time.perf_counter()
        probabilities = predict_images(self.model, images)
        loss = cross_entropy(probabilities, labels)
        accuracy = float(np.mean(probabilities.argmax(axis=1) == labels))
        self.validation_seconds += time.perf_counter() - started
        return loss, accuracy

    def _emit(self, kind: str, **values: Any) -> None:
        elapsed = time.perf_counter() - self.start
        steps = self.steps_done()
        total_steps = self.epochs * self.batches
        train_seconds = max(elapsed - self.validation_seconds, 1e-9)
        per_step = train_seconds / steps if steps else None
        eta = None
        if per_step is not None:
            remaining = (total_steps - steps) * per_step
            if self.epoch and self.validation_seconds:
                remaining += (self.epochs - self.epoch) * self.validation_seconds / self.epoch
            eta = max(0.0, remaining)
        event = {
            "kind": kind,
            "phase": "training",
            "epoch": min(self.epoch + 1, self.epochs) if kind != "epoch" else self.epoch,
            "epochs": self.epochs,
            "batch": self.batch,
            "batches": self.batches,
            "fraction": min(1.0, steps / total_steps),
            "epochs_trained": self.epochs_trained(),
            "samples_per_second": self.samples_done() / train_seconds if steps else None,
            "measured_images_per_second": self.measured_images_per_second,
            "elapsed": elapsed,
            "eta": eta,
        }
        event.update(values)
        self.latest = event
        self.events += 1
        self.last_event = time.perf_counter()
        if self.on_progress is not None:
            self.on_progress(event)

    # Keras hooks ---------------------------------------------------------------------------

    def on_train_begin(self, logs=None) -> None:
        """Release the caller's hook, start the clock and send the ``"start"`` event."""
        if self.begin_hook is not None:
            self.begin_hook()
        self.start = time.perf_counter()
        self._emit("start", loss=None, accuracy=None, val_loss=None, val_accuracy=None)
        self._check_stop()

    def on_train_end(self, logs=None) -> None:
        """Measure a training that ended before `measure_after_seconds` had passed (a quick
        run on a fast machine is still a measurement, over the chunks after its first)."""
        if self.mark is not None:
            self._measure(at_end=True)

    def on_epoch_begin(self, epoch, logs=None) -> None:
        """Note the epoch and check Stop."""
        self.epoch = epoch
        self.batch = 0
        self._check_stop()

    def on_train_batch_begin(self, batch, logs=None) -> None:
        """Check Stop before the chunk runs."""
        self._check_stop()

    def on_train_batch_end(self, batch, logs=None) -> None:
        """Measure the speed, send a ``"batch"`` event (rate-limited) and check Stop."""
        # With steps_per_execution, `batch` is the last batch of the chunk (0-based).
        self.batch = min(batch + 1, self.batches)
        self._measure()
        if time.perf_counter() - self.last_event >= 1.0 / self.events_per_second:
            logs = logs or {}
            self._emit(
                "batch",
                loss=_float(logs.get("loss")),
                accuracy=_float(logs.get("accuracy")),
                # The latest epoch's validation figures, until the next epoch ends.
                val_loss=self.latest.get("val_loss"),
                val_accuracy=self.latest.get("val_accuracy"),
                test_loss=self.latest.get("test_loss"),
                test_accuracy=self.latest.get("test_accuracy"),
            )
        self._check_stop()

    def on_epoch_end(self, epoch, logs=None) -> None:
        """Validate a finished epoch (and score its test set), record it, send an ``"epoch"``
        event, check Stop."""
        if self.stopped and self.batch < self.batches:
            # An unfinished epoch is not a point on the epoch curves.
            return
        logs = logs or {}
        self.epoch = epoch + 1
        self.batch = 0
        loss, accuracy = _float(logs.get("loss")), _float(logs.get("accuracy"))
        val_loss = val_accuracy = None
        if self.validation is not None:
            val_loss, val_accuracy = self._validate(*self.validation)
            self.history["val_loss"].append(val_loss)
            self.history["val_accuracy"].append(val_accuracy)
            logs["val_loss"], logs["val_accuracy"] = val_loss, val_accuracy
        test_loss = test_accuracy = None
        if self.test is not None:
            test_loss, test_accuracy = self._validate(*self.test)
            self.history["test_loss"].append(test_loss)
            self.history["test_accuracy"].append(test_accuracy)
        self.history["loss"].append(loss)
        self.history["accuracy"].append(accuracy)
        self._emit(
            "epoch",
            loss=loss,
            accuracy=accuracy,
            val_loss=val_loss,
            val_accuracy=val_accuracy,
            test_loss=test_loss,
            test_accuracy=test_accuracy,
        )
        self._check_stop()
