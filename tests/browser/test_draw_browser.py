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


def test_uploaded_photo_is_predicted_and_a_bad_file_shows_an_error(
    streamlit_server, page, output_dir, tmp_path
):
    from PIL import Image

    from core.data import load_default_dataset

    dataset = load_default_dataset()
    photo = Image.new("L", (240, 200), 255)
    photo.paste(Image.fromarray(255 - dataset.test_images[1]).resize((140, 140)), (60, 30))
    photo_path = tmp_path / "two.png"
    photo.save(photo_path)
    bad_path = tmp_path / "notes.png"
    bad_path.write_bytes(b"not a picture at all")

    page.goto(f"{streamlit_server}/draw")
    wait_for_app(page)
    page.locator(".st-key-draw_input").get_by_text("Upload a picture", exact=True).click()
    upload_input = page.locator('.st-key-draw_upload input[type="file"]')
    upload_input.wait_for(state="attached", timeout=30_000)
    upload_input.set_input_files(str(photo_path))
    assert wait_for_prediction(page) == str(dataset.test_labels[1])
    assert page_errors(page) == []
    page.screenshot(path=str(output_dir / "draw-page-upload.png"), full_page=True)

    upload_input.set_input_files(str(bad_path))
    page.wait_for_selector(METRIC_SELECTOR, state="detached", timeout=30_000)
    wait_for_app(page)
    errors = page_errors(page)
    assert len(errors) == 1 and "not an image that can be read" in errors[0]
    assert "Traceback" not in page.locator('[data-testid="stMain"]').inner_text()
