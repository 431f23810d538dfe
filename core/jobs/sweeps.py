"""Hyperparameter sweeps: the grid, its expected time, early stopping (ASHA) and its jobs.

The article's exercises ask what happens with more neurons, more layers, more epochs or
another learning rate. A sweep answers that with data: every combination of the chosen
values becomes a `TrainingConfig` (`SweepGrid`, `sweep_configs`), each is trained as a queued
job and stored as a run (`sweep_jobs`). This module holds:

- the grid and its configurations;
- the expected time: the speed stored runs achieved (`measured_flops_per_second`) and the
  sweep's total (`estimate_seconds`);
- early stopping: `SuccessiveHalving` applies the rule of Ray Tune's ASHA scheduler to every
  member's epoch figures, on either executor (`EarlyStop` says why a member stopped);
- the jobs: `sweep_jobs` builds one training job per member, and `stopped_early_reason` reads
  back why a stored member stopped.

Planning a sweep against the caps is `core.jobs.sweep_plan`; its result table is
`core.jobs.sweep_table`.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from core.data.datasets import MNIST_TRAIN_IMAGES
from core.jobs.tasks import make_training_job
from core.nn import throughput
from core.nn.architecture import training_flops_per_sample
from core.nn.budget import training_images
from core.nn.config import TrainingConfig
from core.nn.precision import effective_precision, training_precision
from core.nn.throughput import ASSUMED_FLOPS_PER_SECOND
from core.settings import DEFAULT_MAX_SWEEP_SIZE

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


def measured_flops_per_second(runs: list[dict]) -> float:
    """Return the median achieved training throughput of stored network runs.

    Args:
        runs: Dicts with ``config`` (a config dict), ``train_seconds`` and ``epochs``.

    Returns:
        FLOP/s, or `ASSUMED_FLOPS_PER_SECOND` when no run can be measured.
    """
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
        # A stored network run does not record how many training images its dataset had.
        samples = training_images(config, MNIST_TRAIN_IMAGES)
        flops = training_flops_per_sample(config) * samples * epochs
        # The arithmetic's rate: each step's fixed cost comes off (at most half the time).
        seconds -= SECONDS_PER_RUN_OVERHEAD
        steps = epochs * samples / config.batch_size
        seconds = max(seconds - steps * throughput.STEP_OVERHEAD_SECONDS, seconds / 2)
        rates.append(flops / seconds)
    return float(np.median(rates)) if rates else ASSUMED_FLOPS_PER_SECOND


def estimate_seconds(
    configs: list[TrainingConfig],
    flops_per_second: float = ASSUMED_FLOPS_PER_SECOND,
    dataset_train_size: int = MNIST_TRAIN_IMAGES,
) -> float:
    """Return the expected total training time of `configs`, run one after another.

    Each configuration's speed is what this process measured for the same network and
    precision, or for one of the same kind scaled by its work (`core.nn.throughput`); only
    when nothing comparable ran yet does `flops_per_second` decide.

    Args:
        configs: The sweep's configurations.
        flops_per_second: Achieved training throughput (see `measured_flops_per_second`),
            used for configurations nothing comparable was measured for.
        dataset_train_size: Images in the dataset's training files (MNIST's by default).
    """
    setting = training_precision()
    total = 0.0
    for config in configs:
        per_epoch = training_images(config, dataset_train_size)
        rate, _, measured = throughput.images_per_second(
            config, effective_precision(config, setting)
        )
        if measured:
            total += per_epoch * config.epochs / rate
        else:
            # Steps x their fixed cost + operations / FLOP/s (small batches cost more).
            total += throughput.training_seconds_at(config, per_epoch, flops_per_second)
        total += SECONDS_PER_RUN_OVERHEAD
    return total


# --- Early stopping: asynchronous successive halving (ASHA) ------------------------------

# Ray Tune's ASHAScheduler settings that the sweep uses: a member is judged first after one
# epoch, and only the best third of those judged at a rung before it may go on.
EARLY_STOPPING_GRACE_EPOCHS = 1
EARLY_STOPPING_REDUCTION_FACTOR = 3
# The epoch figures successive halving can compare, as the stop reason names them.
EARLY_STOPPING_METRICS = {"val_accuracy": "validation accuracy", "accuracy": "training accuracy"}


@dataclass(frozen=True)
class EarlyStop:
    """Why successive halving stopped a sweep member.

    Attributes:
        epoch: The rung: epochs the member had trained when it was judged.
        metric: ``"val_accuracy"`` or ``"accuracy"`` (a key of `EARLY_STOPPING_METRICS`).
        value: The member's figure at the rung (0 to 1).
        cutoff: The figure it had to reach: the best 1/reduction_factor of the members
            judged at this rung before it scored at least this much.
        reduction_factor: 1/reduction_factor of the members at a rung go on.
    """

    epoch: int
    metric: str
    value: float
    cutoff: float
    reduction_factor: float

    @property
    def reason(self) -> str:
        """A sentence for the sweep table, e.g. "Stopped early after 2 epochs: validation
        accuracy 91.2% was below the best 1/3 at that point (96.5%)."."""
        epochs = f"{self.epoch} epoch{'' if self.epoch == 1 else 's'}"
        return (
            f"Stopped early after {epochs}: {EARLY_STOPPING_METRICS[self.metric]} "
            f"{self.value:.1%} was below the best 1/{self.reduction_factor:g} at that point "
            f"({self.cutoff:.1%})."
        )


class SuccessiveHalving:
    """Asynchronous successive halving, the rule of Ray Tune's ASHAScheduler (one bracket).

    Rungs lie at ``grace_period * reduction_factor**k`` epochs, up to ``max_epochs``. A
    member that reaches a rung is compared with the members that reached it before: it is
    stopped when its figure is below the ``1 - 1/reduction_factor`` quantile of theirs (so
    only the best 1/reduction_factor go on), and its figure joins the rung either way. The
    first member at a rung always goes on; nobody waits for the others (asynchronous), so
    members may run anywhere, in any order. Thread-safe: one rule serves a whole sweep.

    Args:
        max_epochs: The most epochs a member of the sweep trains.
        metric: The epoch figure to compare, higher is better (`EARLY_STOPPING_METRICS`).
        grace_period: Epochs before a member can be stopped (the first rung).
        reduction_factor: How strongly each rung thins the members out (more than 1).

    Raises:
        ValueError: If a setting is out of range.

    Example:
        rule = SuccessiveHalving(max_epochs=9)
        rule.report("a", epoch=1, value=0.95)  # None: the first at rung 1 goes on
        rule.report("b", epoch=1, value=0.40).reason  # "Stopped early after 1 epoch: ..."
    """

    def __init__(
        self,
        max_epochs: int,
        metric: str = "val_accuracy",
        grace_period: int = EARLY_STOPPING_GRACE_EPOCHS,
        reduction_factor: float = EARLY_STOPPING_REDUCTION_FACTOR,
    ) -> None:
        if metric not in EARLY_STOPPING_METRICS:
            raise ValueError(
                f"Early stopping compares {' or '.join(EARLY_STOPPING_METRICS)}, not {metric!r}."
            )
        if grace_period < 1 or max_epochs < grace_period:
            raise ValueError(
                f"Early stopping needs at least {grace_period} epochs per member and a grace "
                f"period of at least one epoch; got {max_epochs} and {grace_period}."
            )
        if reduction_factor <= 1:
            raise ValueError(f"The reduction factor must be above 1, got {reduction_factor}.")
        self.metric = metric
        self.reduction_factor = float(reduction_factor)
        # As Ray's _Bracket: the number of rungs that fit below max_epochs, highest first.
        count = int(np.log(max_epochs / grace_period) / np.log(reduction_factor) + 1)
        self.rungs = tuple(grace_period * reduction_factor**k for k in reversed(range(count)))
        self._recorded: dict[float, dict[str, float]] = {rung: {} for rung in self.rungs}
        self._lock = threading.Lock()

    def cutoff(self, rung: float) -> float | None:
        """Return the figure a member must reach at ``rung`` to go on (None: no one yet)."""
        with self._lock:
            return self._cutoff(list(self._recorded[rung].values()))

    def _cutoff(self, values: list[float]) -> float | None:
        # Ray's _Bracket.cutoff: the (1 - 1/reduction_factor) quantile, interpolated.
        if not values:
            return None
        return float(np.nanpercentile(values, (1 - 1 / self.reduction_factor) * 100))

    def report(self, member: str, epoch: int, value: float | None) -> EarlyStop | None:
        """Record a member's figure after ``epoch`` epochs; return an `EarlyStop` to stop it.

        Args:
            member: Any id unique within the sweep.
            epoch: Epochs the member has trained.
            value: Its figure (``metric``) after them; None (not measured) decides nothing.

        Returns:
            None to go on, or why to stop.
        """
        if value is None or value != value:
            return None
        with self._lock:
            for rung in self.rungs:
                recorded = self._recorded[rung]
                if epoch < rung or member in recorded:
                    continue
                cutoff = self._cutoff(list(recorded.values()))
                recorded[member] = float(value)
                if cutoff is not None and value < cutoff:
                    return EarlyStop(int(epoch), self.metric, float(value), cutoff,
                                     self.reduction_factor)  # fmt: skip
                return None
        return None

    def watcher(self, member: str, epochs: int) -> Callable[[dict[str, Any]], str | None]:
        """Return the check `core.jobs.tasks.make_training_job` runs after each epoch.

        Args:
            member: The member's id within the sweep.
            epochs: The member's own number of epochs: after its last one it is recorded
                (later members are compared with it) but there is nothing left to stop.

        Returns:
            ``check(epoch_event) -> reason or None``.
        """

        def check(event: dict[str, Any]) -> str | None:
            decision = self.report(member, int(event.get("epoch") or 0), event.get(self.metric))
            if decision is None or decision.epoch >= epochs:
                return None
            return decision.reason

        return check


def early_stopping_metric(configs: list[TrainingConfig]) -> str:
    """Return the figure to compare: validation accuracy, or training accuracy without it."""
    if configs and all(config.validation_fraction > 0 for config in configs):
        return "val_accuracy"
    return "accuracy"


def sweep_jobs(
    configs: list[TrainingConfig],
    dataset: Any,
    store: Any,
    owner: str | None = None,
    early_stopping: bool = False,
    shuffle_seed: int | None = 0,
    address: str | None = None,
) -> list[tuple[str, Callable[..., Any]]]:
    """Return (name, job function) per member, for `core.jobs.manager.JobManager.submit`.

    Args:
        configs: The sweep's configurations (`sweep_configs`).
        dataset: A `core.data.datasets.Dataset`.
        store: A `core.runs.RunStore`; each member is stored as a run.
        owner: Who runs the sweep (e.g. a visitor id).
        early_stopping: Whether one `SuccessiveHalving` rule stops hopeless members. Their
            jobs end ``"stopped"``; their runs keep the partly trained model and the reason
            (see `stopped_early_reason`). The rule runs where the job manager runs, so it
            acts the same on every executor (threads or a Ray cluster).
        shuffle_seed: With early stopping, the members start in an order shuffled with this
            seed: each is judged against those that reached a rung before it, and the grid's
            order (learning rates rising, say) would otherwise let the weakest go first
            and stop nobody. None keeps the order of ``configs``.
        address: The visitor's network address, for the run store's caps; None when unknown.

    Returns:
        ``[(name, fn), ...]``, in the order to submit them.
    """
    rule = None
    if early_stopping and configs:
        rule = SuccessiveHalving(
            max(config.epochs for config in configs), early_stopping_metric(configs)
        )
    order = list(range(len(configs)))
    if rule is not None and shuffle_seed is not None:
        np.random.default_rng(shuffle_seed).shuffle(order)
    jobs = []
    for index in order:
        config = configs[index]
        check = None if rule is None else rule.watcher(str(index), config.epochs)
        jobs.append(
            (
                f"Sweep: {config.summary(dataset.num_classes)}",
                make_training_job(config, dataset, store, owner, early_stop=check, address=address),
            )
        )
    return jobs


def stopped_early_reason(store: Any, run_id: str | None) -> str | None:
    """Return why successive halving stopped a stored run, or None (not stopped early).

    Args:
        store: A `core.runs.RunStore`.
        run_id: The run's id (None, or a run deleted since, gives None).
    """
    run = store.find_run(run_id) if run_id else None
    reason = run.metrics.get("stopped_early") if run is not None else None
    return reason if isinstance(reason, str) else None
