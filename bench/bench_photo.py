"""Accuracy of the Draw page's upload paths on photo-like notebook digits and on clean scans.

Makes `--count` photo-like JPEGs of MNIST test digits (`testkit.photo_samples.photo_like_set`:
paper-coloured, plain/ruled/squared, shadow gradient, slight rotation and perspective, small
and off-centre) and `--count` clean scans of other MNIST test digits
(`testkit.photo_samples.clean_scan_set`: evenly lit white paper, the digit redrawn with a pen 3-7
pixels wide at about 300 dpi, PNG), and reads each with the shipped default model four ways:

- drawing steps: `preprocess_digit(load_uploaded_image(file))`, the upload path before
  photos were cleaned,
- photo steps always: `clean_photo(..., path="photo")` (lighting divided out, Otsu
  threshold, lines removed, pieces of the digit kept), the upload path before scans were told
  apart,
- chosen by the picture: `clean_photo(...)`, the page's path (a clean scan takes the drawing
  steps, anything else the photo steps),
- surer of both: both steps, keeping the input the model gives the higher top probability.

Prints the accuracy per kind of picture (and per paper), the share of pictures read as scans,
and the median time of `clean_photo`. Usage:
    .venv/bin/python -m bench.bench_photo [--count 300] [--model models/default/model.keras]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from core.data.datasets import load_default_dataset
from core.data.image_files import load_uploaded_image
from core.data.photo import PATH_PHOTO, PATH_SCAN, clean_photo
from core.data.preprocess import BlankDrawingError, preprocess_digit
from testkit.photo_samples import PAPERS, clean_scan_set, photo_like_set

PROJECT_ROOT = Path(__file__).resolve().parent.parent


DEFAULT_MODEL = PROJECT_ROOT / "models" / "default" / "model.keras"


def inputs_of(pipeline, pictures) -> tuple[list, list[float]]:
    """The 28x28 input of each picture (None when no ink was found) and milliseconds each."""
    inputs, timings = [], []
    for pixels in pictures:
        started = time.perf_counter()
        try:
            inputs.append(pipeline(pixels))
        except BlankDrawingError:
            inputs.append(None)
        timings.append((time.perf_counter() - started) * 1000)
    return inputs, timings


def probabilities_of(model, inputs) -> np.ndarray:
    """Class probabilities per input; all zero where there was no input."""
    batch = np.stack([np.zeros((28, 28), np.float32) if x is None else x for x in inputs])
    probabilities = np.asarray(model.predict_on_batch(batch), dtype=np.float64)
    probabilities[[x is None for x in inputs]] = 0.0
    return probabilities


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    arguments = parser.parse_args()
    import keras

    model = keras.saving.load_model(arguments.model)
    dataset = load_default_dataset()
    test_images, test_labels = dataset.test_images, dataset.test_labels
    kinds = {
        "photo-like": photo_like_set(test_images, test_labels, arguments.count, seed=7),
        "clean scan": clean_scan_set(test_images, test_labels, arguments.count, seed=5),
    }
    print(f"accuracy with {arguments.model.name}, {arguments.count} pictures of each kind")
    for kind, samples in kinds.items():
        labels = np.array([sample.label for sample in samples])
        papers = np.array([sample.paper for sample in samples])
        pictures = [load_uploaded_image(sample.jpeg) for sample in samples]
        drawing, _ = inputs_of(preprocess_digit, pictures)
        photo, _ = inputs_of(lambda pixels: clean_photo(pixels, path=PATH_PHOTO).digit, pictures)
        chosen_steps, timings = inputs_of(clean_photo, pictures)
        chosen = [None if steps is None else steps.digit for steps in chosen_steps]
        scans = np.mean([steps is not None and steps.path == PATH_SCAN for steps in chosen_steps])
        by_drawing, by_photo = probabilities_of(model, drawing), probabilities_of(model, photo)
        surer = np.where((by_drawing.max(1) >= by_photo.max(1))[:, None], by_drawing, by_photo)
        results = {
            "drawing steps": by_drawing,
            "photo steps always": by_photo,
            "chosen by the picture": probabilities_of(model, chosen),
            "surer of both": surer,
        }
        print(f"{kind}: {scans:.0%} read as clean scans; clean_photo median "
              f"{np.median(timings):.1f} ms per picture")  # fmt: skip
        for name, probabilities in results.items():
            right = (probabilities.argmax(axis=1) == labels) & (probabilities.max(axis=1) > 0)
            per_paper = ", ".join(
                f"{paper} {right[papers == paper].mean():.1%}"
                for paper in (*PAPERS, "scan")
                if (papers == paper).any()
            )
            print(f"  {name:24s} {right.mean():6.1%}  ({per_paper})")


if __name__ == "__main__":
    main()
