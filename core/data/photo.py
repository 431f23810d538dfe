"""Clean up a photo or scan of a handwritten digit before the MNIST-style steps.

A phone photo is not a canvas: the paper is unevenly lit, notebooks have ruled or squared
lines, and there are specks and shadows around the digit. The steps, each kept as an image so
the Draw page can show what they did:

1. grayscale and crop to the box the visitor chose,
2. ink polarity: dark ink on light paper (most photos) or light on dark, chosen from which
   side of the median the extreme pixels lie on, or set by the visitor,
3. lighting: the paper's brightness is estimated with a grey closing (which erases strokes
   thinner than its window) and divided out, so a shadow no longer looks like ink,
4. threshold: Otsu's threshold (scikit-image) on the normalised ink,
5. ruled and squared lines: thin straight runs longer than 30% of the picture, horizontal or
   vertical within a few degrees, are removed (thick strokes, the digit's, are kept whole),
6. components: the largest piece of ink and the pieces near it and large enough are kept,
7. the result (light ink on black, anti-aliased edges kept) goes to
   `core.data.preprocess.preprocess_digit`.

A clean scan (evenly lit paper without ruled or squared lines) skips steps 4-7: the
whole picture goes to `preprocess_digit`, which keeps thin and faint strokes that the
threshold loses (bench/bench_photo.py measures both kinds of picture).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image
from scipy import ndimage

from core.data.preprocess import NOISE_FRACTION, BlankDrawingError, preprocess_digit, to_grayscale

WORKING_SIDE = 320
INK_AUTO = "auto"
INK_DARK = "dark ink on light paper"
INK_LIGHT = "light ink on dark paper"
INK_CHOICES = (INK_AUTO, INK_DARK, INK_LIGHT)
# Lines: runs at least this share of the picture's width (height), tilted up to these angles.
LINE_LENGTH_SHARE = 0.3
LINE_TILT_PIXELS = 5
# Strokes at least this thick (working pixels) are ink, never a ruled line.
STROKE_MIN_WIDTH = 5
# Ink at least this dark (share of full contrast) after lighting correction can be ink.
MIN_INK_LEVEL = 0.12
# A piece of ink is kept when it is this large compared with the largest, and near it.
KEEP_AREA_SHARE = 0.06
KEEP_DISTANCE_SHARE = 0.35
MIN_PIECE_PIXELS = 20
# A clean scan: the paper's brightness varies by at most this share of its level, and no
# thin line runs across this share of the picture. Such a picture skips the photo steps and
# goes through the drawing steps directly: the line removal took long, thin pen strokes (a
# 1's) for ruled lines, and the threshold loses faint strokes.
EVEN_LIGHT_SPREAD = 0.08
PAPER_LINE_SHARE = 0.9
PATH_AUTO = "auto"
PATH_SCAN = "scan"
PATH_PHOTO = "photo"
PATHS = (PATH_AUTO, PATH_SCAN, PATH_PHOTO)


@dataclass(frozen=True)
class PhotoSteps:
    """Every intermediate image of `clean_photo`, for display, and the model's input.

    Attributes:
        gray: The cropped grayscale picture (0-255).
        ink: Ink strength after lighting correction, light on black (0-255).
        mask: Pixels above the threshold (bool).
        without_lines: `mask` with ruled and squared lines removed (bool).
        kept: The pieces of ink kept as the digit (bool).
        digit: The 28x28 MNIST-style input (float32 0-255).
        dark_ink: Whether the picture was read as dark ink on light paper.
        path: `PATH_SCAN` when the picture was a clean scan (`is_clean_scan`) and `digit`
            comes from the drawing steps on `gray`; `PATH_PHOTO` when `digit` comes from the
            cleaned pieces.
    """

    gray: np.ndarray
    ink: np.ndarray
    mask: np.ndarray
    without_lines: np.ndarray
    kept: np.ndarray
    digit: np.ndarray
    dark_ink: bool
    path: str = PATH_PHOTO

    def pictures(self) -> list[np.ndarray]:
        """Each step as a uint8 picture (0-255), in order, ready to be shown as it is.

        The steps are float 0-255 or bool; an image widget reads floats as 0-1, which showed
        the grayscale step all white and the 28x28 input in black and white only.
        """
        steps = (self.gray, self.ink, self.mask, self.without_lines, self.kept, self.digit)
        return [as_picture(step) for step in steps]


def as_picture(image: np.ndarray) -> np.ndarray:
    """Return a bool mask (True white) or a 0-255 image as a uint8 picture."""
    if image.dtype == bool:
        return image.astype(np.uint8) * np.uint8(255)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def crop_box(image: np.ndarray, box: tuple[float, float, float, float] | None) -> np.ndarray:
    """Crop to (top, left, bottom, right) given as shares (0-1) of the height and width.

    Raises:
        ValueError: If the box is empty or outside 0-1.
    """
    if box is None:
        return image
    top, left, bottom, right = box
    if not (0.0 <= top < bottom <= 1.0 and 0.0 <= left < right <= 1.0):
        raise ValueError("The crop box must lie inside the picture and not be empty.")
    height, width = image.shape[:2]
    rows = slice(int(top * height), max(int(top * height) + 1, int(round(bottom * height))))
    columns = slice(int(left * width), max(int(left * width) + 1, int(round(right * width))))
    return image[rows, columns]


def _shrink(gray: np.ndarray) -> np.ndarray:
    height, width = gray.shape
    scale = WORKING_SIDE / max(height, width)
    if scale >= 1.0:
        return gray
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(Image.fromarray(gray).resize(size, Image.Resampling.BOX), dtype=np.float32)


def is_dark_ink(gray: np.ndarray) -> bool:
    """Guess whether a picture is dark ink on light paper: the paper is most of the picture.

    The ink is the side whose extreme pixels lie farther from the median. A thin pen digit
    on a scanned page can be well under 1% of the pixels, so the extremes are the 0.1% ones.
    """
    low, median, high = np.percentile(gray, [0.1, 50, 99.9])
    return median - low >= high - median


def paper_brightness(gray: np.ndarray, dark_ink: bool) -> np.ndarray:
    """Estimate the paper's brightness under each pixel (ink taken as the darker shade).

    A grey closing erases dark strokes narrower than its window (1/8 of the picture): what
    is left is the paper, smoothed over the same window.
    """
    paper = gray if dark_ink else 255.0 - gray
    window = max(9, int(max(gray.shape) / 8) | 1)
    background = ndimage.grey_closing(paper, size=(window, window))
    return ndimage.uniform_filter(background, size=window)


def normalise_lighting(
    gray: np.ndarray, dark_ink: bool, background: np.ndarray | None = None
) -> np.ndarray:
    """Return ink strength 0-255 (light on black) with the paper's uneven lighting divided out.

    Args:
        gray: The grayscale picture (0-255).
        dark_ink: Whether the ink is darker than the paper.
        background: `paper_brightness(gray, dark_ink)`, when already computed.
    """
    paper = gray if dark_ink else 255.0 - gray
    if background is None:
        background = paper_brightness(gray, dark_ink)
    ratio = paper / np.maximum(background, 1.0)
    return np.clip((1.0 - ratio) * 255.0, 0.0, 255.0).astype(np.float32)


def _opening_1d(mask: np.ndarray, length: int, axis: int) -> np.ndarray:
    """Pixels of `mask` on a straight run of at least `length` pixels along `axis`."""
    eroded = ndimage.minimum_filter1d(mask.astype(np.uint8), length, axis=axis)
    return ndimage.maximum_filter1d(eroded, length, axis=axis).astype(bool)


def thick_ink(mask: np.ndarray) -> np.ndarray:
    """Pixels of `mask` inside a stroke at least `STROKE_MIN_WIDTH` pixels thick."""
    eroded = ndimage.minimum_filter(mask.astype(np.uint8), size=STROKE_MIN_WIDTH)
    return ndimage.maximum_filter(eroded, size=STROKE_MIN_WIDTH).astype(bool)


def line_pixels(mask: np.ndarray, length_share: float = LINE_LENGTH_SHARE) -> np.ndarray:
    """Return the thin pixels of `mask` on long straight horizontal or vertical runs.

    A run counts when it is at least `length_share` of the picture's width (height) long,
    allowing a tilt of a few degrees (the mask is thickened across the run before the run is
    measured). Pixels inside strokes thicker than `STROKE_MIN_WIDTH` never count, so a
    digit's own straight strokes, and the places where a line crosses them, stay.
    """
    height, width = mask.shape
    horizontal = ndimage.maximum_filter1d(mask.astype(np.uint8), LINE_TILT_PIXELS, axis=0)
    lines = _opening_1d(horizontal, max(3, int(width * length_share)), axis=1)
    vertical = ndimage.maximum_filter1d(mask.astype(np.uint8), LINE_TILT_PIXELS, axis=1)
    lines |= _opening_1d(vertical, max(3, int(height * length_share)), axis=0)
    return lines & mask & ~thick_ink(mask)


def is_clean_scan(background: np.ndarray, strength: np.ndarray) -> bool:
    """Whether a picture is a clean scan: evenly lit paper without ruled or squared lines.

    Args:
        background: The paper's brightness, `paper_brightness`.
        strength: The ink's strength, `normalise_lighting`. Lines are looked for among all
            the marks the drawing steps would keep (`NOISE_FRACTION` of the strongest ink),
            faint printed lines included.

    Returns:
        True when the paper's brightness varies by at most `EVEN_LIGHT_SPREAD` of its level
        and no thin straight line runs across `PAPER_LINE_SHARE` of the picture (a notebook's
        lines do; a pen's straight stroke, the long one of a 1 or a 7, usually does not).
    """
    low, middle, high = np.percentile(background, [2, 50, 98])
    if high - low > EVEN_LIGHT_SPREAD * max(float(middle), 1.0):
        return False
    marks = strength > NOISE_FRACTION * float(strength.max())
    return not line_pixels(marks, PAPER_LINE_SHARE).any()


def remove_lines(mask: np.ndarray) -> np.ndarray:
    """Remove ruled or squared lines (thin, long, straight) from an ink mask."""
    return mask & ~line_pixels(mask)


def keep_digit_pieces(mask: np.ndarray) -> np.ndarray:
    """Keep the largest piece of ink and the pieces that are large enough and near it.

    Pieces touching the picture's edge are left out unless nothing else is there.

    Raises:
        BlankDrawingError: If the mask is empty.
    """
    labels, count = ndimage.label(mask, structure=np.ones((3, 3), bool))
    if count == 0:
        raise BlankDrawingError(
            "No ink was found in the picture: crop closer to the digit, or flip ink and paper."
        )
    areas = ndimage.sum_labels(mask, labels, index=np.arange(1, count + 1))
    boxes = ndimage.find_objects(labels)
    height, width = mask.shape
    # Pieces touching the picture's edge are usually the paper's edge or a shadow's.
    inside = np.array(
        [b[0].start > 0 and b[1].start > 0 and b[0].stop < height and b[1].stop < width
         for b in boxes]
    )  # fmt: skip
    candidates = inside & (areas >= MIN_PIECE_PIXELS)
    if not candidates.any():
        candidates = np.ones(count, dtype=bool)
    largest = int(np.argmax(np.where(candidates, areas, -1.0)))
    main = boxes[largest]
    reach = KEEP_DISTANCE_SHARE * max(main[0].stop - main[0].start, main[1].stop - main[1].start)
    keep = np.zeros(count + 1, dtype=bool)
    for index, (area, box) in enumerate(zip(areas, boxes, strict=True)):
        if not candidates[index] or area < KEEP_AREA_SHARE * areas[largest]:
            continue
        gap_rows = max(0, main[0].start - box[0].stop, box[0].start - main[0].stop)
        gap_columns = max(0, main[1].start - box[1].stop, box[1].start - main[1].stop)
        keep[index + 1] = max(gap_rows, gap_columns) <= reach
    return keep[labels]


def clean_photo(
    image: np.ndarray | Image.Image,
    box: tuple[float, float, float, float] | None = None,
    ink: str = INK_AUTO,
    path: str = PATH_AUTO,
) -> PhotoSteps:
    """Turn a photo or scan of one handwritten digit into a 28x28 MNIST-style input.

    Args:
        image: An uploaded picture (array or PIL image, any of `to_grayscale`'s forms).
        box: Crop (top, left, bottom, right) as shares of the height and width, or None.
        ink: One of `INK_CHOICES`.
        path: `PATH_AUTO` (a clean scan takes `PATH_SCAN`, anything else `PATH_PHOTO`), or
            one of those two to force it (to measure them side by side).

    Returns:
        A `PhotoSteps` with every intermediate image and the 28x28 input.

    Raises:
        BlankDrawingError: If no ink is left after cleaning.
        ValueError: If `ink` is not one of `INK_CHOICES`, `path` not one of `PATHS`, or the
            box is invalid.
    """
    if ink not in INK_CHOICES:
        raise ValueError(f"Ink must be one of {', '.join(INK_CHOICES)}.")
    if path not in PATHS:
        raise ValueError(f"The path must be one of {', '.join(PATHS)}.")
    cropped = crop_box(to_grayscale(image), box)
    gray = _shrink(cropped)
    dark_ink = is_dark_ink(gray) if ink == INK_AUTO else ink == INK_DARK
    background = paper_brightness(gray, dark_ink)
    strength = normalise_lighting(gray, dark_ink, background)
    # scikit-image takes a second to import: only a photo that is cleaned pays for it.
    from skimage.filters import threshold_otsu

    contrast = float(strength.max())
    if contrast < MIN_INK_LEVEL * 255.0:
        raise BlankDrawingError(
            "The picture has no ink darker than the paper: crop closer, or flip ink and paper."
        )
    threshold = max(float(threshold_otsu(strength)), MIN_INK_LEVEL * contrast)
    mask = strength > threshold
    without_lines = remove_lines(mask)
    kept = keep_digit_pieces(without_lines)
    # Keep the anti-aliased edge of the kept strokes, not the paper around them.
    near = ndimage.binary_dilation(kept, iterations=1) & ~(mask & ~without_lines)
    soft = np.where(near, strength, 0.0).astype(np.float32)
    if path == PATH_AUTO:
        path = PATH_SCAN if is_clean_scan(background, strength) else PATH_PHOTO
    if path == PATH_SCAN:
        # A clean scan: the drawing steps on the whole (light-on-dark) picture, at its full
        # resolution (thin strokes fade when it shrinks to the working size).
        digit = preprocess_digit(255.0 - cropped if dark_ink else cropped)
        return PhotoSteps(gray, strength, mask, without_lines, kept, digit, dark_ink, PATH_SCAN)
    digit = preprocess_digit(soft)
    return PhotoSteps(gray, strength, mask, without_lines, kept, digit, dark_ink)
