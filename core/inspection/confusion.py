"""Where a classifier goes wrong most: the most frequent mistake of a confusion matrix."""

from __future__ import annotations

import numpy as np


def most_confused_cell(confusion_matrix: np.ndarray) -> tuple[int, int]:
    """Return the (true class, predicted class) of the most frequent mistake.

    The diagonal (correct predictions) never counts; with no mistake at all, the first
    off-diagonal cell (true 0, predicted 1) is returned, as `argmax` picks the first of
    equal counts.

    Args:
        confusion_matrix: Counts, rows the true classes and columns the predicted ones.

    Returns:
        The row and column of the largest off-diagonal count.
    """
    mistakes = np.array(confusion_matrix, copy=True)
    np.fill_diagonal(mistakes, -1)
    true_label, predicted_label = np.unravel_index(mistakes.argmax(), mistakes.shape)
    return int(true_label), int(predicted_label)
