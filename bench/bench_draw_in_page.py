"""Per-prediction time of the Draw page's in-page network, and frames per second while drawing.

Part 1, a harness page in headless Chromium: loads ui/draw_pad/mnist_net.js, parses each
model file (core.nn.browser_model.export_browser_model) and, for `--inputs` MNIST test digits
drawn as the 280x280 canvas would hold them (white ink on black, 10x bilinear, as
testkit.class_load.digit_drawing), times `--rounds` times per input what the page does per
frame: getImageData + MnistNet.preprocess + MnistNet.predict, and the forward pass alone.
Models: the article's network (PRESETS["As in the article"], 784-128-10 on raw pixels), the
Recommended preset (both trained for one epoch on `--train-images` images: the weights'
accuracy does not change the time) and the shipped CNN (models/default/model.keras).

Part 2, the real Draw page (streamlit_app.py on this checkout, shipped CNN): waits until the
model runs in the page, then draws one continuous mouse stroke of `--stroke-seconds` seconds
with many small moves, and reports the requestAnimationFrame callbacks per second during the
stroke, the in-page predictions per second, and the page's own per-prediction times
(`.mnist-pad.__drawPad.stats`). Prints the load average with each figure. Usage:
    .venv/bin/python -m bench.bench_draw_in_page [--rounds 20] [--inputs 50] [--no-page]
"""

# ruff: noqa: E501  (long f-strings of the printed figures)
from __future__ import annotations

import argparse
import base64
import math
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

PROJECT_ROOT = Path(__file__).resolve().parent.parent
MNIST_NET = PROJECT_ROOT / "ui" / "draw_pad" / "mnist_net.js"
SHIPPED = PROJECT_ROOT / "models" / "default" / "model.keras"

SET_INPUTS = """([text, count]) => {
  const bytes = Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  window.__inputs = [];
  for (let i = 0; i < count; i++) window.__inputs.push(bytes.slice(i * 313600, (i + 1) * 313600));
}"""
TIME_MODEL = """async ([text, count, rounds]) => {
  const buffer = Uint8Array.from(atob(text), (c) => c.charCodeAt(0)).buffer;
  const model = MnistNet.parseModel(buffer);
  const inputs = window.__inputs.slice(0, count);
  const canvas = document.createElement('canvas');
  canvas.width = 280; canvas.height = 280;
  const context = canvas.getContext('2d', {willReadFrequently: true});
  const images = inputs.map((pixels) => new ImageData(new Uint8ClampedArray(pixels), 280, 280));
  const frame = [], forward = [], top = [];
  for (let round = 0; round < rounds; round++) {
    for (const image of images) {
      context.putImageData(image, 0, 0);
      const started = performance.now();
      const rgba = context.getImageData(0, 0, 280, 280).data;
      const prepared = MnistNet.preprocess(rgba, 280, 280);
      const middle = performance.now();
      const probabilities = MnistNet.predict(model, prepared.input);
      const ended = performance.now();
      frame.push(ended - started);
      forward.push(ended - middle);
      if (round === 0) top.push(probabilities.indexOf(Math.max(...probabilities)));
    }
  }
  return {frame, forward, parameters: model.parameters, top};
}"""

# Pointer moves at a steady 250 Hz (a pen or a gaming mouse), dispatched in the page between
# a real mouse down and up: Playwright's own moves are one round trip each (10-40/s here).
SYNTHETIC_STROKE = """([seconds, cx, cy, radius]) => new Promise((resolve) => {
  const canvas = document.querySelector('[data-testid="draw-pad-canvas"]');
  const t0 = performance.now();
  let moves = 0;
  const timer = setInterval(() => {
    const angle = moves * 0.03, r = radius * (0.5 + 0.5 * Math.cos(angle / 7));
    canvas.dispatchEvent(new PointerEvent('pointermove', {pointerId: 1, pointerType: 'mouse',
      isPrimary: true, bubbles: true, cancelable: true, buttons: 1,
      clientX: cx + r * Math.cos(angle), clientY: cy + r * Math.sin(angle)}));
    moves++;
    if (performance.now() - t0 >= seconds * 1000) {
      clearInterval(timer);
      resolve({t0, t1: performance.now(), moves});
    }
  }, 4);
})"""

FRAME_COUNTER = """() => {
  window.__frames = [];
  const tick = (t) => { window.__frames.push(t); requestAnimationFrame(tick); };
  requestAnimationFrame(tick);
}"""


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.1f} {five:.1f} {fifteen:.1f}"


def percentile(values: list[float], fraction: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(fraction * (len(values) - 1)))]


def describe(values: list[float]) -> str:
    return (f"median {statistics.median(values):.2f} ms, p95 {percentile(values, 0.95):.2f} ms, "
            f"max {max(values):.2f} ms, n={len(values)}")  # fmt: skip


def canvas_rgba(pixels: np.ndarray) -> np.ndarray:
    """A 28x28 digit as the 280x280 canvas holds it (RGBA, white ink on black)."""
    from PIL import Image

    ink = np.asarray(Image.fromarray(pixels).resize((280, 280), Image.BILINEAR))
    rgba = np.zeros((280, 280, 4), dtype=np.uint8)
    rgba[..., :3] = ink[..., np.newaxis]
    rgba[..., 3] = 255
    return rgba


def models(train_images: int):
    """(name, Keras model) for the article's network, Recommended and the shipped CNN."""
    import keras

    from core.data.datasets import load_default_dataset
    from core.nn.model import build_model
    from core.nn.presets import PRESETS

    data = load_default_dataset()
    x = np.asarray(data.train_images[:train_images])
    y = np.asarray(data.train_labels[:train_images])
    out = []
    for name in ("As in the article", "Recommended"):
        model = build_model(PRESETS[name])
        model.fit(x, y, epochs=1, batch_size=128, verbose=0)
        out.append((f"{name} ({PRESETS[name].architecture})", model))
    out.append(("shipped CNN (models/default)", keras.saving.load_model(SHIPPED)))
    return out


def harness_timings(browser, exported, inputs, rounds: int) -> None:
    page = browser.new_page()
    page.set_content("<html><body></body></html>")
    page.add_script_tag(content=MNIST_NET.read_text() + "\nwindow.MnistNet = MnistNet;")
    page.evaluate(SET_INPUTS, [base64.b64encode(np.stack(inputs).tobytes()).decode(), len(inputs)])
    for name, blob, keras_top in exported:
        text = base64.b64encode(blob).decode()
        # Warm the JIT once on a few inputs, then measure.
        page.evaluate(TIME_MODEL, [text, 3, 3])
        before = load()
        result = page.evaluate(TIME_MODEL, [text, len(inputs), rounds])
        agree = sum(a == b for a, b in zip(result["top"], keras_top, strict=True))
        print(f"[harness] {name}: {result['parameters']:,} weights, file {len(blob):,} bytes; "
              f"frame (getImageData+preprocess+predict) {describe(result['frame'])}; "
              f"forward pass alone {describe(result['forward'])}; top class = Keras on "
              f"{agree}/{len(keras_top)}; load {before} -> {load()}")  # fmt: skip
    page.close()


def draw_page(browser, stroke_seconds: float, strokes: int) -> None:
    from testkit.harness import start_streamlit, stop_streamlit

    with tempfile.TemporaryDirectory() as folder:
        process, base_url, _ = start_streamlit(Path(folder))
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{base_url}/draw")
            page.wait_for_selector('[data-testid="draw-pad-status"][data-path="browser"]',
                                   timeout=300_000)  # fmt: skip
            page.evaluate(FRAME_COUNTER)
            canvas = page.locator('[data-testid="draw-pad-canvas"]')
            box = canvas.bounding_box()
            cx, cy, radius = (
                box["x"] + box["width"] / 2,
                box["y"] + box["height"] / 2,
                box["width"] * 0.3,
            )
            for number in range(2 * strokes):
                synthetic = number % 2 == 1
                page.get_by_label("Clear the canvas").click() if number else None
                page.wait_for_timeout(500)
                stats_before = page.evaluate(
                    "() => document.querySelector('.mnist-pad').__drawPad.stats.length"
                )
                predictions_before = page.evaluate(
                    "() => Number(document.querySelector('[data-testid=\"draw-pad-live\"]').dataset.predictions || 0)"
                )
                before = load()
                page.mouse.move(cx + radius, cy)
                page.mouse.down()
                if synthetic:
                    done = page.evaluate(SYNTHETIC_STROKE, [stroke_seconds, cx, cy, radius])
                    t0, t1, moves = done["t0"], done["t1"], done["moves"]
                else:
                    t0 = page.evaluate("() => performance.now()")
                    started = time.monotonic()
                    moves = 0
                    while time.monotonic() - started < stroke_seconds:
                        angle = moves * 0.3
                        r = radius * (0.5 + 0.5 * math.cos(angle / 7))
                        page.mouse.move(cx + r * math.cos(angle), cy + r * math.sin(angle), steps=5)
                        moves += 5
                    t1 = page.evaluate("() => performance.now()")
                page.mouse.up()
                frames = page.evaluate(
                    f"() => window.__frames.filter((t) => t >= {t0} && t <= {t1})"
                )
                stats = page.evaluate(
                    f"() => document.querySelector('.mnist-pad').__drawPad.stats.slice({stats_before})"
                )
                predictions = (
                    page.evaluate(
                        "() => Number(document.querySelector('[data-testid=\"draw-pad-live\"]').dataset.predictions || 0)"
                    )
                    - predictions_before
                )
                seconds = (t1 - t0) / 1000
                gaps = [b - a for a, b in zip(frames, frames[1:], strict=False)]
                how = "in-page pointermove every 4 ms" if synthetic else "Playwright mouse"
                print(f"[draw page] stroke {number + 1} ({how}): {seconds:.2f} s, {moves} moves "
                      f"({moves / seconds:.0f}/s); rAF {len(frames) / seconds:.1f} frames/s "
                      f"(longest gap {max(gaps) if gaps else float('nan'):.1f} ms); in-page "
                      f"predictions {predictions / seconds:.1f}/s; per prediction "
                      f"{describe(stats) if stats else 'none'}; load {before} -> {load()}")  # fmt: skip
            page.close()
        finally:
            stop_streamlit(process)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--inputs", type=int, default=50)
    parser.add_argument("--train-images", type=int, default=5000)
    parser.add_argument("--stroke-seconds", type=float, default=2.0)
    parser.add_argument("--strokes", type=int, default=3)
    parser.add_argument("--no-page", action="store_true", help="skip the real Draw page")
    parser.add_argument("--no-harness", action="store_true", help="skip the harness page")
    arguments = parser.parse_args()
    from playwright.sync_api import sync_playwright

    from core.data.datasets import load_default_dataset
    from core.nn.browser_model import export_browser_model
    from testkit.harness import CHROMIUM_ARGS, chromium_path

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=PROJECT_ROOT,
                            capture_output=True, text=True).stdout.strip()  # fmt: skip
    print(f"code version {commit}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
          f"load {load()}")  # fmt: skip
    exported = []
    if not arguments.no_harness:
        test = load_default_dataset().test_images
        digits = [np.asarray(test[(i * 97) % len(test)]) for i in range(arguments.inputs)]
        inputs = [canvas_rgba(d) for d in digits]
        from core.data.preprocess import preprocess_digit

        # What the server feeds Keras for the same canvases: the page's top class should match.
        batch = np.stack([preprocess_digit(i) for i in inputs])

        for name, model in models(arguments.train_images):
            browser_model = export_browser_model(model)
            keras_top = [int(i) for i in np.argmax(model.predict(batch, verbose=0), axis=1)]
            exported.append((name, browser_model.blob, keras_top))
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS,
                                             headless=True)  # fmt: skip
        if exported:
            harness_timings(browser, exported, inputs, arguments.rounds)
        if not arguments.no_page:
            draw_page(browser, arguments.stroke_seconds, arguments.strokes)
        browser.close()


if __name__ == "__main__":
    main()
