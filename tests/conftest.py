"""Shared fixtures: a temporary run store for every test (on SQLite, or on both backends with
`database_url`), and a real app in a real Chromium.

Browser tests use `streamlit_server` (a `streamlit run streamlit_app.py` on a free port,
started once per test session) and `page` (a fresh Playwright page in Debian's Chromium).
Screenshots go to `test-output/`. Fixtures only: starting servers, AppTests and
Chromium lives in `testkit/harness.py` and driving pages in `testkit/browser.py`, which the
benchmarks share; this file adds what only tests want (full error details).
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from pathlib import Path

import pytest

from testkit.harness import (
    CHROMIUM_ARGS,
    PROJECT_ROOT,
    chromium_path,
    start_streamlit,
    stop_streamlit,
)

OUTPUT_DIR = PROJECT_ROOT / "test-output"

# Users never see error details (.streamlit/config.toml); tests want the full message.
os.environ["STREAMLIT_CLIENT_SHOW_ERROR_DETAILS"] = "full"


# `make test` runs the suite in two pytest-xdist workers. Tests that start a Ray (a private
# local one, or a `ray start` cluster) take turns, one at a time across workers, through a
# file lock: one of them kills every Ray worker running a job on this machine, and two Rays
# at once would double the memory. (xdist's `--dist loadgroup` would keep them in one worker,
# but with pytest 9.2 it silently does not group: it renames `item._nodeid`, which pytest no
# longer reads.)
RAY_TEST_FILES = frozenset(
    {"test_executors.py", "test_ray_browser.py", "test_ray_detached_jobs.py"}
)
RAY_LOCK = Path(tempfile.gettempdir()) / "mnist-studio-ray-tests.lock"


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.path.name in RAY_TEST_FILES:
            item.add_marker(pytest.mark.ray)


@pytest.fixture(autouse=True)
def one_ray_test_at_a_time(request):
    """Hold the machine-wide Ray test lock for the length of a test marked `ray`."""
    if request.node.get_closest_marker("ray") is None:
        yield
        return
    with RAY_LOCK.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


@pytest.fixture(autouse=True)
def isolated_run_store(tmp_path_factory, monkeypatch):
    """Point the run store at a fresh folder so tests never touch the user's runs."""
    folder = tmp_path_factory.mktemp("runs")
    monkeypatch.setenv("MNIST_STUDIO_RUNS_DIR", str(folder))
    return folder


@pytest.fixture(scope="session")
def postgres_server():
    """A throwaway PostgreSQL server for this test process (`testkit.postgres`), stopped at
    the end of the session."""
    from testkit.postgres import PostgresServer

    server = PostgresServer.start()
    yield server
    from core.runs.heartbeats import stop_heartbeats

    stop_heartbeats()  # Before the server goes: no heartbeat left to complain it is gone.
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request):
    """The run store's ``database_url`` for a test that must pass on both backends: None
    (the SQLite file in the store's folder) or a fresh, empty PostgreSQL database."""
    if request.param == "sqlite":
        return None
    return request.getfixturevalue("postgres_server").new_database()


@pytest.fixture(scope="session")
def mnist():
    """The bundled MNIST dataset (one read-only copy per process)."""
    from core.data.datasets import load_default_dataset

    return load_default_dataset()


@pytest.fixture(scope="session")
def output_dir() -> Path:
    """Return the folder for screenshots and other test artefacts."""
    OUTPUT_DIR.mkdir(exist_ok=True)
    return OUTPUT_DIR


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
