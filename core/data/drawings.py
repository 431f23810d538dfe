"""What the Draw page's canvas sends when a stroke ends, checked before it is used.

The drawing component (ui/draw_pad/) sends the canvas as a PNG data URL and its strokes (so
the drawing comes back when the visitor returns to the page). Both come from the browser and
are hostile until checked: the PNG is bounded in bytes before it is decoded and must be
exactly the canvas's size; the strokes are bounded in number and points and must be numbers
on the canvas.
"""

from __future__ import annotations

import base64
import binascii
import io
import math
from typing import Any

import numpy as np
from PIL import Image

PNG_PREFIX = "data:image/png;base64,"
# A 280x280 drawing is 3-20 KB as PNG; a noisy one stays well under this.
MAX_PNG_BYTES = 512 * 1024
MAX_STROKES = 300
MAX_POINTS = 30_000
MAX_BRUSH = 80
# A drawing whose points all lie within this many canvas pixels (of 280, where a digit spans
# about 200) is a dot or a tap, not a digit.
MIN_PEN_SPAN = 16.0
DOT_MESSAGE = "That is a dot, not a digit: draw a whole digit, as large as the canvas allows."


def decode_canvas_png(data_url: object, size: int) -> np.ndarray:
    """Decode the canvas's PNG data URL into an RGBA uint8 array of shape (size, size, 4).

    Raises:
        ValueError: If it is not a PNG data URL of at most `MAX_PNG_BYTES` bytes showing a
            ``size`` x ``size`` picture.
    """
    if not isinstance(data_url, str) or not data_url.startswith(PNG_PREFIX):
        raise ValueError("The drawing did not arrive as a PNG picture.")
    encoded = data_url[len(PNG_PREFIX) :]
    if len(encoded) > (MAX_PNG_BYTES * 4) // 3 + 4:
        raise ValueError(f"The drawing is larger than {MAX_PNG_BYTES // 1024} KB.")
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as error:
        raise ValueError("The drawing's picture is not valid base64.") from error
    try:
        with Image.open(io.BytesIO(data), formats=["PNG"]) as image:
            if image.size != (size, size):
                shown = f"{image.size[0]}x{image.size[1]}"
                raise ValueError(f"The drawing is {shown}, not {size}x{size}.")
            return np.asarray(image.convert("RGBA"), dtype=np.uint8)
    except (OSError, Image.DecompressionBombError, SyntaxError) as error:
        raise ValueError("The drawing's picture cannot be read.") from error


def checked_strokes(value: object, size: int) -> list[dict[str, Any]] | None:
    """The strokes the canvas sent, as plain numbers on the canvas; None if any is off.

    Each stroke is ``{"width": brush, "points": [[x, y], ...]}``; at most `MAX_STROKES`
    strokes and `MAX_POINTS` points in all.
    """
    if not isinstance(value, list) or len(value) > MAX_STROKES:
        return None
    strokes, points_seen = [], 0
    for stroke in value:
        if not isinstance(stroke, dict):
            return None
        width, points = stroke.get("width"), stroke.get("points")
        if not isinstance(width, int | float) or not _number(width, 1, MAX_BRUSH):
            return None
        if not isinstance(points, list) or not points:
            return None
        points_seen += len(points)
        if points_seen > MAX_POINTS:
            return None
        checked = []
        for point in points:
            if not (isinstance(point, list) and len(point) == 2):
                return None
            if not all(_number(coordinate, -size, 2 * size) for coordinate in point):
                return None
            checked.append([float(point[0]), float(point[1])])
        strokes.append({"width": float(width), "points": checked})
    return strokes


def pen_span(strokes: list[dict[str, Any]]) -> float:
    """How far the pen went across the canvas: the longer side of the box around its points."""
    xs = [point[0] for stroke in strokes for point in stroke["points"]]
    ys = [point[1] for stroke in strokes for point in stroke["points"]]
    if not xs:
        return 0.0
    return max(max(xs) - min(xs), max(ys) - min(ys))


def is_a_dot(strokes: list[dict[str, Any]] | None) -> bool:
    """True when the strokes are a tap or a dot: the pen moved under `MIN_PEN_SPAN` pixels.

    A dot has as much ink as a small digit, and scaled to MNIST's 20-pixel box it becomes a
    filled disc that every model reads as a confident "0". Unknown strokes (None) are no dot.
    """
    return strokes is not None and len(strokes) > 0 and pen_span(strokes) < MIN_PEN_SPAN


def checked_box(value: object, width: int, height: int) -> dict[str, float] | None:
    """A crop box the picture's component sent (``left``, ``top``, ``width``, ``height``)."""
    if not isinstance(value, dict):
        return None
    box = {name: value.get(name) for name in ("left", "top", "width", "height")}
    limit = 2 * max(width, height)
    if not all(_number(number, -limit, limit) for number in box.values()):
        return None
    return {name: float(number) for name, number in box.items()}  # type: ignore[arg-type]


def _number(value: object, low: float, high: float) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and low <= value <= high
    )
