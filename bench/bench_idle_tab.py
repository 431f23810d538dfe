"""Benchmark what one idle browser tab costs the server, file watcher on and off.

Starts the server with the command `make run` uses (`streamlit run streamlit_app.py`, the
project's `.streamlit/config.toml`), from the project folder with its `.venv` inside, as a
new user's clone has it. For each setting it measures the server's CPU time (utime +
stime of the process and its children, from /proc) over a window with no tab open, then
over the same window with one Chromium tab idle on Home, and how many lines the server's
log grew by. Rows, side by side in one run:

- "config": the project's setting (`fileWatcherType = "none"`), what `make run` starts with;
- "watcher on": `--server.fileWatcherType auto`, Streamlit's default, which watches the
  whole folder (before issue 19).

Usage:
    .venv/bin/python -m bench.bench_idle_tab [--seconds 15]

About 2 minutes. Goal: one idle tab under 5% of a core with the project's setting.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from testkit.harness import (
    CHROMIUM_ARGS,
    chromium_path,
    cpu_seconds,
    free_port,
    stop_streamlit,
    wait_for_health,
)

PROJECT_ROOT = Path(__file__).resolve().parent.parent

SETTLE_SECONDS = 8
HOME_RENDERED = '[data-testid="stApp"][data-test-script-state="notRunning"] h1'


def share_of_a_core(pid: int, seconds: float) -> float:
    """Return the share of one core (0-1) that `pid`'s tree used over `seconds`."""
    before = cpu_seconds(pid)
    time.sleep(seconds)
    return (cpu_seconds(pid) - before) / seconds


def measure(extra_flags: list[str], seconds: float, browser) -> dict[str, float]:
    """Start a server as `make run` does (plus `extra_flags`); measure idle with and
    without one tab."""
    port = free_port()
    with tempfile.TemporaryDirectory() as folder:
        log_path = Path(folder) / "server.log"
        env = {**os.environ, "MNIST_STUDIO_RUNS_DIR": str(Path(folder) / "runs")}
        command = [sys.executable, "-m", "streamlit", "run", "streamlit_app.py"]
        command += ["--server.port", str(port), *extra_flags]
        with log_path.open("w") as log_file:
            process = subprocess.Popen(
                command, cwd=PROJECT_ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT
            )
        try:
            base_url = f"http://127.0.0.1:{port}"
            wait_for_health(base_url, process, log_path)
            time.sleep(SETTLE_SECONDS)
            no_tab = share_of_a_core(process.pid, seconds)
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(base_url, wait_until="domcontentloaded")
            page.wait_for_selector(HOME_RENDERED, timeout=60_000)
            time.sleep(SETTLE_SECONDS)
            lines_before = len(log_path.read_text().splitlines())
            one_tab = share_of_a_core(process.pid, seconds)
            log_lines = len(log_path.read_text().splitlines()) - lines_before
            page.close()
        finally:
            stop_streamlit(process)
    return {"no_tab": no_tab, "one_tab": one_tab, "log_lines_per_s": log_lines / seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15.0)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    venv_inside = (PROJECT_ROOT / ".venv").is_dir()
    print(f"load before: {Path('/proc/loadavg').read_text().split()[:3]}")
    print(f".venv inside the project folder: {venv_inside}")
    rows = [
        ("config (fileWatcherType none)", []),
        ("watcher on (auto)", ["--server.fileWatcherType", "auto"]),
    ]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        results = [(name, measure(flags, args.seconds, browser)) for name, flags in rows]
        browser.close()
    print(f"\n{'setting':32} {'no tab':>9} {'one idle tab':>13} {'log lines/s':>12}")
    for name, result in results:
        print(
            f"{name:32} {result['no_tab']:>8.1%} {result['one_tab']:>13.1%}"
            f" {result['log_lines_per_s']:>12.1f}"
        )
    print(f"load after: {Path('/proc/loadavg').read_text().split()[:3]}")


if __name__ == "__main__":
    main()
