"""Several MNIST Studio processes behind nginx, started for a test or a bench and stopped.

The processes and nginx run exactly as ``make class`` runs them: the command and shared
settings of `deploy.processes`, the configuration of `deploy.nginx` (so tests exercise the
shipped one). nginx's access log says which process served each request; a browser is told
apart from others by its user agent (give each Playwright context its own).

API (also for `bench/`):
    cluster = start(2, {"MNIST_STUDIO_DATABASE_URL": url})  # optional 3rd: a folder for logs
    cluster.url               # nginx, http://127.0.0.1:PORT: what visitors open
    cluster.process_urls      # each app process directly, in order
    cluster.upstream_for(ua)  # index of the process that last served that browser, or None
    cluster.served(ua)        # every logged request of that browser (`ServedRequest`s)
    cluster.kill(0)           # SIGKILL one app process, as a crash would
    cluster.stop()            # every process and nginx

The environment must name a PostgreSQL store (``MNIST_STUDIO_DATABASE_URL``): processes that
share nothing else cannot show one visitor's runs on another process.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock

from deploy.nginx import ACCESS_LOG, nginx_command, write_nginx_config
from deploy.processes import app_command, new_cookie_secret, shared_environment
from testkit.harness import free_port, health_ok, start_streamlit, stop_streamlit

NGINX_START_TIMEOUT = 30
LOG_LINE = re.compile(
    r'^\S+ (?P<status>\d{3}) "(?P<request>[^"]*)" upstream=(?P<upstream>\S*) '
    r'visitor=(?P<visitor>yes|no) "(?P<user_agent>[^"]*)"$'
)


@dataclass(frozen=True)
class ServedRequest:
    """One line of nginx's access log: a request and the app process(es) nginx sent it to.

    `upstreams` names each process tried in order (``127.0.0.1:PORT``); more than one when
    the first failed and nginx went on to the next.
    """

    request: str
    status: int
    upstreams: tuple[str, ...]
    with_visitor_cookie: bool
    user_agent: str


@dataclass
class Cluster:
    """App processes on 127.0.0.1 behind one nginx; see the module's docstring."""

    url: str
    process_urls: list[str]
    processes: list[subprocess.Popen]
    log_paths: list[Path]
    nginx: subprocess.Popen
    run_dir: Path
    remove_on_stop: Path | None = None
    _stopped: set[int] = field(default_factory=set)

    def served(self, user_agent: str) -> list[ServedRequest]:
        """Every request of the browser with `user_agent` that nginx has logged, in order.

        nginx logs a request once it has answered it (a moment after the client has the
        answer), a WebSocket only once it closes.
        """
        requests = []
        log = self.run_dir / ACCESS_LOG
        for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
            match = LOG_LINE.match(line)
            if match is None or match["user_agent"] != user_agent:
                continue
            upstreams = tuple(
                address.strip() for address in match["upstream"].split(",") if address.strip()
            )
            requests.append(
                ServedRequest(
                    request=match["request"],
                    status=int(match["status"]),
                    upstreams=upstreams,
                    with_visitor_cookie=match["visitor"] == "yes",
                    user_agent=match["user_agent"],
                )
            )
        return requests

    def process_index(self, upstream: str) -> int | None:
        """The index of the app process at `upstream` (``127.0.0.1:PORT``), or None."""
        addresses = [url.removeprefix("http://") for url in self.process_urls]
        return addresses.index(upstream) if upstream in addresses else None

    def upstream_for(self, user_agent: str) -> int | None:
        """The index of the process that served the latest request nginx logged for the
        browser with `user_agent` and its visitor cookie, or None before any."""
        for served in reversed(self.served(user_agent)):
            if served.with_visitor_cookie and served.upstreams:
                return self.process_index(served.upstreams[-1])
        return None

    def kill(self, index: int) -> None:
        """Kill app process `index` with SIGKILL (no clean-up of any kind) and reap it."""
        process = self.processes[index]
        process.kill()
        process.wait(timeout=15)
        self._stopped.add(index)

    def stop(self) -> None:
        """Stop nginx and every app process still running."""
        self.nginx.terminate()
        try:
            self.nginx.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.nginx.kill()
        for index, process in enumerate(self.processes):
            if index not in self._stopped:
                stop_streamlit(process)
                self._stopped.add(index)
        if self.remove_on_stop is not None:
            shutil.rmtree(self.remove_on_stop, ignore_errors=True)


def _max_upload_mb(environment: dict[str, str]) -> int:
    """The `max_upload_mb` the app processes will read from `environment`."""
    from core.settings import limits

    with mock.patch.dict("os.environ", environment):
        return limits().max_upload_mb


def _wait_for_nginx(url: str, nginx: subprocess.Popen, error_log: Path) -> None:
    deadline = time.monotonic() + NGINX_START_TIMEOUT
    while time.monotonic() < deadline:
        if nginx.poll() is not None:
            raise RuntimeError(f"nginx exited early:\n{error_log.read_text()[-4000:]}")
        if health_ok(url):
            return
        time.sleep(0.2)
    raise RuntimeError(f"nginx did not answer in time:\n{error_log.read_text()[-4000:]}")


def start(n_processes: int, env: dict[str, str], folder: Path | None = None) -> Cluster:
    """Start `n_processes` app processes and nginx in front of them; return the `Cluster`.

    Args:
        n_processes: How many app processes.
        env: Settings for every process; must include ``MNIST_STUDIO_DATABASE_URL``.
        folder: Where logs, each process's own ``runs_dir`` and nginx's files go; None for
            a new temporary folder, removed by `Cluster.stop`.

    Raises:
        ValueError: If `env` names no database.
        RuntimeError: If a process or nginx does not start (with the end of its log).
    """
    database_url = env.get("MNIST_STUDIO_DATABASE_URL")
    if not database_url:
        raise ValueError("Processes behind one nginx must share a PostgreSQL store.")
    temporary = None
    if folder is None:
        folder = temporary = Path(tempfile.mkdtemp(prefix="mnist-studio-cluster-"))
    environment = {
        **env,
        **shared_environment(
            new_cookie_secret(), database_url, env.get("MNIST_STUDIO_RAY_ADDRESS"), n_processes
        ),
    }

    def start_one(index: int):
        process_folder = folder / f"app-{index}"
        process_folder.mkdir(parents=True, exist_ok=True)
        own = {"MNIST_STUDIO_RUNS_DIR": str(process_folder / "runs"), **environment}
        return start_streamlit(process_folder, own, command=app_command)

    with ThreadPoolExecutor(n_processes) as pool:
        futures = [pool.submit(start_one, index) for index in range(n_processes)]
    started, errors = [], []
    for future in futures:
        try:
            started.append(future.result())
        except RuntimeError as error:
            errors.append(error)
    if errors:
        for process, _, _ in started:
            stop_streamlit(process)
        raise errors[0]
    processes = [process for process, _, _ in started]
    process_urls = [url for _, url, _ in started]
    run_dir = folder / "nginx"
    port = free_port()
    config = write_nginx_config(
        run_dir,
        listen=f"127.0.0.1:{port}",
        app_ports=[int(url.rsplit(":", 1)[1]) for url in process_urls],
        max_upload_mb=_max_upload_mb(environment),
    )
    nginx = subprocess.Popen(
        nginx_command(config), stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    cluster = Cluster(
        url=f"http://127.0.0.1:{port}",
        process_urls=process_urls,
        processes=processes,
        log_paths=[log_path for _, _, log_path in started],
        nginx=nginx,
        run_dir=config.parent,
        remove_on_stop=temporary,
    )
    try:
        _wait_for_nginx(cluster.url, nginx, config.parent / "nginx-error.log")
    except RuntimeError:
        cluster.stop()
        raise
    return cluster
