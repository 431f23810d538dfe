"""The Train page in a real Chromium: live progress and curves, and Stop."""

import time

import pytest

from core.nn.config import TrainingConfig
from testkit.browser import (
    PROGRESS,
    TALL_VIEWPORT,
    open_train_page,
    press,
    readme_picture,
    train_then_stop,
)
from testkit.harness import page_errors

pytestmark = pytest.mark.browser

CURVES_POINTS = """() => {
    const plot = document.querySelector('[data-testid="stMain"] .js-plotly-plot');
    if (!plot || !plot.data) return -1;
    return plot.data.reduce((total, trace) => total + (trace.x ? trace.x.length : 0), 0);
}"""


def test_progress_bar_and_curves_update_while_training(streamlit_server, page, output_dir):
    # Long enough (about 10 s on an idle machine) for the page to poll it many times.
    config = TrainingConfig(
        hidden_layers=(128,), batch_size=32, epochs=10, train_size=30_000, seed=3
    )
    open_train_page(page, streamlit_server, config, TALL_VIEWPORT)
    press(page, "Train")
    page.wait_for_selector(PROGRESS, timeout=60_000)

    seen = []  # (progress value, points drawn) while the progress bar is on screen
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        bar = page.query_selector(PROGRESS)
        if bar is None:
            break
        value = bar.get_attribute("aria-valuenow")
        points = page.evaluate(CURVES_POINTS)
        if value is not None and (not seen or seen[-1] != (value, points)):
            seen.append((value, points))
            if len(seen) == 3:
                page.screenshot(path=str(output_dir / "train-live.png"), full_page=True)
        page.wait_for_timeout(200)

    progress_values = [float(value) for value, _ in seen]
    point_counts = [points for _, points in seen if points > 0]
    assert len(set(progress_values)) >= 3, seen
    assert progress_values == sorted(progress_values)
    # The curves grew at least twice before the job finished.
    assert len(set(point_counts)) >= 3, seen
    assert point_counts == sorted(point_counts)

    page.get_by_text("Training finished.").wait_for(timeout=120_000)
    main = page.inner_text('[data-testid="stMain"]')
    assert "Test accuracy" in main
    assert "now your current model" in main
    assert page_errors(page) == []
    page.screenshot(path=str(output_dir / "train-finished.png"), full_page=True)
    readme_picture(page, "train", scroll_to=config.summary(10))


def test_stop_ends_a_long_training(streamlit_server, page, output_dir):
    train_then_stop(page, streamlit_server)
    page.screenshot(path=str(output_dir / "train-stopped.png"), full_page=True)
