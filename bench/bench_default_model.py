"""Compare saved models on the digits the project re-draws: is a candidate a better default?

For each model file given, prints its accuracy on

1. the 10,000 MNIST test images;
2. the re-drawn test digits of `scripts/train_default_model.py` (2,000 test images rendered
   onto a 280x280 canvas at random sizes and places, then passed through the Draw page's
   preprocessing; the same images for every model);
3. the re-drawn digits of `tests/unit/core/nn/test_default_model.py` (1,000 images, sizes
   80-269 px, every fourth dark on light);
4. the synthetic strokes of that test (sevens, zeros and a one drawn as lines).

Usage:
    .venv/bin/python -m bench.bench_default_model models/default/model.keras /tmp/new/model.keras
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from core.data.datasets import load_default_dataset
from core.data.preprocess import preprocess_digit, render_as_drawing
from scripts.train_default_model import (
    DEFAULT_CONFIG,
    DRAWN_TEST_IMAGES,
    drawn_like_images,
)
from testkit.drawings import draw_seven, draw_zero

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# The re-drawn set of tests/unit/core/nn/test_default_model.py.
TEST_DRAWN_IMAGES = 1000
TEST_DRAWN_SEED = 7
CANVAS_SIZE = 280


def test_suite_drawn_digits(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (indices, re-drawn digits) exactly as that test (test_default_model.py) makes them."""
    rng = np.random.default_rng(TEST_DRAWN_SEED)
    indices = rng.choice(len(images), TEST_DRAWN_IMAGES, replace=False)
    drawn = np.empty((TEST_DRAWN_IMAGES, 28, 28), dtype=np.float32)
    for position, image in enumerate(images[indices]):
        size = int(rng.integers(80, 270))
        row, column = (int(value) for value in rng.integers(0, CANVAS_SIZE - size + 1, 2))
        canvas = render_as_drawing(
            image, CANVAS_SIZE, size, (row, column), dark_on_light=position % 4 == 0
        )
        drawn[position] = preprocess_digit(canvas)
    return indices, drawn


def synthetic_strokes() -> list[tuple[int, np.ndarray]]:
    """The drawn sevens, zeros and one of tests/unit/core/nn/test_default_model.py, preprocessed."""
    one = np.zeros((CANVAS_SIZE, CANVAS_SIZE), dtype=np.uint8)
    one[40:240, 132:150] = 255
    canvases = [
        (7, draw_seven((60, 40, 200, 240), width=18)),
        (7, draw_seven((8, 10, 60, 80), width=5)),
        (7, draw_seven((60, 40, 200, 240), width=16, dark_on_light=True)),
        (0, draw_zero((80, 40, 200, 240), width=18)),
        (0, draw_zero((150, 150, 260, 275), width=6)),
        (1, one),
    ]
    return [(label, preprocess_digit(canvas)) for label, canvas in canvases]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", type=Path, help="model.keras files")
    arguments = parser.parse_args()

    import keras

    dataset = load_default_dataset()
    x_test, y_test = dataset.test_images, dataset.test_labels
    script_rng = np.random.default_rng(DEFAULT_CONFIG.seed + 1)
    script_indices = script_rng.choice(len(x_test), DRAWN_TEST_IMAGES, replace=False)
    script_drawn = drawn_like_images(x_test[script_indices], script_rng)
    test_indices, test_drawn = test_suite_drawn_digits(x_test)
    strokes = synthetic_strokes()
    stroke_images = np.stack([image for _, image in strokes]).astype(np.float32)
    stroke_labels = np.array([label for label, _ in strokes])

    def accuracy(model, images: np.ndarray, labels: np.ndarray) -> float:
        probabilities = model.predict(images.astype(np.float32), batch_size=500, verbose=0)
        return float(np.mean(np.argmax(probabilities, axis=1) == labels))

    print(f"{'model':<45} {'test':>7} {'drawn (script)':>15} {'drawn (tests)':>14} {'strokes':>8}")
    for path in arguments.models:
        model = keras.saving.load_model(path, safe_mode=True)
        correct_strokes = int(round(accuracy(model, stroke_images, stroke_labels) * len(strokes)))
        print(
            f"{str(path):<45} {accuracy(model, x_test, y_test):>7.2%} "
            f"{accuracy(model, script_drawn, y_test[script_indices]):>15.2%} "
            f"{accuracy(model, test_drawn, y_test[test_indices]):>14.2%} "
            f"{correct_strokes:>4}/{len(strokes)}"
        )


if __name__ == "__main__":
    main()
