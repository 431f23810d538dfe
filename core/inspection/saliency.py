"""Show which strokes made a model choose its digit: occlusion saliency over the 28x28 input.

Each 4x4 patch of the input is blanked in turn (set to the black background) and the
model's probability for a class is measured again: where the probability drops, those
pixels pushed toward that class; where it rises, they pushed away from it. The drops are
spread back over the pixels of each patch and averaged. Occlusion needs only predictions, so
it works for every model the app can load (no gradients), in one batch of 169 images.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from core.data.datasets import IMAGE_SHAPE

PATCH = 4
STRIDE = 2
FRAME = IMAGE_SHAPE[0]


@dataclass(frozen=True)
class Saliency:
    """Occlusion maps for some classes.

    Attributes:
        classes: The classes explained, e.g. (prediction, runner-up).
        maps: (len(classes), 28, 28) float32: the probability each pixel's patch took away
            from the class when blanked (positive: the pixel pushed toward the class).
        probabilities: The model's probabilities for the unchanged input.
    """

    classes: tuple[int, ...]
    maps: np.ndarray
    probabilities: np.ndarray


def occluded_copies(digit: np.ndarray) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Return copies of `digit` with one patch blanked each, and the patches' corners."""
    corners = [
        (row, column)
        for row in range(0, FRAME - PATCH + 1, STRIDE)
        for column in range(0, FRAME - PATCH + 1, STRIDE)
    ]
    copies = np.repeat(np.asarray(digit, dtype=np.float32)[np.newaxis], len(corners), axis=0)
    for index, (row, column) in enumerate(corners):
        copies[index, row : row + PATCH, column : column + PATCH] = 0.0
    return copies, corners


def occlusion_saliency(
    predict: Callable[[np.ndarray], np.ndarray], digit: np.ndarray, top: int = 2
) -> Saliency:
    """Explain the `top` most probable classes of one digit by occlusion.

    Args:
        predict: Maps a batch (n, 28, 28) of 0-255 pixels to (n, classes) probabilities,
            e.g. a Keras model's ``predict_on_batch``.
        digit: (28, 28) input, 0-255.
        top: How many classes to explain, most probable first.

    Returns:
        A `Saliency` for the prediction and the runners-up.

    Raises:
        ValueError: If `digit` is not 28x28.
    """
    digit = np.asarray(digit, dtype=np.float32)
    if digit.shape != (FRAME, FRAME):
        raise ValueError(f"Expected a 28x28 digit, got shape {digit.shape}.")
    copies, corners = occluded_copies(digit)
    outputs = np.asarray(predict(np.concatenate([digit[np.newaxis], copies])), dtype=np.float64)
    base, occluded = outputs[0], outputs[1:]
    classes = tuple(int(c) for c in np.argsort(-base)[:top])
    totals = np.zeros((len(classes), FRAME, FRAME))
    counts = np.zeros((FRAME, FRAME))
    for index, (row, column) in enumerate(corners):
        drop = base[list(classes)] - occluded[index, list(classes)]
        totals[:, row : row + PATCH, column : column + PATCH] += drop[:, None, None]
        counts[row : row + PATCH, column : column + PATCH] += 1
    maps = (totals / np.maximum(counts, 1)).astype(np.float32)
    return Saliency(classes, maps, base)
