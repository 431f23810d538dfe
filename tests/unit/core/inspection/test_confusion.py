"""The most frequent mistake in a confusion matrix (core.inspection.confusion)."""

import numpy as np

from core.inspection.confusion import most_confused_cell


def test_the_most_confused_cell_is_the_largest_mistake_never_the_diagonal():
    matrix = np.array([[50, 2, 1], [0, 40, 7], [9, 3, 60]])
    assert most_confused_cell(matrix) == (2, 0)
    assert matrix[2, 0] == 9  # the matrix itself is left as it was
    # Ties go to the first cell, and without any mistake it is (0, 1).
    assert most_confused_cell(np.array([[5, 3], [3, 5]])) == (0, 1)
    assert most_confused_cell(np.diag([4, 4, 4])) == (0, 1)
