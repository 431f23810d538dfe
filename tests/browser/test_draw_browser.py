"""Draw digits on the canvas with the mouse in a real Chromium and read the predictions."""

from __future__ import annotations

import math

import pytest
from playwright.sync_api import expect

from testkit.browser import wait_for_app
from testkit.harness import page_errors

pytestmark = pytest.mark.browser

CANVAS_SELECTOR = '[data-testid="draw-pad-canvas"]'
CROP_SELECTOR = '[data-testid="draw-pad-crop"]'
LIVE_DIGIT = '[data-testid="draw-pad-digit"]'
STATUS = '[data-testid="draw-pad-status"]'
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


def clear_button(page):
    return page.get_by_role("button", name="Clear the canvas")


def clear(page) -> None:
    clear_button(page).click()
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

    from core.data.datasets import load_default_dataset

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


VERDICT_SELECTOR = '[data-testid="draw-predicted-digit"]'
SLOW_MS = 240_000  # Two shared CPU cores: the first run of the page can take a minute or more.
# A zig-zag that no digit looks like.
SCRIBBLE = [[(40, 60), (240, 80), (50, 140), (235, 150), (45, 225), (240, 240), (150, 30),
             (120, 260)]]  # fmt: skip


def open_draw_page(page, base_url: str) -> None:
    page.goto(f"{base_url}/draw")
    wait_for_app(page, SLOW_MS)
    page.wait_for_selector(CANVAS_SELECTOR, timeout=SLOW_MS)
    # On a phone the sidebar opens over the page on a fresh link: close it as a visitor would.
    sidebar = page.locator('[data-testid="stSidebar"]')
    collapse = page.locator('[data-testid="stSidebarCollapseButton"] button')
    narrow = page.viewport_size["width"] < 640
    if narrow and sidebar.count() and collapse.count() and sidebar.bounding_box()["x"] >= 0:
        collapse.first.click()
        page.wait_for_timeout(800)


def draw_from_the_top_edge_without_hovering(page) -> None:
    """A quick 7 whose first point is 4 px below the canvas's top edge, pressed at once."""
    box = page.locator(CANVAS_SELECTOR).bounding_box()
    page.mouse.move(box["x"] + 250, box["y"] + 4)
    page.mouse.down()
    page.mouse.move(box["x"] + 60, box["y"] + 6, steps=5)
    page.mouse.move(box["x"] + 150, box["y"] + 260, steps=5)
    page.mouse.up()


def test_first_stroke_from_the_top_edge_counts_without_hovering_first(streamlit_server, page):
    open_draw_page(page, streamlit_server)
    draw_from_the_top_edge_without_hovering(page)
    assert wait_for_prediction(page, SLOW_MS) != ""
    assert page.locator(VERDICT_SELECTOR).inner_text().strip() != ""
    # Again on a just-cleared canvas, the pointer having left the canvas first.
    clear(page)
    page.mouse.move(5, 5)
    draw_from_the_top_edge_without_hovering(page)
    assert wait_for_prediction(page, SLOW_MS) != ""
    assert page_errors(page) == []


def touch_stroke(page, cdp, points) -> None:
    """One finger stroke through `points` (canvas pixels) with CDP touch events."""
    box = page.locator(CANVAS_SELECTOR).bounding_box()

    def send(kind: str, x: float = 0, y: float = 0) -> None:
        touch_points = [] if kind == "touchEnd" else [{"x": box["x"] + x, "y": box["y"] + y}]
        cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": touch_points})

    send("touchStart", *points[0])
    for (x0, y0), (x1, y1) in zip(points, points[1:], strict=False):
        for step in range(1, 7):
            send("touchMove", x0 + (x1 - x0) * step / 6, y0 + (y1 - y0) * step / 6)
    send("touchEnd")


def test_first_touch_stroke_counts_on_a_phone(streamlit_server, browser, output_dir):
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True
    )
    context.set_default_timeout(60_000)
    page = context.new_page()
    try:
        open_draw_page(page, streamlit_server)
        cdp = context.new_cdp_session(page)
        scrolled = """() => {
            const main = document.querySelector('[data-testid="stMain"]');
            return [main.scrollTop, window.scrollY];
        }"""
        before = page.evaluate(scrolled)
        canvas_top = page.locator(CANVAS_SELECTOR).bounding_box()["y"]
        touch_stroke(page, cdp, [(250, 4), (60, 6), (150, 260)])
        # The finger drew: the page did not scroll (a downward swipe scrolls it elsewhere).
        assert page.evaluate(scrolled) == before
        assert page.locator(CANVAS_SELECTOR).bounding_box()["y"] == canvas_top
        page.wait_for_selector(METRIC_SELECTOR, timeout=SLOW_MS)
        wait_for_app(page, SLOW_MS)
        verdict = page.locator(VERDICT_SELECTOR)
        assert verdict.inner_text().strip() != ""
        # The big prediction is on screen without scrolling, above the canvas.
        verdict_box = verdict.bounding_box()
        canvas_box = page.locator(CANVAS_SELECTOR).bounding_box()
        assert verdict_box["y"] + verdict_box["height"] <= canvas_box["y"]
        assert verdict_box["y"] >= 0 and verdict_box["y"] + verdict_box["height"] <= 844
        page.screenshot(path=str(output_dir / "draw-page-phone-touch.png"))
        assert page_errors(page) == []
    finally:
        context.close()


def draw_until_judged(page, strokes, deadline_ms: int = 480_000) -> str:
    """Draw until the page's certainty check is ready (it is built once per model)."""
    waited = 0
    while True:
        draw(page, strokes)
        wait_for_prediction(page, SLOW_MS)
        text = page.locator('[data-testid="stMain"]').inner_text()
        if "still being prepared" not in text:
            return text
        assert waited < deadline_ms, "the certainty check was never ready"
        clear(page)
        page.wait_for_timeout(10_000)
        waited += 10_000


def test_scribble_is_not_a_digit_and_a_digit_is_explained(streamlit_server, page, output_dir):
    open_draw_page(page, streamlit_server)
    text = draw_until_judged(page, SCRIBBLE)
    assert "This does not look like a digit." in text
    assert page.locator(VERDICT_SELECTOR).inner_text().strip() == "?"
    page.screenshot(path=str(output_dir / "draw-page-scribble.png"), full_page=True)
    clear(page)
    draw(page, ONE)
    assert wait_for_prediction(page, SLOW_MS) == "1"
    assert page.locator(VERDICT_SELECTOR).inner_text().strip() == "1"
    page.locator(".st-key-draw_explain").click()
    page.wait_for_selector(".st-key-draw_saliency .js-plotly-plot", timeout=SLOW_MS)
    wait_for_app(page, SLOW_MS)
    assert page.locator(".st-key-draw_neighbours img").count() == 8
    captions = page.locator(".st-key-draw_neighbours").inner_text()
    assert captions.count("1 ·") >= 6
    page.screenshot(path=str(output_dir / "draw-page-why.png"), full_page=True)
    assert page_errors(page) == []


def notebook_photo(first, second):
    """Two digits in ink on ruled paper with a shadow: `first` on the left, `second` right."""
    import numpy as np
    from PIL import Image

    width, height = 360, 200
    paper = np.full((height, width, 3), (236.0, 230.0, 212.0))
    paper[10::26] = (150, 175, 210)
    for digit, left in ((first, 20), (second, 200)):
        ink = np.asarray(Image.fromarray(digit).resize((130, 130)), dtype=float)[..., None] / 255
        region = paper[35:165, left : left + 130]
        paper[35:165, left : left + 130] = region * (1 - ink) + np.array([30, 30, 80]) * ink
    shadow = np.linspace(1.0, 0.5, width)[None, :, None]
    return Image.fromarray(np.clip(paper * shadow, 0, 255).astype(np.uint8))


def test_photo_with_shadow_and_ruled_lines_is_read_and_crop_picks_a_digit(
    streamlit_server, page, output_dir, tmp_path, mnist
):
    # Test images 0 and 1 are a 7 and a 2.
    photo_path = tmp_path / "notebook.jpg"
    notebook_photo(mnist.test_images[1], mnist.test_images[0]).save(photo_path, quality=80)
    single_path = tmp_path / "single.jpg"
    single = notebook_photo(mnist.test_images[1], mnist.test_images[1] * 0)
    single.save(single_path, quality=80)

    page.goto(f"{streamlit_server}/draw")
    wait_for_app(page, SLOW_MS)
    page.locator(".st-key-draw_input").get_by_text("Upload a picture", exact=True).click()
    upload_input = page.locator('.st-key-draw_upload input[type="file"]')
    upload_input.wait_for(state="attached", timeout=SLOW_MS)
    upload_input.set_input_files(str(single_path))
    assert wait_for_prediction(page, SLOW_MS) == "2"
    assert "lines removed" in page.locator('[data-testid="stMain"]').inner_text()

    picture = ".mnist-pad-picture"
    single_picture = page.locator(picture).get_attribute("src")
    upload_input.set_input_files(str(photo_path))
    # Drag once the new photo is on screen (a box drawn on the earlier one does not count).
    page.wait_for_function(
        f"document.querySelector('{picture}')?.getAttribute('src') !== {single_picture!r}",
        timeout=SLOW_MS,
    )
    wait_for_prediction(page, SLOW_MS)
    page.wait_for_selector(CROP_SELECTOR, timeout=SLOW_MS)
    box = page.locator(CROP_SELECTOR).bounding_box()
    # The crop canvas shows the 360x200 photo at 280x156: the right digit is x 156-280.
    page.mouse.move(box["x"] + 150, box["y"] + 15)
    page.mouse.down()
    page.mouse.move(box["x"] + 278, box["y"] + 140, steps=6)
    page.mouse.up()
    # The crop box reaches the server after the canvas's short wait; under load (CI saw
    # the photo's earlier "2" still shown after 0.5 s) that rerun starts late: wait for it.
    expect(page.locator(METRIC_SELECTOR)).to_have_text("7", timeout=SLOW_MS)
    wait_for_app(page, SLOW_MS)
    assert wait_for_prediction(page, SLOW_MS) == "7"
    page.screenshot(path=str(output_dir / "draw-page-photo-crop.png"), full_page=True)
    assert page_errors(page) == []


def test_on_a_phone_the_prediction_stays_in_view_after_clear(streamlit_server, browser, output_dir):
    """Issue 19: after Clear a phone's page scrolled the prediction above the canvas off screen.

    Not reproduced in headless Chromium (the prediction moves 24 px down and stays in view,
    before and after the other Draw changes); this guards the journey.
    """
    height = 844
    context = browser.new_context(
        viewport={"width": 390, "height": height}, has_touch=True, is_mobile=True
    )
    context.set_default_timeout(60_000)
    page = context.new_page()
    try:
        open_draw_page(page, streamlit_server)
        cdp = context.new_cdp_session(page)
        for _ in range(2):
            touch_stroke(page, cdp, [(200, 50), (80, 60), (150, 250)])
            page.wait_for_selector(METRIC_SELECTOR, timeout=SLOW_MS)
            wait_for_app(page, SLOW_MS)
            # Scroll as a visitor would: the prediction near the top, the Clear button below.
            page.evaluate(
                """(selector) => {
                    document.querySelector(selector).scrollIntoView({block: "start"});
                    const main = document.querySelector('[data-testid="stMain"]');
                    (main.scrollHeight > main.clientHeight ? main : window).scrollBy(0, -80);
                }""",
                VERDICT_SELECTOR,
            )
            page.wait_for_timeout(300)
            before = page.locator(VERDICT_SELECTOR).bounding_box()
            button = clear_button(page).bounding_box()
            assert before["y"] >= 0 and button["y"] + button["height"] <= height, (before, button)
            clear_button(page).tap()
            page.wait_for_selector(METRIC_SELECTOR, state="detached", timeout=SLOW_MS)
            wait_for_app(page, SLOW_MS)
            page.wait_for_timeout(1_000)
            after = page.locator(VERDICT_SELECTOR).bounding_box()
            page.screenshot(path=str(output_dir / "draw-page-phone-after-clear.png"))
            assert after["y"] >= 0 and after["y"] + after["height"] <= height, (before, after)
        assert page_errors(page) == []
    finally:
        context.close()


def wait_for_page_model(page) -> None:
    """Wait until the model runs in the page (its file fetched and read)."""
    page.wait_for_function(
        f"document.querySelector('{STATUS}')?.dataset.path === 'browser'", timeout=SLOW_MS
    )


def in_page_predictions(page) -> int:
    return int(page.locator('[data-testid="draw-pad-live"]').get_attribute("data-predictions") or 0)


def test_the_prediction_follows_the_pen_before_the_stroke_ends(streamlit_server, page):
    open_draw_page(page, streamlit_server)
    wait_for_page_model(page)
    assert "runs in this page" in page.locator(STATUS).inner_text()
    box = page.locator(CANVAS_SELECTOR).bounding_box()
    page.mouse.move(box["x"] + 70, box["y"] + 50)
    page.mouse.down()
    page.mouse.move(box["x"] + 210, box["y"] + 50, steps=10)
    page.mouse.move(box["x"] + 120, box["y"] + 250, steps=10)
    page.wait_for_function(f"document.querySelector('{LIVE_DIGIT}').textContent !== ''")
    # Still drawing: the page predicted many times, the server has not been asked yet.
    during = page.locator(LIVE_DIGIT).inner_text()
    assert in_page_predictions(page) >= 3
    assert page.locator(VERDICT_SELECTOR).inner_text().strip() == ""
    assert page.locator(METRIC_SELECTOR).count() == 0
    page.mouse.up()
    assert wait_for_prediction(page, SLOW_MS) == "7"
    assert during == "7"
    assert page.locator(LIVE_DIGIT).inner_text() == "7"
    # A tap is a dot, not a digit (as a disc it would read as a sure "0"): no live answer,
    # and the line above the canvas says so.
    clear(page)
    page.mouse.click(box["x"] + 140, box["y"] + 140)
    expect(page.locator(".draw-verdict")).to_contain_text("A dot is not a digit", timeout=SLOW_MS)
    wait_for_app(page, SLOW_MS)
    assert page.locator(LIVE_DIGIT).inner_text() == ""
    assert page.locator(METRIC_SELECTOR).count() == 0
    assert page_errors(page) == []


def test_undo_and_clear_work_from_the_keyboard(streamlit_server, page):
    open_draw_page(page, streamlit_server)
    draw(page, FOUR)
    assert wait_for_prediction(page, SLOW_MS) == "4"
    undo = page.get_by_role("button", name="Undo the last stroke")
    undo.focus()
    page.keyboard.press("Enter")
    # One stroke left (the 4's open corner): the server judges the drawing again.
    page.wait_for_function(
        "document.querySelector('.mnist-pad').__drawPad.strokes.length === 1", timeout=SLOW_MS
    )
    expect(page.locator(METRIC_SELECTOR)).not_to_have_text("4", timeout=SLOW_MS)
    page.keyboard.press("Tab")  # From Undo to Clear.
    page.keyboard.press("Enter")
    page.wait_for_selector(METRIC_SELECTOR, state="detached", timeout=SLOW_MS)
    wait_for_app(page, SLOW_MS)
    assert "Draw a digit on the canvas." in page.locator('[data-testid="stMain"]').inner_text()
    assert page.get_by_role("button", name="Clear the canvas").is_disabled()
    assert page_errors(page) == []


def test_the_drawing_is_still_there_after_another_page(streamlit_server, page):
    open_draw_page(page, streamlit_server)
    wait_for_page_model(page)
    weights = []
    page.on(
        "request",
        lambda request: weights.append(request.url) if "model-weights" in request.url else None,
    )
    draw(page, SEVEN)
    assert wait_for_prediction(page, SLOW_MS) == "7"
    page.locator('[data-testid="stSidebarNav"] a[href$="/explore"]').click()
    page.wait_for_url("**/explore", timeout=SLOW_MS)
    wait_for_app(page, SLOW_MS)
    page.locator('[data-testid="stSidebarNav"] a[href$="/draw"]').click()
    wait_for_app(page, SLOW_MS)
    page.wait_for_selector(CANVAS_SELECTOR, timeout=SLOW_MS)
    assert wait_for_prediction(page, SLOW_MS) == "7"
    ink = page.evaluate(
        f"""() => {{
            const canvas = document.querySelector('{CANVAS_SELECTOR}');
            const data = canvas.getContext('2d').getImageData(0, 0, 280, 280).data;
            let ink = 0;
            for (let i = 0; i < data.length; i += 4) ink += data[i] > 128;
            return ink;
        }}"""
    )
    assert ink > 1000
    wait_for_page_model(page)
    # The page kept the model it had fetched: no second download.
    assert weights == []
    assert page_errors(page) == []


def test_a_model_file_is_served_only_to_the_visitor_it_was_granted(streamlit_server, browser):
    first = browser.new_context()
    second = browser.new_context()
    try:
        page = first.new_page()
        with page.expect_response(lambda response: "model-weights/" in response.url) as answer:
            open_draw_page(page, streamlit_server)
        response = answer.value
        assert response.status == 200
        assert "immutable" in response.headers["cache-control"]
        assert "private" in response.headers["cache-control"]
        assert response.body()[:4] == b"MNW1"
        # Another browser (its own visitor cookie) that learns the link gets nothing.
        other = second.new_page()
        other.goto(f"{streamlit_server}/")
        assert other.request.get(response.url).status == 404
        assert page.request.get(response.url).status == 200
        assert page.request.get(f"{streamlit_server}/model-weights/{'0' * 64}").status == 404
        traversal = page.request.get(f"{streamlit_server}/model-weights/..%2Fapp.py")
        assert traversal.status in (400, 404)
    finally:
        first.close()
        second.close()
