"""A class at once: simulated learners against 1 or 2 app processes, jobs on threads or Ray.

Run one cell (the before/after figure for 30 learners on one process is this command):

    .venv/bin/python -m bench.bench_class --learners 30 --processes 1 --jobs threads

or the whole matrix (1, 10, 30, 100 learners x 1, 2 processes x threads, local Ray):

    .venv/bin/python -m bench.bench_class --matrix

Each cell starts its own app processes (`streamlit_app.py`, the demo profile with the caps
raised for a class: `CLASS_SETTINGS`), on a SQLite store for one process and a shared
PostgreSQL store (`testkit.postgres`) for two, or uses the servers given with
``--base-urls`` (e.g. nginx in front of several processes). Learner i uses server
i mod n, so a learner stays on its process. A cell measures, in this order:

1. idle: the learners' tabs open on Home for `--idle-seconds`; server CPU per idle tab.
2. watching (local Ray only, where the trainings run outside the app process): `--watchers`
   tabs watch a long training for `--idle-seconds`; the app process's own CPU per watching
   tab (on threads the trainings share the process, so its CPU does not separate).
3. the class (`testkit.class_load`): every learner's script; page-rerun latency (median,
   p95), Train press to result shown (median, p95, max), the health check's latency while it
   runs, and each process's peak memory (RSS). With ``--browsers K``, K real Chromium
   visitors (`testkit.browser_learners`) follow the same script beside them, timed from
   Chromium's own WebSocket frames, and their medians are printed beside the simulated ones.

Prints one JSON line per cell (``RESULT {...}``) with the load average (`uptime`) before
and after it. The class ends by itself after `--duration` seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from core.nn.config import TrainingConfig
from core.nn.presets import PRESETS
from testkit.browser_learners import start_browser_learners
from testkit.class_load import ClassScript, check_bounds, percentile, run_class
from testkit.harness import (
    HealthPoller,
    cpu_seconds,
    free_port,
    kill_ray_cluster,
    process_tree,
    run_coroutine,
    start_streamlit,
    stop_streamlit,
    streamlit_command,
)
from testkit.learner_session import LearnerSession

# The demo profile, with the caps a class of up to 200 on one network needs: every learner
# may queue a training (`max_queue`), and a school's one public address may hold every tab
# and job (`max_jobs_per_address`, `max_sessions_per_address`; on loopback no address is
# counted, but a class behind one address would need them).
CLASS_SETTINGS = {
    "MNIST_STUDIO_DEMO_MODE": "1",
    "MNIST_STUDIO_MAX_QUEUE": "250",
    "MNIST_STUDIO_MAX_JOBS_PER_ADDRESS": "250",
    "MNIST_STUDIO_MAX_SESSIONS_PER_ADDRESS": "250",
}
MATRIX_LEARNERS = (1, 10, 30, 100)
# A training a learner watches while the watching cost is measured: long enough to outlast
# the window, stopped after it.
LONG_TRAINING = TrainingConfig(hidden_layers=(256,), epochs=30, validation_fraction=0.1)


@dataclass
class Servers:
    """App processes this bench started (none when given --base-urls), and their URLs."""

    base_urls: list[str]
    processes: list[subprocess.Popen] = field(default_factory=list)
    postgres: object | None = None
    ray_port: str | None = None

    def pids(self) -> list[int]:
        return [process.pid for process in self.processes]

    def stop(self) -> None:
        # A local Ray belongs to its app process: end what is left of each tree too.
        trees = [process_tree(pid) for pid in self.pids()]
        for process in self.processes:
            stop_streamlit(process)
        for tree in trees:
            for pid in tree:
                with contextlib.suppress(OSError):
                    os.kill(pid, 9)
        if self.postgres is not None:
            self.postgres.stop()  # type: ignore[attr-defined]
        if self.ray_port is not None:
            kill_ray_cluster(self.ray_port)


def start_servers(processes: int, jobs: str, folder: Path, checkout: Path | None = None) -> Servers:
    """Start `processes` app processes (threads, or one Ray head that every process uses, as
    `make class RAY=1` does), sharing PostgreSQL when > 1."""
    settings = dict(CLASS_SETTINGS)
    servers = Servers([])
    try:
        if jobs == "ray":
            servers.ray_port = str(free_port())
            ray = str(Path(sys.executable).parent / "ray")
            command = [ray, "start", "--head", "--node-ip-address", "127.0.0.1"]
            command += ["--port", servers.ray_port, "--include-dashboard=false"]
            command += ["--disable-usage-stats"]
            environment = {**os.environ, "RAY_AUTH_MODE": "token"}
            subprocess.run(command, env=environment, capture_output=True, timeout=300, check=True)
            settings["MNIST_STUDIO_RAY_ADDRESS"] = f"127.0.0.1:{servers.ray_port}"
            settings["RAY_AUTH_MODE"] = "token"
        if processes > 1:
            from testkit.postgres import PostgresServer

            servers.postgres = PostgresServer.start()
            settings["MNIST_STUDIO_DATABASE_URL"] = servers.postgres.new_database("class")
        for number in range(processes):
            process_folder = folder / f"process-{number}"
            process_folder.mkdir(parents=True, exist_ok=True)
            command = streamlit_command
            if checkout is not None:  # Another version of the app (e.g. "before" a change).

                def command(port: int, checkout: Path = checkout) -> list[str]:
                    started = shlex.join(streamlit_command(port))
                    return ["bash", "-c", f"cd {shlex.quote(str(checkout))} && exec {started}"]

            process, base_url, _ = start_streamlit(process_folder, settings, command=command)
            servers.processes.append(process)
            servers.base_urls.append(base_url)
    except Exception:
        servers.stop()
        raise
    return servers


def load_average() -> str:
    """The 1, 5 and 15 minute load averages, as `uptime` shows them."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def own_cpu_seconds(pid: int) -> float:
    """CPU seconds of the process itself (all its threads), without its children."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class MemorySampler(threading.Thread):
    """Each process's peak RSS, sampled every second."""

    def __init__(self, pids: list[int]) -> None:
        super().__init__(daemon=True)
        self.pids = pids
        self.peaks = dict.fromkeys(pids, 0.0)
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            for pid in self.pids:
                with contextlib.suppress(OSError):
                    self.peaks[pid] = max(self.peaks[pid], rss_mib(pid))
            self._stop_event.wait(1.0)

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=5)


async def _hold_tabs(base_urls: list[str], count: int, seconds: float, measure) -> float:
    """Open `count` tabs on Home, wait for them to settle, then return `measure(seconds)`."""
    sessions = [LearnerSession(base_urls[index % len(base_urls)]) for index in range(count)]
    try:
        for session in sessions:
            await session.open()
            await session.goto("")
        await asyncio.sleep(3)
        return await asyncio.to_thread(measure, seconds)
    finally:
        await asyncio.gather(*(session.close() for session in sessions))


async def _hold_watchers(base_urls: list[str], count: int, seconds: float, measure) -> float:
    """`count` tabs each watching its own long training; measured, then the trainings stop."""
    from urllib.parse import urlencode

    sessions = [LearnerSession(base_urls[index % len(base_urls)]) for index in range(count)]
    query = urlencode(LONG_TRAINING.to_query_params())
    try:
        for session in sessions:
            await session.open()
            await session.goto("train", query)
            await session.press("train_start")
        await asyncio.sleep(5)
        return await asyncio.to_thread(measure, seconds)
    finally:
        for session in sessions:
            with contextlib.suppress(LookupError, TimeoutError, OSError):
                await session.press("train_stop", timeout=60)
        await asyncio.sleep(3)
        await asyncio.gather(*(session.close() for session in sessions))


def cpu_rate(pids: list[int], seconds: float, own: bool = False) -> float:
    """CPU seconds per second the processes (with their children unless `own`) used."""
    read = own_cpu_seconds if own else cpu_seconds
    before = sum(read(pid) for pid in pids)
    time.sleep(seconds)
    return (sum(read(pid) for pid in pids) - before) / seconds


def run_cell(args, learners: int, processes: int, jobs: str) -> dict:
    """Start the servers (unless given), measure one cell, stop them; return its figures."""
    training = PRESETS[args.preset] if args.preset in PRESETS else PRESETS["Recommended"]
    if learners >= 100 and args.preset_100:
        training = PRESETS[args.preset_100]
    check_bounds(args.base_urls or ["http://127.0.0.1"], learners, args.duration)
    folder = Path(tempfile.mkdtemp(prefix="load-bench-class-"))
    load_before = load_average()
    servers = (
        Servers(list(args.base_urls))
        if args.base_urls
        else start_servers(processes, jobs, folder, args.checkout)
    )
    figures: dict = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "learners": learners,
        "processes": len(servers.base_urls),
        "jobs": jobs,
        "training": next(name for name, preset in PRESETS.items() if preset == training),
        "load_before": load_before,
        "checkout": str(args.checkout or "this one"),
    }
    try:
        pids = servers.pids()
        if pids and args.idle_seconds:
            quiet = cpu_rate(pids, args.idle_seconds)
            busy = run_coroutine(
                _hold_tabs(
                    servers.base_urls,
                    learners,
                    args.idle_seconds,
                    lambda s: cpu_rate(pids, s),
                )
            )
            figures["cpu_quiet"] = round(quiet, 4)
            figures["cpu_per_idle_tab"] = round((busy - quiet) / learners, 5)
            if jobs == "ray" and args.watchers:
                watchers = min(args.watchers, learners)
                quiet_own = cpu_rate(pids, args.idle_seconds, own=True)
                watching = run_coroutine(
                    _hold_watchers(
                        servers.base_urls,
                        watchers,
                        args.idle_seconds,
                        lambda s: cpu_rate(pids, s, own=True),
                    )
                )
                figures["cpu_per_watching_tab"] = round((watching - quiet_own) / watchers, 4)
        pollers = [HealthPoller(base_url, interval=0.5) for base_url in servers.base_urls]
        memory = MemorySampler(pids)
        for poller in pollers:
            poller.start()
        memory.start()
        script = ClassScript(training, digits=args.digits)
        browsers, browser_threads = start_browser_learners(
            servers.base_urls, args.browsers, training, args.digits, args.duration,
            start_after=args.arrival if args.browsers_after is None else args.browsers_after,
        )  # fmt: skip
        generator_cpu = time.process_time()
        result = run_class(
            servers.base_urls, learners, script, args.duration, arrival_seconds=args.arrival
        )
        # The learners share the machine with the servers: what playing them cost.
        figures["generator_cpu_seconds"] = round(time.process_time() - generator_cpu, 1)
        for thread in browser_threads:
            thread.join(timeout=args.duration)
        if browsers:
            figures.update(browser_figures(browsers, result))
        memory.stop()
        for poller in pollers:
            poller.stop()
        health = [latency for poller in pollers for latency in poller.latencies]
        figures.update({key: _rounded(value) for key, value in result.summary().items()})
        figures["health_median"] = _rounded(statistics.median(health)) if health else None
        figures["health_p95"] = _rounded(percentile(health, 95))
        figures["health_failures"] = sum(poller.failures for poller in pollers)
        figures["peak_rss_mib"] = [round(peak) for peak in memory.peaks.values()]
        figures["failures"] = sorted(
            {learner.failure for learner in result.learners if learner.failure}
        )
        figures["errors"] = sorted(
            {error[:120] for learner in result.learners for error in learner.errors}
        )
    finally:
        servers.stop()
        shutil.rmtree(folder, ignore_errors=True)
        figures["load_after"] = load_average()
    return figures


def browser_figures(browsers, result) -> dict:
    """The Chromium visitors' medians beside the simulated learners' (the same kinds)."""
    figures: dict = {"browsers_finished": sum(browser.finished for browser in browsers)}
    failures = sorted({browser.failure for browser in browsers if browser.failure})
    if failures:
        figures["browser_failures"] = failures
    simulated = {
        "page": [s for learner in result.learners for s in learner.page_seconds],
        "watch": [s for learner in result.learners for s in learner.watch_seconds],
    }
    for kind, values in simulated.items():
        seen = [s for browser in browsers for s in browser.timer.seconds(kind)]
        if kind == "page":  # A click while a timer's request waits still counts.
            seen += [s for browser in browsers for s in browser.timer.seconds(kind, behind=True)]
        figures[f"browser_{kind}_median"] = _rounded(percentile(seen, 50))
        figures[f"browser_{kind}_count"] = len(seen)
        figures[f"simulated_{kind}_median"] = _rounded(percentile(values, 50))
    shown = [b.train_to_result for b in browsers if b.train_to_result is not None]
    figures["browser_train_to_result"] = [round(seconds, 1) for seconds in shown]
    return figures


def _rounded(value):
    return round(value, 3) if isinstance(value, float) else value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--learners", type=int, default=10)
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--jobs", choices=("threads", "ray"), default="threads")
    parser.add_argument("--matrix", action="store_true", help="every cell, one after another")
    parser.add_argument("--preset", default="Recommended", help="the training each learner runs")
    parser.add_argument(
        "--preset-100",
        default="Quick look",
        help="the training of 100 learners or more (Recommended takes about 15 min for 100)",
    )
    parser.add_argument("--base-urls", type=lambda text: text.split(","), default=None)
    parser.add_argument(
        "--checkout",
        type=Path,
        default=None,
        help="serve the app from this checkout (e.g. a worktree of the commit before a change)",
    )
    parser.add_argument("--duration", type=float, default=900, help="seconds; the class stops")
    parser.add_argument("--arrival", type=float, default=10, help="seconds over which they come")
    parser.add_argument("--digits", type=int, default=3)
    parser.add_argument("--idle-seconds", type=float, default=15)
    parser.add_argument("--watchers", type=int, default=10)
    parser.add_argument(
        "--browsers", type=int, default=0, help="real Chromium visitors beside them (0-8)"
    )
    parser.add_argument(
        "--browsers-after",
        type=float,
        default=None,
        help="seconds before the Chromium visitors open the link (default: --arrival, so they "
        "come with the last simulated learners and meet the class's load)",
    )
    args = parser.parse_args()
    cells = (
        [(n, p, j) for j in ("threads", "ray") for p in (1, 2) for n in MATRIX_LEARNERS]
        if args.matrix
        else [(args.learners, args.processes, args.jobs)]
    )
    for learners, processes, jobs in cells:
        figures = run_cell(args, learners, processes, jobs)
        print("RESULT " + json.dumps(figures), flush=True)


if __name__ == "__main__":
    main()
