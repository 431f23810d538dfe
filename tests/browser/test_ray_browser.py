"""The Train page with `ray_address=local`: the job trains on a private Ray, live, and stops."""

import pytest

from testkit.browser import train_then_stop
from testkit.harness import start_streamlit, stop_streamlit

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
    # Progress comes back from the Ray worker while it trains; Stop reaches it there.
    # Generous: under the suite's load the first job waits for a Ray worker to start and import
    # TensorFlow (163 s at load 21 in one run, 21 s alone).
    train_then_stop(page, ray_server, timeout=420_000)
    assert "cannot be reached" not in page.inner_text("body")
    page.screenshot(path=str(output_dir / "train-ray-stopped.png"), full_page=True)
