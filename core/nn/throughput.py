"""How fast this machine trains, as measured by the trainings it has run.

Every training measures its images per second once its first chunks of batches have run
(after TensorFlow's one-off tracing) and again at the end, and records the figure here
under its network and precision. Time estimates (the Train page's, a sweep's) come from
these figures: the same network measured before gives its own rate; another network of the
same kind and precision is scaled by its floating-point operations per image; only a
machine that has trained nothing yet falls back to an assumed rate, and the estimate says so.

Operations alone undercount small batches: every step also costs a fixed time (dispatch,
the optimizer's update, the progress callback), so a network scaled from another one or
from an assumed rate takes ``steps x STEP_OVERHEAD_SECONDS + operations / FLOP/s``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from core.nn.architecture import training_flops_per_sample
from core.nn.config import TrainingConfig
from core.nn.precision import effective_precision, training_precision

# Achieved training throughput assumed before anything was measured (FLOP/s); see
# bench/README.md ("Training") for what this machine reaches.
ASSUMED_FLOPS_PER_SECOND = 15e9
# What one training step costs on top of its operations on this machine (bench/README.md,
# "Per-step overhead": bench/bench_step_overhead.py trains 784-8-10 with batches of 1 to 128).
STEP_OVERHEAD_SECONDS = 0.001


@dataclass(frozen=True)
class Measurement:
    """One measured training speed.

    Attributes:
        images_per_second: Training images per second (forward and backward pass).
        flops_per_second: The same as floating-point operations per second.
        summary: The network it was measured on, e.g. "784-128-10 relu, batch 128".
    """

    images_per_second: float
    flops_per_second: float
    summary: str


@dataclass(frozen=True)
class Estimate:
    """An estimated training time and what it rests on.

    Attributes:
        seconds: Expected seconds of training (all epochs, without the final test).
        basis: One sentence saying what was measured, e.g. "measured: 41,000 images/s for
            this network in float32 on this machine".
        measured: False when nothing comparable was measured yet (an assumed rate).
        precision: What the network would compute in: "float32" or "bfloat16".
    """

    seconds: float
    basis: str
    measured: bool
    precision: str


def network_key(config: TrainingConfig, precision: str) -> tuple:
    """Return what decides a network's training speed: its layers, batch size and precision."""
    return (
        config.architecture,
        config.hidden_layers,
        config.conv_filters if config.architecture == "cnn" else (),
        config.batch_norm,
        config.batch_size,
        precision,
    )


def _kind_key(config: TrainingConfig, precision: str) -> tuple:
    return (config.architecture, precision)


_lock = threading.Lock()
_by_network: dict[tuple, Measurement] = {}
_by_kind: dict[tuple, Measurement] = {}


def _describe(config: TrainingConfig, num_classes: int) -> str:
    """The network and batch size, e.g. "784-128-10, batch 128" or "conv 16-32, dense 128-10"."""
    network = config.network_summary(num_classes)
    norm = " with batch norm" if config.batch_norm else ""
    return f"{network}{norm}, batch {config.batch_size}"


def record(
    config: TrainingConfig, precision: str, images_per_second: float, num_classes: int
) -> None:
    """Remember a measured training speed of `config`'s network in `precision`.

    Args:
        config: The configuration trained.
        precision: "float32" or "bfloat16" (what the run computed in).
        images_per_second: Training images per second measured.
        num_classes: The network's outputs (the dataset's number of classes), for the
            description the estimates of similar networks quote.
    """
    if not images_per_second > 0:
        return
    # The arithmetic's own rate: the measured time per image less its share of the steps'
    # fixed cost (at least half the time is left to the arithmetic, so a tiny network with
    # small batches cannot claim an unbounded rate).
    seconds_per_image = 1.0 / float(images_per_second)
    arithmetic_seconds = max(
        seconds_per_image - STEP_OVERHEAD_SECONDS / config.batch_size, seconds_per_image / 2
    )
    measurement = Measurement(
        images_per_second=float(images_per_second),
        flops_per_second=float(training_flops_per_sample(config) / arithmetic_seconds),
        summary=_describe(config, num_classes),
    )
    with _lock:
        _by_network[network_key(config, precision)] = measurement
        _by_kind[_kind_key(config, precision)] = measurement


def forget() -> None:
    """Drop every measurement (for tests and benchmarks that need a clean slate)."""
    with _lock:
        _by_network.clear()
        _by_kind.clear()


def images_per_second_at(config: TrainingConfig, flops_per_second: float) -> float:
    """Return the images per second `config` trains at when its arithmetic runs at
    `flops_per_second`, each step also costing `STEP_OVERHEAD_SECONDS`."""
    seconds_per_image = training_flops_per_sample(config) / flops_per_second
    return 1.0 / (seconds_per_image + STEP_OVERHEAD_SECONDS / config.batch_size)


def training_seconds_at(config: TrainingConfig, num_train: int, flops_per_second: float) -> float:
    """Return how long `config` trains on `num_train` images per epoch at `flops_per_second`.

    ``steps x STEP_OVERHEAD_SECONDS + operations / flops_per_second`` over all epochs: the
    same as `num_train x epochs / images_per_second_at(config, flops_per_second)`.
    """
    return num_train * config.epochs / images_per_second_at(config, flops_per_second)


def images_per_second(
    config: TrainingConfig, precision: str, fallback_flops_per_second: float | None = None
) -> tuple[float, str, bool]:
    """Return the expected training speed of `config` and where the figure comes from.

    Args:
        config: The configuration.
        precision: "float32" or "bfloat16".
        fallback_flops_per_second: The rate to assume when nothing comparable was measured
            in this process (e.g. the median of stored runs); None for the built-in guess.

    Returns:
        (images per second, a phrase saying what it rests on, whether it was measured).
    """
    with _lock:
        same = _by_network.get(network_key(config, precision))
        kind = _by_kind.get(_kind_key(config, precision))
    label = "convolutional" if config.architecture == "cnn" else "dense"
    if same is not None:
        basis = f"measured {same.images_per_second:,.0f} images/s for this network in {precision}"
        return same.images_per_second, basis, True
    if kind is not None:
        basis = (
            f"scaled from {kind.images_per_second:,.0f} images/s measured for {kind.summary} "
            f"({kind.flops_per_second / 1e9:.0f} GFLOP/s, {label}, {precision})"
        )
        return images_per_second_at(config, kind.flops_per_second), basis, True
    if fallback_flops_per_second is not None:
        basis = f"at {fallback_flops_per_second / 1e9:.0f} GFLOP/s measured by stored runs"
        return images_per_second_at(config, fallback_flops_per_second), basis, True
    basis = (
        f"nothing measured yet on this machine: assumes {ASSUMED_FLOPS_PER_SECOND / 1e9:.0f} "
        f"GFLOP/s and {STEP_OVERHEAD_SECONDS * 1e3:g} ms per step"
    )
    return images_per_second_at(config, ASSUMED_FLOPS_PER_SECOND), basis, False


def estimate(config: TrainingConfig, num_train: int, precision: str | None = None) -> Estimate:
    """Estimate how long training `config` on `num_train` images takes on this machine.

    Args:
        config: The configuration (its epochs count).
        num_train: Training images per epoch.
        precision: "float32" or "bfloat16"; None for what this machine would use.

    Returns:
        The `Estimate`, with a sentence saying what it rests on.
    """
    precision = effective_precision(config, precision or training_precision())
    rate, basis, measured = images_per_second(config, precision)
    return Estimate(
        seconds=config.epochs * num_train / rate,
        basis=basis,
        measured=measured,
        precision=precision,
    )
