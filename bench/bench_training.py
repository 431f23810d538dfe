"""Benchmark training: the app against the tutorial's own script, Stop, and every preset.

Prints, in one run on this machine:

1. the machine: CPU, its bfloat16 flags, the precision "auto" chooses, load average, and a
   2048x2048 float32 matrix multiply as the practical peak;
2. the peer: the article's own script (`bench/tutorial_script.py`: Sequential Dense 128 +
   Dense 10, adam, categorical cross-entropy on one-hot labels, raw float32 pixels,
   45,000/15,000, batch 128, 20 epochs) and the app's `core.nn.training.train_model` on the
   "As in the article" preset, alternately, same seed: time ratio (target <= 0.5),
   progress updates per second (target >= 2) and both test accuracies;
3. Stop: how long from setting the stop event to `fit` returning and to the result, and
   whether the result says exactly where it stopped;
4. every preset over several seeds (best, spread, mean time), in float32 and, for networks
   with a convolutional front, in bfloat16 too, side by side;
5. scoring: what scoring the 15,000 held-out images at each epoch's end costs the "As in
   the article" preset (which has no validation set, so the app does it to draw the test
   curve): seconds per epoch with and without, alternately, same seed.

Usage:
    .venv/bin/python -m bench.bench_training            # everything, 3 seeds (long)
    .venv/bin/python -m bench.bench_training --quick    # a smoke run of every part
    .venv/bin/python -m bench.bench_training --only peer stop
    .venv/bin/python -m bench.bench_training --only presets --presets Convolutional
    .venv/bin/python -m bench.bench_training --only scoring --rounds 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import threading
import time
from dataclasses import replace
from pathlib import Path

from bench.tutorial_script import article_data, train_as_in_the_article
from core.data.datasets import load_default_dataset
from core.nn import PRESETS, TrainingConfig
from core.nn.architecture import training_flops_per_sample
from core.nn.budget import training_images
from core.nn.precision import (
    BFLOAT16,
    BFLOAT16_FLAGS,
    FLOAT32,
    cpu_flags,
    training_precision,
)
from core.nn.throughput import estimate
from core.nn.training import train_model

MATMUL_SIZE = 2048
MATMUL_REPEATS = 10
ARTICLE = "As in the article"
PARTS = ("peer", "stop", "presets", "scoring")


def load_average() -> str:
    return "{:.1f} {:.1f} {:.1f}".format(*os.getloadavg())


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
        if line.startswith("model name"):
            return line.partition(":")[2].strip()
    return "unknown CPU"


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


def with_precision(precision: str):
    """Context: force the precision setting for the trainings inside it."""

    class Forced:
        def __enter__(self):
            self.before = os.environ.get("MNIST_STUDIO_PRECISION")
            os.environ["MNIST_STUDIO_PRECISION"] = precision

        def __exit__(self, *exc):
            if self.before is None:
                os.environ.pop("MNIST_STUDIO_PRECISION", None)
            else:
                os.environ["MNIST_STUDIO_PRECISION"] = self.before

    return Forced()


def machine_section() -> None:
    flags = cpu_flags()
    print("== Machine")
    print(f"CPU: {cpu_name()}, {os.cpu_count()} cores")
    present = sorted(BFLOAT16_FLAGS & flags)
    print(f"bfloat16 flags ({', '.join(sorted(BFLOAT16_FLAGS))}): {', '.join(present) or 'none'}")
    print(f"precision 'auto' chooses here: {training_precision()}")
    print(f"load average at start: {load_average()}")
    print(f"matmul {MATMUL_SIZE}x{MATMUL_SIZE} float32: {matmul_gflops():.1f} GFLOP/s")
    print()


def peer_section(dataset, epochs: int, rounds: int) -> None:
    import keras

    config = replace(PRESETS[ARTICLE], epochs=epochs)
    print(f"== Peer: the article's script against the app ({config.summary(dataset.num_classes)})")
    print(f"load average: {load_average()}")
    data = article_data(seed=config.seed)
    # Untimed warm-up of both, so neither pays for TensorFlow's start-up.
    keras.utils.set_random_seed(0)
    train_as_in_the_article(*(part[:2_000] for part in data), epochs=1)
    train_model(replace(config, epochs=1, train_size=2_000), dataset)
    bare_times, app_times, rates, bare_accuracies, app_accuracies = [], [], [], [], []
    for round_number in range(1, rounds + 1):
        keras.utils.set_random_seed(config.seed)
        seconds, accuracy = train_as_in_the_article(*data, epochs=epochs)
        bare_times.append(seconds)
        bare_accuracies.append(accuracy)
        events = []
        result = train_model(config, dataset, on_progress=events.append)
        live = [event for event in events if event["kind"] in {"batch", "epoch"}]
        app_times.append(result.train_seconds)
        app_accuracies.append(result.test_accuracy)
        rates.append(len(live) / result.train_seconds)
        print(
            f"round {round_number}: article script {seconds:.1f} s ({accuracy:.2%}), "
            f"app {result.train_seconds:.1f} s ({result.test_accuracy:.2%}), "
            f"ratio {result.train_seconds / seconds:.2f}, {rates[-1]:.1f} updates/s "
            f"[load {load_average()}]"
        )
    flops = training_flops_per_sample(config) * 45_000 * epochs
    bare, app = statistics.median(bare_times), statistics.median(app_times)
    print(f"median article script: {bare:.1f} s ({flops / bare / 1e9:.1f} GFLOP/s)")
    print(f"median app:            {app:.1f} s ({flops / app / 1e9:.1f} GFLOP/s)")
    print(f"time ratio app / script: {app / bare:.2f} (target <= 0.5)")
    print(f"progress updates per second: {statistics.median(rates):.1f} (target >= 2)")
    print(
        f"test accuracy script / app: {statistics.mean(bare_accuracies):.2%} / "
        f"{statistics.mean(app_accuracies):.2%}"
    )
    print()


def stop_section(dataset, after_seconds: float) -> None:
    print("== Stop")
    for name in (ARTICLE, "Convolutional"):
        config = replace(PRESETS[name], epochs=50)
        stop_event = threading.Event()
        marks: dict[str, float] = {}
        asked: dict = {}

        def press_stop(marks=marks, stop_event=stop_event) -> None:
            marks["set"] = time.perf_counter()
            stop_event.set()

        timer: list[threading.Timer] = []

        def on_progress(event, marks=marks, asked=asked, timer=timer) -> None:
            if event["kind"] == "batch" and not timer:
                timer.append(threading.Timer(after_seconds, press_stop))
                timer[0].start()
            if event["kind"] == "batch" and "set" not in marks:
                asked.update(event)
            if event["kind"] == "evaluating":
                marks["fit_returned"] = time.perf_counter()

        result = train_model(config, dataset, on_progress=on_progress, stop_event=stop_event)
        done = time.perf_counter()
        print(
            f"{name}: stop set -> fit returned "
            f"{(marks['fit_returned'] - marks['set']) * 1000:.0f} ms,"
            f" -> result (test images evaluated) {(done - marks['set']) * 1000:.0f} ms; "
            f"stopped after {result.stopped_after} (last progress before the press: epoch "
            f"{asked.get('epoch')}, batch {asked.get('batch')}) [load {load_average()}]"
        )
    print()


def run_preset(config: TrainingConfig, dataset, precision: str):
    with with_precision(precision):
        return train_model(config, dataset)


def presets_section(
    dataset, names: list[str], seeds: int, quick: bool, with_bf16: bool = True
) -> None:
    plural = "s" if seeds > 1 else ""
    print(f"== Presets ({seeds} seed{plural} each; training seconds without the test)")
    header = (
        f"{'preset':<20} {'precision':<9} {'best':>7} {'spread':>13} {'mean s':>7} {'img/s':>8}"
    )
    print(header)
    for name in names:
        base = PRESETS[name]
        if quick:
            base = replace(base, epochs=1, train_size=min(base.train_size or 5_000, 5_000))
        precisions = [FLOAT32, BFLOAT16] if base.architecture == "cnn" and with_bf16 else [FLOAT32]
        for precision in precisions:
            num_train = training_images(base, len(dataset.train_images))
            with with_precision(precision):
                # What the Train page would show before Train, measured first as it is.
                before = estimate(base, num_train)
            results = [
                run_preset(replace(base, seed=seed), dataset, precision) for seed in range(seeds)
            ]
            with with_precision(precision):
                after = estimate(base, num_train)
            accuracies = [result.test_accuracy for result in results]
            seconds = statistics.mean(result.train_seconds for result in results)
            speed = statistics.mean(result.samples_per_second for result in results)
            spread = f"{min(accuracies):.2%}-{max(accuracies):.2%}"
            print(
                f"{name:<20} {results[0].precision:<9} {max(accuracies):>7.2%} {spread:>13} "
                f"{seconds:>7.1f} {speed:>8,.0f}  [load {load_average()}]",
                flush=True,
            )
            each = ", ".join(
                f"seed {seed} {accuracy:.2%}" for seed, accuracy in enumerate(accuracies)
            )
            print(f"{'':<20} {each}", flush=True)
            times = ", ".join(f"{result.train_seconds:.1f}" for result in results)
            print(f"{'':<20} seconds per seed: {times}", flush=True)
            for when, shown in (("before", before), ("after", after)):
                print(
                    f"{'':<20} estimate shown {when} the runs: {shown.seconds:.1f} s "
                    f"({shown.seconds / seconds - 1:+.0%} of the mean; {shown.basis})",
                    flush=True,
                )
        if base.architecture != "cnn":
            print(f"{'':<20} {'bfloat16':<9} (dense network: float32 by design, not run)")
    print()


def scoring_section(dataset, epochs: int, rounds: int) -> None:
    config = replace(PRESETS[ARTICLE], epochs=epochs)
    print(f"== Scoring the held-out images each epoch ({config.summary(dataset.num_classes)})")
    train_model(replace(config, epochs=1, train_size=2_000), dataset)  # untimed warm-up
    per_epoch: dict[bool, list[float]] = {False: [], True: []}
    for round_number in range(1, rounds + 1):
        for scored in (False, True):
            result = train_model(config, dataset, score_test_each_epoch=scored)
            seconds = result.train_seconds / result.epochs_completed
            per_epoch[scored].append(seconds)
            # The run's own clock: training seconds less the images' time at its fit speed.
            fit_seconds = result.epochs_trained * result.num_train / result.samples_per_second
            scoring = (result.train_seconds - fit_seconds) / result.epochs_completed
            print(
                f"round {round_number}, {'with' if scored else 'without'} scoring: "
                f"{seconds:.3f} s per epoch, of which scoring {scoring:.3f} s "
                f"({result.test_accuracy:.2%}) [load {load_average()}]",
                flush=True,
            )
    without, with_scoring = (statistics.median(per_epoch[flag]) for flag in (False, True))
    print(
        f"median s per epoch: without {without:.3f}, with {with_scoring:.3f}, "
        f"cost {with_scoring - without:.3f} s (+{with_scoring / without - 1:.0%})"
    )
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny runs: check that it works")
    parser.add_argument("--only", nargs="+", choices=PARTS, default=list(PARTS))
    parser.add_argument("--presets", nargs="+", choices=list(PRESETS), default=list(PRESETS))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2, help="peer rounds")
    parser.add_argument(
        "--float32-only", action="store_true", help="skip the bfloat16 runs (slow where emulated)"
    )
    args = parser.parse_args()
    epochs = 2 if args.quick else 20
    seeds = 1 if args.quick else args.seeds
    rounds = 1 if args.quick else args.rounds

    dataset = load_default_dataset()
    machine_section()
    if "peer" in args.only:
        peer_section(dataset, epochs, rounds)
    if "stop" in args.only:
        stop_section(dataset, after_seconds=1.0 if args.quick else 3.0)
    if "presets" in args.only:
        presets_section(dataset, args.presets, seeds, args.quick, not args.float32_only)
    if "scoring" in args.only:
        scoring_section(dataset, epochs, rounds)


if __name__ == "__main__":
    main()
