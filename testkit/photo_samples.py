"""Make photo-like pictures and clean scans of MNIST digits, to measure the Draw page's uploads.

Used to measure the Draw page's upload paths without real photos. A photo-like picture is one
MNIST test digit written in dark ink on paper-coloured background, plain, ruled or squared,
with a shadow gradient across it, slightly rotated and seen in slight perspective, small and
off-centre, with sensor noise, saved as JPEG. A clean scan is the digit as dark ink on evenly
lit white paper at a scanner's resolution (a digit 1-1.7 cm high at 300 dpi on 5-8 cm of the
page, written with a pen 0.4-0.8 mm wide, in ink or pencil), saved as PNG.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter
from scipy import ndimage

PAPER_SIZE = (320, 260)  # width, height
PAPERS = ("plain", "ruled", "squared")


@dataclass(frozen=True)
class PhotoSample:
    """One photo-like picture: its JPEG bytes, the digit's label and the paper it is on."""

    jpeg: bytes
    label: int
    paper: str


def _paper(rng: np.random.Generator, kind: str) -> np.ndarray:
    width, height = PAPER_SIZE
    tint = np.array([rng.uniform(225, 250), rng.uniform(218, 242), rng.uniform(195, 228)])
    paper = np.ones((height, width, 3)) * tint
    line_colour = np.array([rng.uniform(120, 170), rng.uniform(150, 190), rng.uniform(190, 225)])
    spacing = int(rng.integers(22, 34))
    thickness = int(rng.integers(1, 3))
    start = int(rng.integers(0, spacing))
    if kind in ("ruled", "squared"):
        for row in range(start, height, spacing):
            paper[row : row + thickness] = line_colour
    if kind == "squared":
        for column in range(start, width, spacing):
            paper[:, column : column + thickness] = line_colour
    return paper


def photo_like(digit: np.ndarray, label: int, rng: np.random.Generator, paper: str) -> PhotoSample:
    """Make one photo-like JPEG of a 28x28 MNIST digit (light ink on black).

    Args:
        digit: The 28x28 uint8 digit.
        label: Its label.
        rng: Random generator for every choice.
        paper: One of `PAPERS`.
    """
    width, height = PAPER_SIZE
    size = int(rng.integers(90, 170))
    ink = Image.fromarray(np.asarray(digit, dtype=np.uint8)).resize(
        (size, size), Image.Resampling.BILINEAR
    )
    ink = ink.rotate(float(rng.uniform(-8, 8)), resample=Image.Resampling.BILINEAR)
    alpha = np.zeros((height, width))
    left = int(rng.integers(10, width - size - 10))
    top = int(rng.integers(5, height - size - 5))
    alpha[top : top + size, left : left + size] = np.asarray(ink) / 255.0
    colour = np.array([rng.uniform(10, 60), rng.uniform(10, 50), rng.uniform(40, 110)])
    picture = _paper(rng, paper) * (1 - alpha[..., None]) + colour * alpha[..., None]
    # A shadow: brightness falls linearly to 45-80% across a random direction.
    angle = rng.uniform(0, 2 * np.pi)
    rows, columns = np.mgrid[0:height, 0:width]
    ramp = (np.cos(angle) * columns / width + np.sin(angle) * rows / height) + 1.0
    ramp = (ramp - ramp.min()) / max(np.ptp(ramp), 1e-6)
    picture *= (1.0 - rng.uniform(0.2, 0.55) * ramp)[..., None]
    picture += rng.normal(0, 4, picture.shape)
    image = Image.fromarray(np.clip(picture, 0, 255).astype(np.uint8))
    # Slight perspective: move each corner by up to 4% of the side.
    jitter = rng.uniform(-0.04, 0.04, size=8) * np.array([width, height] * 4)
    corners = np.array([0, 0, 0, height, width, height, width, 0], dtype=float) + jitter
    image = image.transform(
        (width, height), Image.Transform.QUAD, tuple(corners), Image.Resampling.BILINEAR,
        fillcolor=tuple(int(c) for c in picture[height // 2, width // 2]),
    )  # fmt: skip
    image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 0.9)))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=int(rng.integers(55, 86)))
    return PhotoSample(buffer.getvalue(), int(label), paper)


def photo_like_set(
    images: np.ndarray, labels: np.ndarray, count: int = 300, seed: int = 0
) -> list[PhotoSample]:
    """Make `count` photo-like pictures of randomly chosen digits, a third on each paper.

    Args:
        images: (n, 28, 28) MNIST digits (light ink on black).
        labels: (n,) their labels.
        count: How many pictures.
        seed: Seed of every random choice.
    """
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(images), size=count, replace=False)
    return [
        photo_like(images[index], labels[index], rng, PAPERS[position % len(PAPERS)])
        for position, index in enumerate(chosen)
    ]


def clean_scan(digit: np.ndarray, label: int, rng: np.random.Generator) -> PhotoSample:
    """Make one clean, evenly lit scan (PNG) of a 28x28 MNIST digit (light ink on black).

    Args:
        digit: The 28x28 uint8 digit.
        label: Its label.
        rng: Random generator for every choice (size, place, ink, paper, noise).
    """
    # A part of a page scanned at 300 dpi: 5-8 cm wide, the digit 1-1.7 cm high.
    width = int(rng.integers(600, 950))
    height = int(width * rng.uniform(0.75, 1.0))
    size = int(rng.integers(120, 200))
    ink = Image.fromarray(np.asarray(digit, dtype=np.uint8)).resize(
        (size, size), Image.Resampling.BICUBIC
    )
    alpha = np.zeros((height, width))
    left = int(rng.integers(10, width - size - 10))
    top = int(rng.integers(5, height - size - 5))
    # A pen's line: the digit's centre line, drawn with a pen 5-9 scanner pixels wide.
    from skimage.morphology import disk, skeletonize

    centre_line = skeletonize(np.asarray(ink) > 110)
    pen = ndimage.binary_dilation(centre_line, disk(int(rng.integers(2, 5))))
    stroke = ndimage.gaussian_filter(pen.astype(float), rng.uniform(0.5, 1.0))
    alpha[top : top + size, left : left + size] = np.clip(stroke, 0, 1)
    paper, colour = rng.uniform(240, 255), rng.uniform(0, 150)
    picture = paper * (1 - alpha) + colour * alpha + rng.normal(0, 1.5, alpha.shape)
    image = Image.fromarray(np.clip(picture, 0, 255).astype(np.uint8))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return PhotoSample(buffer.getvalue(), int(label), "scan")


def clean_scan_set(
    images: np.ndarray, labels: np.ndarray, count: int = 300, seed: int = 0
) -> list[PhotoSample]:
    """Make `count` clean scans of randomly chosen digits (see `clean_scan`).

    Args:
        images: (n, 28, 28) MNIST digits (light ink on black).
        labels: (n,) their labels.
        count: How many scans.
        seed: Seed of every random choice.
    """
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(images), size=count, replace=False)
    return [clean_scan(images[index], labels[index], rng) for index in chosen]
