"""Draw things that are not digits (letters, scribbles, circles, boxes) the way the canvas does.

The Draw page must say "this does not look like a digit" for such drawings; this module makes
a labelled set of them to measure how often it does. Every item is a 280x280 RGBA array with
light strokes on transparent pixels, what the drawing canvas sends, so it goes through exactly
the page's preprocessing. Letters are rendered from the DejaVu and Liberation fonts that ship
with Debian; shapes and scribbles are drawn with a round brush of a random width.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

CANVAS_SIZE = 280
FONT_FOLDERS = (
    Path("/usr/share/fonts/truetype/dejavu"),
    Path("/usr/share/fonts/truetype/liberation"),
)
FONT_NAMES = (
    "DejaVuSans.ttf",
    "DejaVuSans-Bold.ttf",
    "DejaVuSerif.ttf",
    "DejaVuSansMono.ttf",
    "LiberationSans-Regular.ttf",
    "LiberationSerif-Regular.ttf",
    "LiberationSans-Italic.ttf",
    "LiberationMono-Regular.ttf",
)
# Letters whose printed shape is also how people write a digit (O and 0, l and 1, S and 5,
# Z and 2, B and 8, b and 6, g and q and 9, ...): no measure can call these "not a digit"
# without also rejecting real digits, so they are kept apart in the figures.
DIGIT_LIKE_LETTERS = frozenset("OoDQIlijJZzSsBbgqGT")
KINDS = ("letter", "scribble", "circle", "box")


@dataclass(frozen=True)
class NonDigit:
    """One drawing that is not a digit.

    Attributes:
        kind: One of `KINDS`.
        name: What was drawn, e.g. "letter K (DejaVuSans.ttf)" or "scribble".
        canvas: A (280, 280, 4) uint8 RGBA array, light strokes on transparent pixels.
        digit_like: True for a letter in `DIGIT_LIKE_LETTERS`.
    """

    kind: str
    name: str
    canvas: np.ndarray
    digit_like: bool = False


def available_fonts() -> list[Path]:
    """Return the font files of `FONT_NAMES` found on this machine."""
    return [
        folder / name for folder in FONT_FOLDERS for name in FONT_NAMES if (folder / name).exists()
    ]


def _to_canvas(alpha: Image.Image) -> np.ndarray:
    canvas = np.zeros((CANVAS_SIZE, CANVAS_SIZE, 4), dtype=np.uint8)
    canvas[:, :, :3] = 255
    canvas[:, :, 3] = np.asarray(alpha, dtype=np.uint8)
    return canvas


def _brush(rng: np.random.Generator) -> int:
    return int(rng.integers(10, 26))


def draw_polyline(points: np.ndarray, width: int) -> np.ndarray:
    """Draw a stroke through `points` (x, y) with a round brush; return an RGBA canvas."""
    alpha = Image.new("L", (CANVAS_SIZE, CANVAS_SIZE), 0)
    draw = ImageDraw.Draw(alpha)
    coordinates = [tuple(point) for point in np.asarray(points, dtype=float)]
    draw.line(coordinates, fill=255, width=width, joint="curve")
    radius = width / 2
    for x, y in (coordinates[0], coordinates[-1]):
        draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=255)
    return _to_canvas(alpha)


def letter(character: str, font_path: Path, rng: np.random.Generator) -> NonDigit:
    """Render one letter in white at a random size and place on the canvas."""
    size = int(rng.integers(150, 230))
    font = ImageFont.truetype(str(font_path), size)
    alpha = Image.new("L", (CANVAS_SIZE, CANVAS_SIZE), 0)
    draw = ImageDraw.Draw(alpha)
    left, top, right, bottom = draw.textbbox((0, 0), character, font=font)
    width, height = right - left, bottom - top
    scale = min(1.0, 240 / max(width, height))
    if scale < 1.0:
        font = ImageFont.truetype(str(font_path), max(20, int(size * scale)))
        left, top, right, bottom = draw.textbbox((0, 0), character, font=font)
        width, height = right - left, bottom - top
    x = int(rng.integers(0, max(1, int(CANVAS_SIZE - width)))) - int(left)
    y = int(rng.integers(0, max(1, int(CANVAS_SIZE - height)))) - int(top)
    draw.text((x, y), character, fill=255, font=font)
    return NonDigit(
        "letter",
        f"letter {character} ({font_path.name})",
        _to_canvas(alpha),
        character in DIGIT_LIKE_LETTERS,
    )


def scribble(rng: np.random.Generator) -> NonDigit:
    """A random scribble: a smoothed random walk of 8 to 20 points."""
    count = int(rng.integers(8, 21))
    points = rng.uniform(40, CANVAS_SIZE - 40, size=(count, 2))
    # Smooth the walk a little so it looks hand-made, then sample it densely.
    steps = np.linspace(0, count - 1, count * 8)
    dense = np.stack([np.interp(steps, np.arange(count), points[:, axis]) for axis in (0, 1)], 1)
    return NonDigit("scribble", "scribble", draw_polyline(dense, _brush(rng)))


def circle(rng: np.random.Generator) -> NonDigit:
    """A round circle (not an upright oval like a 0), sometimes with a cross through it."""
    radius = rng.uniform(60, 115)
    centre = rng.uniform(radius + 15, CANVAS_SIZE - radius - 15, size=2)
    angles = np.linspace(0, 2 * np.pi, 60)
    ring = np.stack([centre[0] + radius * np.cos(angles), centre[1] + radius * np.sin(angles)], 1)
    width = _brush(rng)
    canvas = draw_polyline(ring, width)
    if rng.random() < 0.5:
        across = draw_polyline(np.array([centre - radius * 0.7, centre + radius * 0.7]), width)
        canvas[:, :, 3] = np.maximum(canvas[:, :, 3], across[:, :, 3])
        return NonDigit("circle", "crossed circle", canvas)
    return NonDigit("circle", "circle", canvas)


def box(rng: np.random.Generator) -> NonDigit:
    """A rectangle or triangle outline of random size and place."""
    width_px, height_px = rng.uniform(90, 230, size=2)
    left = rng.uniform(10, CANVAS_SIZE - width_px - 10)
    top = rng.uniform(10, CANVAS_SIZE - height_px - 10)
    if rng.random() < 0.5:
        corners = [(left, top), (left + width_px, top), (left + width_px, top + height_px),
                   (left, top + height_px), (left, top)]  # fmt: skip
        name = "box"
    else:
        corners = [(left + width_px / 2, top), (left + width_px, top + height_px),
                   (left, top + height_px), (left + width_px / 2, top)]  # fmt: skip
        name = "triangle"
    return NonDigit("box", name, draw_polyline(np.array(corners), _brush(rng)))


def nondigit_set(
    per_kind: int = 100, seed: int = 0, fonts: list[Path] | None = None
) -> list[NonDigit]:
    """Return `per_kind` letters, scribbles, circles and boxes, drawn like canvas strokes.

    Letters cycle through the 52 Latin letters and the fonts.

    Args:
        per_kind: How many drawings of each kind.
        seed: Seed of the random sizes, places and brush widths.
        fonts: Font files for the letters (`available_fonts()` by default); a measure chosen
            on one set of fonts can be checked on letters from others.

    Returns:
        A list of `NonDigit`, `per_kind` of each kind, in the order of `KINDS`.

    Raises:
        ValueError: If no font of `FONT_NAMES` is installed.
    """
    rng = np.random.default_rng(seed)
    fonts = available_fonts() if fonts is None else fonts
    if not fonts:
        raise ValueError("No DejaVu or Liberation font found in /usr/share/fonts.")
    letters = string.ascii_letters
    items = [letter(letters[i % len(letters)], fonts[i % len(fonts)], rng) for i in range(per_kind)]
    for make in (scribble, circle, box):
        items.extend(make(rng) for _ in range(per_kind))
    return items
