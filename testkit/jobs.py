"""Jobs for testing the job manager: a job that holds its slot until the test lets it go, and
waiting for a job's state."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


def gated_job(gate: threading.Event, value):
    """A job that reports once, then waits for ``gate`` (or Stop) and returns ``value``."""

    def run(report, stop_event):
        report(phase="started", value=value)
        while not gate.is_set():
            if stop_event.wait(0.01):
                return f"stopped {value}"
        return value

    return run


def wait_until(condition: Callable[[], object], timeout: float = 120.0) -> None:
    """Poll ``condition()`` every 50 ms until it is truthy; fail the test after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
