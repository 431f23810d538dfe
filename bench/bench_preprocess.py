"""Time the Draw page's server work: canvas RGBA array -> 28x28 input -> probabilities.

Renders MNIST test digits onto a 280x280 RGBA canvas (white strokes on transparent pixels,
what the drawing canvas sends), then times, per drawing:

- `preprocess_digit` alone,
- the prediction of the shipped default model four ways: `model.predict_on_batch(x)` (what
  the page uses), `model(x, training=False)`, a `tf.function`-compiled call and
  `model.predict(x)`,
- the whole path (preprocess + `predict_probabilities`).

Prints the median and 90th percentile in milliseconds. Usage:
    .venv/bin/python -m bench.bench_preprocess [--drawings 200]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

from core.data.datasets import load_default_dataset
from core.data.preprocess import (
    predict_probabilities,
    preprocess_digit,
    render_as_drawing,
)

PROJECT_ROOT = Path(__file__).resolve().parent.parent

DEFAULT_MODEL = PROJECT_ROOT / "models" / "default" / "model.keras"
WARM_UP_CALLS = 5


def time_calls(function, inputs) -> list[float]:
    """Return the milliseconds of each call of `function` on each input (after warm-up)."""
    for item in inputs[:WARM_UP_CALLS]:
        function(item)
    timings = []
    for item in inputs:
        started = time.perf_counter()
        function(item)
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def report(name: str, timings: list[float]) -> None:
    median = statistics.median(timings)
    p90 = float(np.percentile(timings, 90))
    print(f"{name:<42} median {median:7.2f} ms   p90 {p90:7.2f} ms   (n={len(timings)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drawings", type=int, default=200)
    arguments = parser.parse_args()

    import keras
    import tensorflow as tf

    dataset = load_default_dataset()
    rng = np.random.default_rng(0)
    canvases = []
    for image in dataset.test_images[: arguments.drawings]:
        size = int(rng.integers(120, 260))
        row, column = (int(value) for value in rng.integers(0, 280 - size + 1, 2))
        canvases.append(render_as_drawing(image, 280, size, (row, column)))
    digits = [preprocess_digit(canvas) for canvas in canvases]
    model = keras.saving.load_model(DEFAULT_MODEL, safe_mode=True)
    compiled = tf.function(lambda x: model(x, training=False), reduce_retracing=True)

    print(
        f"Default model: {DEFAULT_MODEL.relative_to(PROJECT_ROOT)}, "
        f"{model.count_params():,} parameters; {len(canvases)} drawings 280x280x4 uint8"
    )
    report("preprocess_digit", time_calls(preprocess_digit, canvases))
    report(
        "model.predict_on_batch(x)",
        time_calls(lambda d: model.predict_on_batch(d[np.newaxis]), digits),
    )
    report(
        "model(x, training=False)",
        time_calls(lambda d: np.asarray(model(d[np.newaxis], training=False)), digits),
    )
    report("tf.function(model)", time_calls(lambda d: compiled(d[np.newaxis]).numpy(), digits))
    report(
        "model.predict(x)",
        time_calls(lambda d: model.predict(d[np.newaxis], verbose=0), digits),
    )
    report(
        "canvas -> probabilities (page's path)",
        time_calls(lambda c: predict_probabilities(model, preprocess_digit(c)), canvases),
    )


if __name__ == "__main__":
    main()
