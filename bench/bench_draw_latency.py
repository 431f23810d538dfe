"""Time from the end of a stroke to the prediction shown, on the Draw page in Chromium.

Starts `streamlit run` on this checkout (and, with `--peer FOLDER`, a second server on another
checkout of the app, e.g. the code before a change), opens each Draw page in headless
Chromium, draws once and waits until the page's certainty check is ready (built once per
model), then `--strokes` times per server, alternating between the servers so both see the
same machine load: Clear, draw a 7 with the mouse, and measure in the page, with
`performance.now()`, the time from the stroke's `pointerup` to the moment the big predicted
digit above the canvas shows. Prints the median and the 90th percentile per server and the
load average. Works with both Draw components: the app's own (ui/draw_pad, canvas
`[data-testid="draw-pad-canvas"]`, "Clear the canvas" button) and the streamlit-drawable-canvas
one before it (`canvas.upper-canvas`, `.st-key-draw_clear button`); each page says which it has.
`--peer-python` is the peer's interpreter (default: FOLDER/.venv/bin/python), so a checkout
that needs other packages (e.g. streamlit-drawable-canvas) runs in its own venv. Usage:
    .venv/bin/python -m bench.bench_draw_latency [--strokes 20] [--peer /tmp/old-checkout]
        [--peer-python /tmp/old-checkout/.venv/bin/python]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
from pathlib import Path

from testkit.harness import (
    CHROMIUM_ARGS,
    chromium_path,
    free_port,
    start_streamlit,
    stop_streamlit,
    streamlit_command,
    wait_for_health,
)

PROJECT_ROOT = Path(__file__).resolve().parent.parent

OLD_CANVAS = "canvas.upper-canvas"
NEW_CANVAS = '[data-testid="draw-pad-canvas"]'
CANVASES = f"{NEW_CANVAS}, {OLD_CANVAS}"
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


def wait_for_app(page, timeout: float) -> None:
    """Wait until the page's script has finished running."""
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]',
                           timeout=timeout)  # fmt: skip
    page.wait_for_selector('[data-testid="stMain"]', timeout=timeout)
    page.wait_for_timeout(300)


def start_peer(
    root: Path, folder: Path, python: Path | None = None
) -> tuple[subprocess.Popen, str]:
    """Start `streamlit run` in another checkout `root` with `python` (default: its .venv's)."""
    port = free_port()
    log_path = folder / f"peer-{port}.log"
    process = subprocess.Popen(
        [str(python or root / ".venv" / "bin" / "python"), *streamlit_command(port)[1:]],
        cwd=root,
        env={**os.environ, "MNIST_STUDIO_RUNS_DIR": str(folder / "peer-runs")},
        stdout=log_path.open("w"),
        stderr=subprocess.STDOUT,
    )
    base_url = f"http://127.0.0.1:{port}"
    wait_for_health(base_url, process, log_path)
    return process, base_url


def canvas_of(page) -> str:
    """The drawing canvas's selector on this page: the app's own component or the old one."""
    if page.locator(NEW_CANVAS).count():
        return NEW_CANVAS
    return OLD_CANVAS


def stroke(page, points) -> None:
    box = page.locator(canvas_of(page)).first.bounding_box()
    page.mouse.move(box["x"] + points[0][0], box["y"] + points[0][1])
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(box["x"] + x, box["y"] + y, steps=8)
    page.mouse.up()


def clear(page) -> None:
    if canvas_of(page) == NEW_CANVAS:
        page.get_by_label("Clear the canvas").click()
    else:
        page.locator(".st-key-draw_clear button").click()
    page.wait_for_function(
        f"() => !document.querySelector('{VERDICT}')?.textContent.trim()", timeout=120_000
    )
    wait_for_app(page, 120_000)


def open_warm_page(browser, base_url: str):
    """A Draw page whose certainty check is ready, watching stroke-to-prediction times."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{base_url}/draw")
    wait_for_app(page, 300_000)
    page.wait_for_selector(CANVASES, timeout=300_000)
    if canvas_of(page) == NEW_CANVAS:  # the model in the page, as a learner would have it
        page.wait_for_selector('[data-testid="draw-pad-status"]:not([data-path="loading"])',
                               timeout=300_000)  # fmt: skip
    for _ in range(120):
        stroke(page, SEVEN)
        page.wait_for_function(
            f"() => document.querySelector('{VERDICT}')?.textContent.trim()", timeout=300_000
        )
        wait_for_app(page, 300_000)
        if "still being prepared" not in page.inner_text('[data-testid="stMain"]'):
            break
        clear(page)
        page.wait_for_timeout(5_000)
    page.evaluate(WATCH)
    return page


def timed_stroke(page) -> float:
    clear(page)
    stroke(page, SEVEN)
    page.wait_for_function("() => window.__latency.shown !== null", timeout=120_000)
    state = page.evaluate("() => window.__latency")
    wait_for_app(page, 120_000)
    return state["shown"] - state["up"]


def summary(name: str, timings: list[float]) -> str:
    timings = sorted(timings)
    p90 = timings[min(len(timings) - 1, round(0.9 * (len(timings) - 1)))]
    return (f"{name}: {len(timings)} strokes, median {statistics.median(timings):.0f} ms, "
            f"p90 {p90:.0f} ms, min {timings[0]:.0f} ms, max {timings[-1]:.0f} ms")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strokes", type=int, default=20)
    parser.add_argument("--peer", type=Path, help="another checkout of the app to compare")
    parser.add_argument("--peer-python", type=Path, help="the peer's python (default: its .venv)")
    arguments = parser.parse_args()
    from playwright.sync_api import sync_playwright

    servers = []
    with tempfile.TemporaryDirectory() as folder:
        try:
            process, base_url, _ = start_streamlit(Path(folder))
            servers.append(("this checkout", process, base_url))
            if arguments.peer is not None:
                process, base_url = start_peer(
                    arguments.peer.resolve(), Path(folder), arguments.peer_python
                )
                servers.append((f"peer {arguments.peer}", process, base_url))
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=chromium_path(), args=CHROMIUM_ARGS, headless=True
                )
                pages = [open_warm_page(browser, url) for _, _, url in servers]
                for (name, _, _), page in zip(servers, pages, strict=True):
                    path = page.evaluate("""() => document.querySelector(
                        '[data-testid="draw-pad-status"]')?.dataset.path ?? 'none'""")
                    print(f"{name}: canvas {canvas_of(page)}, in-page path {path}")
                print(f"load average at the start: {os.getloadavg()}")
                timings: list[list[float]] = [[] for _ in servers]
                for _ in range(arguments.strokes):
                    for page, measured in zip(pages, timings, strict=True):
                        measured.append(timed_stroke(page))
                print(f"load average at the end: {os.getloadavg()}")
                browser.close()
        finally:
            for _, process, _ in servers:
                stop_streamlit(process)
    for (name, _, _), measured in zip(servers, timings, strict=True):
        print(summary(f"stroke end -> prediction shown, {name}", measured))


if __name__ == "__main__":
    main()
