"""Hyperparameter sweeps: a grid of training configurations, its size and its expected time.

The article's exercises ask what happens with more neurons, more layers, more epochs or
another learning rate. A sweep answers that with data: every combination of the chosen
values becomes a `TrainingConfig`, each is trained as a queued job and stored as a run.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from core.config import TrainingConfig
from core.settings import DEFAULT_MAX_SWEEP_SIZE
from core.throughput import ASSUMED_FLOPS_PER_SECOND

# Achieved training throughput assumed before any run has been measured (FLOP/s).
DEFAULT_FLOPS_PER_SECOND = ASSUMED_FLOPS_PER_SECOND
# Fixed cost of each run: building the model, the first step's tracing, the evaluation.
SECONDS_PER_RUN_OVERHEAD = 2.0


class SweepTooLargeError(ValueError):
    """The grid has more configurations than the sweep size limit allows."""


@dataclass(frozen=True)
class SweepGrid:
    """The values to combine: every combination becomes one configuration.

    Attributes:
        neurons: Neurons per hidden layer.
        layers: Numbers of hidden layers (each of the same width).
        epochs: Numbers of epochs.
        learning_rates: Learning rates.
    """

    neurons: tuple[int, ...]
    layers: tuple[int, ...]
    epochs: tuple[int, ...]
    learning_rates: tuple[float, ...]

    def __post_init__(self) -> None:
        for name in ("neurons", "layers", "epochs", "learning_rates"):
            values = getattr(self, name)
            if not values:
                raise ValueError(f"Choose at least one value for {name.replace('_', ' ')}.")
            object.__setattr__(self, name, tuple(sorted(set(values))))

    @property
    def size(self) -> int:
        """Return the number of distinct configurations the grid makes."""
        return len(self.combinations())

    def combinations(self) -> list[tuple[tuple[int, ...], int, float]]:
        """Return distinct (hidden layers, epochs, learning rate) triples, in grid order.

        With zero hidden layers the neuron count does not matter, so those combinations
        collapse into one.
        """
        seen: dict[tuple[tuple[int, ...], int, float], None] = {}
        for layers, neurons, epochs, learning_rate in itertools.product(
            self.layers, self.neurons, self.epochs, self.learning_rates
        ):
            seen.setdefault(((neurons,) * layers, epochs, learning_rate), None)
        return list(seen)


def sweep_configs(
    base: TrainingConfig, grid: SweepGrid, max_size: int = DEFAULT_MAX_SWEEP_SIZE
) -> list[TrainingConfig]:
    """Return one configuration per grid combination, the rest taken from `base`.

    Args:
        base: The configuration whose other settings (activation, batch size, data…) every
            run shares.
        grid: The values to combine.
        max_size: The most configurations a sweep may have.

    Returns:
        The configurations, in grid order.

    Raises:
        SweepTooLargeError: If the grid makes more than `max_size` configurations.
        ValueError: If a combination is out of range (e.g. more than 8 layers).
    """
    size = grid.size
    if size > max_size:
        raise SweepTooLargeError(
            f"This grid makes {size} configurations; the limit is {max_size}. Choose fewer values."
        )
    return [
        replace(base, hidden_layers=hidden_layers, epochs=epochs, learning_rate=learning_rate)
        for hidden_layers, epochs, learning_rate in grid.combinations()
    ]


def training_samples(config: TrainingConfig, dataset_train_size: int = 60_000) -> int:
    """Return how many images one epoch of `config` trains on.

    Args:
        config: The configuration.
        dataset_train_size: Images in the dataset's training file.
    """
    available = dataset_train_size * (0.75 if config.split == "article" else 1.0)
    available = int(available * (1.0 - config.validation_fraction))
    return min(available, config.train_size) if config.train_size else available


def measured_flops_per_second(runs: list[dict]) -> float:
    """Return the median achieved training throughput of stored network runs.

    Args:
        runs: Dicts with ``config`` (a config dict), ``train_seconds`` and ``epochs``.

    Returns:
        FLOP/s, or `DEFAULT_FLOPS_PER_SECOND` when no run can be measured.
    """
    from core.model import training_flops_per_sample

    rates = []
    for run in runs:
        # Missing or unmeasured values are NaN or NA, which the check below skips.
        seconds: float = run.get("train_seconds", np.nan)
        epochs: int = run.get("epochs", pd.NA)
        # An interrupted run has no epochs (NA) and no time (NaN): it cannot be measured.
        if pd.isna(seconds) or pd.isna(epochs) or not epochs:
            continue
        if seconds <= SECONDS_PER_RUN_OVERHEAD:
            continue
        try:
            config = TrainingConfig.from_dict(run["config"])
        except (KeyError, TypeError, ValueError):
            continue
        flops = training_flops_per_sample(config) * training_samples(config) * epochs
        rates.append(flops / (seconds - SECONDS_PER_RUN_OVERHEAD))
    return float(np.median(rates)) if rates else DEFAULT_FLOPS_PER_SECOND


def estimate_seconds(
    configs: list[TrainingConfig],
    flops_per_second: float = DEFAULT_FLOPS_PER_SECOND,
    dataset_train_size: int = 60_000,
) -> float:
    """Return the expected total training time of `configs`, run one after another.

    Each configuration's speed is what this process measured for the same network and
    precision, or for one of the same kind scaled by its work (`core.throughput`); only
    when nothing comparable ran yet does `flops_per_second` decide.

    Args:
        configs: The sweep's configurations.
        flops_per_second: Achieved training throughput (see `measured_flops_per_second`),
            used for configurations nothing comparable was measured for.
        dataset_train_size: Images in the dataset's training file.
    """
    from core import throughput
    from core.model import training_flops_per_sample
    from core.precision import effective_precision, training_precision

    setting = training_precision()
    total = 0.0
    for config in configs:
        samples = training_samples(config, dataset_train_size) * config.epochs
        rate, _, measured = throughput.images_per_second(
            config, effective_precision(config, setting)
        )
        if measured:
            total += samples / rate
        else:
            total += training_flops_per_sample(config) * samples / flops_per_second
        total += SECONDS_PER_RUN_OVERHEAD
    return total
