"""Running a job's work in this process, in the job's own thread: `ThreadExecutor`."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from core.nn.baselines import train_baseline
from core.nn.training import train_model

ProgressFunction = Callable[[dict[str, Any]], None]


class ThreadExecutor:
    """Runs a job's work in the calling thread, in this process."""

    name = "threads"

    def train(
        self,
        config: Any,
        dataset: Any,
        on_progress: ProgressFunction | None = None,
        stop_event: threading.Event | None = None,
    ):
        """Train as `core.nn.training.train_model` does and return its `TrainingResult`."""
        return train_model(config, dataset, on_progress=on_progress, stop_event=stop_event)

    def fit_baseline(
        self,
        key: str,
        dataset: Any,
        config: Any,
        report: Callable[..., None] | None = None,
        stop_event: threading.Event | None = None,
    ):
        """Fit a baseline as `core.nn.baselines.train_baseline` does and return its result."""
        return train_baseline(key, dataset, config, report=report, stop_event=stop_event)

    def start(self, on_capacity: Callable[[int], None]) -> None:
        """Nothing to start: jobs run in this process, as many at once as the app allows."""

    def status_message(self) -> str | None:
        """Return a sentence for the page when jobs do not run where configured, else None."""
        return None
