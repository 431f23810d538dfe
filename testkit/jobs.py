"""Jobs for testing the job manager: a job that holds its slot until the test lets it go."""

from __future__ import annotations

import threading


def gated_job(gate: threading.Event, value):
    """A job that reports once, then waits for ``gate`` (or Stop) and returns ``value``."""

    def run(report, stop_event):
        report(phase="started", value=value)
        while not gate.is_set():
            if stop_event.wait(0.01):
                return f"stopped {value}"
        return value

    return run
