"""Rough edges that used to escape as uncaught errors: each now gives a named error."""

import io

import pytest
from PIL import Image

from core.data.image_files import (
    MAX_IMAGE_SIDE,
    ImageTooLargeError,
    UnreadableImageError,
    load_uploaded_image,
)
from core.nn.uploads import UploadError, config_from_json


def encoded(image: Image.Image, file_format: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=file_format)
    return buffer.getvalue()


def test_a_configuration_with_a_huge_integer_is_an_upload_error():
    # Python refuses to read integers of over 4,300 digits with a bare ValueError.
    data = b'{"config": {"epochs": ' + b"9" * 5000 + b"}}"
    with pytest.raises(UploadError, match="not a JSON file"):
        config_from_json(data, "huge.json")


def test_a_one_pixel_wide_strip_is_refused_before_it_reaches_the_page():
    # 70,000 pixels passes the pixel limit, but the browser cannot show a side over 65,500.
    strip = encoded(Image.new("L", (1, 70_000), color=255))
    assert len(strip) < 1_000_000
    with pytest.raises(ImageTooLargeError, match=f"at most {MAX_IMAGE_SIDE:,} pixels"):
        load_uploaded_image(strip)


def test_a_thin_strip_within_the_side_limit_is_refused_too():
    with pytest.raises(ImageTooLargeError, match="thin strip"):
        load_uploaded_image(encoded(Image.new("L", (30, 3_000), color=255)))


def test_a_wide_but_ordinary_photo_is_still_read():
    pixels = load_uploaded_image(encoded(Image.new("RGB", (1_600, 900), color="white"), "JPEG"))
    assert pixels.shape == (900, 1_600, 3)


def test_formats_the_page_does_not_name_are_refused():
    # An icon renamed .png: Pillow reads ICO, but the Draw page asks for PNG, JPEG and the like.
    icon = encoded(Image.new("RGB", (32, 32), color="black"), "ICO")
    with pytest.raises(UnreadableImageError, match="not an image that can be read"):
        load_uploaded_image(icon)
