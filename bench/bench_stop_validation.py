"""How long Stop takes with Keras's own validation (`fit(validation_data=...)`) and with
the app's (predict the validation images at a finished epoch's end, skipped after a Stop).

Keras's `fit` validates after every epoch loop, also one a Stop broke off in its middle, so
a Stop in mid-epoch waits for a validation pass (and, in the first epoch, for the tracing of
the evaluation function). This script trains the article's network on 20,000 images (6,000
held out for validation, batches of 32), asks for a Stop in the first epoch, and prints the
seconds from the Stop until `fit` returns, for both ways, side by side in one process.

Run: .venv/bin/python -m bench.bench_stop_validation
"""

from __future__ import annotations

import statistics
import time

import keras

from core.data import load_default_dataset, make_splits
from core.nn.config import TrainingConfig
from core.nn.model import build_model

STOP_AFTER_BATCHES = 200
REPEATS = 3


class StopAfter(keras.callbacks.Callback):
    """Stops `fit` after `batches` batches and notes when."""

    def __init__(self, batches: int, skip_validation: bool = False) -> None:
        super().__init__()
        self.batches = batches
        self.skip_validation = skip_validation
        self.asked_at: float | None = None

    def on_train_batch_end(self, batch, logs=None) -> None:
        if batch + 1 >= self.batches and self.asked_at is None:
            self.asked_at = time.perf_counter()
            self.model.stop_training = True

    def on_test_begin(self, logs=None) -> None:
        if self.skip_validation and self.model.stop_training:
            self.model.stop_evaluating = True


def stop_seconds(splits, keras_validation: bool, skip_validation: bool = False) -> float:
    config = TrainingConfig(hidden_layers=(128,), batch_size=32, epochs=5)
    model = build_model(config, steps_per_execution=8, steps_per_epoch=625)
    callback = StopAfter(STOP_AFTER_BATCHES, skip_validation)
    validation = (splits.x_val, splits.y_val) if keras_validation else None
    model.fit(
        splits.x_train, splits.y_train, batch_size=32, epochs=5,
        validation_data=validation, callbacks=[callback], verbose=0,
    )  # fmt: skip
    return time.perf_counter() - callback.asked_at


def main() -> None:
    splits = make_splits(load_default_dataset(), validation_fraction=0.1, train_size=20_000, seed=0)
    ways = {
        "app's validation (none after a Stop)": {"keras_validation": False},
        "fit(validation_data=...)": {"keras_validation": True},
        "fit(validation_data=...), stop_evaluating at once": {
            "keras_validation": True,
            "skip_validation": True,
        },
    }
    figures: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(REPEATS):
        for name, options in ways.items():
            figures[name].append(stop_seconds(splits, **options))
    base = statistics.median(figures["app's validation (none after a Stop)"])
    print(
        f"Stop in epoch 1 after {STOP_AFTER_BATCHES} batches, {len(splits.x_val):,} "
        f"validation images; seconds from Stop to the end of fit (median of {REPEATS}):"
    )
    for name, values in figures.items():
        median = statistics.median(values)
        print(f"  {name:52s} {median:6.3f} s  ({median / base:4.1f}x)")


if __name__ == "__main__":
    main()
