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
from xdist.scheduler import LoadScopeScheduling

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

# Ray starts its workers at niceness 15 (its `worker_niceness`), so that on a shared host a
# training yields the CPU to the app's web tier. In the suite, the "web tier" is every other
# test: TensorFlow trainings and Chromiums at niceness 0 that starve a nice-15 worker (under
# ten busy loops a Ray job had not started after 420 s, and in CI a stopped job was not scored
# in 420 s; at niceness 0 it started in 80 s and stopped in 5 s). The suite's Rays (private
# ones, `ray start` clusters, and those of the servers it starts) inherit this.
os.environ["RAY_worker_niceness"] = "0"  # noqa: SIM112 (Ray reads this exact name)


# `make test` runs the suite in pytest-xdist workers. Tests that start a Ray (a private local
# one, or a `ray start` cluster) all run in one worker, one after another (`RayTestsTogether`),
# so one local Ray serves them and the other workers never wait for it. They also take a
# machine-wide file lock, for other test sessions on the same machine: one of them kills every
# Ray worker running a job here, and two Rays at once would double the memory. (xdist's own
# `--dist loadgroup` does not group with pytest 9.2: it renames `item._nodeid`, which pytest
# no longer reads.) The thread-executor variants of the Ray files' tests start no Ray.
RAY_TEST_FILES = frozenset(
    {"test_executors.py", "test_ray_browser.py", "test_ray_detached_jobs.py"}
)
RAY_LOCK = Path(tempfile.gettempdir()) / "mnist-studio-ray-tests.lock"


def starts_a_ray(nodeid: str) -> bool:
    """True for a test that starts a Ray, from its node id (what the xdist controller sees)."""
    path = nodeid.split("::", 1)[0]
    return Path(path).name in RAY_TEST_FILES and not nodeid.endswith("[threads]")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if starts_a_ray(item.nodeid):
            item.add_marker(pytest.mark.ray)


class RayTestsTogether(LoadScopeScheduling):
    """xdist's scheduling with every test its own unit, but the Ray tests one unit.

    Units go to whichever worker has fewer than three tests left, largest first: the Ray
    tests start at once on one worker while the others share every other test.
    """

    def _split_scope(self, nodeid: str) -> str:
        return "ray" if starts_a_ray(nodeid) else nodeid


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """Schedule `-n N` runs (xdist's default ``--dist load``) with `RayTestsTogether`."""
    if config.getvalue("dist") != "load":
        return None
    return RayTestsTogether(config, log)


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


@pytest.fixture(scope="session")
def migrated_template(postgres_server):
    """The name of a PostgreSQL database with the run store's schema and no rows, made once
    per session by the store's own migrations: `database_url` copies it for each test, in a
    tenth of the time the migrations take on an empty database."""
    from core.runs.engine import Database
    from core.runs.schema_upgrade import upgrade

    url = postgres_server.new_database("migrated")
    database = Database(url)
    upgrade(database)
    database.dispose()  # A database is copied only while no one is connected to it.
    return url.rsplit("/", 1)[1]


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request):
    """The run store's ``database_url`` for a test that must pass on both backends: None
    (the SQLite file in the store's folder) or a fresh PostgreSQL database with the store's
    schema (`migrated_template`) and nothing in it."""
    if request.param == "sqlite":
        return None
    template = request.getfixturevalue("migrated_template")
    return request.getfixturevalue("postgres_server").new_database(template=template)


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


@pytest.fixture
def private_runs_dir(tmp_path_factory) -> Path:
    """The run store folder of `private_server`, empty at the start of the test."""
    return tmp_path_factory.mktemp("private-runs")


@pytest.fixture
def private_server(tmp_path_factory, private_runs_dir):
    """A server and an empty run store of the test's own, as a learner running the app
    locally has. On the shared server, runs that other tests' jobs store while a test runs
    land in the same (local profile: shared) list."""
    folder = tmp_path_factory.mktemp("private-server")
    process, base_url, _ = start_streamlit(folder, {"MNIST_STUDIO_RUNS_DIR": str(private_runs_dir)})
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
