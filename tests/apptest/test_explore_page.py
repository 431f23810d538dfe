"""The Explore page: browsing with a label filter, looking up one image, uploading files."""

from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

import ui
from core.data.datasets import load_default_dataset
from core.data.idx import idx_bytes
from core.settings import PROJECT_ROOT
from testkit.harness import app_test

PAGE = str(PROJECT_ROOT / next(spec.path for spec in ui.PAGES if spec.path.endswith("explore.py")))


@pytest.fixture
def app() -> AppTest:
    # Through app.py, so the page's link to Evaluate (st.page_link) resolves.
    page = app_test(str(Path(PAGE).relative_to(PROJECT_ROOT)), timeout=60)
    page.run()
    assert not page.exception, [exception.message for exception in page.exception]
    return page


def grid_captions(app: AppTest) -> list[str]:
    return app.image[0].captions


def caption_labels(app: AppTest) -> list[str]:
    return [caption.split(" · ")[1] for caption in grid_captions(app)]


def caption_indices(app: AppTest) -> list[int]:
    return [int(caption.split(" · ")[0].lstrip("#")) for caption in grid_captions(app)]


def label_metric(app: AppTest) -> str:
    return next(metric.value for metric in app.metric if metric.label == "Label")


def test_page_opens_on_the_first_training_images(app):
    assert app.title[0].value == "Explore the data"
    assert caption_indices(app) == list(range(40))
    labels = load_default_dataset().train_labels
    assert caption_labels(app) == [str(label) for label in labels[:40]]


def test_filter_by_label_shows_only_that_label(app):
    app.selectbox(key="explore_label_filter").set_value("6").run()
    assert caption_labels(app) == ["6"] * 40
    labels = load_default_dataset().train_labels
    expected = np.flatnonzero(labels == 6)
    assert caption_indices(app) == expected[:40].tolist()
    assert any("of 5,918 (label 6)" in caption.value for caption in app.caption)

    app.number_input(key="explore_page").set_value(3).run()
    assert caption_indices(app) == expected[80:120].tolist()
    assert set(caption_labels(app)) == {"6"}


def test_filter_works_on_the_test_set(app):
    app.radio(key="explore_set").set_value("Test set").run()
    app.selectbox(key="explore_label_filter").set_value("1").run()
    test_labels = load_default_dataset().test_labels
    assert caption_indices(app) == np.flatnonzero(test_labels == 1)[:40].tolist()
    assert any("of 1,135 (label 1)" in caption.value for caption in app.caption)


def test_last_page_is_kept_in_range_when_the_filter_changes(app):
    app.number_input(key="explore_page").set_value(1_500).run()
    assert caption_indices(app) == list(range(59_960, 60_000))
    app.selectbox(key="explore_label_filter").set_value("5").run()
    assert not app.exception
    assert app.number_input(key="explore_page").value == 136  # ceil(5,421 / 40)
    assert set(caption_labels(app)) == {"5"}


def test_index_999_shows_the_articles_six(app):
    assert app.number_input(key="explore_index").value == 999
    assert label_metric(app) == "6"
    codes = [code.value for code in app.code]
    assert "labels_np_onehot[999]\n[0, 0, 0, 0, 0, 0, 1, 0, 0, 0]" in codes


def test_index_lookup_shows_that_images_label(app):
    app.number_input(key="explore_index").set_value(7).run()
    assert label_metric(app) == "3"  # training labels start 5 0 4 1 9 2 1 3
    app.radio(key="explore_set").set_value("Test set").run()
    assert label_metric(app) == "9"  # test labels start 7 2 1 0 4 1 4 9
    assert any("[0, 0, 0, 0, 0, 0, 0, 0, 0, 1]" in code.value for code in app.code)


def test_dataset_facts_show_sizes_and_headers(app):
    metrics = {metric.label: metric.value for metric in app.metric}
    assert metrics["Training images"] == "60,000"
    assert metrics["Test images"] == "10,000"
    headers = app.dataframe[0].value.set_index("file")
    assert headers.loc["train-images-idx3-ubyte.gz", "magic"] == "0x00000803"
    assert headers.loc["t10k-labels-idx1-ubyte.gz", "count"] == 10_000


def test_a_bad_upload_shows_the_readers_error_and_keeps_the_dataset(app):
    images = np.zeros((12, 28, 28), dtype=np.uint8)
    app.file_uploader(key="explore_upload_images").set_value(
        ("digits.idx3", idx_bytes(images)[:-10], "application/octet-stream")
    )
    app.file_uploader(key="explore_upload_labels").set_value(
        ("labels.idx1", idx_bytes(np.arange(12, dtype=np.uint8) % 10), "application/octet-stream")
    )
    app.button(key="explore_upload_use").click().run()
    assert not app.exception
    errors = [error.value for error in app.error]
    assert len(errors) == 1
    assert "'digits.idx3' is cut off" in errors[0]
    assert ui.KEY_DATASET not in app.session_state
    assert app.caption[0].value.startswith("**MNIST**: 60,000 training")


def test_mismatched_uploads_show_an_error(app):
    app.file_uploader(key="explore_upload_images").set_value(
        ("digits.idx3", idx_bytes(np.zeros((12, 28, 28), dtype=np.uint8)), "")
    )
    app.file_uploader(key="explore_upload_labels").set_value(
        ("labels.idx1", idx_bytes(np.zeros(11, dtype=np.uint8)), "")
    )
    app.button(key="explore_upload_use").click().run()
    assert "holds 12 images but 'labels.idx1' holds 11 labels" in app.error[0].value
    assert ui.KEY_DATASET not in app.session_state


def test_a_good_upload_becomes_the_sessions_dataset_until_reset(app):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(120, 28, 28), dtype=np.uint8)
    labels = (np.arange(120) % 10).astype(np.uint8)
    app.file_uploader(key="explore_upload_images").set_value(
        ("fashion-images.idx3.gz", idx_bytes(images, compress=True), "application/gzip")
    )
    app.file_uploader(key="explore_upload_labels").set_value(
        ("fashion-labels.idx1", idx_bytes(labels), "application/octet-stream")
    )
    app.button(key="explore_upload_use").click().run()
    assert not app.exception
    assert not app.error
    assert "Now exploring 'fashion-images.idx3.gz': 100 training and 20 test images" in (
        app.success[0].value
    )
    assert app.session_state[ui.KEY_DATASET] == "fashion-images.idx3.gz"
    held = ui.memory_budget().get("test session id", ui.DATASET_ITEM)  # AppTest's session
    assert held.train_images.shape == (100, 28, 28)
    metrics = {metric.label: metric.value for metric in app.metric}
    assert (metrics["Training images"], metrics["Test images"]) == ("100", "20")
    # The single-image view stays in range for the small dataset.
    assert app.number_input(key="explore_index").value == 99

    app.button(key="explore_upload_reset").click().run()
    assert ui.KEY_DATASET not in app.session_state
    metrics = {metric.label: metric.value for metric in app.metric}
    assert metrics["Training images"] == "60,000"


def test_the_demo_says_its_upload_caps_and_refuses_too_many_images(monkeypatch):
    monkeypatch.setenv("MNIST_STUDIO_DEMO_MODE", "1")
    app = app_test(ui.page_path("explore")).run()
    assert any(
        "up to 20 MB each and 70,000 images in all" in caption.value for caption in app.caption
    )
    uploader = app.file_uploader(key="explore_upload_images")
    assert uploader.proto.max_upload_size_mb == 20
    images = np.zeros((70_001, 28, 28), np.uint8)
    labels = (np.arange(70_001) % 10).astype(np.uint8)
    uploader.set_value(("many.idx3.gz", idx_bytes(images, compress=True), "application/gzip"))
    app.file_uploader(key="explore_upload_labels").set_value(
        ("many.idx1.gz", idx_bytes(labels, compress=True), "application/gzip")
    )
    app.button(key="explore_upload_use").click().run()
    assert not app.exception
    assert "hold 70,001 images" in app.error[0].value
    assert ui.KEY_DATASET not in app.session_state


def test_locally_the_uploaders_take_files_of_fashion_mnists_size():
    app = app_test(ui.page_path("explore")).run()
    assert app.file_uploader(key="explore_upload_images").proto.max_upload_size_mb >= 27


def test_a_link_from_evaluate_opens_that_image_and_links_back():
    page = app_test("app_pages/explore.py", timeout=60)
    page.query_params["set"] = "test"
    page.query_params["image"] = "8395"
    page.run()
    assert not page.exception
    assert page.radio(key="explore_set").value == "Test set"
    assert page.number_input(key="explore_index").value == 8395
    back = next(link.proto for link in page.get("page_link") if "predicts" in link.proto.label)
    assert "set=test" in back.query_string and "image=8395" in back.query_string

    page = app_test("app_pages/explore.py", timeout=60)
    page.query_params["set"] = "test"
    page.query_params["image"] = "99999999<script>"
    page.run()
    assert not page.exception
    assert page.radio(key="explore_set").value == "Training set"


def test_a_session_whose_upload_was_released_is_remembered():
    """The Explore page tells such a session its files were released (not "upload a file")."""
    session = "session-with-a-released-upload"
    assert not ui.uploads_released(session)
    ui.remove_uploaded_file(session, "file-1")  # What the memory budget's release calls.
    assert ui.uploads_released(session)
    assert not ui.uploads_released("another-session")
