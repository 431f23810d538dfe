"""Where an image of the files sits among the held-out images a model is measured on."""

from __future__ import annotations

import numpy as np


def held_out_position(
    source_set: str, source_indices: np.ndarray, image_set: str, index: int
) -> int | None:
    """Return the held-out position of image `index` of `image_set`, or None if not held out.

    Args:
        source_set: The file set the held-out images come from (``"train"`` or ``"test"``).
        source_indices: Each held-out image's index in that file set.
        image_set: The file set the image's index counts in.
        index: The image's index in `image_set`.

    Returns:
        Its position among the held-out images (the first, should it repeat), or None when
        the held-out images do not include it.
    """
    if image_set != source_set:
        return None
    positions = np.flatnonzero(np.asarray(source_indices) == index)
    return int(positions[0]) if len(positions) else None
