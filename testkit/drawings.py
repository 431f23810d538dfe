"""Digits drawn with strokes on a 280x280 canvas, the way the Draw page's canvas sends them.

Shared by the preprocessing and default-model tests and by `bench/bench_default_model.py`.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

CANVAS = 280


def draw_seven(box: tuple[int, int, int, int], width: int, dark_on_light: bool = False):
    """Draw a '7' with strokes of `width` inside box (left, top, right, bottom) on a canvas."""
    left, top, right, bottom = box
    if dark_on_light:
        image = Image.new("RGB", (CANVAS, CANVAS), "white")
        color = "black"
    else:
        # The drawing canvas: white strokes on transparent pixels.
        image = Image.new("RGBA", (CANVAS, CANVAS), (0, 0, 0, 0))
        color = (255, 255, 255, 255)
    draw = ImageDraw.Draw(image)
    draw.line([(left, top), (right, top), (left + (right - left) // 3, bottom)], fill=color,
              width=width, joint="curve")  # fmt: skip
    return np.asarray(image)


def draw_zero(box: tuple[int, int, int, int], width: int) -> np.ndarray:
    """Draw a '0' (an ellipse in box) with strokes of `width`, white on transparent pixels."""
    image = Image.new("RGBA", (CANVAS, CANVAS), (0, 0, 0, 0))
    ImageDraw.Draw(image).ellipse(box, outline=(255, 255, 255, 255), width=width)
    return np.asarray(image)
