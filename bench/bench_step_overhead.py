"""The fixed cost of one training step on this machine, whatever its arithmetic.

Small batches make many steps, and each step costs more than its operations: Python and
TensorFlow dispatch, the optimizer's update of every weight, the progress callback. A time
estimate from operations alone called a batch-of-1 training 293 s that took half an hour.
This script trains a tiny network (784-8-10, so its arithmetic is next to nothing) through
the app's own `train_model`, with batch sizes 1, 8, 32 and 128, and prints the seconds per
step of its steady rate (what `core.nn.throughput` records: tracing left out), less the
network's own arithmetic at the assumed throughput.
Then it checks the model `seconds = steps x per-step overhead + operations / throughput`
against real trainings of a larger network with small batches.

Run: .venv/bin/python -m bench.bench_step_overhead
"""

from __future__ import annotations

import math
import statistics
from pathlib import Path

from core.data.datasets import load_default_dataset
from core.nn import throughput
from core.nn.architecture import training_flops_per_sample
from core.nn.config import TrainingConfig
from core.nn.training import train_model

BATCH_SIZES = (1, 8, 32, 128)
STEPS = 2000
REPEATS = 3
TINY_LAYERS = (8,)
# Larger networks to check the model on: (hidden layers, batch size, steps).
CHECKS = (((128,), 1, 3000), ((256, 256), 8, 3000), ((128,), 32, 1800), ((128,), 128, 1400))


def config_for(hidden_layers, batch_size: int, steps: int) -> TrainingConfig:
    """A configuration that trains about `steps` batches of `batch_size` images (more epochs
    when one epoch of the 60,000 training images has fewer batches)."""
    per_epoch = min(steps, 60_000 // batch_size)
    return TrainingConfig(
        hidden_layers=hidden_layers,
        batch_size=batch_size,
        train_size=max(batch_size * per_epoch, 100),
        validation_fraction=0.0,
        epochs=math.ceil(steps / per_epoch),
    )


def steady_step_seconds(config: TrainingConfig, dataset) -> tuple[float, float]:
    """Train `config`; return its steady seconds per step and its whole fit's seconds."""
    throughput.forget()  # every run picks its steps per execution the same way
    result = train_model(config, dataset)
    rate, _, measured = throughput.images_per_second(config, result.precision)
    if not measured:  # too short to measure a steady rate: the whole fit, tracing included
        rate = result.samples_per_second
    return config.batch_size / rate, result.train_seconds


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> None:
    dataset = load_default_dataset()
    train_model(config_for(TINY_LAYERS, 32, 200), dataset)  # warm-up: imports, first tracing
    print(f"load before: {load_average()}")
    overheads = []
    for batch_size in BATCH_SIZES:
        config = config_for(TINY_LAYERS, batch_size, STEPS)
        arithmetic = training_flops_per_sample(config) * batch_size
        arithmetic /= throughput.ASSUMED_FLOPS_PER_SECOND
        steps = [steady_step_seconds(config, dataset)[0] for _ in range(REPEATS)]
        overhead = statistics.median(steps) - arithmetic
        overheads.append(overhead)
        print(
            f"784-8-10, batch {batch_size:>3}: {statistics.median(steps) * 1e3:.2f} ms per step "
            f"(runs: {', '.join(f'{value * 1e3:.2f}' for value in steps)}), "
            f"less {arithmetic * 1e3:.3f} ms of arithmetic: overhead {overhead * 1e3:.2f} ms"
        )
    print(f"load after the overheads: {load_average()}")
    overhead = statistics.median(overheads)
    print(f"median per-step overhead: {overhead * 1e3:.2f} ms")
    for hidden_layers, batch_size, steps in CHECKS:
        config = config_for(hidden_layers, batch_size, steps)
        step_seconds, fit_seconds = steady_step_seconds(config, dataset)
        images = config.train_size * config.epochs
        by_operations = training_flops_per_sample(config) * images
        by_operations /= throughput.ASSUMED_FLOPS_PER_SECOND
        modelled = images / batch_size * overhead + by_operations
        print(
            f"{config.summary(dataset.num_classes)}, batch {batch_size}, "
            f"{images // batch_size} steps: steady "
            f"{step_seconds * images / batch_size:.1f} s (whole fit {fit_seconds:.1f} s); "
            f"operations only {by_operations:.1f} s; with the per-step overhead {modelled:.1f} s"
        )
    print(f"load after: {load_average()}")


if __name__ == "__main__":
    main()
