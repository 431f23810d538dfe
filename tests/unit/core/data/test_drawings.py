"""What the canvas sends is checked before use: the PNG, the strokes and the crop box."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image

from core.data.drawings import (
    MAX_PNG_BYTES,
    MAX_STROKES,
    MIN_PEN_SPAN,
    checked_box,
    checked_strokes,
    decode_canvas_png,
    is_a_dot,
    pen_span,
)


def data_url(image: Image.Image, kind: str = "PNG") -> str:
    buffer = io.BytesIO()
    image.save(buffer, format=kind)
    return f"data:image/{kind.lower()};base64," + base64.b64encode(buffer.getvalue()).decode()


def test_a_canvas_png_decodes_to_its_pixels():
    pixels = np.zeros((280, 280, 4), np.uint8)
    pixels[100:180, 130:150] = 255
    decoded = decode_canvas_png(data_url(Image.fromarray(pixels, "RGBA")), 280)
    assert decoded.shape == (280, 280, 4)
    np.testing.assert_array_equal(decoded, pixels)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, "PNG"),
        (["not", "text"], "PNG"),
        ("data:image/jpeg;base64,AAAA", "PNG"),
        ("data:image/png;base64,!!!not base64!!!", "base64"),
        ("data:image/png;base64," + base64.b64encode(b"not a png").decode(), "cannot be read"),
        (data_url(Image.new("RGBA", (300, 280))), "300x280"),
        ("data:image/png;base64," + "A" * (MAX_PNG_BYTES * 2), "larger than"),
    ],
)
def test_anything_else_is_refused_with_a_reason(value, message):
    with pytest.raises(ValueError, match=message):
        decode_canvas_png(value, 280)


def test_a_jpeg_dressed_as_png_is_refused():
    jpeg = data_url(Image.new("RGB", (280, 280)), "JPEG").replace("image/jpeg", "image/png")
    with pytest.raises(ValueError, match="cannot be read"):
        decode_canvas_png(jpeg, 280)


def test_strokes_are_numbers_on_the_canvas_within_bounds():
    good = [{"width": 18, "points": [[10, 20.5], [30, 40]]}]
    assert checked_strokes(good, 280) == [{"width": 18.0, "points": [[10.0, 20.5], [30.0, 40.0]]}]
    assert checked_strokes([{"width": 18, "points": [["10", 20]]}], 280) is None
    assert checked_strokes([{"width": float("nan"), "points": [[1, 2]]}], 280) is None
    assert checked_strokes([{"width": 18, "points": [[1, 1e9]]}], 280) is None
    assert checked_strokes([{"width": True, "points": [[1, 2]]}], 280) is None
    assert checked_strokes([{"width": 18, "points": []}], 280) is None
    assert checked_strokes("strokes", 280) is None
    assert checked_strokes([{"width": 5, "points": [[1, 2]]}] * (MAX_STROKES + 1), 280) is None


def test_a_box_is_four_finite_numbers():
    box = {"left": 10, "top": 5.5, "width": 100, "height": 80}
    assert checked_box(box, 280, 156) == {"left": 10.0, "top": 5.5, "width": 100.0, "height": 80.0}
    assert checked_box({**box, "left": "10"}, 280, 156) is None
    assert checked_box({**box, "width": float("inf")}, 280, 156) is None
    assert checked_box([10, 5, 100, 80], 280, 156) is None


def stroke(*points, width=18):
    return {"width": width, "points": [list(point) for point in points]}


def test_a_tap_or_a_tiny_scribble_is_a_dot_and_a_digit_is_not():
    assert is_a_dot([stroke((140, 140))])  # A tap: one point.
    assert is_a_dot([stroke((140, 140), (150, 146), (144, 150))])  # A scribble 10 px across.
    assert is_a_dot([stroke((140, 140)), stroke((146, 141), width=40)])  # Two taps, a fat brush.
    one = [stroke((140, 35), (140, 245))]
    assert pen_span(one) == 210.0
    assert not is_a_dot(one)
    # Two taps far apart are not one dot: that drawing is judged like any other.
    assert not is_a_dot([stroke((60, 140)), stroke((200, 140))])
    # Just at the span: a short dash is drawn, not tapped.
    assert not is_a_dot([stroke((100, 100), (100 + MIN_PEN_SPAN, 100))])
    # No strokes, or strokes the check refused (None): nothing to call a dot.
    assert not is_a_dot([])
    assert not is_a_dot(None)
