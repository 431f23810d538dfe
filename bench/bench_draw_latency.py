"""Time from the end of a stroke to the prediction shown, on the Draw page in Chromium.

Starts `streamlit run app.py`, opens the Draw page in headless Chromium, draws once and waits
until the page's certainty check is ready (built once per model), then `--strokes` times:
Clear, draw a digit with the mouse, and measure in the page, with `performance.now()`, the
time from the stroke's `pointerup` to the moment the big predicted digit above the canvas
shows. Prints the median and the 90th percentile. Usage:
    .venv/bin/python bench/bench_draw_latency.py [--strokes 20]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from tests.conftest import (  # noqa: E402
    CHROMIUM_ARGS,
    chromium_path,
    start_streamlit,
    stop_streamlit,
    wait_for_app,
)

CANVAS = "canvas.upper-canvas"
VERDICT = '[data-testid="draw-predicted-digit"]'
SEVEN = [(70, 50), (210, 50), (120, 250)]
WATCH = """() => {
  window.__latency = {up: null, shown: null};
  window.addEventListener('pointerup', () => {
    window.__latency = {up: performance.now(), shown: null};
  }, true);
  new MutationObserver(() => {
    const digit = document.querySelector('[data-testid="draw-predicted-digit"]');
    const state = window.__latency;
    if (digit && digit.textContent.trim() && state.up !== null && state.shown === null) {
      state.shown = performance.now();
    }
  }).observe(document.body, {subtree: true, childList: true, characterData: true});
}"""


def stroke(page, points) -> None:
    box = page.locator(CANVAS).bounding_box()
    page.mouse.move(box["x"] + points[0][0], box["y"] + points[0][1])
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(box["x"] + x, box["y"] + y, steps=8)
    page.mouse.up()


def clear(page) -> None:
    page.locator(".st-key-draw_clear button").click()
    page.wait_for_function(
        f"() => !document.querySelector('{VERDICT}')?.textContent.trim()", timeout=120_000
    )
    wait_for_app(page, 120_000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strokes", type=int, default=20)
    arguments = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as folder:
        process, base_url, _ = start_streamlit(Path(folder))
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=chromium_path(), args=CHROMIUM_ARGS, headless=True
                )
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.goto(f"{base_url}/draw")
                wait_for_app(page, 300_000)
                page.wait_for_selector(CANVAS, timeout=300_000)
                # Warm up until the certainty check is ready.
                for _ in range(60):
                    stroke(page, SEVEN)
                    page.wait_for_function(
                        f"() => document.querySelector('{VERDICT}')?.textContent.trim()",
                        timeout=300_000,
                    )
                    wait_for_app(page, 300_000)
                    if "still being prepared" not in page.inner_text('[data-testid="stMain"]'):
                        break
                    clear(page)
                    page.wait_for_timeout(5_000)
                page.evaluate(WATCH)
                timings = []
                for _ in range(arguments.strokes):
                    clear(page)
                    stroke(page, SEVEN)
                    page.wait_for_function("() => window.__latency.shown !== null", timeout=120_000)
                    state = page.evaluate("() => window.__latency")
                    timings.append(state["shown"] - state["up"])
                    wait_for_app(page, 120_000)
                browser.close()
        finally:
            stop_streamlit(process)
    timings.sort()
    p90 = timings[min(len(timings) - 1, round(0.9 * (len(timings) - 1)))]
    print(f"stroke end -> prediction shown, {len(timings)} strokes: "
          f"median {statistics.median(timings):.0f} ms, p90 {p90:.0f} ms, "
          f"min {timings[0]:.0f} ms, max {timings[-1]:.0f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
