"""Explore's uploaded datasets live in the server's memory budget: the oldest go first, and
a session whose dataset was released is told so (issue 20, break 4)."""

import numpy as np
import pytest

import ui
from core import singletons
from core.data.idx import idx_bytes
from core.visitors import memory_budget
from testkit.harness import app_test

# A 1,000-image dataset takes 785,000 bytes; the budget (1 MiB) holds one, not two.
IMAGES = 1_000
BUDGET_MB = "1"


@pytest.fixture
def budget(monkeypatch):
    """A fresh process-wide budget of 1 MiB for this test."""
    monkeypatch.setenv("MNIST_STUDIO_MEMORY_BUDGET_MB", BUDGET_MB)
    monkeypatch.delitem(singletons._objects, memory_budget.SINGLETON_KEY, raising=False)
    return memory_budget.server_budget()


def upload(app, images: int = IMAGES):
    pixels = np.random.default_rng(0).integers(0, 256, size=(images, 28, 28), dtype=np.uint8)
    labels = (np.arange(images) % 10).astype(np.uint8)
    app.file_uploader(key="explore_upload_images").set_value(
        ("mine-images.idx3.gz", idx_bytes(pixels, compress=True), "application/gzip")
    )
    app.file_uploader(key="explore_upload_labels").set_value(
        ("mine-labels.idx1", idx_bytes(labels), "application/octet-stream")
    )
    app.button(key="explore_upload_use").click().run()
    assert not app.exception, [exception.message for exception in app.exception]


def test_an_upload_over_the_budget_releases_the_oldest_sessions_dataset(budget):
    released = []
    budget.hold(
        "older session", ui.DATASET_ITEM, "theirs", 500_000, lambda: released.append("theirs")
    )
    app = app_test(ui.page_path("explore")).run()
    upload(app)
    assert "Now exploring 'mine-images.idx3.gz': 833 training" in app.success[0].value
    assert released == ["theirs"]
    assert budget.get("older session", ui.DATASET_ITEM) is None
    assert budget.owners() == {"test session id"}
    assert budget.held_bytes == IMAGES * 28 * 28 + IMAGES
    assert app.session_state[ui.KEY_DATASET] == "mine-images.idx3.gz"


def test_a_session_whose_dataset_was_released_is_told_so_and_gets_the_default(budget):
    app = app_test(ui.page_path("explore")).run()
    upload(app)
    metrics = {metric.label: metric.value for metric in app.metric}
    assert metrics["Training images"] == "833"

    # Another session's upload needs the room: this session's dataset is the oldest.
    assert budget.hold("newer session", ui.DATASET_ITEM, "theirs", 600_000) == [
        ("test session id", ui.DATASET_ITEM)
    ]
    app.run()
    assert not app.exception
    assert [warning.value for warning in app.warning] == [ui.DATASET_RELEASED]
    assert "released to free memory on this shared server; upload it again" in (
        app.warning[0].value
    )
    assert app.caption[0].value.startswith("**MNIST**: 60,000 training")
    assert ui.KEY_DATASET not in app.session_state
    # The sentence is said once; the next run is the default dataset without it.
    app.run()
    assert not app.warning


def test_going_back_to_the_default_dataset_releases_the_upload(budget):
    app = app_test(ui.page_path("explore")).run()
    upload(app)
    assert budget.held_bytes > 0
    app.button(key="explore_upload_reset").click().run()
    assert budget.held_bytes == 0
    assert ui.KEY_DATASET not in app.session_state


def test_a_released_dataset_is_freed_without_the_session_running_again(budget):
    """The budget's accounting is only true if nothing else keeps a released dataset: an idle
    session (a tab left open, or an attacker's) never runs again to drop it."""
    import gc
    import weakref

    app = app_test(ui.page_path("explore")).run()
    upload(app)
    held = weakref.ref(budget.get("test session id", ui.DATASET_ITEM))
    app.run()  # Browse it, as a visitor does.
    budget.hold("newer session", ui.DATASET_ITEM, "theirs", 600_000)
    gc.collect()
    assert held() is None
