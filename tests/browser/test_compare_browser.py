"""The Compare page in a real Chromium: table and scatter render; a download delivers a file."""

import json
from pathlib import Path

import pytest

from core.config import TrainingConfig
from core.runs import RunStore
from core.training import save_training_result, train_model
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
