"""What early stopping (successive halving, as Ray Tune's ASHA) would do in a planned sweep:
after which epochs members are judged, on what figure, and whether it can stop anyone."""

from __future__ import annotations

from dataclasses import dataclass

from core.jobs.sweeps import SuccessiveHalving, early_stopping_metric
from core.nn.config import TrainingConfig


@dataclass(frozen=True)
class EarlyStoppingPlan:
    """Early stopping for one sweep.

    Attributes:
        metric: The figure members are compared on (``"val_accuracy"`` or ``"accuracy"``).
        rungs: The epochs after which members are judged, in increasing order.
        reduction_factor: Only the best 1/reduction_factor of the members go on at a rung.
        possible: Whether any member trains past the first rung (else nothing can stop).
    """

    metric: str
    rungs: tuple[int, ...]
    reduction_factor: float
    possible: bool

    @property
    def after(self) -> str:
        """The rungs in words, e.g. ``"1, 3 and 9"``."""
        rungs = [str(rung) for rung in self.rungs]
        return ", ".join(rungs[:-1]) + (" and " if len(rungs) > 1 else "") + rungs[-1]


def early_stopping_plan(configs: list[TrainingConfig]) -> EarlyStoppingPlan | None:
    """Return what early stopping would do for these sweep members, or None for no members."""
    if not configs:
        return None
    metric = early_stopping_metric(configs)
    rule = SuccessiveHalving(max(config.epochs for config in configs), metric)
    rungs = tuple(sorted(int(rung) for rung in rule.rungs))
    possible = any(config.epochs > rungs[0] for config in configs)
    return EarlyStoppingPlan(metric, rungs, rule.reduction_factor, possible)
