"""Run MNIST Studio for tests and benchmarks: a real server, an AppTest, a Chromium to drive.

Used by `tests/conftest.py` (whose fixtures build on it) and by the scripts in `bench/`.
Importing this module changes nothing in the environment: a server started here runs with
the app's own configuration (`.streamlit/config.toml`), as in production. The test session
adds its own settings in `tests/conftest.py` (full error details), and servers started
during tests inherit them.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SERVER_START_TIMEOUT = 90

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


T = TypeVar("T")


def run_coroutine(coroutine: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(coroutine)`, also in a thread whose event loop is running.

    Playwright's sync API keeps an event loop running in the thread that started it (a test
    process's main thread, once a browser test ran there), where `asyncio.run` refuses to
    start another: the coroutine then runs in a thread of its own.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


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


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def health_ok(base_url: str, timeout: float = 2) -> bool:
    """Return True if the server at `base_url` answers its health check with 200."""
    try:
        with urllib.request.urlopen(f"{base_url}/_stcore/health", timeout=timeout) as response:
            return response.status == 200
    except OSError:
        return False


def wait_for_health(
    base_url: str,
    process: subprocess.Popen,
    log_path: Path,
    timeout: float = SERVER_START_TIMEOUT,
    interval: float = 0.3,
) -> None:
    """Wait until a starting server answers its health check.

    Raises:
        RuntimeError: If the process exits or does not answer within `timeout` seconds,
            with the end of its log.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited early:\n{log_path.read_text()[-4000:]}")
        if health_ok(base_url):
            return
        time.sleep(interval)
    raise RuntimeError(f"streamlit did not answer in time:\n{log_path.read_text()[-4000:]}")


def streamlit_command(port: int) -> list[str]:
    """Return the `streamlit run streamlit_app.py` command (as `make run`) for `port`."""
    return [
        sys.executable, "-m", "streamlit", "run", "streamlit_app.py",
        "--server.port", str(port),
        "--server.address", "127.0.0.1",
        "--server.headless", "true",
        "--browser.gatherUsageStats", "false",
    ]  # fmt: skip


def start_streamlit(
    tmp_folder: Path,
    extra_env: dict[str, str] | None = None,
    command: Callable[[int], list[str]] = streamlit_command,
):
    """Start `streamlit run app.py` on a free port; return (process, base URL, log path).

    The server's run store is `tmp_folder/runs` unless `extra_env` names another;
    `command(port)` is what starts it (`streamlit_command` unless given).
    """
    port = free_port()
    log_path = tmp_folder / f"streamlit-{port}.log"
    env = {**os.environ, "MNIST_STUDIO_RUNS_DIR": str(tmp_folder / "runs")}
    env.update(extra_env or {})
    log_file = log_path.open("w")
    process = subprocess.Popen(
        command(port),
        cwd=PROJECT_ROOT,
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_for_health(base_url, process, log_path)
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


def chromium_path() -> str | None:
    """Return the Chromium to drive: $CHROMIUM_PATH, Debian's, or None for Playwright's."""
    for candidate in (os.environ.get("CHROMIUM_PATH"), "/usr/bin/chromium"):
        if candidate and Path(candidate).exists():
            return candidate
    return shutil.which("chromium")


def page_errors(page) -> list[str]:
    """Return the texts of error boxes and exceptions shown on the page."""
    selector = '[data-testid="stException"], [data-testid="stAlertContentError"]'
    return [element.inner_text() for element in page.query_selector_all(selector)]


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


def process_tree(pid: int) -> list[int]:
    """Return `pid` and all its descendants (read from /proc/<pid>/task/*/children)."""
    pids, pending = [], [pid]
    while pending:
        current = pending.pop()
        pids.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                pending.extend(int(child) for child in (task / "children").read_text().split())
            except OSError:
                continue
    return pids


def kill_ray_cluster(port: str) -> int:
    """Kill the processes of the Ray cluster whose head listens on ``port``; return how many.

    `ray stop` would end every Ray on the machine: other tests' and benchmarks' local Rays,
    and with them their drivers (a driver exits when its cluster goes).
    """
    killed = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        of_cluster = f":{port}".encode() in command or f"port={port}".encode() in command
        if of_cluster and (b"ray" in command or b"gcs_server" in command):
            try:
                os.kill(int(entry.name), 9)
                killed += 1
            except OSError:
                pass
    return killed


def clear_server_caches(base_url: str, timeout: float = 30) -> None:
    """Ask the server to clear its caches as any client can: a raw `BackMsg(clear_cache)`.

    Speaks Streamlit's own WebSocket protocol (no browser), then sends a heartbeat and waits
    for its acknowledgement: the server handles a session's messages in order, so the
    clear has been handled (or ignored) when this returns.
    """
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
    from websockets.sync.client import connect

    url = base_url.replace("http", "ws", 1) + "/_stcore/stream"
    with connect(url, subprotocols=["streamlit"], open_timeout=timeout) as socket_client:
        socket_client.send(BackMsg(clear_cache=True).SerializeToString())
        socket_client.send(BackMsg(app_heartbeat=True).SerializeToString())
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            answer = ForwardMsg()
            answer.ParseFromString(socket_client.recv(timeout=timeout))
            if answer.heartbeat_ack:
                return
        raise TimeoutError("The server did not acknowledge the heartbeat after the clear.")


def cpu_seconds(pid: int) -> float:
    """Return the CPU seconds (user + system) used so far by `pid` and its descendants."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for member in process_tree(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (children's own rows)
    return total / ticks
