"""An image link's held-out position and the photo crop box's arithmetic (core.data)."""

import numpy as np
import pytest

from core.data.crop import MIN_CROP_SHARE, box_shares, shown_size
from core.data.links import held_out_position


def test_a_linked_image_has_a_held_out_position_only_in_the_held_out_file_set():
    source_indices = np.array([12, 7, 30, 7])
    assert held_out_position("train", source_indices, "train", 30) == 2
    assert held_out_position("train", source_indices, "train", 7) == 1
    assert held_out_position("train", source_indices, "train", 8) is None
    assert held_out_position("train", source_indices, "test", 30) is None
    assert held_out_position("test", np.arange(10_000), "test", 9_999) == 9_999


def test_a_picture_is_shown_with_its_longer_side_at_the_display_side():
    assert shown_size(600, 800, 280) == (280, 210)
    assert shown_size(800, 600, 280) == (210, 280)
    assert shown_size(1, 5000, 280) == (280, 1)  # never thinner than a pixel


def test_a_crop_box_becomes_shares_of_the_shown_picture():
    box = {"left": 28, "top": 21, "width": 140, "height": 105, "scaleX": 1, "scaleY": 1}
    assert box_shares(box, 280, 210) == pytest.approx((0.1, 0.1, 0.6, 0.6))
    # A box resized in the canvas keeps its width and height and gets scale factors.
    resized = {"left": 0, "top": 0, "width": 100, "height": 50, "scaleX": 2, "scaleY": 3}
    assert box_shares(resized, 280, 210) == pytest.approx((0.0, 0.0, 150 / 210, 200 / 280))
    # A box past the edge is clipped; a click-sized box is no crop.
    assert box_shares({"left": 200, "top": -10, "width": 200, "height": 100}, 280, 210) == (
        pytest.approx((0.0, 200 / 280, 90 / 210, 1.0))
    )
    assert box_shares({"left": 10, "top": 10, "width": 280 * MIN_CROP_SHARE / 2, "height": 50},
                      280, 210) is None  # fmt: skip
