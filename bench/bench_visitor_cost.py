"""What one visitor costs the server, before and after the cost cuts of issue 23, side by side.

Two copies of the app run in turn with `streamlit run streamlit_app.py` (what `make run`
starts): "before" (a `git archive` of another revision, `main` unless `--before` names
one) and "after" (this checkout). For each, one at a time, alternating:

- idle tab: one Chromium tab left on a page (Home, Compare) with no job running; the
  server's CPU share of one core over the window, the reruns the tab asked for (script runs
  the browser saw finish), the bytes the server sent it, and the server's memory (RSS);
- watching tab: one Chromium tab on Train while a training runs (started from that tab),
  the same figures, and how long each rerun took as the tab saw it (request to finish);
  the training itself uses most of a core here, so the CPU column is mostly the training;
- page change: a raw WebSocket visitor (testkit/streamlit_client) runs each page in turn;
  the server's CPU seconds per page run (median of a few rounds);
- queries: SQL statements per rerun of each page with nothing changed (an AppTest in a
  subprocess of each copy, a SQLAlchemy event listener counting them), with the store on
  SQLite, and on PostgreSQL with `--postgres`.

Usage:
    .venv/bin/python -m bench.bench_visitor_cost [--seconds 20] [--before main] [--postgres]

About 5 minutes. Say the machine's load (printed) beside each figure.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
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
    streamlit_command,
    wait_for_health,
)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SETTLE_SECONDS = 4
PAGE_ROUNDS = 3
PAGES = ["", "explore", "train", "evaluate", "draw", "compare"]
IDLE_PAGES = ["", "compare"]
# A training that lasts well beyond the window, light enough to leave the machine usable.
WATCH_QUERY = "hidden_layers=40&epochs=150&train_size=20000&batch_size=16&seed=9"
RENDERED = '[data-testid="stApp"][data-test-script-state="notRunning"]'


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def start_server(tree: Path, folder: Path, extra_env: dict[str, str]):
    """Start `streamlit run streamlit_app.py` in `tree`; return (process, base URL)."""
    port = free_port()
    log_path = folder / f"server-{port}.log"
    env = {**os.environ, "MNIST_STUDIO_RUNS_DIR": str(folder / f"runs-{port}"), **extra_env}
    env["PYTHONPATH"] = str(tree)
    with log_path.open("w") as log_file:
        process = subprocess.Popen(
            streamlit_command(port), cwd=tree, env=env, stdout=log_file, stderr=subprocess.STDOUT
        )
    base_url = f"http://127.0.0.1:{port}"
    wait_for_health(base_url, process, log_path)
    return process, base_url


class TabMeter:
    """Counts what the server sends one Chromium tab: finished script runs, bytes, and the
    time from each rerun request to its finish."""

    def __init__(self, page) -> None:
        from streamlit.proto.BackMsg_pb2 import BackMsg
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        self.runs = 0
        self.bytes = 0
        self.durations: list[float] = []
        self._asked: float | None = None

        def received(payload) -> None:
            data = payload if isinstance(payload, bytes) else payload.encode()
            self.bytes += len(data)
            message = ForwardMsg()
            try:
                message.ParseFromString(data)
            except Exception:  # A frame that is not a ForwardMsg: count its bytes only.
                return
            if message.WhichOneof("type") == "script_finished":
                self.runs += 1
                if self._asked is not None:
                    self.durations.append(time.perf_counter() - self._asked)
                    self._asked = None

        def sent(payload) -> None:
            message = BackMsg()
            try:
                message.ParseFromString(payload if isinstance(payload, bytes) else b"")
            except Exception:
                return
            if message.WhichOneof("type") == "rerun_script":
                self._asked = time.perf_counter()

        page.on(
            "websocket",
            lambda socket: (
                socket.on("framereceived", received),
                socket.on("framesent", sent),
            ),
        )

    def reset(self) -> None:
        self.runs, self.bytes, self.durations = 0, 0, []


def window(pid: int, page, meter: TabMeter, seconds: float) -> dict[str, float]:
    # Playwright's sync API hands over a tab's frames only while one of its calls runs.
    page.wait_for_timeout(100)
    meter.reset()
    before, start = cpu_seconds(pid), time.monotonic()
    page.wait_for_timeout(seconds * 1000)
    elapsed = time.monotonic() - start
    return {
        "cpu": (cpu_seconds(pid) - before) / elapsed,
        "reruns_per_s": meter.runs / elapsed,
        "kb_per_s": meter.bytes / 1024 / elapsed,
        "ms_per_rerun": 1000 * statistics.median(meter.durations) if meter.durations else 0.0,
        "rss_mb": rss_mb(pid),
    }


def idle_and_watching(tree: Path, folder: Path, seconds: float, browser) -> dict[str, dict]:
    results: dict[str, dict] = {}
    process, base_url = start_server(tree, folder, {})
    try:
        for name in IDLE_PAGES:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            meter = TabMeter(page)
            page.goto(f"{base_url}/{name}")
            page.wait_for_selector(RENDERED, timeout=120_000)
            time.sleep(SETTLE_SECONDS)
            results[f"idle tab on {name or 'home'}"] = window(process.pid, page, meter, seconds)
            page.close()
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        page = context.new_page()
        meter = TabMeter(page)
        page.goto(f"{base_url}/train?{WATCH_QUERY}")
        page.wait_for_selector(RENDERED, timeout=120_000)
        time.sleep(SETTLE_SECONDS)
        page.locator('[data-testid="stMain"] .st-key-train_start button').click()
        page.locator('[data-testid="stMain"] [data-testid="stPlotlyChart"]').first.wait_for(
            timeout=120_000
        )
        page.wait_for_timeout(SETTLE_SECONDS * 1000)
        results["watching a training on Train"] = window(process.pid, page, meter, seconds)
        # A second tab of the same browser, on another page: its sidebar follows the job.
        other = context.new_page()
        other_meter = TabMeter(other)
        other.goto(f"{base_url}/evaluate")
        other.wait_for_selector(RENDERED, timeout=120_000)
        other.wait_for_timeout(SETTLE_SECONDS * 1000)
        results["2nd tab on Evaluate during it (CPU: both tabs)"] = window(
            process.pid, other, other_meter, seconds
        )
        page.locator('[data-testid="stMain"] .st-key-train_stop button').click()
        page.get_by_text("Stopped after").first.wait_for(timeout=120_000)
        context.close()
    finally:
        stop_streamlit(process)
    return results


def page_changes(tree: Path, folder: Path) -> dict[str, dict]:
    from testkit.streamlit_client import StreamlitClient

    process, base_url = start_server(tree, folder, {})
    per_page: dict[str, list[float]] = {name: [] for name in PAGES}
    try:
        client = StreamlitClient(base_url)
        client.open("")
        for name in PAGES:  # Warm: first loads of data, models, TensorFlow.
            client.rerun(name)
        for _ in range(PAGE_ROUNDS):
            for name in PAGES:
                before = cpu_seconds(process.pid)
                client.rerun(name)
                per_page[name].append(cpu_seconds(process.pid) - before)
        memory = rss_mb(process.pid)
        client.close()
    finally:
        stop_streamlit(process)
    return {
        f"page run: {name or 'home'}": {
            "cpu_s": statistics.median(values),
            "rss_mb": memory,
        }
        for name, values in per_page.items()
    }


QUERY_COUNTER = r"""
import collections, json, sys
from sqlalchemy import event
from sqlalchemy.engine import Engine
count = collections.Counter()
event.listen(Engine, "before_cursor_execute", lambda *a, **k: count.update(["n"]))
from testkit.harness import app_test
pages = ["home", "explore", "train", "evaluate", "draw", "compare"]
out = {}
for name in pages:
    app = app_test(f"app_pages/{name}.py")
    app.run()
    count.clear()
    app.run()
    out[name] = count["n"]
print("QUERIES " + json.dumps(out))
"""


def queries(tree: Path, folder: Path, database_url: str | None) -> dict[str, int]:
    env = {**os.environ, "PYTHONPATH": str(tree), "MNIST_STUDIO_RUNS_DIR": str(folder / "q")}
    if database_url:
        env["MNIST_STUDIO_DATABASE_URL"] = database_url
    done = subprocess.run(
        [sys.executable, "-c", QUERY_COUNTER],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    line = next((x for x in done.stdout.splitlines() if x.startswith("QUERIES ")), None)
    if line is None:
        raise RuntimeError(done.stderr[-3000:])
    return json.loads(line.removeprefix("QUERIES "))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--before", default="main", help="a git revision of this repository")
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--skip-browser", action="store_true")
    parser.add_argument("--browser-only", action="store_true", help="idle and watching tabs only")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    work = Path(tempfile.mkdtemp(prefix="bench-visitor-cost-"))
    before_tree = work / "before"
    before_tree.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(PROJECT_ROOT), "archive", args.before],
        capture_output=True,
        check=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(before_tree)], input=archive, check=True)
    trees = [("before", before_tree), ("after", PROJECT_ROOT)]
    rows: dict[str, dict[str, dict]] = {}
    print(f"load at start: {load()}")
    try:
        if not args.skip_browser:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=chromium_path(), args=CHROMIUM_ARGS
                )
                for label, tree in trees:
                    for case, figures in idle_and_watching(
                        tree, work, args.seconds, browser
                    ).items():
                        rows.setdefault(case, {})[label] = {**figures, "load": load()}
                browser.close()
        for label, tree in [] if args.browser_only else trees:
            for case, figures in page_changes(tree, work).items():
                rows.setdefault(case, {})[label] = {**figures, "load": load()}
        backends: list[tuple[str, str | None]] = [] if args.browser_only else [("SQLite", None)]
        postgres = None
        if args.postgres:
            from testkit.postgres import PostgresServer

            postgres = PostgresServer.start()
            backends.append(("PostgreSQL", None))
        for backend, _ in backends:
            for label, tree in trees:
                url = postgres.new_database() if backend == "PostgreSQL" and postgres else None
                for name, count in queries(tree, work, url).items():
                    case = f"SQL per rerun ({backend}): {name}"
                    rows.setdefault(case, {})[label] = {"statements": count, "load": load()}
        if postgres is not None:
            postgres.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print()
    for case, sides in rows.items():
        print(case)
        for label in ("before", "after"):
            if label in sides:
                figures = sides[label]
                text = ", ".join(
                    f"{key} {value:.3f}" if isinstance(value, float) else f"{key} {value}"
                    for key, value in figures.items()
                )
                print(f"  {label:6} {text}")
    print(f"load at end: {load()}")


if __name__ == "__main__":
    main()
