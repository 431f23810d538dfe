"""A server killed mid-training on a shared PostgreSQL store: another server, on an empty disk,
shows every earlier run, loads its model, and the killed run as "interrupted", exactly once.

The app processes share nothing but the database (`testkit.postgres`): each has its own, new
``runs_dir``, as a new machine would.
"""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from core.nn.config import TrainingConfig
from core.runs import RunStore
from core.runs.heartbeats import HOST
from core.runs.schema import processes
from testkit.browser import new_page, start_and_wait_for_progress, train_to_the_end, wait_for_app
from testkit.harness import page_errors, start_streamlit, stop_streamlit

pytestmark = pytest.mark.browser

# Local profile (generous limits, every run visible), whatever the environment says.
LOCAL_PROFILE = {"MNIST_STUDIO_DEMO_MODE": "0"}
QUICK = [
    TrainingConfig(hidden_layers=(64,), epochs=1, train_size=2_000, seed=seed) for seed in (1, 2)
]
LONG = TrainingConfig(hidden_layers=(256,), batch_size=32, epochs=100, train_size=20_000, seed=5)


def start_server(folder, database_url):
    """Start an app process on its own empty ``runs_dir`` and the shared database."""
    folder.mkdir()
    env = {
        **LOCAL_PROFILE,
        "MNIST_STUDIO_RUNS_DIR": str(folder / "runs"),
        "MNIST_STUDIO_DATABASE_URL": database_url,
    }
    return start_streamlit(folder, env)


def compare_page_text(browser, base_url, output_dir=None) -> tuple[str, list[str], list[str]]:
    """Open Compare as a new visitor; return its text, the statuses it offers, and errors."""
    context, page = new_page(browser)
    try:
        page.goto(f"{base_url}/compare")
        wait_for_app(page)
        page.wait_for_selector('[data-testid="stDataFrame"]')
        text = page.inner_text('[data-testid="stMain"]')
        status_filter = page.locator('[data-testid="stMain"] [data-testid="stMultiSelect"]')
        status_filter = status_filter.filter(has=page.get_by_label("Status", exact=True))
        status_filter.get_by_role("button", name="Open").click()
        page.get_by_role("option").first.wait_for()
        options = page.get_by_role("option").all_inner_texts()
        page.keyboard.press("Escape")
        if output_dir is not None:
            page.screenshot(path=str(output_dir / "store-faults-compare.png"), full_page=True)
        return text, sorted(options), page_errors(page)
    finally:
        context.close()


def store_state(store: RunStore) -> str:
    """What the store holds: its runs and processes (for a failure's message)."""
    with store.database.transaction() as connection:
        rows = connection.execute(sa.select(processes)).all()
    now = time.time()
    beats = [f"{row.id} (pid {row.pid}, last beat {now - row.heartbeat:.1f} s ago)" for row in rows]
    runs = store.list_runs()
    return f"runs: {list(zip(runs['name'], runs['status'], strict=True))}; processes: {beats}"


def process_ids(store: RunStore) -> set[str]:
    with store.database.transaction() as connection:
        return set(connection.execute(sa.select(processes.c.id)).scalars())


def test_a_server_killed_mid_training_loses_nothing_on_a_shared_database(
    browser, tmp_path, postgres_server, output_dir, mnist
):
    database_url = postgres_server.new_database()

    # Server A saves two runs, then is killed (SIGKILL) while it trains a third.
    process, base_url, _ = start_server(tmp_path / "a", database_url)
    try:
        for config in QUICK:
            context, page = new_page(browser)
            try:
                train_to_the_end(page, base_url, config)
            finally:
                context.close()
        context, page = new_page(browser)
        try:
            start_and_wait_for_progress(page, base_url, LONG)
            watcher = RunStore(tmp_path / "watcher", database_url=database_url)
            in_progress = watcher.runs_in_progress()
            assert len(in_progress) == 1, store_state(watcher)
            (training,) = in_progress
            assert training.process.startswith(f"{HOST}:{process.pid}:")
            killed = process.pid
            process.kill()  # SIGKILL: no clean-up of any kind
            process.wait(timeout=15)  # reap it, so its pid is really gone
        finally:
            context.close()
    finally:
        if process.poll() is None:
            process.kill()
    saved = watcher.list_runs()
    assert list(saved["status"]) == ["finished", "finished"]
    saved_runs = {run_id: watcher.get_run(run_id) for run_id in saved["id"]}

    # Server B, on a new empty runs_dir, records the killed run as interrupted when it opens.
    process, base_url, log_path = start_server(tmp_path / "b", database_url)
    try:
        text, statuses, errors = compare_page_text(browser, base_url, output_dir)
        assert "3 of 3 runs" in text, text
        assert statuses == ["Select all", "finished", "interrupted"], statuses
        assert errors == []
    finally:
        stop_streamlit(process)
    assert "Traceback" not in log_path.read_text()

    # Server C, on another empty runs_dir, opens the store again: still one interrupted run.
    process, base_url, log_path = start_server(tmp_path / "c", database_url)
    try:
        text, statuses, errors = compare_page_text(browser, base_url)
        assert "3 of 3 runs" in text, text
        assert errors == []
    finally:
        stop_streamlit(process)
    assert "Traceback" not in log_path.read_text()

    store = RunStore(tmp_path / "reader", database_url=database_url)
    runs = store.list_runs()
    assert sorted(runs["status"]) == ["finished", "finished", "interrupted"]
    interrupted = store.get_run(runs.loc[runs["status"] == "interrupted", "id"].item())
    assert interrupted.config == LONG.to_dict()
    assert interrupted.model_path is None
    assert store.runs_in_progress() == []
    # The killed process's row went with its run.
    assert not any(process.startswith(f"{HOST}:{killed}:") for process in process_ids(store))

    # Every earlier run is intact and its model loads and predicts, from an empty disk.
    test_images, test_labels = mnist.test_images[:500], mnist.test_labels[:500]
    for run_id, before in saved_runs.items():
        again = store.get_run(run_id)
        assert again.metrics == before.metrics
        assert again.model_sha256 == before.model_sha256
        model = store.load_model(run_id)
        accuracy = (model.predict(test_images, verbose=0).argmax(axis=1) == test_labels).mean()
        assert abs(accuracy - before.test_accuracy) < 0.06, accuracy
