"""Two app processes behind nginx on one PostgreSQL store: a visitor stays on its process, and
when that process is killed the next page load lands on the other with every run and the
current model; the other process's visitor never notices; per-visitor caps hold across both.

The processes and nginx run as `make class` runs them (`testkit.cluster`, the shipped
`deploy/nginx.conf.template`). nginx's access log tells which process served a browser; each
browser context has its own user agent so its lines can be told apart.
"""

from __future__ import annotations

import re

import pytest

from core.nn.config import TrainingConfig
from core.runs import RunStore
from core.runs.display import training_run_name
from testkit import cluster as app_cluster
from testkit.browser import (
    start_and_wait_for_progress,
    train_to_the_end,
    wait_for_app,
)
from testkit.harness import page_errors

pytestmark = pytest.mark.browser

MAIN = '[data-testid="stMain"]'
SIDEBAR = '[data-testid="stSidebar"]'
# The local profile (every run visible), one job per visitor at a time.
SETTINGS = {"MNIST_STUDIO_DEMO_MODE": "0", "MNIST_STUDIO_MAX_JOBS_PER_VISITOR": "1"}
QUICK = TrainingConfig(hidden_layers=(32,), epochs=1, train_size=2_000, seed=1)
# Runs far longer than the test, even on an idle machine (about two million steps of one
# image each, on one core at a time): it is still training when its process is killed.
LONG = TrainingConfig(hidden_layers=(16,), batch_size=1, epochs=100, train_size=20_000, seed=5)
ANOTHER_PROCESS_ATTEMPTS = 12  # new visitors until one lands on the other process: 1/2 each


def visitor(browser, name: str):
    """A new browser (context) whose requests nginx logs under its own user agent."""
    user_agent = f"Mozilla/5.0 (X11; Linux x86_64) Chrome/140 failover-test-{name}"
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, user_agent=user_agent)
    context.set_default_timeout(30_000)
    return context, context.new_page(), user_agent


def current_model(page) -> str:
    """The sidebar's current model (the line under its "Current model" caption)."""
    text = page.inner_text(SIDEBAR)
    return re.search(r"Current model\s*\n\s*(.+)", text).group(1).strip()


def processes_serving(cluster, user_agent: str) -> set[int]:
    """The processes that served the requests carrying this browser's visitor cookie."""
    return {
        cluster.process_index(served.upstreams[-1])
        for served in cluster.served(user_agent)
        if served.with_visitor_cookie
    }


def test_a_killed_process_s_visitors_reload_onto_another_with_their_runs(
    browser, tmp_path, postgres_server
):
    database_url = postgres_server.new_database()
    cluster = app_cluster.start(
        2, {**SETTINGS, "MNIST_STUDIO_DATABASE_URL": database_url}, tmp_path
    )
    contexts = []
    try:
        # The first visitor trains a network through nginx, then reloads: same process.
        context, page, first = visitor(browser, "first")
        contexts.append(context)
        train_to_the_end(page, cluster.url, QUICK)
        home = cluster.upstream_for(first)
        assert home is not None
        other = 1 - home
        page.reload()
        wait_for_app(page)
        model_label = current_model(page)  # the run's name and its accuracy
        assert model_label.startswith(training_run_name(QUICK, 10)), model_label
        assert processes_serving(cluster, first) == {home}

        # A long training on the visitor's process holds its one job. The same browser,
        # opening the other process directly, is refused a second job (a baseline) there.
        start_and_wait_for_progress(page, cluster.url, LONG)
        assert processes_serving(cluster, first) == {home}
        direct = context.new_page()
        direct.goto(f"{cluster.process_urls[other]}/compare")
        wait_for_app(direct)
        direct.get_by_role("tab", name="Classical baselines").click()
        direct.locator(".st-key-compare_baseline_train button").click()
        direct.get_by_text("You already have 1 job running or waiting").wait_for()
        direct.close()

        # A second visitor, on the other process.
        for attempt in range(ANOTHER_PROCESS_ATTEMPTS):
            context, second_page, second = visitor(browser, f"second-{attempt}")
            contexts.append(context)
            second_page.goto(f"{cluster.url}/")
            wait_for_app(second_page)
            if cluster.upstream_for(second) == other:
                break
            context.close()
        else:
            pytest.fail("No new visitor landed on the other process.")

        cluster.kill(home)

        # The second visitor's page keeps working: it changes page over its WebSocket.
        second_page.locator('[data-testid="stSidebarNav"] a').filter(
            has_text="Compare runs"
        ).click()
        second_page.wait_for_selector(f'{MAIN} h1:has-text("Compare runs")')
        wait_for_app(second_page)
        second_page.wait_for_selector(f'{MAIN} [data-testid="stDataFrame"]')
        assert page_errors(second_page) == []
        assert "Connection error" not in second_page.inner_text("body")
        assert processes_serving(cluster, second) == {other}

        # One reload takes the first visitor to the surviving process, with every run (the
        # killed training recorded as interrupted) and its current model on Evaluate.
        page.reload()
        wait_for_app(page)
        page.locator('[data-testid="stSidebarNav"] a').filter(has_text="Compare runs").click()
        page.wait_for_selector(f'{MAIN} h1:has-text("Compare runs")')
        wait_for_app(page)
        page.wait_for_selector(f'{MAIN} [data-testid="stDataFrame"]')
        assert "2 of 2 runs" in page.inner_text(MAIN)
        assert cluster.upstream_for(first) == other
        page.locator('[data-testid="stSidebarNav"] a').filter(has_text="Evaluate").click()
        page.wait_for_selector(f'{MAIN} h1:has-text("Evaluate")')
        wait_for_app(page)
        assert current_model(page) == model_label
        assert "No model trained in this session yet" not in page.inner_text(MAIN)
        assert page_errors(page) == []
        runs = RunStore(tmp_path / "reader", database_url=database_url).list_runs()
        assert sorted(runs["status"]) == ["finished", "interrupted"]
    finally:
        for context in contexts:
            context.close()
        cluster.stop()
    assert "Traceback" not in cluster.log_paths[other].read_text()
