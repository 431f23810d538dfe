"""What one training job may cost: operations, peak memory and time, known before it starts.

`job_budget` works these out from a `TrainingConfig` in plain Python (no TensorFlow), so the
Train page can show them next to the Train button and the Compare page can check every sweep
member and baseline the same way. `check_budget` refuses a job whose operations are over the
demo's cap, whose estimated time is over the demo's time limit (steps x per-step overhead +
operations / throughput, `core.nn.throughput`: small batches cost far more than their
operations) or whose estimated peak memory is more than the host has available; the job
manager's wall-clock limit (`core.jobs.manager`) stops whatever still runs too long.

The memory estimate (calibrated in bench/README.md, "Attacks and budgets"):

- weights, their gradients and two optimizer moments: 4 float32 copies of the parameters;
- activations kept for the backward pass, their gradients and working buffers: 2.5 float32
  copies of every layer's output per image, times the batch size;
- the training images: the split's uint8 copy and the one Keras makes for its dataset;
- a fixed 100 MB for compiling the training step and its data pipeline.

Measured against real trainings it is within 0.9-1.4 times the peak memory they add,
erring high for wide convolutions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from core.data.datasets import IMAGE_SHAPE, MNIST_TRAIN_IMAGES
from core.data.splits import images_per_epoch
from core.nn.architecture import POOL_SIZE, count_parameters, training_flops_per_sample
from core.nn.config import TrainingConfig
from core.nn.throughput import ASSUMED_FLOPS_PER_SECOND, estimate, training_seconds_at
from core.settings import Limits
from core.text import format_duration

FLOAT_BYTES = 4
PARAMETER_COPIES = 4
ACTIVATION_COPIES = 2.5
DATASET_COPIES = 2
JOB_OVERHEAD_BYTES = 100 * 10**6
# A scikit-learn baseline holds the images as float64 a few times over (scaling, fitting).
BASELINE_FLOAT_BYTES = 8
BASELINE_COPIES = 3
# Leave this share of the available memory to the rest of the app and the other jobs.
MEMORY_HEADROOM = 0.8
MEMINFO = Path("/proc/meminfo")
CGROUP_LIMIT = Path("/sys/fs/cgroup/memory.max")
CGROUP_USAGE = Path("/sys/fs/cgroup/memory.current")


class BudgetError(ValueError):
    """A job would cost more than allowed or than the host can give; the message says why."""


@dataclass(frozen=True)
class JobBudget:
    """What one training job is estimated to cost, and the caps it is held to.

    Attributes:
        images: Training images per epoch (after the held-out and validation shares).
        epochs: Passes over them.
        batch_size: Images per gradient step.
        parameters: Weights of the network.
        flops_per_image: Operations to train on one image (forward and backward).
        total_flops: `flops_per_image` x `images` x `epochs`.
        memory_bytes: Estimated peak memory the job adds to the app's process.
        max_total_flops: The cap on `total_flops` (None: none).
        max_seconds: The wall-clock limit after which the job stops itself (None: none).
        available_bytes: Memory the host had available when estimated (None: unknown).
        estimated_seconds: Expected training time on this machine (`core.nn.throughput`).
        least_seconds: The shorter of `estimated_seconds` and the time at the built-in rate
            (`core.nn.throughput.ASSUMED_FLOPS_PER_SECOND` and its per-step cost). A training is
            refused on this one: measurements are made by whatever trained last, under
            whatever load, so a slow one (a visitor's tiny network on a busy server) must not
            refuse everyone's trainings.
    """

    images: int
    epochs: int
    batch_size: int
    parameters: int
    flops_per_image: float
    total_flops: float
    memory_bytes: int
    max_total_flops: float | None
    max_seconds: float | None
    available_bytes: int | None
    estimated_seconds: float = 0.0
    least_seconds: float = 0.0

    @property
    def problems(self) -> tuple[str, ...]:
        """Sentences saying what is over budget and what to change (empty when it fits)."""
        found = []
        if self.max_total_flops is not None and self.total_flops > self.max_total_flops:
            found.append(
                f"This training needs about {_amount(self.total_flops)} operations; this demo "
                f"allows {_amount(self.max_total_flops)} per training. Use fewer epochs, "
                "fewer training images or a smaller network."
            )
        if self.max_seconds is not None and self.least_seconds > self.max_seconds:
            found.append(
                f"This training would take at least {format_duration(self.least_seconds)} here; "
                "this demo stops a training after "
                f"{format_duration(self.max_seconds)}. Every batch costs a fixed time besides its "
                "operations, so use a larger batch size, fewer epochs or fewer training images."
            )
        usable = None if self.available_bytes is None else self.available_bytes * MEMORY_HEADROOM
        if usable is not None and self.memory_bytes > usable:
            found.append(
                f"This training would need about {format_bytes(self.memory_bytes)} of memory, "
                f"but the machine has {format_bytes(self.available_bytes)} available. Use a "
                "smaller batch size, fewer filters or fewer images."
            )
        return tuple(found)


def _amount(flops: float) -> str:
    for size, word in ((1e15, "quadrillion"), (1e12, "trillion"), (1e9, "billion")):
        if flops >= size:
            return f"{flops / size:,.1f} {word}"
    return f"{flops / 1e6:,.0f} million"


def format_bytes(size: float | None) -> str:
    """Return a size as people read it, e.g. ``"1.4 GB"`` or ``"350 MB"``."""
    if size is None:
        return "unknown"
    if size >= 1e9:
        return f"{size / 1e9:,.1f} GB"
    return f"{size / 1e6:,.0f} MB"


def activations_per_image(config: TrainingConfig, num_classes: int = 10) -> int:
    """Count the numbers every layer of `config`'s network outputs for one image.

    Args:
        config: The training configuration.
        num_classes: Number of output classes.

    Returns:
        The sum over layers (input, scaling, convolutions, pooling, dense, dropout, output)
        of their output sizes.
    """
    pixels = math.prod(IMAGE_SHAPE)
    total = pixels * (2 if config.scaling == "unit" else 1)
    features = pixels
    if config.architecture == "cnn":
        side = IMAGE_SHAPE[0]
        total += pixels  # the reshape to one channel
        for filters in config.conv_filters:
            total += side * side * filters
            side //= POOL_SIZE
            total += side * side * filters
            features = side * side * filters
    total += features  # flatten
    dropout = 2 if config.dropout > 0 else 1
    total += sum(units * dropout for units in config.hidden_layers) + num_classes
    return total


def training_images(config: TrainingConfig, available_images: int = MNIST_TRAIN_IMAGES) -> int:
    """Return how many images one epoch of `config` trains on, counted without splitting.

    The same count as `core.data.splits.make_splits` gives (`images_per_epoch`).

    Args:
        config: The training configuration.
        available_images: Images in the dataset's training files (MNIST's by default).
    """
    return images_per_epoch(
        available_images, config.split, config.validation_fraction, config.train_size
    )


def memory_estimate(config: TrainingConfig, images: int, num_classes: int = 10) -> int:
    """Estimate the peak memory (bytes) a training of `config` adds to the process.

    Args:
        config: The training configuration.
        images: Training images.
        num_classes: Number of output classes.

    Returns:
        Parameters with their gradients and optimizer state, plus a batch's activations and
        their gradients, plus the copies of the training images, plus a fixed overhead.
    """
    parameters = count_parameters(config, num_classes) * FLOAT_BYTES * PARAMETER_COPIES
    batch = min(config.batch_size, images)
    activations = activations_per_image(config, num_classes) * FLOAT_BYTES * ACTIVATION_COPIES
    dataset = images * math.prod(IMAGE_SHAPE) * DATASET_COPIES
    return int(parameters + activations * batch + dataset + JOB_OVERHEAD_BYTES)


def available_memory() -> int | None:
    """Return the memory the host (or this container's cgroup) has available, in bytes.

    Returns:
        The smaller of the kernel's MemAvailable and the cgroup's unused limit, or None when
        neither can be read.
    """
    candidates = []
    try:
        for line in MEMINFO.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                candidates.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError, IndexError):
        pass
    try:
        limit = CGROUP_LIMIT.read_text().strip()
        if limit != "max":
            candidates.append(int(limit) - int(CGROUP_USAGE.read_text().strip()))
    except (OSError, ValueError):
        pass
    return max(0, min(candidates)) if candidates else None


def job_budget(
    config: TrainingConfig,
    available_images: int,
    limits: Limits,
    num_classes: int = 10,
    available_bytes: int | None = None,
) -> JobBudget:
    """Work out what a training of `config` costs and the caps it is held to.

    Args:
        config: The training configuration.
        available_images: Images in the dataset's training files.
        limits: The caps in force (`core.settings.limits()`).
        num_classes: Number of output classes.
        available_bytes: Memory the host has available (default: `available_memory()`).

    Returns:
        The `JobBudget`; its `problems` are empty when the job fits.
    """
    images = training_images(config, available_images)
    estimated_seconds = estimate(config, images).seconds
    assumed_seconds = training_seconds_at(config, images, ASSUMED_FLOPS_PER_SECOND)
    flops_per_image = training_flops_per_sample(config, num_classes)
    if available_bytes is None:
        available_bytes = available_memory()
    return JobBudget(
        images=images,
        epochs=config.epochs,
        batch_size=min(config.batch_size, images),
        parameters=count_parameters(config, num_classes),
        flops_per_image=flops_per_image,
        total_flops=flops_per_image * images * config.epochs,
        memory_bytes=memory_estimate(config, images, num_classes),
        max_total_flops=limits.max_total_flops,
        max_seconds=limits.max_job_seconds,
        available_bytes=available_bytes,
        estimated_seconds=estimated_seconds,
        least_seconds=min(estimated_seconds, assumed_seconds),
    )


def check_budget(
    config: TrainingConfig,
    available_images: int,
    limits: Limits,
    num_classes: int = 10,
    available_bytes: int | None = None,
) -> JobBudget:
    """Refuse a training that is over its caps or cannot fit in memory.

    Args:
        config: The training configuration.
        available_images: Images in the dataset's training files.
        limits: The caps in force; `Limits.check` is applied first.
        num_classes: Number of output classes.
        available_bytes: Memory the host has available (default: `available_memory()`).

    Returns:
        The `JobBudget` of a job that fits.

    Raises:
        ValueError: From `Limits.check` (epochs, layers, batch size, filters...).
        BudgetError: If its operations or estimated memory are over budget.
    """
    limits.check(config)
    budget = job_budget(config, available_images, limits, num_classes, available_bytes)
    if budget.problems:
        raise BudgetError(" ".join(budget.problems))
    return budget


def check_baseline_budget(
    train_size: int, available_bytes: int | None = None, pixels: int = math.prod(IMAGE_SHAPE)
) -> int:
    """Refuse a scikit-learn baseline whose images cannot fit in memory.

    Args:
        train_size: Training images.
        available_bytes: Memory the host has available (default: `available_memory()`).
        pixels: Pixels per image.

    Returns:
        The estimated peak memory in bytes.

    Raises:
        BudgetError: If the estimate is more than the host has available.
    """
    estimate = train_size * pixels * BASELINE_FLOAT_BYTES * BASELINE_COPIES
    if available_bytes is None:
        available_bytes = available_memory()
    if available_bytes is not None and estimate > available_bytes * MEMORY_HEADROOM:
        raise BudgetError(
            f"This baseline would need about {format_bytes(estimate)} of memory, but the "
            f"machine has {format_bytes(available_bytes)} available. Use fewer training images."
        )
    return estimate


def describe(budget: JobBudget) -> list[tuple[str, str]]:
    """Return (label, value) rows that show a budget to a person."""
    rows = [
        ("Training images", f"{budget.images:,} per epoch, {budget.epochs} epoch"
         + ("" if budget.epochs == 1 else "s")),
        ("Operations", _amount(budget.total_flops)
         + (f" of {_amount(budget.max_total_flops)} allowed" if budget.max_total_flops else "")),
        ("Memory (estimate)", format_bytes(budget.memory_bytes)
         + (f" of {format_bytes(budget.available_bytes)} available"
            if budget.available_bytes is not None else "")),
        ("Time limit", "none" if budget.max_seconds is None
         else f"stops itself after {budget.max_seconds / 60:g} minutes, keeping what it learned"),
    ]  # fmt: skip
    return rows
