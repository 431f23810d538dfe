"""Benchmark MNIST Studio as a hosted demo: memory, cold start and many visitors at once.

Everything runs against real `streamlit run app.py` servers on 127.0.0.1, driven by
Playwright in Debian's Chromium (one browser context per visitor, so one Streamlit session
each). Memory and loaded libraries are read from `/proc/<pid>` of the server process and its
children (VmRSS, VmHWM, maps).

1. Memory: RSS and peak RSS (VmHWM) of the app process idle after start, after one visitor
   explored the data and trained the article's model ("As in the article": 784-128-10, 20
   epochs, 45,000 images), and after two more visitors each trained one (three in all).
   Targets: under 1.2 GB and 1.6 GB.
2. Cold start: from launching `streamlit run app.py` to the Home page rendered in Chromium
   (median of 3; target under 6 s), and whether TensorFlow's library was loaded by then
   (Home must not import it). A Train page visit afterwards is the positive control.
3. Many visitors: N sessions (default 5) each press Train on a small configuration within a
   second of each other, with the demo profile on (MNIST_STUDIO_DEMO_MODE=1). Reports each
   one's wait in the queue (from the click to the first progress bar), its own result, what
   the Compare page shows it, and the health endpoint's latency polled from a thread
   throughout. Run once with max_concurrent_jobs=2 (the default) and once with one slot per
   visitor, side by side.

Usage:
    .venv/bin/python -m bench.bench_hosting [--phases memory,cold,visitors] [--visitors 5]

About 3 minutes on 2 idle cores (2026-11-25: 103 s for cold start, memory and throughput,
69 s for the visitors); up to 20 minutes if trainings stall and hit the timeouts.
Screenshots go to test-output/bench-hosting-*.png.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from core.nn import PRESETS, TrainingConfig
from testkit.harness import (
    CHROMIUM_ARGS,
    HealthPoller,
    chromium_path,
    free_port,
    health_ok,
    page_errors,
    process_tree,
    start_streamlit,
    stop_streamlit,
    streamlit_command,
)

PROJECT_ROOT = Path(__file__).resolve().parent.parent

OUTPUT_DIR = PROJECT_ROOT / "test-output"
MEMORY_TARGET_ONE_MB = 1200
MEMORY_TARGET_THREE_MB = 1600
COLD_START_TARGET_SECONDS = 6.0
TRAINING_TIMEOUT_SECONDS = 420
QUICK_TIMEOUT_SECONDS = 240
START_TIMEOUT_SECONDS = 60
HEALTH_INTERVAL_SECONDS = 0.2
TENSORFLOW_LIBRARIES = ("libtensorflow", "_pywrap_tensorflow")

MAIN = '[data-testid="stMain"]'
PROGRESS = f'{MAIN} [data-testid="stProgress"]'
APP_IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
HOME_RENDERED = f'{APP_IDLE} {MAIN} h1:has-text("MNIST Studio")'


# --- The server process, seen from /proc --------------------------------------------------


def _status_fields(pid: int) -> dict[str, int]:
    fields = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM", "Threads"):
                fields[name] = int(value.split()[0])
    except OSError:
        pass
    return fields


@dataclass
class Memory:
    """Memory of the server process tree, in MB (1 MB = 1,000,000 bytes)."""

    rss_mb: float
    peak_mb: float
    threads: int
    processes: int


def memory(pid: int) -> Memory:
    """Current RSS (sum over the tree), peak RSS (VmHWM summed) and thread count."""
    statuses = [_status_fields(child) for child in process_tree(pid)]
    return Memory(
        rss_mb=sum(status.get("VmRSS", 0) for status in statuses) * 1024 / 1e6,
        peak_mb=sum(status.get("VmHWM", 0) for status in statuses) * 1024 / 1e6,
        threads=sum(status.get("Threads", 0) for status in statuses),
        processes=len(statuses),
    )


def tensorflow_loaded(pid: int) -> bool:
    """True when any process of the tree has TensorFlow's shared library mapped."""
    for child in process_tree(pid):
        try:
            maps = Path(f"/proc/{child}/maps").read_text()
        except OSError:
            continue
        if any(library in maps for library in TENSORFLOW_LIBRARIES):
            return True
    return False


def load_average() -> str:
    """The 1, 5 and 15 minute load averages, as `uptime` prints them."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


# --- Visitors -----------------------------------------------------------------------------


def query_string(config: TrainingConfig) -> str:
    return "&".join(f"{name}={value}" for name, value in config.to_query_params().items())


@dataclass
class Visitor:
    """One person: a browser context (its own Streamlit session) on one page."""

    name: str
    page: object
    clicked_at: float | None = None
    queued_seen: bool = False
    started_at: float | None = None
    finished_at: float | None = None
    state: str = "idle"
    result: dict = field(default_factory=dict)

    def open(self, base_url: str, path: str = "", timeout: float = 90_000) -> None:
        self.page.goto(f"{base_url}/{path}")
        self.page.wait_for_selector(APP_IDLE, timeout=timeout)
        self.page.wait_for_selector(MAIN, timeout=timeout)

    def navigate(self, title: str, heading: str) -> None:
        """Go to another page through the sidebar, keeping this Streamlit session."""
        self.page.locator('[data-testid="stSidebarNav"] a').filter(has_text=title).first.click()
        self.page.wait_for_selector(f'{MAIN} h1:has-text("{heading}")')
        self.page.wait_for_selector(APP_IDLE)

    def press_train(self) -> None:
        self.page.locator(f"{MAIN} button").filter(has_text="Train").first.click()
        self.clicked_at = time.perf_counter()
        self.state = "clicked"

    def poll(self) -> str:
        """Look at the page once and note when the job was queued, started and finished."""
        text = self.page.inner_text(MAIN)
        now = time.perf_counter()
        if "waiting in the queue" in text:
            self.queued_seen = True
            self.state = "queued"
        elif ("Training finished." in text or "Stopped after" in text) and "Tested on" in text:
            self.state = "finished"
        elif "The training failed" in text or "cancelled before it started" in text:
            self.state = "failed"
        elif self.page.query_selector(PROGRESS) is not None:
            self.state = "running"
        if self.state in ("running", "finished", "failed") and self.started_at is None:
            self.started_at = now
        if self.state in ("finished", "failed") and self.finished_at is None:
            self.finished_at = now
            self.result = read_result(text)
        return self.state

    @property
    def done(self) -> bool:
        return self.state in ("finished", "failed")

    @property
    def queue_seconds(self) -> float | None:
        if self.clicked_at is None or self.started_at is None:
            return None
        return self.started_at - self.clicked_at

    @property
    def total_seconds(self) -> float | None:
        if self.clicked_at is None or self.finished_at is None:
            return None
        return self.finished_at - self.clicked_at


def read_result(text: str) -> dict:
    """Parse what the Train page shows of a finished job: name, test accuracy, run id."""
    name = re.search(r"Latest training: (.+)", text)
    accuracy = re.search(r"Test accuracy\s+([\d.]+)%", text)
    training = re.search(r"Training time\s+(?:(\d+) min )?([\d.]+) s", text)
    run_id = re.search(r"Saved as run (\S+?)\.", text)
    speed = re.search(r"Images per second\s+([\d,]+)", text)
    return {
        "name": name.group(1).strip() if name else None,
        "accuracy": float(accuracy.group(1)) if accuracy else None,
        "train_seconds": (
            60 * int(training.group(1) or 0) + float(training.group(2)) if training else None
        ),
        "run_id": run_id.group(1) if run_id else None,
        "images_per_second": int(speed.group(1).replace(",", "")) if speed else None,
        "errors": None,
    }


def new_visitor(browser, name: str) -> Visitor:
    context = browser.new_context(viewport={"width": 1400, "height": 1600})
    context.set_default_timeout(60_000)
    return Visitor(name=name, page=context.new_page())


def close_visitor(visitor: Visitor) -> None:
    visitor.page.context.close()


def wait_until_done(visitors: list[Visitor], timeout: float) -> None:
    """Poll every visitor's page in turn until all are done or `timeout` seconds passed."""
    started = time.perf_counter()
    deadline, next_report = started + timeout, started + 30
    while time.perf_counter() < deadline and not all(v.done for v in visitors):
        for visitor in visitors:
            if not visitor.done:
                visitor.poll()
        if len(visitors) > 1 and time.perf_counter() > next_report:
            next_report += 30
            states = ", ".join(visitor.state for visitor in visitors)
            print(f"  after {time.perf_counter() - started:.0f} s: {states}", flush=True)
        time.sleep(0.1)
    for visitor in visitors:
        if visitor.done:
            visitor.result["errors"] = page_errors(visitor.page)


def stored_runs(runs_folder: Path) -> int:
    """How many runs the server's SQLite store holds (read-only; 0 before it exists)."""
    database = runs_folder / "runs.sqlite"
    if not database.exists():
        return 0
    try:
        with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
            return db.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
    except sqlite3.Error:
        return 0


def train_while_away(
    visitors: list[Visitor], base_url: str, runs_folder: Path, timeout: float
) -> None:
    """Each visitor presses Train, waits for the job to be accepted, then goes to Home.

    Away from the Train page no fragment reruns twice a second, so the training gets the
    CPU the way it does for a visitor who reads another page. The run store tells when the
    jobs are done; then each visitor comes back to the Train page to read its result.
    """
    expected = stored_runs(runs_folder) + len(visitors)
    for visitor in visitors:
        visitor.press_train()
    for visitor in visitors:
        deadline = time.perf_counter() + 60
        while visitor.poll() in ("clicked", "idle") and time.perf_counter() < deadline:
            time.sleep(0.1)
        visitor.navigate("Home", "MNIST Studio")
    deadline = time.perf_counter() + timeout
    while stored_runs(runs_folder) < expected and time.perf_counter() < deadline:
        time.sleep(1)
    for visitor in visitors:
        visitor.navigate("Train", "Train a network")
    wait_until_done(visitors, 60)


# --- 1. Memory ----------------------------------------------------------------------------


def memory_phase(browser, folder: Path) -> None:
    print("\n## 1. Memory of the app process (MB = 10^6 bytes)", flush=True)
    (folder / "memory").mkdir()
    process, base_url, _ = start_streamlit(folder / "memory")
    runs_folder = folder / "memory" / "runs"
    rows = []

    def record(stage: str) -> None:
        sample = memory(process.pid)
        rows.append((stage, sample, tensorflow_loaded(process.pid)))
        print(f"  {stage}: RSS {sample.rss_mb:.0f} MB, peak {sample.peak_mb:.0f} MB", flush=True)

    article = PRESETS["As in the article"]
    results = []
    try:
        time.sleep(2)
        record("idle after start, no visitor")
        first = new_visitor(browser, "visitor 1")
        first.open(base_url)
        record("visitor 1 on Home")
        first.open(base_url, "explore")
        record("visitor 1 explored the data")
        first.open(base_url, f"train?{query_string(article)}")
        record("visitor 1 on Train (article preset)")
        train_while_away([first], base_url, runs_folder, TRAINING_TIMEOUT_SECONDS)
        results.append(first)
        record(f"visitor 1 trained the article's model{_unfinished([first])}")
        first.page.screenshot(path=str(OUTPUT_DIR / "bench-hosting-article.png"), full_page=True)

        others = [new_visitor(browser, f"visitor {number}") for number in (2, 3)]
        for visitor in others:
            visitor.open(base_url)
            visitor.open(base_url, "explore")
            visitor.open(base_url, f"train?{query_string(article)}")
        train_while_away(others, base_url, runs_folder, TRAINING_TIMEOUT_SECONDS)
        results.extend(others)
        record(f"three visitors each trained one{_unfinished(others)}")
        for visitor in [first, *others]:
            close_visitor(visitor)
        time.sleep(5)
        record("5 s after all three closed their tabs")
    finally:
        stop_streamlit(process)

    print("\n| stage | RSS MB | peak RSS (VmHWM) MB | threads | TensorFlow loaded |")
    print("|---|---:|---:|---:|---|")
    for stage, sample, tf_loaded in rows:
        print(
            f"| {stage} | {sample.rss_mb:,.0f} | {sample.peak_mb:,.0f} | {sample.threads} | "
            f"{'yes' if tf_loaded else 'no'} |"
        )
    processes = {sample.processes for _, sample, _ in rows}
    print(f"\nProcesses in the server's tree: {sorted(processes)}")
    print(
        f"Peak after one article training: {rows[4][1].peak_mb:,.0f} MB "
        f"(target < {MEMORY_TARGET_ONE_MB})"
    )
    print(f"Peak after three: {rows[5][1].peak_mb:,.0f} MB (target < {MEMORY_TARGET_THREE_MB})")
    print("\n| visitor | state | test accuracy | training s (page) | images/s (page) | errors |")
    print("|---|---|---:|---:|---:|---|")
    for visitor in results:
        result = visitor.result
        print(
            f"| {visitor.name} | {visitor.state} | {result.get('accuracy')}% | "
            f"{result.get('train_seconds')} | {result.get('images_per_second')} | "
            f"{result.get('errors') or 'none'} |"
        )


def _unfinished(visitors: list[Visitor]) -> str:
    """A warning to append to a stage's label when a training did not finish in time."""
    late = [visitor.name for visitor in visitors if not visitor.done]
    if not late:
        return ""
    return f" (NOT finished after {TRAINING_TIMEOUT_SECONDS} s: {', '.join(late)})"


# --- 1b. Training throughput: bare process, watched page, page left ------------------------

BARE_TRAINING = """
import sys
from core.nn.config import TrainingConfig
from core.data.datasets import load_default_dataset
from core.nn.training import train_model
result = train_model(TrainingConfig.from_json(sys.argv[1]), load_default_dataset(),
                     on_progress=lambda event: None)
print(f"RESULT {result.train_seconds:.2f} {result.samples_per_second:.0f}")
"""


def throughput_phase(browser, folder: Path) -> None:
    print("\n## 1b. Training throughput, the article's model for 2 epochs", flush=True)
    config = replace(PRESETS["As in the article"], epochs=2)
    rows = []
    load = load_average()
    bare = subprocess.run(
        [sys.executable, "-c", BARE_TRAINING, config.to_json()],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=TRAINING_TIMEOUT_SECONDS,
    )  # fmt: skip
    match = re.search(r"RESULT ([\d.]+) (\d+)", bare.stdout)
    rows.append(
        ("train_model in a plain process", match and match.group(1), match and match.group(2), load)
    )

    (folder / "throughput").mkdir()
    process, base_url, _ = start_streamlit(folder / "throughput")
    runs_folder = folder / "throughput" / "runs"
    try:
        watcher = new_visitor(browser, "watcher")
        watcher.open(base_url)
        watcher.open(base_url, f"train?{query_string(config)}")
        load = load_average()
        watcher.press_train()
        wait_until_done([watcher], TRAINING_TIMEOUT_SECONDS)
        result = watcher.result
        rows.append(
            (
                "app, visitor watching the Train page",
                result.get("train_seconds"),
                result.get("images_per_second"),
                load,
            )
        )
        close_visitor(watcher)

        leaver = new_visitor(browser, "leaver")
        leaver.open(base_url)
        leaver.open(base_url, f"train?{query_string(config)}")
        load = load_average()
        train_while_away([leaver], base_url, runs_folder, TRAINING_TIMEOUT_SECONDS)
        result = leaver.result
        rows.append(
            (
                "app, visitor on Home while it trains",
                result.get("train_seconds"),
                result.get("images_per_second"),
                load,
            )
        )
        close_visitor(leaver)
    finally:
        stop_streamlit(process)
    print("\n| where | training s | images/s | load average (1, 5, 15 min) at start |")
    print("|---|---:|---:|---|")
    for where, seconds, speed, load in rows:
        print(f"| {where} | {seconds} | {speed} | {load} |")


# --- 2. Cold start ------------------------------------------------------------------------


def one_cold_start(browser, folder: Path) -> dict:
    """Launch a server, open Home in a fresh context; return the timings and TF state."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "MNIST_STUDIO_RUNS_DIR": str(folder / f"runs-{port}")}
    visitor = new_visitor(browser, "cold")
    log = (folder / f"cold-{port}.log").open("w")
    started = time.perf_counter()
    process = subprocess.Popen(
        streamlit_command(port), cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        deadline = started + START_TIMEOUT_SECONDS
        while not health_ok(base_url, timeout=1):
            if time.perf_counter() > deadline or process.poll() is not None:
                raise RuntimeError(f"the server did not start; see {log.name}")
            time.sleep(0.05)
        healthy = time.perf_counter() - started
        visitor.page.goto(base_url)
        visitor.page.wait_for_selector(HOME_RENDERED, timeout=START_TIMEOUT_SECONDS * 1000)
        rendered = time.perf_counter() - started
        home_tf = tensorflow_loaded(process.pid)
        home_memory = memory(process.pid)
        # Positive control: the Train page builds a model, so TensorFlow must appear.
        visitor.open(base_url, "train")
        train_tf = tensorflow_loaded(process.pid)
        train_memory = memory(process.pid)
    finally:
        close_visitor(visitor)
        stop_streamlit(process)
        log.close()
    return {
        "healthy": healthy,
        "rendered": rendered,
        "home_tf": home_tf,
        "home_rss": home_memory.rss_mb,
        "train_tf": train_tf,
        "train_rss": train_memory.rss_mb,
    }


def cold_start_phase(browser, folder: Path, repeats: int) -> None:
    print("\n## 2. Cold start: `streamlit run app.py` to Home rendered in Chromium", flush=True)
    runs = []
    for number in range(repeats):
        run = one_cold_start(browser, folder)
        runs.append(run)
        print(f"  start {number + 1}: {run['rendered']:.2f} s", flush=True)
    print(
        "\n| start | health answers s | Home rendered s | TF loaded on Home | RSS on Home MB "
        "| TF loaded after Train | RSS after Train MB |"
    )
    print("|---|---:|---:|---|---:|---|---:|")
    for number, run in enumerate(runs, start=1):
        print(
            f"| {number} | {run['healthy']:.2f} | {run['rendered']:.2f} | "
            f"{'yes' if run['home_tf'] else 'no'} | {run['home_rss']:.0f} | "
            f"{'yes' if run['train_tf'] else 'no'} | {run['train_rss']:.0f} |"
        )
    median = statistics.median(run["rendered"] for run in runs)
    print(f"\nMedian to Home rendered: {median:.2f} s (target < {COLD_START_TARGET_SECONDS} s)")


# --- 3. Many visitors ---------------------------------------------------------------------


def visitor_configs(count: int) -> list[TrainingConfig]:
    """Quick look with a different hidden layer each, so every job has its own name."""
    quick = PRESETS["Quick look"]
    return [replace(quick, hidden_layers=(32 + 8 * number,)) for number in range(count)]


def compare_view(visitor: Visitor, base_url: str) -> dict:
    """What the Compare page shows this visitor: the run count and the runs' names."""
    visitor.navigate("Compare runs", "Compare runs")
    text = visitor.page.inner_text(MAIN)
    counts = re.search(r"(\d+) of (\d+) runs", text)
    box = visitor.page.locator(f'{MAIN} [data-testid="stSelectbox"]').filter(
        has=visitor.page.get_by_role("combobox", name="Run", exact=True)
    )
    box.locator('button[aria-label="Open"]').click()
    options = visitor.page.locator('[role="option"]').all_inner_texts()
    visitor.page.keyboard.press("Escape")
    return {
        "shown": int(counts.group(2)) if counts else 0,
        "names": [option.split(" · ")[0] for option in options],
    }


def safe_compare_view(visitor: Visitor, base_url: str) -> dict:
    """`compare_view`, or an empty view when the page could not be read in time."""
    from playwright.sync_api import Error as PlaywrightError

    try:
        return compare_view(visitor, base_url)
    except PlaywrightError as error:
        print(f"  {visitor.name}: the Compare page could not be read: {error}", flush=True)
        return {"shown": None, "names": []}


def many_visitors(browser, folder: Path, count: int, slots: int) -> dict:
    env = {"MNIST_STUDIO_DEMO_MODE": "1", "MNIST_STUDIO_MAX_CONCURRENT_JOBS": str(slots)}
    (folder / f"visitors-{slots}").mkdir()
    process, base_url, _ = start_streamlit(folder / f"visitors-{slots}", env)
    poller = HealthPoller(base_url, interval=HEALTH_INTERVAL_SECONDS)
    visitors = [new_visitor(browser, f"visitor {number + 1}") for number in range(count)]
    try:
        # The first visit to a fresh server goes to Home.
        visitors[0].open(base_url)
        for visitor, config in zip(visitors, visitor_configs(count), strict=True):
            visitor.open(base_url, f"train?{query_string(config)}")
        before = memory(process.pid)
        poller.start()
        started = time.perf_counter()
        for visitor in visitors:
            visitor.press_train()
        wait_until_done(visitors, QUICK_TIMEOUT_SECONDS)
        wall = time.perf_counter() - started
        after = memory(process.pid)
        visitors[-1].page.screenshot(
            path=str(OUTPUT_DIR / f"bench-hosting-visitor-slots{slots}.png"), full_page=True
        )
        poller.stop()
        print(f"  all done after {wall:.0f} s: " + ", ".join(v.state for v in visitors), flush=True)
        views = [safe_compare_view(visitor, base_url) for visitor in visitors]
        visitors[0].page.screenshot(
            path=str(OUTPUT_DIR / f"bench-hosting-compare-slots{slots}.png"), full_page=True
        )
    finally:
        poller.stop()
        for visitor in visitors:
            close_visitor(visitor)
        stop_streamlit(process)
    return {
        "slots": slots,
        "visitors": visitors,
        "views": views,
        "wall": wall,
        "health": poller.latencies,
        "health_failures": poller.failures,
        "before": before,
        "after": after,
    }


def _seconds(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


def report_visitors(outcome: dict) -> None:
    visitors, views = outcome["visitors"], outcome["views"]
    print(f"\n### {len(visitors)} visitors, max_concurrent_jobs={outcome['slots']}, demo mode on")
    print(
        "\n| visitor | job | saw the queue | click to first progress s | click to result s "
        "| test accuracy | run id | Compare shows | only its own run |"
    )
    print("|---|---|---|---:|---:|---:|---|---|---|")
    run_ids = [visitor.result.get("run_id") for visitor in visitors]
    for visitor, view in zip(visitors, views, strict=True):
        result = visitor.result
        own = result.get("name")
        others = [name for name in view["names"] if name != own and name.startswith("784-")]
        print(
            f"| {visitor.name} | {own} | {'yes' if visitor.queued_seen else 'no'} | "
            f"{_seconds(visitor.queue_seconds)} | {_seconds(visitor.total_seconds)} | "
            f"{result.get('accuracy')}% | {result.get('run_id')} | "
            f"{view['shown']} run(s): {', '.join(view['names']) or '–'} | "
            f"{'yes' if own in view['names'] and not others else 'NO'} |"
        )
    finished = sum(visitor.state == "finished" for visitor in visitors)
    names = {visitor.result.get("name") for visitor in visitors}
    errors = [visitor.result.get("errors") for visitor in visitors if visitor.result.get("errors")]
    waits = [v.queue_seconds for v in visitors if v.queue_seconds is not None]
    health = outcome["health"]
    print(
        f"\nFinished: {finished} of {len(visitors)}; distinct jobs: {len(names)}; distinct run "
        f"ids: {len(set(run_ids) - {None})}; error boxes: {errors or 'none'}"
    )
    if waits:
        print(
            f"Queue wait (click to first progress): median {statistics.median(waits):.1f} s, "
            f"max {max(waits):.1f} s; all {len(visitors)} done after {outcome['wall']:.1f} s"
        )
    if health:
        ordered = sorted(health)
        print(
            f"/_stcore/health: {len(health)} answers, {outcome['health_failures']} failures; "
            f"median {1000 * statistics.median(health):.0f} ms, "
            f"p95 {1000 * ordered[int(0.95 * (len(ordered) - 1))]:.0f} ms, "
            f"max {1000 * max(health):.0f} ms"
        )
    print(
        f"Server RSS {outcome['before'].rss_mb:.0f} MB before, {outcome['after'].rss_mb:.0f} MB "
        f"after (peak {outcome['after'].peak_mb:.0f} MB); threads "
        f"{outcome['before'].threads} -> {outcome['after'].threads}"
    )


def visitors_phase(browser, folder: Path, count: int) -> None:
    print(f"\n## 3. {count} visitors training at once", flush=True)
    outcomes = []
    for slots in (2, count):
        outcome = many_visitors(browser, folder, count, slots)
        outcomes.append(outcome)
        report_visitors(outcome)
    if len(outcomes) == 2:
        print("\n| max_concurrent_jobs | median queue wait s | max queue wait s | all done s |")
        print("|---:|---:|---:|---:|")
        for outcome in outcomes:
            waits = [v.queue_seconds for v in outcome["visitors"] if v.queue_seconds is not None]
            print(
                f"| {outcome['slots']} | {_seconds(statistics.median(waits) if waits else None)} "
                f"| {_seconds(max(waits) if waits else None)} | {outcome['wall']:.1f} |"
            )


# --- Main ---------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phases", default="cold,memory,throughput,visitors")
    parser.add_argument("--visitors", type=int, default=5)
    parser.add_argument("--cold-starts", type=int, default=3)
    arguments = parser.parse_args()
    phases = {phase.strip() for phase in arguments.phases.split(",")}

    from playwright.sync_api import sync_playwright

    OUTPUT_DIR.mkdir(exist_ok=True)
    began = time.perf_counter()
    print(f"Load average at start: {load_average()} ({os.cpu_count()} CPU cores)")
    with tempfile.TemporaryDirectory() as temporary, sync_playwright() as playwright:
        folder = Path(temporary)
        browser = playwright.chromium.launch(
            executable_path=chromium_path(), args=CHROMIUM_ARGS, headless=True
        )
        try:
            if "cold" in phases:
                cold_start_phase(browser, folder, arguments.cold_starts)
            if "memory" in phases:
                memory_phase(browser, folder)
            if "throughput" in phases:
                throughput_phase(browser, folder)
            if "visitors" in phases:
                visitors_phase(browser, folder, arguments.visitors)
        finally:
            browser.close()
    print(f"\nLoad average at end: {load_average()}; whole run {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
