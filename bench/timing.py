"""Timing helpers shared by the benchmark scripts in this folder."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def median_seconds(function: Callable[[], object], repeats: int, warmups: int = 0) -> float:
    """Return the median wall-clock seconds of `repeats` calls of `function`.

    Args:
        function: What to time, called without arguments.
        repeats: How many timed calls.
        warmups: Untimed calls first (e.g. 1 to leave out a first call that builds caches).
    """
    for _ in range(warmups):
        function()
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)
