"""Faults in a real Chromium: a tab closed mid-training, and a server killed mid-training.

Each test starts its own `streamlit run app.py` on its own run store folder, so it can close
tabs, measure the server process and kill it without disturbing other tests.
"""

from __future__ import annotations

import time
import urllib.request
from pathlib import Path

import pytest

from core.nn.config import TrainingConfig
from core.runs import RunStore
from core.runs.heartbeats import HOST
from testkit.browser import new_page, start_and_wait_for_progress, train_to_the_end, wait_for_app
from testkit.harness import page_errors, start_streamlit, stop_streamlit

pytestmark = pytest.mark.browser

# Local profile (generous limits, every run visible), whatever the environment says.
LOCAL_PROFILE = {"MNIST_STUDIO_DEMO_MODE": "0"}
QUICK = TrainingConfig(hidden_layers=(64,), epochs=1, train_size=2_000, seed=1)


def process_status(pid: int) -> tuple[int, float]:
    """Return (thread count, resident memory in MB) of a process, from /proc/<pid>/status."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        fields[name] = value.split()
    return int(fields["Threads"][0]), int(fields["VmRSS"][0]) / 1024


def thread_kinds(pid: int) -> dict[str, int]:
    """Return how many threads of each name (e.g. python3, tf_Compute) a process has."""
    kinds: dict[str, int] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            name = (task / "comm").read_text().strip()
        except OSError:  # the thread ended meanwhile
            continue
        kinds[name] = kinds.get(name, 0) + 1
    return dict(sorted(kinds.items()))


def process_ids(store: RunStore) -> set[str]:
    """The ids of the app processes in a store's ``processes`` table."""
    import sqlalchemy as sa

    from core.runs.schema import processes

    with store.database.transaction() as connection:
        return set(connection.execute(sa.select(processes.c.id)).scalars())


def wait_until(condition, timeout: float, interval: float = 0.5):
    """Poll `condition()` until it returns something truthy; return it (or the last value)."""
    deadline = time.monotonic() + timeout
    value = condition()
    while not value and time.monotonic() < deadline:
        time.sleep(interval)
        value = condition()
    return value


def test_closing_the_tab_mid_training_lets_the_job_finish_and_threads_return(
    browser, tmp_path, output_dir
):
    runs_dir = tmp_path / "runs"
    process, base_url, log_path = start_streamlit(
        tmp_path, {**LOCAL_PROFILE, "MNIST_STUDIO_RUNS_DIR": str(runs_dir)}
    )
    first_context = None
    try:
        # Baseline: one training finished with its tab open (TensorFlow loaded, data cached).
        # That tab stays open to the end, so the server's state differs only by the other tab.
        first_context, page = new_page(browser)
        train_to_the_end(page, base_url, QUICK)
        page.wait_for_timeout(2_000)  # the live view has stopped polling
        base_threads, base_rss = process_status(process.pid)
        base_kinds = thread_kinds(process.pid)

        # A longer training whose tab is closed while it runs.
        # Long enough (about 30 s idle, with fused Adam updates) to be running when checked.
        long_config = TrainingConfig(
            hidden_layers=(128,), batch_size=32, epochs=20, train_size=20_000, seed=2
        )
        context, page = new_page(browser)
        try:
            start_and_wait_for_progress(page, base_url, long_config)
            running_threads, running_rss = process_status(process.pid)
            # It is still running: only the baseline run is stored, and it is in progress.
            assert len(RunStore(runs_dir).list_runs()) == 1
            assert len(RunStore(runs_dir).runs_in_progress()) == 1
        finally:
            context.close()
        closed_at = time.monotonic()

        # The job carries on without its tab and stores its run.
        stored = wait_until(lambda: len(RunStore(runs_dir).list_runs()) == 2, timeout=300)
        assert stored, "the run of the closed tab was never stored"
        runs = RunStore(runs_dir).list_runs()
        stored_after = time.monotonic() - closed_at
        long_run = runs.iloc[0]
        assert long_run["status"] == "finished"
        assert long_run["epochs"] == long_config.epochs
        assert long_run["has_model"]
        assert long_run["test_accuracy"] > 0.9
        assert RunStore(runs_dir).runs_in_progress() == []

        # Its thread ended: the thread count comes back near the baseline, memory too. The web
        # server reads files in a pool of worker threads that grew while the second tab loaded;
        # idle ones retire 10 s after their last use when the next request comes, so each poll
        # asks for the app's page like a new visitor would.
        def threads_settled() -> bool:
            with urllib.request.urlopen(f"{base_url}/", timeout=10) as response:
                response.read()
            return process_status(process.pid)[0] <= base_threads + 2

        settled = wait_until(threads_settled, timeout=60, interval=1)
        end_threads, end_rss = process_status(process.pid)
        print(
            f"\nthreads: baseline {base_threads}, running {running_threads}, after {end_threads}"
            f"\nthread kinds: baseline {base_kinds}, after {thread_kinds(process.pid)}"
            f"\nRSS MB: baseline {base_rss:.0f}, running {running_rss:.0f}, after {end_rss:.0f}"
            f"\nrun stored {stored_after:.1f} s after the tab closed"
        )
        assert settled, f"threads stayed at {end_threads} (baseline {base_threads})"
        assert end_rss <= base_rss + 200, f"RSS {end_rss:.0f} MB vs baseline {base_rss:.0f} MB"

        # The run is visible in Compare for a new visitor.
        context, page = new_page(browser)
        try:
            page.goto(f"{base_url}/compare")
            wait_for_app(page)
            page.wait_for_selector('[data-testid="stDataFrame"]')
            assert page_errors(page) == []
            assert "2 of 2 runs" in page.inner_text('[data-testid="stMain"]')
        finally:
            context.close()
        assert page_errors(first_context.pages[0]) == []
    finally:
        if first_context is not None:
            first_context.close()
        stop_streamlit(process)
    assert "Traceback" not in log_path.read_text()


def test_server_restart_during_training_marks_the_run_interrupted(browser, tmp_path, output_dir):
    runs_dir = tmp_path / "runs"
    env = {**LOCAL_PROFILE, "MNIST_STUDIO_RUNS_DIR": str(runs_dir)}
    process, base_url, _ = start_streamlit(tmp_path, env)
    try:
        context, page = new_page(browser)
        try:
            train_to_the_end(page, base_url, QUICK)
        finally:
            context.close()
        finished = RunStore(runs_dir).list_runs()
        assert len(finished) == 1
        finished_run = RunStore(runs_dir).get_run(finished["id"][0])

        long_config = TrainingConfig(
            hidden_layers=(256,), batch_size=32, epochs=100, train_size=20_000, seed=5
        )
        context, page = new_page(browser)
        try:
            start_and_wait_for_progress(page, base_url, long_config)
            # The run in progress names the server's process, which beats.
            (training,) = RunStore(runs_dir).runs_in_progress()
            assert training.process.startswith(f"{HOST}:{process.pid}:")
            process.kill()  # SIGKILL: no clean-up of any kind
            process.wait(timeout=15)  # reap it, so its pid is really gone
        finally:
            context.close()
    finally:
        if process.poll() is None:
            process.kill()
    # A crash while a model was being written leaves a temporary file named after the dead
    # writer; the killed server was training, not saving, so make one as such a crash would.
    killed_pid = process.pid
    leftover = runs_dir / "models" / f".x.partial-{process.pid}-0badf00d.keras"
    leftover.write_bytes(b"half a model")

    process, base_url, log_path = start_streamlit(tmp_path, env)
    try:
        context, page = new_page(browser)
        try:
            page.goto(f"{base_url}/compare")
            wait_for_app(page)
            page.wait_for_selector('[data-testid="stDataFrame"]')
            assert "2 of 2 runs" in page.inner_text('[data-testid="stMain"]')
            # The status filter offers the statuses of the stored runs; pick "interrupted".
            status_filter = page.locator('[data-testid="stMain"] [data-testid="stMultiSelect"]')
            status_filter = status_filter.filter(has=page.get_by_label("Status", exact=True))
            status_filter.get_by_role("button", name="Open").click()
            page.get_by_role("option").first.wait_for()
            options = page.get_by_role("option").all_inner_texts()
            assert sorted(options) == ["Select all", "finished", "interrupted"], options
            page.get_by_role("option", name="interrupted").click()
            page.keyboard.press("Escape")
            wait_for_app(page)
            assert "1 of 2 runs" in page.inner_text('[data-testid="stMain"]')
            # The table draws on a canvas; the run picker below it names the filtered run,
            # with "—" for the accuracy an interrupted run does not have.
            picker = page.locator(".st-key-compare_focus")
            shown = picker.inner_text() + " ".join(
                picker.locator("input").evaluate_all("inputs => inputs.map(i => i.value)")
            )
            assert "100 ep, 20,000 images · — · interrupted" in shown, shown
            page.screenshot(path=str(output_dir / "faults-interrupted-run.png"), full_page=True)
            # Checked last, so the checks below still run and say what else is wrong.
            errors_on_compare = page_errors(page)
        finally:
            context.close()

        # The new server recorded the dead server's run in progress and forgot the dead
        # process; it removed the dead writer's temporary file.
        store = RunStore(runs_dir)
        assert store.runs_in_progress() == []
        assert not any(
            process.startswith(f"{HOST}:{killed_pid}:") for process in process_ids(store)
        )
        assert list((runs_dir / "models").glob("*.partial*")) == []

        runs = store.list_runs()
        assert list(runs["status"]) == ["interrupted", "finished"]
        interrupted = store.get_run(runs["id"][0])
        assert interrupted.config == long_config.to_dict()
        assert interrupted.model_path is None

        # The earlier run is intact: same record, same file, and its model loads and predicts.
        again = store.get_run(finished_run.id)
        assert again.metrics == finished_run.metrics
        assert again.model_sha256 == finished_run.model_sha256
        model = store.load_model(finished_run.id)
        from core.data.datasets import load_default_dataset

        test_images = load_default_dataset().test_images[:500]
        test_labels = load_default_dataset().test_labels[:500]
        accuracy = (model.predict(test_images, verbose=0).argmax(axis=1) == test_labels).mean()
        assert abs(accuracy - finished_run.test_accuracy) < 0.06, accuracy
    finally:
        stop_streamlit(process)
    assert errors_on_compare == []
    assert "Traceback" not in log_path.read_text()
