"""Turn a drawing or an uploaded picture into a 28x28 input made the way MNIST was made.

MNIST digits were size-normalised so that the longer side of the ink fits a 20x20 box
(anti-aliased, keeping the aspect ratio), then placed in a 28x28 frame so that the centre of
mass of the pixels sits at the centre of the frame; the ink is light (up to 255) on a black (0)
background. A model trained on MNIST expects exactly that, so a canvas drawing (thin,
off-centre, too big) or a photo (dark ink on paper) goes through the same steps first:

1. grayscale (alpha composited over a background that contrasts with the ink),
2. invert when the picture is dark ink on a light background,
3. remove the background level and faint noise, crop to the ink's bounding box,
4. scale the longer side to 20 pixels with Lanczos resampling,
5. paste into 28x28 and shift (whole pixels, as MNIST did) so the centre of mass is at (14, 14)
   (the shift stops at the frame's edge, so no ink is cut off).

The result is float32 in 0-255: every model in MNIST Studio takes raw 0-255 pixels.
"""

from __future__ import annotations

import numpy as np
from PIL import Image
from scipy import ndimage

from core.data.datasets import IMAGE_SHAPE
from core.data.image_files import pil_to_array

FRAME_SIZE = IMAGE_SHAPE[0]
BOX_SIZE = 20
# MNIST test images have their centre of mass at (13.99, 14.00) on average (row, column in
# pixel indices) with a spread of +-0.29, i.e. whole-pixel shifts to (14, 14).
CENTER_OF_MASS = (14.0, 14.0)
# Ink fainter than this fraction of the strongest ink is treated as noise.
NOISE_FRACTION = 0.15
# A picture whose strongest ink is below this (on 0-255, after removing the background) or
# that has fewer ink pixels than MIN_INK_PIXELS is treated as blank.
MIN_INK_CONTRAST = 40.0
MIN_INK_PIXELS = 6
# ITU-R 601-2 luma, the weights Pillow's convert("L") uses.
LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114], dtype=np.float32)


class BlankDrawingError(ValueError):
    """Raised when a drawing or picture has no (or almost no) ink to recognise."""


def _composite_alpha(gray: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Composite a grayscale image with alpha over black or white, whichever contrasts.

    A canvas gives light strokes on transparent pixels; a scanned signature may give dark
    ink on transparent pixels. Composited over the opposite shade, both become visible.
    """
    weight = alpha * np.float32(1 / 255)
    total = float(weight.sum())
    if total >= weight.size:
        return gray
    if total == 0.0:
        return np.zeros_like(gray)
    ink_level = float(np.vdot(gray, weight)) / total
    if ink_level >= 127.5:
        return gray * weight
    return 255.0 - (255.0 - gray) * weight


def to_grayscale(image: np.ndarray | Image.Image) -> np.ndarray:
    """Return a picture as a float32 grayscale array in 0-255.

    Args:
        image: A PIL image (any mode) or an array of shape (H, W), (H, W, 1), (H, W, 3)
            RGB or (H, W, 4) RGBA; integer arrays are taken as 0-255, float arrays with a
            maximum of at most 1 as 0-1.

    Returns:
        A float32 array of shape (H, W). Transparent pixels are composited over black when
        the visible ink is light and over white when it is dark.

    Raises:
        ValueError: If the array does not have one of the shapes above or is empty.
    """
    if isinstance(image, Image.Image):
        image = pil_to_array(image)
    array = np.asarray(image)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise ValueError(
            f"Expected a grayscale (H, W), RGB (H, W, 3) or RGBA (H, W, 4) image, "
            f"got an array of shape {array.shape}."
        )
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError("The image is empty (zero width or height).")
    values = array.astype(np.float32)
    if np.issubdtype(array.dtype, np.floating):
        values = np.nan_to_num(values)
        if values.max() <= 1.0:
            values *= 255.0
    if values.min() < 0.0 or values.max() > 255.0:
        values = np.clip(values, 0.0, 255.0)
    if values.ndim == 2:
        return values
    gray = values[:, :, :3] @ LUMA_WEIGHTS
    if values.shape[2] == 4:
        gray = _composite_alpha(gray, values[:, :, 3])
    return gray.astype(np.float32)


def ink_image(image: np.ndarray | Image.Image) -> np.ndarray:
    """Return light-on-dark ink on a zero background, float32 0-255, same size as the input.

    The background level is the median of the picture's border; when the border is light the
    picture is taken as dark ink on paper and inverted. Ink fainter than `NOISE_FRACTION` of
    the strongest ink is set to zero.

    Args:
        image: A picture accepted by `to_grayscale`.

    Returns:
        A float32 array (H, W) whose strongest ink is 255.

    Raises:
        BlankDrawingError: If the picture has (almost) no ink.
    """
    gray = to_grayscale(image)
    border = np.concatenate([gray[0, :], gray[-1, :], gray[:, 0], gray[:, -1]])
    background = float(np.median(border))
    if background > 127.5:
        gray = 255.0 - gray
        background = 255.0 - background
    ink = np.maximum(gray - background, 0.0)
    strongest = float(ink.max()) if ink.size else 0.0
    if strongest < MIN_INK_CONTRAST:
        raise BlankDrawingError("The picture is blank: draw a digit (or upload one) first.")
    ink[ink < NOISE_FRACTION * strongest] = 0.0
    if np.count_nonzero(ink) < MIN_INK_PIXELS:
        raise BlankDrawingError("There is almost nothing drawn: draw a whole digit.")
    return (ink * (255.0 / strongest)).astype(np.float32)


def ink_bounding_box(image: np.ndarray, threshold: float = 0.0) -> tuple[int, int, int, int]:
    """Return (top, left, bottom, right) of the pixels above `threshold`, bottom/right exclusive.

    Raises:
        BlankDrawingError: If no pixel is above the threshold.
    """
    rows = np.flatnonzero((image > threshold).any(axis=1))
    columns = np.flatnonzero((image > threshold).any(axis=0))
    if rows.size == 0:
        raise BlankDrawingError("The picture is blank: draw a digit (or upload one) first.")
    return int(rows[0]), int(columns[0]), int(rows[-1]) + 1, int(columns[-1]) + 1


def preprocess_digit(image: np.ndarray | Image.Image) -> np.ndarray:
    """Turn a drawing or photo of one digit into a 28x28 MNIST-style input.

    Args:
        image: A canvas RGBA array, an RGB/grayscale array or a PIL image; light-on-dark and
            dark-on-light are both accepted.

    Returns:
        A float32 array of shape (28, 28) with values in 0-255: the ink's longer side is 20
        pixels, and its centre of mass is at (14, 14) within half a pixel.

    Raises:
        BlankDrawingError: If there is (almost) nothing drawn.
        ValueError: If the input is not an image array.
    """
    ink = ink_image(image)
    top, left, bottom, right = ink_bounding_box(ink)
    crop = ink[top:bottom, left:right]
    height, width = crop.shape
    scale = BOX_SIZE / max(height, width)
    new_height = max(1, round(height * scale))
    new_width = max(1, round(width * scale))
    resized = Image.fromarray(np.ascontiguousarray(crop, dtype=np.float32)).resize(
        (new_width, new_height), Image.Resampling.LANCZOS
    )
    small = np.clip(np.asarray(resized, dtype=np.float32), 0.0, None)
    strongest = float(small.max())
    if strongest <= 0:
        raise BlankDrawingError("There is almost nothing drawn: draw a whole digit.")
    # Thin strokes fade when a large drawing shrinks; MNIST strokes reach full intensity.
    small = np.clip(small * (255.0 / strongest), 0.0, 255.0)

    frame = np.zeros((FRAME_SIZE, FRAME_SIZE), dtype=np.float32)
    row = (FRAME_SIZE - new_height) // 2
    column = (FRAME_SIZE - new_width) // 2
    frame[row : row + new_height, column : column + new_width] = small
    center_row, center_column = ndimage.center_of_mass(frame)
    # Whole-pixel shifts, limited so that no ink leaves the frame.
    offset = (
        int(np.clip(round(CENTER_OF_MASS[0] - center_row), -row, FRAME_SIZE - new_height - row)),
        int(
            np.clip(
                round(CENTER_OF_MASS[1] - center_column), -column, FRAME_SIZE - new_width - column
            )
        ),
    )
    centred = ndimage.shift(frame, offset, order=0, mode="constant", cval=0.0)
    return centred.astype(np.float32)


def predict_probabilities(model, digit: np.ndarray) -> np.ndarray:
    """Return a model's class probabilities for one preprocessed 28x28 digit.

    Uses ``model.predict_on_batch``, which runs the model's compiled prediction function:
    for one image it is about 10x faster than an eager ``model(x, training=False)`` call and
    about 100x faster than ``model.predict`` (see bench/bench_preprocess.py).

    Args:
        model: A Keras model taking raw 0-255 pixels of shape (28, 28) and ending in softmax.
        digit: The output of `preprocess_digit`, shape (28, 28).

    Returns:
        A float64 array of probabilities, one per class.

    Raises:
        ValueError: If `digit` is not 28x28.
    """
    digit = np.asarray(digit, dtype=np.float32)
    if digit.shape != (FRAME_SIZE, FRAME_SIZE):
        raise ValueError(f"Expected a 28x28 digit, got shape {digit.shape}.")
    output = model.predict_on_batch(digit[np.newaxis])
    return np.asarray(output, dtype=np.float64)[0]


def render_as_drawing(
    digit: np.ndarray,
    canvas_size: int = 280,
    digit_size: int = 180,
    position: tuple[int, int] | None = None,
    dark_on_light: bool = False,
) -> np.ndarray:
    """Render a 28x28 digit onto a larger RGBA canvas, as if someone had drawn it there.

    Used to check that a model still recognises MNIST digits after they go through the
    drawing pipeline (different sizes and positions on a 280x280 canvas).

    Args:
        digit: A uint8 or float 28x28 image, light ink on black.
        canvas_size: Side of the square canvas in pixels.
        digit_size: Side of the square the 28x28 digit is scaled to.
        position: (row, column) of the scaled digit's top-left corner; centred by default.
        dark_on_light: Draw dark ink on a white opaque canvas instead of light strokes on
            transparent pixels (the drawing canvas's output).

    Returns:
        A uint8 array (canvas_size, canvas_size, 4).

    Raises:
        ValueError: If the scaled digit does not fit on the canvas at `position`.
    """
    if position is None:
        offset = (canvas_size - digit_size) // 2
        position = (offset, offset)
    row, column = position
    if row < 0 or column < 0 or row + digit_size > canvas_size or column + digit_size > canvas_size:
        raise ValueError(
            f"A {digit_size}px digit at {position} does not fit on a {canvas_size}px canvas."
        )
    scaled = Image.fromarray(np.asarray(digit, dtype=np.uint8)).resize(
        (digit_size, digit_size), Image.Resampling.BILINEAR
    )
    ink = np.zeros((canvas_size, canvas_size), dtype=np.uint8)
    ink[row : row + digit_size, column : column + digit_size] = np.asarray(scaled)
    canvas = np.zeros((canvas_size, canvas_size, 4), dtype=np.uint8)
    if dark_on_light:
        canvas[:, :, :3] = (255 - ink)[:, :, np.newaxis]
        canvas[:, :, 3] = 255
    else:
        canvas[:, :, :3] = 255
        canvas[:, :, 3] = ink
    return canvas


def redraw_digits(images: np.ndarray, seed: int = 0, canvas_size: int = 280) -> np.ndarray:
    """Render MNIST digits onto a canvas at random sizes and places, then preprocess them.

    This is what a drawn digit looks like to a model after the Draw page's preprocessing; it
    is used to calibrate and measure the page's "not sure" / "not a digit" verdicts.

    Args:
        images: (n, 28, 28) digits, light ink on black.
        seed: Seed of the random sizes (90 to 259 px) and positions.
        canvas_size: Side of the square canvas.

    Returns:
        (n, 28, 28) float32 inputs, the outputs of `preprocess_digit`.
    """
    rng = np.random.default_rng(seed)
    digits = np.empty((len(images), FRAME_SIZE, FRAME_SIZE), dtype=np.float32)
    for index, image in enumerate(images):
        size = int(rng.integers(90, canvas_size - 20))
        row, column = rng.integers(0, canvas_size - size, size=2)
        canvas = render_as_drawing(image, canvas_size, size, (int(row), int(column)))
        digits[index] = preprocess_digit(canvas)
    return digits
