"""Occlusion saliency: pixels that carry a class's evidence come out positive for it."""

from __future__ import annotations

import numpy as np
import pytest

from core.figures.draw import saliency_maps
from core.inspection.novelty_measures import softmax
from core.inspection.saliency import occlusion_saliency


def left_versus_right(batch: np.ndarray) -> np.ndarray:
    """Class 0's score is the ink on the left half, class 1's the ink on the right."""
    left = batch[:, :, :14].sum(axis=(1, 2)) / 2000.0
    right = batch[:, :, 14:].sum(axis=(1, 2)) / 2000.0
    logits = np.stack([left, right] + [np.zeros(len(batch))] * 8, axis=1)
    return softmax(logits)


def test_ink_on_the_left_pushes_toward_class_0_and_ink_on_the_right_toward_class_1():
    digit = np.zeros((28, 28), dtype=np.float32)
    digit[6:22, 4:8] = 255.0
    digit[10:14, 20:24] = 255.0
    saliency = occlusion_saliency(left_versus_right, digit)
    assert saliency.classes == (0, 1)
    toward_0, toward_1 = saliency.maps
    assert toward_0[6:22, 4:8].min() > 0
    assert toward_0[10:14, 20:24].max() < 0
    assert toward_1[10:14, 20:24].min() > 0
    assert np.all(saliency.maps[:, 0:3, 10:18] == 0)  # blank paper carries no evidence
    assert saliency.probabilities.sum() == pytest.approx(1.0)


def test_saliency_figure_has_a_map_and_an_outline_per_class():
    digit = np.zeros((28, 28), dtype=np.float32)
    digit[6:22, 4:8] = 255.0
    figure = saliency_maps(occlusion_saliency(left_versus_right, digit), digit)
    assert [trace.type for trace in figure.data] == ["heatmap", "contour"] * 2
    assert figure.layout.annotations[0].text.startswith("Prediction: 0")


def test_a_digit_of_the_wrong_shape_is_refused():
    with pytest.raises(ValueError, match="28x28"):
        occlusion_saliency(left_versus_right, np.zeros((20, 20)))
