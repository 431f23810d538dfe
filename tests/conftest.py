"""Shared fixtures: a temporary run store for every test, and a real app in a real Chromium.

Browser tests use `streamlit_server` (a `streamlit run streamlit_app.py` on a free port,
started once per test session) and `page` (a fresh Playwright page in Debian's Chromium).
Screenshots go to `test-output/`.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
OUTPUT_DIR = PROJECT_ROOT / "test-output"
SERVER_START_TIMEOUT = 90

# Users never see error details (.streamlit/config.toml); tests want the full message.
os.environ["STREAMLIT_CLIENT_SHOW_ERROR_DETAILS"] = "full"


def app_test(page_path: str | None = None, timeout: float = 120):
    """Return an AppTest of the whole app (navigation and sidebar), switched to a page.

    Running a page through `app.py` is how users get it, and it lets the page use
    `st.page_link`. Set session state on the returned object, then call `.run()`.

    Args:
        page_path: A page script relative to the project, e.g. ``"app_pages/explore.py"``;
            None for the default (Home) page.
        timeout: Seconds each run may take.
    """
    from streamlit.testing.v1 import AppTest

    app = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=timeout)
    if page_path is not None:
        app.switch_page(page_path)
    return app


@pytest.fixture(autouse=True)
def isolated_run_store(tmp_path_factory, monkeypatch):
    """Point the run store at a fresh folder so tests never touch the user's runs."""
    folder = tmp_path_factory.mktemp("runs")
    monkeypatch.setenv("MNIST_STUDIO_RUNS_DIR", str(folder))
    return folder


@pytest.fixture(scope="session")
def mnist():
    """The bundled MNIST dataset (one read-only copy per process)."""
    from core.data import load_default_dataset

    return load_default_dataset()


@pytest.fixture(scope="session")
def output_dir() -> Path:
    """Return the folder for screenshots and other test artefacts."""
    OUTPUT_DIR.mkdir(exist_ok=True)
    return OUTPUT_DIR


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_health(base_url: str, process: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited early:\n{log_path.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(f"{base_url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"streamlit did not answer in time:\n{log_path.read_text()[-4000:]}")


def streamlit_command(port: int) -> list[str]:
    """Return the `streamlit run streamlit_app.py` command (as `make run`) for `port`."""
    return [
        sys.executable, "-m", "streamlit", "run", "streamlit_app.py",
        "--server.port", str(port),
        "--server.address", "127.0.0.1",
        "--server.headless", "true",
        "--server.fileWatcherType", "none",
        "--browser.gatherUsageStats", "false",
    ]  # fmt: skip


def start_streamlit(tmp_folder: Path, extra_env: dict[str, str] | None = None):
    """Start `streamlit run app.py` on a free port; return (process, base URL, log path)."""
    port = _free_port()
    log_path = tmp_folder / f"streamlit-{port}.log"
    env = {**os.environ, "MNIST_STUDIO_RUNS_DIR": str(tmp_folder / "runs")}
    env.update(extra_env or {})
    command = streamlit_command(port)
    log_file = log_path.open("w")
    process = subprocess.Popen(
        command, cwd=PROJECT_ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_for_health(base_url, process, log_path)
    except RuntimeError:
        process.kill()
        raise
    return process, base_url, log_path


def stop_streamlit(process: subprocess.Popen) -> None:
    """Stop a server started by `start_streamlit`."""
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="session")
def server_runs_dir(tmp_path_factory) -> Path:
    """The run store folder of `streamlit_server` (tests may add runs to it directly)."""
    return tmp_path_factory.mktemp("server-runs")


@pytest.fixture(scope="session")
def streamlit_server(tmp_path_factory, server_runs_dir):
    """A running MNIST Studio for the whole test session; yields its base URL."""
    folder = tmp_path_factory.mktemp("server")
    process, base_url, _ = start_streamlit(folder, {"MNIST_STUDIO_RUNS_DIR": str(server_runs_dir)})
    yield base_url
    stop_streamlit(process)


def chromium_path() -> str | None:
    """Return the Chromium to drive: $CHROMIUM_PATH, Debian's, or None for Playwright's."""
    for candidate in (os.environ.get("CHROMIUM_PATH"), "/usr/bin/chromium"):
        if candidate and Path(candidate).exists():
            return candidate
    return shutil.which("chromium")


CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser():
    """A headless Chromium driven by Playwright, shared by the test session."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=chromium_path(), args=CHROMIUM_ARGS, headless=True
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    """A fresh page (its own browser context, so its own Streamlit session)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(30_000)
    new_page = context.new_page()
    yield new_page
    context.close()


def wait_for_app(page, timeout: float = 60_000) -> None:
    """Wait until the Streamlit app has rendered and its script has finished running."""
    page.wait_for_selector(
        '[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=timeout
    )
    page.wait_for_selector('[data-testid="stMain"]', timeout=timeout)
    page.wait_for_timeout(300)


class HealthPoller(threading.Thread):
    """Requests a server's /_stcore/health every `interval` seconds from a thread; keeps the
    latency of each good answer and counts the failures (errors, timeouts, not "ok")."""

    def __init__(self, base_url: str, interval: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.url = f"{base_url}/_stcore/health"
        self.interval = interval
        self.latencies: list[float] = []
        self.failures = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            started = time.perf_counter()
            try:
                with urllib.request.urlopen(self.url, timeout=10) as response:
                    ok = response.status == 200 and response.read().strip() == b"ok"
            except OSError:
                ok = False
            if ok:
                self.latencies.append(time.perf_counter() - started)
            else:
                self.failures += 1
            self._stop_event.wait(self.interval)

    def stop(self) -> None:
        self._stop_event.set()
        if self.is_alive():
            self.join(timeout=15)


def readme_picture(page, name: str, scroll_to: str | None = None) -> None:
    """Save the README's picture of a page, when `make screenshots` asks for them.

    `make screenshots` sets MNIST_STUDIO_SCREENSHOT_DIR; otherwise this does nothing. The
    picture is one 1400x1000 screen, scrolled so `scroll_to` (a text on the page) is on top.
    """
    folder = os.environ.get("MNIST_STUDIO_SCREENSHOT_DIR")
    if not folder:
        return
    Path(folder).mkdir(parents=True, exist_ok=True)
    size = page.viewport_size
    page.set_viewport_size({"width": 1400, "height": 1000})
    try:
        if scroll_to is not None:
            target = page.get_by_text(scroll_to, exact=True).first
            target.evaluate("element => element.scrollIntoView({block: 'start'})")
            page.wait_for_timeout(500)  # let plotly redraw at the new size
        page.screenshot(path=str(Path(folder) / f"{name}.png"))
    finally:
        page.set_viewport_size(size)


def page_errors(page) -> list[str]:
    """Return the texts of error boxes and exceptions shown on the page."""
    selector = '[data-testid="stException"], [data-testid="stAlertContentError"]'
    return [element.inner_text() for element in page.query_selector_all(selector)]
