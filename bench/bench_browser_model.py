"""The Draw page's model file: its size and export time, and what float16 weights would cost.

For the shipped CNN and a freshly trained Recommended network: the exported file's size in
float32 (what ships) and in float16, the export's time, and how far the probabilities move
when every weight is rounded to float16, on `--digits` MNIST test digits re-drawn on a canvas
and preprocessed as the page does (`redraw_digits`): the largest change of a probability, and
how many top classes change. The page promises the server's probabilities to 1e-4. Usage:
    .venv/bin/python -m bench.bench_browser_model [--digits 1000]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from core.data.datasets import load_default_dataset
from core.data.preprocess import redraw_digits
from core.nn.browser_model import export_browser_model
from core.nn.model import build_model
from core.nn.precision import FLOAT32
from core.nn.presets import PRESETS
from core.settings import PROJECT_ROOT


def float16_effect(model, digits: np.ndarray) -> tuple[float, int]:
    """Largest probability change and number of changed top classes with float16 weights."""
    before = model.predict(digits, batch_size=500, verbose=0)
    saved = [weights.copy() for weights in model.get_weights()]
    model.set_weights([w.astype(np.float16).astype(np.float32) for w in saved])
    after = model.predict(digits, batch_size=500, verbose=0)
    model.set_weights(saved)
    changed = int((before.argmax(axis=1) != after.argmax(axis=1)).sum())
    return float(np.abs(after - before).max()), changed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--digits", type=int, default=1000)
    arguments = parser.parse_args()
    import keras

    dataset = load_default_dataset()
    digits = redraw_digits(dataset.test_images[: arguments.digits], seed=25)
    recommended = build_model(PRESETS["Recommended"], precision=FLOAT32)
    recommended.fit(dataset.train_images.astype("float32"), dataset.train_labels, batch_size=128,
                    epochs=2, verbose=0)  # fmt: skip
    models = {
        "shipped CNN": keras.models.load_model(PROJECT_ROOT / "models" / "default" / "model.keras"),
        "Recommended (784-256-10, 2 epochs)": recommended,
    }
    print(f"load average {os.getloadavg()[0]:.1f}, {len(digits)} re-drawn test digits")
    print("| model | parameters | file, float32 | float16 would be | export | largest probability "
          "change with float16 | top class changed |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, model in models.items():
        started = time.perf_counter()
        exported = export_browser_model(model)
        seconds = time.perf_counter() - started
        header = len(exported.blob) - 4 * exported.parameters
        half = header + 2 * exported.parameters
        largest, changed = float16_effect(model, digits)
        print(f"| {name} | {exported.parameters:,} | {len(exported.blob) / 1024:.0f} KB | "
              f"{half / 1024:.0f} KB | {seconds * 1000:.0f} ms | {largest:.1e} | "
              f"{changed} of {len(digits)} |")  # fmt: skip


if __name__ == "__main__":
    main()
