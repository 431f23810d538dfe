"""Model input: ``uint8`` images scaled to ``float32`` (`SCALINGS`), and one-hot labels."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ScalingSpec:
    """One input scaling: its display label and what it does to the pixels.

    Attributes:
        label: What the page shows.
        scale: Function ``uint8 images -> float32 images`` (see `scale_images`).
    """

    label: str
    scale: Callable[[np.ndarray], np.ndarray]


def _scale_unit(images: np.ndarray) -> np.ndarray:
    return images.astype(np.float32) / np.float32(255.0)


def _scale_raw(images: np.ndarray) -> np.ndarray:
    return images.astype(np.float32)


SCALINGS: dict[str, ScalingSpec] = {
    "unit": ScalingSpec("Scale pixels to [0, 1]", _scale_unit),
    "raw": ScalingSpec("Raw pixels 0-255 (as in the article)", _scale_raw),
}


def scale_images(images: np.ndarray, scaling: str = "unit", flatten: bool = False) -> np.ndarray:
    """Convert ``uint8`` images to ``float32`` model input.

    Args:
        images: Images ``(N, 28, 28)`` (or a single ``(28, 28)`` image), values 0-255.
        scaling: "unit" divides by 255 to get values in [0, 1]; "raw" keeps 0-255, as in
            the article.
        flatten: Whether to reshape to ``(N, rows * columns)``.

    Returns:
        A new ``float32`` array.

    Raises:
        ValueError: An unknown scaling.
    """
    if scaling not in SCALINGS:
        raise ValueError(f"Unknown scaling '{scaling}'; choose one of: {', '.join(SCALINGS)}.")
    scaled = SCALINGS[scaling].scale(np.asarray(images))
    if flatten:
        scaled = scaled.reshape(len(scaled), -1) if scaled.ndim > 2 else scaled.reshape(1, -1)
    return scaled


def one_hot(labels: np.ndarray, num_classes: int = 10) -> np.ndarray:
    """Return one-hot vectors of integer labels, e.g. 6 -> [0, 0, 0, 0, 0, 0, 1, 0, 0, 0].

    Args:
        labels: Integer labels ``(N,)`` in ``[0, num_classes)``.
        num_classes: Length of each vector.

    Returns:
        A ``float32`` array ``(N, num_classes)``.

    Raises:
        ValueError: Labels that are not whole numbers in range.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"Labels must be a 1-dimensional array, not of shape {labels.shape}.")
    if labels.size and labels.dtype.kind not in "iu":
        raise ValueError(f"Labels must be whole numbers, not {labels.dtype} values.")
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(
            f"Labels must be between 0 and {num_classes - 1}; found {labels.min()} to "
            f"{labels.max()}."
        )
    return np.eye(num_classes, dtype=np.float32)[labels.astype(np.intp)]
