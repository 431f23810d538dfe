"""A sweep's results as one table: each finished member's settings and figures, best first."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import pandas as pd

SWEEP_TABLE_COLUMNS = [
    "run",
    "neurons",
    "layers",
    "epochs",
    "learning_rate",
    "test_accuracy",
    "train_seconds",
    "stopped_early",
    "config",
]


def sweep_results(
    jobs: Iterable[Any],
    run_numbers: Mapping[str, int],
    stopped_early_reason: Callable[[str | None], str | None],
) -> pd.DataFrame:
    """Return one row per sweep member with a result, the best test accuracy first.

    Args:
        jobs: The sweep's jobs (`core.jobs.manager.Job`, or None for one that is gone);
            those without a result yet are left out.
        run_numbers: Each stored run's number, by run id.
        stopped_early_reason: Why a run (by id) was stopped early, or None.

    Returns:
        Columns `SWEEP_TABLE_COLUMNS` (``config`` holds the `TrainingConfig`;
        ``stopped_early`` is "" for a member that was not stopped); empty when no member
        has a result.
    """
    rows = []
    for job in jobs:
        if job is None or not job.result:
            continue
        config = job.result.result.config
        rows.append(
            {
                "run": run_numbers.get(job.result.run_id),
                "neurons": config.hidden_layers[0] if config.hidden_layers else 0,
                "layers": len(config.hidden_layers),
                "epochs": config.epochs,
                "learning_rate": config.learning_rate,
                "test_accuracy": job.result.result.test_accuracy,
                "train_seconds": job.result.result.train_seconds,
                "stopped_early": stopped_early_reason(job.result.run_id) or "",
                "config": config,
            }
        )
    if not rows:
        return pd.DataFrame(columns=SWEEP_TABLE_COLUMNS)
    return pd.DataFrame(rows).sort_values("test_accuracy", ascending=False)
