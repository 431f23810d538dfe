"""The Evaluate page in a real Chromium: the confusion matrix renders and a click opens a cell."""

import re

import pytest

from core.nn.evaluation import cell_indices
from testkit.browser import wait_for_app
from testkit.harness import page_errors, start_streamlit, stop_streamlit

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server_with_a_run(tmp_path_factory):
    """A running app whose run store holds one small trained network."""
    from core.data.datasets import load_default_dataset
    from core.nn.config import TrainingConfig
    from core.nn.evaluation import evaluate
    from core.nn.model import build_model
    from core.runs import RunStore

    folder = tmp_path_factory.mktemp("evaluate-server")
    dataset = load_default_dataset()
    config = TrainingConfig(hidden_layers=(32,), epochs=1, batch_size=64, seed=3)
    model = build_model(config)
    model.fit(dataset.train_images[:2000], dataset.train_labels[:2000], epochs=1, verbose=0)
    evaluation = evaluate(model, dataset.test_images, dataset.test_labels)
    RunStore(folder / "runs").save_run(
        kind="network",
        name="Browser test net",
        config=config.to_dict(),
        history={"loss": [1.0]},
        metrics={"test_accuracy": evaluation.accuracy, "test_loss": evaluation.loss},
        timings={"train_seconds": 1.0, "predict_seconds": 0.1},
        confusion_matrix=evaluation.confusion_matrix,
        model=model,
    )
    process, base_url, _ = start_streamlit(folder)
    yield base_url, evaluation
    stop_streamlit(process)


def test_click_a_confusion_matrix_cell_to_see_its_images(server_with_a_run, page, output_dir):
    base_url, evaluation = server_with_a_run
    page.goto(f"{base_url}/evaluate")
    wait_for_app(page, timeout=120_000)
    assert page_errors(page) == []
    plot_area = page.locator(".st-key-evaluate_confusion .nsewdrag").first
    plot_area.wait_for(state="visible")
    # Ten by ten cells with their counts written in them.
    page.screenshot(path=str(output_dir / "evaluate-page.png"), full_page=True)
    cell_texts = page.locator(".st-key-evaluate_confusion text").all_text_contents()
    assert f"{evaluation.confusion_matrix[3, 3]:,}" in cell_texts

    # Click the cell true 3 / predicted 3 (rows are true digits, top to bottom).
    plot_area.scroll_into_view_if_needed()
    box = plot_area.bounding_box()
    cell_width, cell_height = box["width"] / 10, box["height"] / 10
    x, y = box["x"] + 3.5 * cell_width, box["y"] + 3.5 * cell_height
    page.mouse.move(x, y)
    page.mouse.click(x, y)
    heading = page.get_by_text(re.compile(r"True 3, predicted 3: [\d,]+ images"))
    heading.wait_for(timeout=60_000)
    wait_for_app(page)
    assert f"{evaluation.confusion_matrix[3, 3]:,} images" in heading.inner_text()
    gallery = page.locator(".st-key-evaluate_cell_gallery .js-plotly-plot")
    gallery.wait_for(state="visible")
    assert page_errors(page) == []
    page.locator(".st-key-evaluate_cell_gallery").screenshot(
        path=str(output_dir / "evaluate-cell-gallery.png")
    )

    # Click the gallery's second digit: the probabilities and activations follow it. (The
    # first is the image shown before any click, so clicking it would prove nothing.)
    second = int(cell_indices(evaluation, 3, 3)[1])
    assert page.get_by_text(f"Activations for held-out image {second:,}").count() == 0
    gallery_area = page.locator(".st-key-evaluate_cell_gallery .nsewdrag").first
    gallery_area.scroll_into_view_if_needed()
    box = gallery_area.bounding_box()
    # Ten 28-pixel digits per row with 11-pixel gaps (caption room) between them.
    x, y = box["x"] + box["width"] * (39 + 14) / 379, box["y"] + box["height"] * 14 / 156
    page.mouse.move(x, y)
    page.mouse.click(x, y)
    page.get_by_text(f"Activations for held-out image {second:,}").wait_for(timeout=60_000)
    assert page.locator(".st-key-evaluate_image_index input").input_value() == str(second)
    assert page_errors(page) == []
