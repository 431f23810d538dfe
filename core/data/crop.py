"""Crop boxes drawn over a shown picture, as shares of the picture's height and width."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

# A box thinner than this share of the picture (either way) is taken as a click, not a crop.
MIN_CROP_SHARE = 0.02


def shown_size(height: int, width: int, display_side: int) -> tuple[int, int]:
    """Return the (width, height) a picture is shown at so its longer side is `display_side`.

    Args:
        height: The picture's height in pixels.
        width: The picture's width in pixels.
        display_side: The longer side on screen, in pixels.

    Returns:
        The shown width and height, each at least 1 pixel.
    """
    scale = display_side / max(height, width)
    return max(1, round(width * scale)), max(1, round(height * scale))


def box_shares(
    box: Mapping[str, Any], shown_width: int, shown_height: int
) -> tuple[float, float, float, float] | None:
    """Return a box drawn over the shown picture as (top, left, bottom, right) shares.

    Args:
        box: A box as the crop component sends it (``left``,
            ``top``, ``width``, ``height`` and the ``scaleX``/``scaleY`` of a resized box).
        shown_width: The shown picture's width in pixels.
        shown_height: The shown picture's height in pixels.

    Returns:
        The shares, each clipped to 0..1, or None for a box under `MIN_CROP_SHARE` either way.
    """
    box_width = box.get("width", 0) * box.get("scaleX", 1)
    box_height = box.get("height", 0) * box.get("scaleY", 1)
    left, top = box.get("left", 0), box.get("top", 0)
    shares = (
        float(np.clip(top / shown_height, 0, 1)),
        float(np.clip(left / shown_width, 0, 1)),
        float(np.clip((top + box_height) / shown_height, 0, 1)),
        float(np.clip((left + box_width) / shown_width, 0, 1)),
    )
    if shares[2] - shares[0] < MIN_CROP_SHARE or shares[3] - shares[1] < MIN_CROP_SHARE:
        return None
    return shares
