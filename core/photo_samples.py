"""Make photo-like pictures of MNIST digits: ink on notebook paper, unevenly lit, as JPEG.

Used to measure the Draw page's photo path without real photos. Each picture is one MNIST
test digit written in dark ink on paper-coloured background, plain, ruled or squared, with a
shadow gradient across it, slightly rotated and seen in slight perspective, small and
off-centre, with sensor noise, saved as JPEG.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter

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
