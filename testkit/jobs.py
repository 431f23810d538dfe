"""Jobs for testing the job manager: a job that holds its slot until the test lets it go,
waiting for a job's state, and another process that trains (its run noted in progress)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from testkit.harness import PROJECT_ROOT

RUN_WRITER = """
import sys, time
from core.runs import RunStore
store = RunStore(sys.argv[1], database_url=sys.argv[2] or None)
store.begin_run("network", sys.argv[3], {"epochs": 20}, owner=sys.argv[4] or None)
print("training", flush=True)
time.sleep(600)
"""


def start_run_writer(
    folder: Path, database_url: str | None, name: str = "784-128-10", owner: str | None = "visitor"
) -> subprocess.Popen:
    """Start a process that begins a run and keeps training; return once the run is noted."""
    process = subprocess.Popen(
        [sys.executable, "-c", RUN_WRITER, str(folder), database_url or "", name, owner or ""],
        stdout=subprocess.PIPE,
        text=True,
        cwd=PROJECT_ROOT,
    )
    assert process.stdout is not None and process.stdout.readline().strip() == "training"
    return process


def kill(process: subprocess.Popen) -> None:
    """Kill a process with SIGKILL (no clean-up of any kind) and reap it."""
    process.kill()
    process.wait()
    if process.stdout is not None:
        process.stdout.close()


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
