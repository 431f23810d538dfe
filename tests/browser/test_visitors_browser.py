"""Several visitors of a public demo train at once, in a real Chromium against one server.

This is the behaviour `bench/bench_hosting.py --phases visitors` measures; here it is checked:
every visitor's training finishes with its own result, each sees only its own run, and the
server keeps answering meanwhile. (Before `ui.keep_keras_state_between_runs`, five visitors
stalled the server: no training finished within four minutes.)
"""

from __future__ import annotations

import re

import pytest

from core.nn.config import TrainingConfig
from core.runs import RunStore
from core.runs.display import training_run_name
from testkit.browser import new_page, open_train_page, press_train, wait_for_app
from testkit.harness import HealthPoller, page_errors, start_streamlit, stop_streamlit

pytestmark = pytest.mark.browser

VISITORS = 5
MAIN = '[data-testid="stMain"]'


def test_five_visitors_train_at_once_and_each_sees_only_its_own_run(browser, tmp_path):
    runs_dir = tmp_path / "runs"
    process, base_url, log_path = start_streamlit(
        tmp_path, {"MNIST_STUDIO_DEMO_MODE": "1", "MNIST_STUDIO_RUNS_DIR": str(runs_dir)}
    )
    configs = [
        TrainingConfig(hidden_layers=(16 + 8 * number,), epochs=1, train_size=2_000, seed=number)
        for number in range(VISITORS)
    ]
    contexts, pages = [], []
    poller = HealthPoller(base_url, interval=0.5)
    try:
        for config in configs:
            context, page = new_page(browser)
            contexts.append(context)
            open_train_page(page, base_url, config)
            pages.append(page)
        poller.start()
        for page in pages:
            press_train(page)
        results = []
        for page in pages:
            page.get_by_text("Training finished.").wait_for(timeout=180_000)
            page.get_by_text("Saved as run").wait_for()
            text = page.inner_text(MAIN)
            results.append(
                (
                    re.search(r"Latest training: (.+)", text).group(1).strip(),
                    re.search(r"Saved as run (\S+?),", text).group(1),
                )
            )
            assert page_errors(page) == []
        poller.stop()

        # Each visitor got the result of its own configuration, stored under its own run.
        names = [name for name, _ in results]
        assert names == [training_run_name(config, 10) for config in configs]
        run_ids = [run_id for _, run_id in results]
        assert len(set(run_ids)) == VISITORS
        stored = RunStore(runs_dir).list_runs()
        assert sorted(stored["id"]) == sorted(run_ids)
        assert set(stored["status"]) == {"finished"}

        # The server kept answering while five trainings ran.
        assert poller.failures == 0
        assert poller.latencies

        # The demo profile shows each visitor its own run and no one else's.
        for page, (name, _) in zip(pages, results, strict=True):
            page.locator('[data-testid="stSidebarNav"] a').filter(has_text="Compare runs").click()
            page.wait_for_selector(f'{MAIN} h1:has-text("Compare runs")')
            wait_for_app(page)
            page.wait_for_selector(f'{MAIN} [data-testid="stDataFrame"]')
            text = page.inner_text(MAIN)
            assert "1 of 1 runs" in text
            focused = page.get_by_role("combobox", name="Run", exact=True)
            # "#N · <configuration> · accuracy": N counts the store's runs, all visitors'.
            number, _, label = focused.input_value().partition(" · ")
            assert number.startswith("#") and label.startswith(name)
            assert page_errors(page) == []
    finally:
        poller.stop()
        for context in contexts:
            context.close()
        stop_streamlit(process)
    assert "Traceback" not in log_path.read_text()
