"""Benchmark the app's training path against a bare `model.fit` with Keras defaults.

Trains the tutorial configuration ("As in the article": 784-128-10, raw pixels, batch 128,
45,000/15,000 split) alternately with

* bare: `build_model(config)` (Keras defaults: one batch per call into TensorFlow) and
  `model.fit(verbose=0)`;
* app: `core.training.train_model` with a progress listener attached, as the Train page runs it;

and prints the time ratio, progress updates per second, the test accuracy of both, the
achieved GFLOP/s against a large float32 matrix multiply measured in the same run, and how
long Stop takes to end a running training.

Usage:
    .venv/bin/python bench/bench_training.py [--epochs 20] [--rounds 2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.config import PRESETS, TrainingConfig  # noqa: E402
from core.data import load_default_dataset, make_splits  # noqa: E402
from core.model import build_model  # noqa: E402
from core.training import (  # noqa: E402
    choose_steps_per_execution,
    train_model,
    training_flops_per_sample,
)

MATMUL_SIZE = 2048
MATMUL_REPEATS = 10


def matmul_gflops() -> float:
    """Achieved GFLOP/s of a large float32 matrix multiply (the machine's practical peak)."""
    import tensorflow as tf

    a = tf.random.uniform((MATMUL_SIZE, MATMUL_SIZE))
    b = tf.random.uniform((MATMUL_SIZE, MATMUL_SIZE))
    tf.matmul(a, b).numpy()  # warm up
    started = time.perf_counter()
    for _ in range(MATMUL_REPEATS):
        tf.matmul(a, b).numpy()
    seconds = time.perf_counter() - started
    return 2 * MATMUL_SIZE**3 * MATMUL_REPEATS / seconds / 1e9


def bare_fit(config: TrainingConfig, dataset) -> tuple[float, float]:
    """Train with a plain model.fit; return (fit seconds, test accuracy)."""
    splits = make_splits(dataset, split=config.split, validation_fraction=0.0, seed=config.seed)
    model = build_model(config)
    started = time.perf_counter()
    model.fit(
        splits.x_train,
        splits.y_train,
        batch_size=config.batch_size,
        epochs=config.epochs,
        verbose=0,
    )
    seconds = time.perf_counter() - started
    _, accuracy = model.evaluate(splits.x_test, splits.y_test, batch_size=1024, verbose=0)
    return seconds, float(accuracy)


def app_fit(config: TrainingConfig, dataset) -> tuple[float, float, float]:
    """Train with train_model; return (fit seconds, test accuracy, progress events/s)."""
    events = []
    result = train_model(config, dataset, on_progress=events.append)
    live = [event for event in events if event["kind"] in {"batch", "epoch"}]
    return result.seconds, result.test_accuracy, len(live) / result.seconds


def stop_latency(config: TrainingConfig, dataset, after: float = 3.0) -> float:
    """Seconds from setting the stop event to train_model's fit returning."""
    stop_event = threading.Event()
    stopped_at = []

    def press_stop() -> None:
        stopped_at.append(time.perf_counter())
        stop_event.set()

    timer = None

    def on_progress(event) -> None:
        nonlocal timer
        if event["kind"] == "batch" and timer is None:
            timer = threading.Timer(after, press_stop)
            timer.start()
        if event["kind"] == "evaluating":
            stopped_at.append(time.perf_counter())

    train_model(config, dataset, on_progress=on_progress, stop_event=stop_event)
    return stopped_at[1] - stopped_at[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    dataset = load_default_dataset()
    config = TrainingConfig(**{**PRESETS["As in the article"].to_dict(), "epochs": args.epochs})
    num_train = 45_000
    print(f"configuration: {config.summary()}, batch {config.batch_size}, raw pixels")
    print(f"steps_per_execution chosen by the app: {choose_steps_per_execution(config, num_train)}")

    # One untimed run of each first, so neither pays for TensorFlow's start-up.
    warm = TrainingConfig(**{**config.to_dict(), "epochs": 1, "train_size": 2_000})
    bare_fit(warm, dataset)
    app_fit(warm, dataset)

    peaks, bare_times, app_times, bare_accuracies, app_accuracies, rates = [], [], [], [], [], []
    for round_number in range(1, args.rounds + 1):
        peaks.append(matmul_gflops())
        seconds, accuracy = bare_fit(config, dataset)
        bare_times.append(seconds)
        bare_accuracies.append(accuracy)
        seconds, accuracy, rate = app_fit(config, dataset)
        app_times.append(seconds)
        app_accuracies.append(accuracy)
        rates.append(rate)
        print(
            f"round {round_number}: bare {bare_times[-1]:.1f} s ({bare_accuracies[-1]:.2%}), "
            f"app {app_times[-1]:.1f} s ({app_accuracies[-1]:.2%}), "
            f"ratio {app_times[-1] / bare_times[-1]:.2f}, {rate:.1f} updates/s, "
            f"matmul {peaks[-1]:.1f} GFLOP/s"
        )

    flops = training_flops_per_sample(config) * num_train * config.epochs
    bare_time, app_time = statistics.median(bare_times), statistics.median(app_times)
    peak = statistics.median(peaks)
    print()
    print(f"median bare model.fit:      {bare_time:.1f} s, {flops / bare_time / 1e9:.1f} GFLOP/s")
    print(f"median app train_model:     {app_time:.1f} s, {flops / app_time / 1e9:.1f} GFLOP/s")
    print(f"time ratio app / bare:      {app_time / bare_time:.2f} (target <= 0.8)")
    print(f"progress updates per second: {statistics.median(rates):.1f} (target >= 2)")
    print(
        f"test accuracy bare / app:   {statistics.mean(bare_accuracies):.2%} / "
        f"{statistics.mean(app_accuracies):.2%}"
    )
    print(f"matmul {MATMUL_SIZE}x{MATMUL_SIZE} float32: {peak:.1f} GFLOP/s")
    print(f"app training reaches {flops / app_time / 1e9 / peak:.0%} of the matmul rate")
    latency = stop_latency(TrainingConfig(**{**config.to_dict(), "epochs": 50}), dataset)
    print(f"stop latency (event set -> fit returned): {latency * 1000:.0f} ms")


if __name__ == "__main__":
    main()
