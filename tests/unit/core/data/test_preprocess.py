"""Tests of core.data.preprocess (drawing/upload -> MNIST-style 28x28) and the probability chart."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFile
from scipy import ndimage

from core.data import image_files
from core.data.image_files import ImageTooLargeError, UnreadableImageError, load_uploaded_image
from core.data.preprocess import (
    BOX_SIZE,
    CENTER_OF_MASS,
    BlankDrawingError,
    ink_bounding_box,
    preprocess_digit,
    render_as_drawing,
    to_grayscale,
)
from core.figures.prediction import TOP_COLOR, probability_bars
from core.settings import data_dir
from testkit.drawings import CANVAS, draw_seven, draw_zero


def load_test_images(count: int = 1000) -> np.ndarray:
    import gzip

    raw = gzip.decompress((data_dir() / "t10k-images-idx3-ubyte.gz").read_bytes())
    return np.frombuffer(raw, np.uint8, offset=16).reshape(-1, 28, 28)[:count]


def assert_mnist_like(digit: np.ndarray) -> None:
    assert digit.shape == (28, 28)
    assert digit.dtype == np.float32
    assert digit.min() >= 0 and digit.max() == pytest.approx(255, abs=1)
    top, left, bottom, right = ink_bounding_box(digit, threshold=0.1 * 255)
    assert max(bottom - top, right - left) in (BOX_SIZE - 1, BOX_SIZE, BOX_SIZE + 1)
    row, column = ndimage.center_of_mass(digit)
    assert abs(row - CENTER_OF_MASS[0]) <= 0.5
    assert abs(column - CENTER_OF_MASS[1]) <= 0.5


def test_mnist_convention_matches_the_real_test_images():
    images = load_test_images(1000).astype(np.float64)
    centres = np.array([ndimage.center_of_mass(image) for image in images])
    assert centres.mean(axis=0) == pytest.approx(CENTER_OF_MASS, abs=0.05)
    assert np.all(np.abs(centres - CENTER_OF_MASS) <= 0.75)
    longer_sides = []
    for image in images:
        top, left, bottom, right = ink_bounding_box(image)
        longer_sides.append(max(bottom - top, right - left))
    assert set(longer_sides) == {BOX_SIZE}


@pytest.mark.parametrize(
    ("name", "canvas"),
    [
        ("small in a corner", draw_seven((8, 10, 48, 70), width=6)),
        ("huge", draw_seven((2, 2, 277, 277), width=24)),
        ("thin brush", draw_seven((60, 40, 200, 240), width=2)),
        ("thick brush", draw_seven((60, 40, 200, 240), width=40)),
        ("dark on light", draw_seven((60, 40, 200, 240), width=16, dark_on_light=True)),
        ("wide zero off centre", draw_zero((150, 150, 275, 230), width=12)),
    ],
)
def test_synthetic_drawings_become_mnist_like(name, canvas):
    assert_mnist_like(preprocess_digit(canvas))


def test_same_digit_anywhere_gives_nearly_the_same_input():
    small_corner = preprocess_digit(draw_seven((8, 10, 48, 70), width=4))
    big_centre = preprocess_digit(draw_seven((60, 40, 200, 250), width=14))
    correlation = np.corrcoef(small_corner.ravel(), big_centre.ravel())[0, 1]
    assert correlation > 0.8


def test_a_vertical_stroke_keeps_its_aspect_ratio():
    canvas = np.zeros((CANVAS, CANVAS), dtype=np.uint8)
    canvas[40:240, 130:150] = 255
    digit = preprocess_digit(canvas)
    top, left, bottom, right = ink_bounding_box(digit, threshold=0.1 * 255)
    assert bottom - top == BOX_SIZE
    assert right - left in (2, 3, 4)


def test_mnist_digits_drawn_on_a_canvas_come_back_close_to_the_originals():
    images = load_test_images(50)
    correlations = []
    for index, image in enumerate(images):
        position = (index % 30, 30 - index % 30)
        canvas = render_as_drawing(image, digit_size=100 + index * 3, position=position)
        digit = preprocess_digit(canvas)
        # Rounding the centre of mass may place the digit one pixel off the original.
        correlations.append(
            max(
                np.corrcoef(np.roll(digit, (dy, dx), axis=(0, 1)).ravel(), image.ravel())[0, 1]
                for dy in (-1, 0, 1)
                for dx in (-1, 0, 1)
            )
        )
    assert min(correlations) > 0.8
    assert np.mean(correlations) > 0.9


def test_dark_on_light_and_light_on_dark_give_the_same_input():
    image = load_test_images(1)[0]
    light = preprocess_digit(render_as_drawing(image))
    dark = preprocess_digit(render_as_drawing(image, dark_on_light=True))
    assert np.abs(light - dark).max() < 2.0


@pytest.mark.parametrize(
    "canvas",
    [
        np.zeros((CANVAS, CANVAS, 4), dtype=np.uint8),
        np.full((CANVAS, CANVAS, 3), 255, dtype=np.uint8),
        np.full((CANVAS, CANVAS), 128, dtype=np.uint8),
    ],
)
def test_blank_drawing_raises_blank_drawing_error(canvas):
    with pytest.raises(BlankDrawingError, match="draw a digit"):
        preprocess_digit(canvas)


def test_a_single_dot_or_faint_noise_is_blank():
    dot = np.zeros((CANVAS, CANVAS), dtype=np.uint8)
    dot[100:102, 100:102] = 255
    with pytest.raises(BlankDrawingError):
        preprocess_digit(dot)
    noise = np.random.default_rng(0).integers(0, 20, (CANVAS, CANVAS)).astype(np.uint8)
    with pytest.raises(BlankDrawingError):
        preprocess_digit(noise)


def test_blank_drawing_error_is_a_value_error():
    assert issubclass(BlankDrawingError, ValueError)


def test_to_grayscale_rejects_arrays_that_are_not_images():
    with pytest.raises(ValueError, match="Expected a grayscale"):
        to_grayscale(np.zeros((4, 4, 2)))
    with pytest.raises(ValueError, match="empty"):
        to_grayscale(np.zeros((0, 4)))


def test_transparent_dark_ink_is_composited_over_white():
    rgba = np.zeros((50, 50, 4), dtype=np.uint8)
    rgba[10:40, 20:25] = (0, 0, 0, 255)
    gray = to_grayscale(rgba)
    assert gray[0, 0] == pytest.approx(255)
    assert gray[20, 22] == pytest.approx(0)


# --- Uploads ----------------------------------------------------------------------------


def encode(image: Image.Image, file_format: str = "PNG", **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=file_format, **options)
    return buffer.getvalue()


def photo_of_a_one(mode: str) -> Image.Image:
    """Dark ink on white paper: a vertical bar, converted to `mode`."""
    image = Image.new("L", (60, 80), 250)
    ImageDraw.Draw(image).line([(30, 10), (30, 70)], fill=10, width=6)
    return image.convert(mode, dither=Image.Dither.NONE)


@pytest.mark.parametrize(
    ("mode", "file_format"),
    [("L", "PNG"), ("RGB", "JPEG"), ("P", "PNG"), ("LA", "PNG"), ("RGBA", "PNG"),
     ("CMYK", "JPEG"), ("I;16", "PNG"), ("1", "PNG")],
)  # fmt: skip
def test_uploads_in_unusual_modes_are_read_and_preprocessed(mode, file_format):
    pixels = load_uploaded_image(encode(photo_of_a_one(mode), file_format))
    assert pixels.dtype == np.uint8
    assert pixels.shape[:2] == (80, 60)
    digit = preprocess_digit(pixels)
    top, left, bottom, right = ink_bounding_box(digit, threshold=0.1 * 255)
    assert bottom - top == BOX_SIZE
    assert right - left <= 5


def test_sixteen_bit_values_are_scaled_to_eight_bit():
    image = Image.fromarray(np.full((10, 10), 65535, dtype=np.uint16))
    assert load_uploaded_image(encode(image)).max() == 255


def test_exif_orientation_is_applied():
    image = photo_of_a_one("RGB")  # 60 wide, 80 high, a vertical stroke
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    pixels = load_uploaded_image(encode(image, "JPEG", exif=exif.tobytes()))
    assert pixels.shape[:2] == (60, 80)
    digit = preprocess_digit(pixels)
    top, left, bottom, right = ink_bounding_box(digit, threshold=0.1 * 255)
    assert right - left == BOX_SIZE and bottom - top <= 5


def png_header_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims a huge size (its pixel data is absent)."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        body = kind + payload
        return struct.pack(">I", len(payload)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


@pytest.mark.parametrize(
    ("data", "error", "message"),
    [
        (b"", UnreadableImageError, "empty"),
        (b"%PDF-1.4 this is not a picture", UnreadableImageError, "not an image"),
        (b"hello,world\n1,2\n", UnreadableImageError, "not an image"),
        (encode(photo_of_a_one("L"))[:60], UnreadableImageError, "truncated or damaged"),
        (png_header_claiming(6000, 6000), ImageTooLargeError, "at most 13,000,000 pixels"),
        (png_header_claiming(20000, 20000), ImageTooLargeError, "too large to open safely"),
    ],
    ids=["empty", "pdf", "csv", "truncated png", "over the pixel limit", "decompression bomb"],
)
def test_bad_uploads_give_their_message(data, error, message):
    with pytest.raises(error, match=message):
        load_uploaded_image(data)


def test_upload_byte_and_pixel_limits_are_parameters():
    data = encode(photo_of_a_one("L"))
    with pytest.raises(ImageTooLargeError, match="MB"):
        load_uploaded_image(data, max_bytes=10)
    with pytest.raises(ImageTooLargeError, match="60x80"):
        load_uploaded_image(data, max_pixels=1000)


def test_upload_errors_are_value_errors():
    assert issubclass(UnreadableImageError, ValueError)
    assert issubclass(ImageTooLargeError, ValueError)


def test_render_as_drawing_refuses_a_digit_that_does_not_fit():
    with pytest.raises(ValueError, match="does not fit"):
        render_as_drawing(np.zeros((28, 28)), canvas_size=100, digit_size=90, position=(20, 0))


# --- The probability chart ---------------------------------------------------------------


def test_probability_bars_highlights_the_top_class_and_shows_the_sum():
    probabilities = np.array([0.01, 0.02, 0.05, 0.7, 0.02, 0.1, 0.04, 0.03, 0.02, 0.01])
    figure = probability_bars(probabilities, true_label=5)
    bars = figure.data[0]
    assert list(bars.x) == [str(digit) for digit in range(10)]
    assert bars.marker.color[3] == TOP_COLOR
    assert sum(color == TOP_COLOR for color in bars.marker.color) == 1
    assert bars.text[3] == "70.0%"
    assert bars.marker.line.width[5] == 3
    assert "Prediction: 3 (70.0%)" in figure.layout.title.text
    assert "sum of probabilities = 1.000" in figure.layout.title.text
    assert "true label 5" in figure.layout.title.text


def test_probability_bars_uses_class_names_and_accepts_a_batch_of_one():
    figure = probability_bars([[0.2, 0.8]], class_names=["cat", "dog"], true_label=1)
    assert list(figure.data[0].x) == ["cat", "dog"]
    assert "Prediction: dog" in figure.layout.title.text and "correct" in figure.layout.title.text


@pytest.mark.parametrize(
    ("probabilities", "options", "message"),
    [
        ([], {}, "one probability per class"),
        ([[0.5, 0.5], [0.5, 0.5]], {}, "one probability per class"),
        ([0.5, 1.5], {}, "between 0 and 1"),
        ([0.5, float("nan")], {}, "between 0 and 1"),
        ([0.5, 0.5], {"class_names": ["a"]}, "one name per class"),
        ([0.5, 0.5], {"true_label": 2}, "true_label"),
    ],
)
def test_probability_bars_rejects_bad_input(probabilities, options, message):
    with pytest.raises(ValueError, match=message):
        probability_bars(probabilities, **options)


def test_a_24_megapixel_png_is_refused_from_its_header_before_any_pixel_is_decoded(monkeypatch):
    data = encode(Image.new("L", (6000, 4000), 255))
    assert len(data) < 1_000_000

    def no_decoding(image):
        raise AssertionError("the pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    with pytest.raises(ImageTooLargeError, match="6000x4000 pixels .24 megapixels.*13,000,000"):
        load_uploaded_image(data)


@pytest.mark.parametrize("file_format", ["JPEG", "PNG"])
def test_a_phone_sized_picture_is_shrunk_while_decoded_before_any_conversion(
    monkeypatch, file_format
):
    """A 12-megapixel upload reaches the array (and later float) conversion at 1600 px."""
    image = Image.new("RGB", (4032, 3024), (235, 230, 215))
    ImageDraw.Draw(image).line([(2000, 600), (2000, 2400)], fill=(20, 20, 60), width=120)
    data = encode(image, file_format)
    converted = []
    original = image_files.pil_to_array

    def spy(picture):
        converted.append(picture.size)
        return original(picture)

    monkeypatch.setattr(image_files, "pil_to_array", spy)
    pixels = load_uploaded_image(data)
    assert converted == [(1600, 1200)]
    assert pixels.shape == (1200, 1600, 3) and pixels.dtype == np.uint8
    # Still the same picture: the stroke is in the middle, dark on light paper.
    assert pixels[600, 800].max() < 80 and pixels[600, 300].min() > 200
    digit = preprocess_digit(pixels)
    top, left, bottom, right = ink_bounding_box(digit, threshold=0.1 * 255)
    assert bottom - top == BOX_SIZE


def test_a_jpeg_is_decoded_at_a_reduced_scale_by_the_decoder(monkeypatch):
    """The JPEG decoder's own scaling: the 12-megapixel picture is never decoded whole."""
    data = encode(Image.new("RGB", (4032, 3024), "white"), "JPEG")
    decoded = []
    original = ImageFile.ImageFile.load

    def spy(image):
        result = original(image)
        decoded.append(image.size)
        return result

    monkeypatch.setattr(ImageFile.ImageFile, "load", spy)
    load_uploaded_image(data)
    assert decoded and max(width * height for width, height in decoded) <= 2016 * 1512
