"""Train/test splits: which images a run trains, validates and is tested on.

A split strategy (`SPLITS`) divides a dataset's files into training and test images;
`make_splits` then takes out the validation set and an optional smaller training set, and
`images_per_epoch` counts what it would train on without splitting anything.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

SplitArrays = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


class ImageSets(Protocol):
    """What a split reads: a training and a test set of images and labels (a `Dataset`)."""

    @property
    def train_images(self) -> np.ndarray: ...

    @property
    def train_labels(self) -> np.ndarray: ...

    @property
    def test_images(self) -> np.ndarray: ...

    @property
    def test_labels(self) -> np.ndarray: ...


@dataclass(frozen=True)
class SplitSpec:
    """One train/test split strategy: its display label and how it splits a dataset.

    Attributes:
        label: What the page shows.
        split: Function ``(dataset, seed) -> (x_train, y_train, x_test, y_test)`` (see
            `make_splits`, which also takes out the validation set).
        held_out_share: The share of the training files it holds out as the test set (0 when
            the test files are the test set), so sizes can be counted without splitting.
    """

    label: str
    split: Callable[[ImageSets, int], SplitArrays]
    held_out_share: float = 0.0


def _official_split(dataset: ImageSets, seed: int) -> SplitArrays:
    """The files' own training and test sets (60,000/10,000 for MNIST)."""
    return dataset.train_images, dataset.train_labels, dataset.test_images, dataset.test_labels


ARTICLE_HELD_OUT_SHARE = 0.25


def _article_split(dataset: ImageSets, seed: int) -> SplitArrays:
    """The article's split: 75%/25% of the training files (45,000/15,000 for MNIST)."""
    # scikit-learn takes seconds to import, so pages that only browse data never pay for it.
    from sklearn.model_selection import train_test_split

    x_train, x_test, y_train, y_test = train_test_split(
        dataset.train_images,
        dataset.train_labels,
        test_size=ARTICLE_HELD_OUT_SHARE,
        random_state=seed,
    )
    return x_train, y_train, x_test, y_test


SPLITS: dict[str, SplitSpec] = {
    "official": SplitSpec("Official 60,000 / 10,000", _official_split),
    "article": SplitSpec(
        "Article: 45,000 / 15,000 from the training file", _article_split, ARTICLE_HELD_OUT_SHARE
    ),
}


def stratified_split(
    images: np.ndarray,
    labels: np.ndarray,
    test_size: float | int | None = None,
    train_size: float | int | None = None,
    seed: int = 0,
    stratify: bool = True,
) -> SplitArrays:
    """`train_test_split`, stratified by label unless a class is too small for it.

    Returns:
        ``(x_train, x_test, y_train, y_test)``, in scikit-learn's order.
    """
    # scikit-learn takes seconds to import, so pages that only browse data never pay for it.
    from sklearn.model_selection import train_test_split

    try:
        return train_test_split(
            images,
            labels,
            test_size=test_size,
            train_size=train_size,
            random_state=seed,
            stratify=labels if stratify else None,
        )
    except ValueError:
        if not stratify:
            raise
        # Too few images of some class to stratify: fall back to a plain random split.
        return train_test_split(
            images, labels, test_size=test_size, train_size=train_size, random_state=seed
        )


@dataclass(frozen=True)
class Splits:
    """The arrays a training run uses, all ``uint8``; ``x_val`` may be empty ``(0, 28, 28)``."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def make_splits(
    dataset: ImageSets,
    split: str = "official",
    validation_fraction: float = 0.1,
    train_size: int | None = None,
    seed: int = 0,
) -> Splits:
    """Split a dataset into training, validation and test arrays.

    Args:
        dataset: The dataset to split.
        split: A key of `SPLITS`: "official" (the files' train/test sets) or "article"
            (`train_test_split` of the training files into 75%/25%, random_state=seed).
        validation_fraction: Fraction of the training part held out (stratified) for
            validation, in [0, 1); 0 gives an empty validation set.
        train_size: If given, the training part is subsampled (stratified) to this many
            images after the validation set is taken out.
        seed: Random seed of every split.

    Returns:
        The splits, all ``uint8``.

    Raises:
        ValueError: An unknown split, or a fraction or size out of range.
    """
    _check_split(split)
    if not 0 <= validation_fraction < 1:
        raise ValueError(
            f"The validation fraction must be at least 0 and below 1, not {validation_fraction}."
        )
    x_train, y_train, x_test, y_test = SPLITS[split].split(dataset, seed)
    if validation_fraction > 0:
        x_train, x_val, y_train, y_val = stratified_split(
            x_train, y_train, test_size=validation_fraction, seed=seed
        )
    else:
        x_val = np.empty((0, *x_train.shape[1:]), dtype=x_train.dtype)
        y_val = np.empty((0,), dtype=y_train.dtype)
    if train_size is not None:
        if isinstance(train_size, bool) or not isinstance(train_size, int | np.integer):
            raise ValueError(f"The training size must be a whole number, not {train_size!r}.")
        if not 1 <= train_size <= len(x_train):
            raise ValueError(
                f"The training size must be between 1 and {len(x_train):,} (the images left for "
                f"training), not {train_size:,}."
            )
        if train_size < len(x_train):
            x_train, _, y_train, _ = stratified_split(
                x_train, y_train, train_size=int(train_size), seed=seed
            )
    return Splits(x_train, y_train, x_val, y_val, x_test, y_test)


def images_per_epoch(
    available_images: int,
    split: str = "official",
    validation_fraction: float = 0.1,
    train_size: int | None = None,
) -> int:
    """Return how many images `make_splits` leaves for training, counted without splitting.

    The split's held-out share and then the validation share are taken out as
    scikit-learn's `train_test_split` does (rounding the part it takes out up), then
    `train_size` caps what is left.

    Args:
        available_images: Images in the dataset's training files.
        split, validation_fraction, train_size: As `make_splits` takes them.
    """
    images = available_images - math.ceil(SPLITS[split].held_out_share * available_images)
    images -= math.ceil(validation_fraction * images)
    if train_size is None:
        return images
    return min(train_size, images)


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"Unknown split '{split}'; choose one of: {', '.join(SPLITS)}.")


def held_out_set(
    dataset: ImageSets, split: str = "official", seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Return the images and labels a run of `split` never trained on: its test set.

    The same arrays as ``make_splits(dataset, split, seed=seed).x_test`` and ``.y_test``,
    without splitting off a validation set: the test files for "official", the 25% of the
    training files that the article holds out for "article".

    Args:
        dataset: The dataset the run was trained on.
        split: A key of `SPLITS`.
        seed: The run's seed (the article's split depends on it).

    Returns:
        ``(images, labels)``, ``uint8``.

    Raises:
        ValueError: An unknown split.
    """
    _check_split(split)
    _, _, x_test, y_test = SPLITS[split].split(dataset, seed)
    return x_test, y_test


# Which file set a held-out image comes from: its training files or its test files.
TRAIN_FILES = "train"
TEST_FILES = "test"


@dataclass(frozen=True)
class _NumberedImages:
    """A stand-in for a Dataset whose "images" are their numbers, for `held_out_sources`."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray


def held_out_sources(
    dataset: ImageSets, split: str = "official", seed: int = 0
) -> tuple[str, np.ndarray]:
    """Return which file set a run's held-out images come from, and each one's index there.

    The index is the one the files (and the Explore page) number the image by, so
    ``held_out_set(...)[0][i]`` is image ``indices[i]`` of that file set. It is found by
    running the same split on the images' numbers instead of the images.

    Args:
        dataset: The dataset the run was trained on.
        split: A key of `SPLITS`.
        seed: The run's seed.

    Returns:
        ``(TRAIN_FILES or TEST_FILES, indices)``, the indices in held-out order.

    Raises:
        ValueError: An unknown split, or one whose test set mixes both file sets.
    """
    _check_split(split)
    num_train = len(dataset.train_images)
    # Training images are numbered 0..n-1 and test images n.., so each number says its file.
    numbers = np.arange(num_train + len(dataset.test_images))
    numbered = _NumberedImages(
        train_images=numbers[:num_train],
        train_labels=dataset.train_labels,
        test_images=numbers[num_train:],
        test_labels=dataset.test_labels,
    )
    held_out = np.asarray(SPLITS[split].split(numbered, seed)[2])
    if held_out.size == 0 or held_out.min() >= num_train:
        return TEST_FILES, held_out - num_train
    if held_out.max() < num_train:
        return TRAIN_FILES, held_out
    raise ValueError(f"The split '{split}' holds out images of both the training and test files.")


# What a run did with one image of the files (`image_use`).
TRAINED_ON = "trained on"
VALIDATED_ON = "validation"
HELD_OUT = "held out"
NOT_USED = "not used"


def image_use(
    dataset: ImageSets,
    file_set: str,
    index: int,
    split: str = "official",
    seed: int = 0,
    validation_fraction: float = 0.0,
    train_size: int | None = None,
) -> str:
    """Return what a run made with these settings did with one image of the files.

    The same splits as `make_splits`, run on the images' numbers (as `held_out_sources`).

    Args:
        dataset: The dataset the run was trained on.
        file_set: `TRAIN_FILES` or `TEST_FILES`: which files `index` counts in.
        index: The image's index there (as the Explore page numbers it).
        split, seed, validation_fraction, train_size: The run's settings (`make_splits`).

    Returns:
        `TRAINED_ON`, `VALIDATED_ON`, `HELD_OUT` (its test set) or `NOT_USED` (left out by
        a smaller training size).

    Raises:
        ValueError: An unknown file set or split, or an index outside the file set.
    """
    sizes = {TRAIN_FILES: len(dataset.train_images), TEST_FILES: len(dataset.test_images)}
    if file_set not in sizes or not 0 <= index < sizes[file_set]:
        raise ValueError(f"There is no image {index} in the {file_set} files.")
    num_train = sizes[TRAIN_FILES]
    numbers = np.arange(num_train + sizes[TEST_FILES])
    numbered = _NumberedImages(
        train_images=numbers[:num_train],
        train_labels=dataset.train_labels,
        test_images=numbers[num_train:],
        test_labels=dataset.test_labels,
    )
    splits = make_splits(numbered, split, validation_fraction, train_size=train_size, seed=seed)
    number = index + (num_train if file_set == TEST_FILES else 0)
    for use, part in ((TRAINED_ON, splits.x_train), (VALIDATED_ON, splits.x_val),
                      (HELD_OUT, splits.x_test)):  # fmt: skip
        if np.any(part == number):
            return use
    return NOT_USED
