"""Lay a stack of equally sized images out in one grid (a mosaic), for heat-map figures.

One heat map of a mosaic draws much faster than one subplot per image; the Explore page's
class means and the Evaluate page's galleries and weight tiles all use it.
"""

from __future__ import annotations

import numpy as np

TILE_GAP = 2


def tile_images(
    images,
    columns: int,
    gap: int = TILE_GAP,
    fill=np.nan,
    row_gap: int | None = None,
) -> np.ndarray:
    """Lay equally sized 2-D images out in a grid, row by row.

    Args:
        images: ``(N, height, width)`` array.
        columns: Images per row (fewer when there are fewer images).
        gap: Pixels between images side by side.
        fill: Value of the gaps and of the empty places in the last row.
        row_gap: Pixels between rows of images (default: `gap`).

    Returns:
        A float64 array of shape ``(rows*(height+row_gap)-row_gap, columns*(width+gap)-gap)``;
        image ``i`` starts at row ``(i // columns) * (height + row_gap)`` and column
        ``(i % columns) * (width + gap)``.

    Raises:
        ValueError: If there are no images, they are not 2-D, or ``columns`` is below 1.
    """
    images = np.asarray(images)
    if images.ndim != 3 or images.shape[0] == 0:
        raise ValueError(f"Expected a non-empty stack of 2-D images; got shape {images.shape}.")
    if columns < 1:
        raise ValueError(f"columns must be at least 1; got {columns}.")
    row_gap = gap if row_gap is None else row_gap
    count, height, width = images.shape
    columns = min(columns, count)
    rows = -(-count // columns)
    grid = np.full(
        (rows * (height + row_gap) - row_gap, columns * (width + gap) - gap), fill, dtype=np.float64
    )
    for index, image in enumerate(images):
        row, column = divmod(index, columns)
        top, left = row * (height + row_gap), column * (width + gap)
        grid[top : top + height, left : left + width] = image
    return grid
