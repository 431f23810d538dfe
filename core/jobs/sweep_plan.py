"""Planning a sweep: its configurations within the caps, and how long it will take."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from core.jobs.sweeps import SweepGrid, estimate_seconds, measured_flops_per_second, sweep_configs
from core.nn.budget import check_budget
from core.nn.config import TrainingConfig
from core.settings import Limits

# The values a sweep combines: neurons per layer, hidden layers, epochs and learning rates.
SweepValues = tuple[Sequence[int], Sequence[int], Sequence[int], Sequence[float]]
# How many of the newest stored network runs the time estimate measures its speed on.
RECENT_RUNS_MEASURED = 20


def plan_sweep(
    base: TrainingConfig,
    grid_values: SweepValues,
    limits: Limits,
    available_images: int,
    num_classes: int,
) -> list[TrainingConfig]:
    """Return the sweep's configurations, each checked against the caps in force.

    Args:
        base: The configuration the grid's values are combined into.
        grid_values: The values to combine: neurons, hidden layers, epochs, learning rates.
        limits: The caps (the sweep size, and each training's budget).
        available_images: The training images of the data set the sweep trains on.
        num_classes: The data set's number of classes.

    Returns:
        The configurations, in grid order.

    Raises:
        ValueError: A setting has no value, the grid is too large, or a configuration is
            over a cap; the message says which.
    """
    neurons, layers, epochs, learning_rates = grid_values
    grid = SweepGrid(tuple(neurons), tuple(layers), tuple(epochs), tuple(learning_rates))
    configs = sweep_configs(base, grid, max_size=limits.max_sweep_size)
    for config in configs:
        check_budget(config, available_images, limits, num_classes)
    return configs


def sweep_seconds(
    configs: list[TrainingConfig], runs: pd.DataFrame, store: Any, available_images: int
) -> float:
    """Return the expected training time of `configs`, at the speed stored runs achieved.

    Args:
        configs: The sweep's configurations.
        runs: The runs table (newest first), with ``id`` and ``kind`` columns and the
            figures `measured_flops_per_second` reads (``train_seconds``, ``epochs``).
        store: The `core.runs.RunStore` the runs' configurations are read from.
        available_images: The training images of the data set the sweep trains on.

    Returns:
        Seconds, for every configuration trained one after another.
    """
    recent = runs[runs["kind"] == "network"].set_index("id").head(RECENT_RUNS_MEASURED)
    network_runs = [
        {"config": stored.config, **row}
        for run_id, row in recent.iterrows()
        if (stored := store.find_run(run_id)) is not None
    ]
    return estimate_seconds(configs, measured_flops_per_second(network_runs), available_images)
