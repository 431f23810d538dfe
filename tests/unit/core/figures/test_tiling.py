import numpy as np
import pytest

from core.figures.explore import mean_images_figure
from core.figures.tiling import tile_images


def test_row_gap_spaces_rows_apart_from_columns():
    images = np.arange(1, 4)[:, None, None] * np.ones((3, 2, 2))
    grid = tile_images(images, columns=2, gap=1, fill=0, row_gap=3)
    assert grid.shape == (2 + 3 + 2, 2 + 1 + 2)
    assert grid[0, 0] == 1 and grid[0, 3] == 2
    assert grid[5, 0] == 3 and grid[5, 3] == 0  # the empty place in the last row
    assert not grid[2:5].any()  # the three rows between image rows are all gap


def test_tile_images_refuses_an_empty_stack():
    with pytest.raises(ValueError, match="non-empty stack"):
        tile_images(np.empty((0, 2, 2)), columns=2)


def test_mean_images_figure_names_each_image_above_it_and_under_the_pointer():
    means = np.stack([np.full((4, 4), 10.0), np.full((4, 4), 200.0), np.full((4, 4), 90.0)])
    figure = mean_images_figure(means, ["cat", "dog", "eel"], columns=2, gap=1)
    heatmap = figure.data[0]
    mosaic, names = np.asarray(heatmap.z, dtype=float), np.asarray(heatmap.customdata)
    # Three blank rows above each row of images hold the names.
    assert mosaic.shape == (2 * (4 + 3), 4 + 1 + 4)
    assert np.isnan(mosaic[:3]).all()
    assert mosaic[3, 0] == 10 and mosaic[3, 5] == 200 and mosaic[10, 0] == 90
    assert names[3, 0] == "cat" and names[6, 8] == "dog" and names[10, 3] == "eel"
    assert names[3, 4] == "" and names[10, 6] == ""  # gaps and the empty place
    texts = [(note.text, note.x, note.y) for note in figure.layout.annotations]
    assert texts == [("cat", 1.5, 2.5), ("dog", 6.5, 2.5), ("eel", 1.5, 9.5)]
