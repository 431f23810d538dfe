"""Accuracy of the Draw page's photo path on photo-like notebook digits, before and after.

Makes `--count` photo-like JPEGs of MNIST test digits (`core.photo_samples`: paper-coloured,
plain/ruled/squared, shadow gradient, slight rotation and perspective, small and off-centre)
and reads each with the shipped default model two ways:

- baseline: `preprocess_digit(load_uploaded_image(jpeg))`, the upload path before photos
  were cleaned,
- cleaned: `clean_photo(load_uploaded_image(jpeg)).digit` (lighting divided out, Otsu
  threshold, lines removed, pieces of the digit kept).

Prints the accuracy overall and per paper, and the median time of `clean_photo`. Usage:
    .venv/bin/python bench/bench_photo.py [--count 300] [--model models/default/model.keras]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from core.data import load_default_dataset  # noqa: E402
from core.photo import clean_photo  # noqa: E402
from core.photo_samples import PAPERS, photo_like_set  # noqa: E402
from core.preprocess import BlankDrawingError, load_uploaded_image, preprocess_digit  # noqa: E402

DEFAULT_MODEL = PROJECT_ROOT / "models" / "default" / "model.keras"


def read(model, pipeline, samples) -> tuple[np.ndarray, list[float]]:
    """Predicted digit (-1 when the pipeline found no ink) and milliseconds per sample."""
    inputs, predictions, timings = [], [], []
    for sample in samples:
        pixels = load_uploaded_image(sample.jpeg)
        started = time.perf_counter()
        try:
            inputs.append(pipeline(pixels))
        except BlankDrawingError:
            inputs.append(None)
        timings.append((time.perf_counter() - started) * 1000)
    batch = np.stack([np.zeros((28, 28), np.float32) if x is None else x for x in inputs])
    probabilities = np.asarray(model.predict_on_batch(batch))
    predictions = np.where([x is None for x in inputs], -1, probabilities.argmax(axis=1))
    return predictions, timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    arguments = parser.parse_args()
    import keras

    model = keras.saving.load_model(arguments.model)
    dataset = load_default_dataset()
    samples = photo_like_set(dataset.test_images, dataset.test_labels, arguments.count, seed=7)
    labels = np.array([sample.label for sample in samples])
    papers = np.array([sample.paper for sample in samples])
    pipelines = {
        "baseline (preprocess_digit)": preprocess_digit,
        "cleaned (clean_photo)": lambda pixels: clean_photo(pixels).digit,
    }
    print(f"{len(samples)} photo-like digits; accuracy with {arguments.model.name}")
    for name, pipeline in pipelines.items():
        predictions, timings = read(model, pipeline, samples)
        right = predictions == labels
        per_paper = ", ".join(f"{paper} {right[papers == paper].mean():.1%}" for paper in PAPERS)
        print(f"{name:28s} {right.mean():6.1%}  ({per_paper}); "
              f"median {np.median(timings):.1f} ms per picture")  # fmt: skip


if __name__ == "__main__":
    main()
