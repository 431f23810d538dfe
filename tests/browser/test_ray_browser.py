"""The Train page with `ray_address=local`: the job trains on a private Ray, live, and stops."""

import pytest

from core.config import TrainingConfig
from tests.browser.test_train_browser import PROGRESS, open_train_page, press
from tests.conftest import page_errors, start_streamlit, stop_streamlit

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def ray_server(tmp_path_factory):
    pytest.importorskip("ray", reason="requirements-ray.txt is not installed")
    folder = tmp_path_factory.mktemp("ray-server")
    process, base_url, _ = start_streamlit(
        folder,
        extra_env={"MNIST_STUDIO_RAY_ADDRESS": "local", "MNIST_STUDIO_RUNS_DIR": str(folder)},
    )
    yield base_url
    stop_streamlit(process)


def test_train_on_a_local_ray_shows_progress_and_stops(ray_server, page, output_dir):
    config = TrainingConfig(hidden_layers=(256,), batch_size=32, epochs=100, seed=4)
    open_train_page(page, ray_server, config)
    press(page, "Train")
    page.wait_for_selector(PROGRESS, timeout=240_000)
    # Progress comes back from the Ray worker while it trains.
    page.wait_for_function(
        f"() => Number(document.querySelector('{PROGRESS}')?.getAttribute('aria-valuenow')) > 0",
        timeout=240_000,
    )
    press(page, "Stop")
    page.get_by_text("Stopped after").wait_for(timeout=60_000)
    main = page.inner_text('[data-testid="stMain"]')
    assert "of 100 epochs" in main
    assert "Test accuracy" in main
    assert "cannot be reached" not in page.inner_text("body")
    assert page_errors(page) == []
    page.screenshot(path=str(output_dir / "train-ray-stopped.png"), full_page=True)
