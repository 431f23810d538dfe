"""The Compare page in a real Chromium: table and scatter render; a download delivers a file."""

import json
import re
from pathlib import Path

import pytest

from core.config import TrainingConfig
from core.runs import RunStore
from core.tasks import save_training_result
from core.training import train_model
from tests.conftest import page_errors, wait_for_app

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server_with_runs(streamlit_server, server_runs_dir, mnist):
    store = RunStore(server_runs_dir)
    for units in (16, 32, 64):
        config = TrainingConfig(hidden_layers=(units,), epochs=1, train_size=500)
        save_training_result(store, train_model(config, mnist), mnist, name=f"browser net {units}")
    return streamlit_server


def test_compare_page_shows_table_scatter_and_downloads_a_configuration(
    server_with_runs, page, output_dir
):
    page.goto(f"{server_with_runs}/compare")
    wait_for_app(page)
    assert page_errors(page) == []
    page.wait_for_selector('[data-testid="stDataFrame"]')
    # Plotly draws every point of the scatter as an SVG path inside .scatterlayer.
    page.wait_for_selector(".js-plotly-plot .scatterlayer .point")
    assert page.locator(".js-plotly-plot").count() >= 4

    with page.expect_download() as download_info:
        page.get_by_role("button", name="Configuration (JSON)").click()
    download = download_info.value
    content = json.loads(Path(download.path()).read_text())
    assert content["name"].startswith("browser net")
    assert TrainingConfig.from_dict(content["config"]).train_size == 500
    page.screenshot(path=str(output_dir / "compare-runs.png"), full_page=True)


def _runs_caption(page) -> tuple[int, int]:
    text = page.get_by_text(re.compile(r"\d+ of \d+ runs\.")).first.inner_text()
    shown, total = re.search(r"(\d+) of (\d+) runs", text).groups()
    return int(shown), int(total)


def test_baseline_and_sweep_results_appear_without_navigating(streamlit_server, page, output_dir):
    """A finished background job updates the page by itself (ui.watch_jobs)."""
    page.goto(f"{streamlit_server}/compare")
    wait_for_app(page)
    has_runs = page.get_by_text(re.compile(r"of \d+ runs\.")).count() > 0
    before = _runs_caption(page) if has_runs else (0, 0)

    page.get_by_role("tab", name="Classical baselines").click()
    size = page.locator(".st-key-compare_baseline_train_size input")
    size.fill("300")
    size.press("Enter")
    wait_for_app(page)
    page.locator(".st-key-compare_baseline_train button").click()
    # The job line gains the accuracy and run number once the job finishes; no navigation.
    page.get_by_text(re.compile(r"finished: [\d.]+% test accuracy \(run #\d+\)")).wait_for(
        timeout=120_000
    )
    wait_for_app(page)
    page.get_by_role("tab", name="Runs").click()
    assert _runs_caption(page)[1] == before[1] + 1
    assert page_errors(page) == []

    page.get_by_role("tab", name="Sweep").click()
    page.locator(".st-key-compare_sweep_base").click()
    page.get_by_role("option", name="Quick look").click()
    wait_for_app(page)
    page.locator('.st-key-compare_sweep_neurons button[aria-label="Remove 128"]').last.click()
    wait_for_app(page)
    page.get_by_text(re.compile(r"^2 runs, about")).wait_for()
    # With early stopping the second member to finish its first epoch may stop there.
    page.locator(".st-key-compare_sweep_early_stopping label").click()
    wait_for_app(page)
    page.locator(".st-key-compare_sweep_run button").click()
    # Both runs' results, and the parallel coordinates, appear once the sweep is done.
    page.locator(".st-key-compare_sweep_parcoords .js-plotly-plot").wait_for(timeout=300_000)
    wait_for_app(page)
    sweep_tab = page.get_by_role("tabpanel", name="Sweep")
    sweep_tab.locator('[data-testid="stDataFrame"]').wait_for()
    assert page_errors(page) == []
    page.screenshot(path=str(output_dir / "compare-sweep-results.png"), full_page=True)
    page.get_by_role("tab", name="Runs").click()
    assert _runs_caption(page)[1] == before[1] + 3
