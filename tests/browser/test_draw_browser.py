"""Draw digits on the canvas with the mouse in a real Chromium and read the predictions."""

from __future__ import annotations

import math

import pytest

from tests.conftest import page_errors, wait_for_app

pytestmark = pytest.mark.browser

CANVAS_SELECTOR = "canvas.upper-canvas"
METRIC_SELECTOR = '[data-testid="stMetricValue"]'

# Each digit is a list of strokes; each stroke a list of (x, y) points on the 280x280 canvas.
ZERO = [
    [(140 + 55 * math.sin(angle), 140 - 95 * math.cos(angle))
     for angle in (step / 24 * 2 * math.pi for step in range(26))]
]  # fmt: skip
ONE = [[(140, 35), (140, 245)]]
FOUR = [[(95, 40), (80, 160), (205, 160)], [(175, 60), (175, 250)]]
SEVEN = [[(70, 50), (210, 50), (120, 250)]]
DIGITS = {"0": ZERO, "1": ONE, "4": FOUR, "7": SEVEN}


def draw(page, strokes, steps_per_segment: int = 8) -> None:
    """Draw strokes on the canvas with the mouse, one mouse-down/up per stroke."""
    box = page.locator(CANVAS_SELECTOR).bounding_box()
    for stroke in strokes:
        x, y = stroke[0]
        page.mouse.move(box["x"] + x, box["y"] + y)
        page.mouse.down()
        for x, y in stroke[1:]:
            page.mouse.move(box["x"] + x, box["y"] + y, steps=steps_per_segment)
        page.mouse.up()
        page.wait_for_timeout(300)


def wait_for_prediction(page, timeout_ms: int = 60_000) -> str:
    page.wait_for_selector(METRIC_SELECTOR, timeout=timeout_ms)
    wait_for_app(page)
    return page.locator(METRIC_SELECTOR).inner_text().strip()


def clear(page) -> None:
    page.locator(".st-key-draw_clear button").click()
    page.wait_for_selector(METRIC_SELECTOR, state="detached", timeout=30_000)
    wait_for_app(page)


def test_drawn_digits_are_predicted_and_clear_removes_the_prediction(
    streamlit_server, page, output_dir
):
    page.goto(f"{streamlit_server}/draw")
    wait_for_app(page)
    page.wait_for_selector(CANVAS_SELECTOR, timeout=60_000)
    main = page.locator('[data-testid="stMain"]')
    assert "Draw a digit" in main.inner_text()
    assert page.locator(METRIC_SELECTOR).count() == 0

    predictions = {}
    for digit, strokes in DIGITS.items():
        draw(page, strokes)
        predictions[digit] = wait_for_prediction(page)
        assert page_errors(page) == []
        page.screenshot(path=str(output_dir / f"draw-page-{digit}.png"), full_page=True)
        assert "Confidence" in main.inner_text()
        assert "What the model sees" in main.inner_text()
        clear(page)
        assert page.locator(METRIC_SELECTOR).count() == 0
        assert "Draw a digit" in main.inner_text()
    assert predictions == {digit: digit for digit in DIGITS}
    assert "Traceback" not in main.inner_text()
