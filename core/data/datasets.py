"""Datasets: the `Dataset` value and how it is read from IDX folders and uploaded files.

Images are kept as read-only ``uint8`` arrays of shape ``(N, 28, 28)`` (`IMAGE_SHAPE`) and
labels as ``uint8`` arrays of shape ``(N,)``; they are converted per use
(`core.data.scaling`). The bundled MNIST files are loaded once per process
(`load_default_dataset`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import BinaryIO

import numpy as np

from core import settings
from core.data.idx import IdxHeader, read_idx, read_idx_header, source_name
from core.data.splits import stratified_split

# Rows and columns of every image: each model's input, each dataset's images.
IMAGE_SHAPE = (28, 28)
DIGIT_CLASS_NAMES = tuple(str(digit) for digit in range(10))
# MNIST's classes and training images: what is assumed where the dataset is not known (e.g. a
# stored run that did not record it).
MNIST_NUM_CLASSES = len(DIGIT_CLASS_NAMES)
MNIST_TRAIN_IMAGES = 60_000

# The standard file names of an MNIST-style folder (each may also end in ".gz").
TRAIN_IMAGES = "train-images-idx3-ubyte"
TRAIN_LABELS = "train-labels-idx1-ubyte"
TEST_IMAGES = "t10k-images-idx3-ubyte"
TEST_LABELS = "t10k-labels-idx1-ubyte"
STANDARD_FILES = (TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS)

# Upload sizes are in Streamlit's megabytes (maxUploadSize, max_upload_size): 2**20 bytes.
MEGABYTE = 1024 * 1024

# Fraction of an uploaded training pair held out as the test set when no test pair is given.
UPLOAD_TEST_FRACTION = 1 / 6

IdxSource = str | Path | bytes | bytearray | memoryview | BinaryIO


class DatasetError(ValueError):
    """The files are valid IDX but do not make a usable dataset (e.g. counts disagree)."""


class DatasetTooLargeError(DatasetError):
    """Uploaded files are bigger than this app accepts (bytes per file, or images in all)."""


@dataclass(frozen=True, eq=False)
class Dataset:
    """Images and labels of a training and a test set.

    Attributes:
        name: A name to show, e.g. "MNIST".
        train_images: Read-only ``uint8`` array ``(N, 28, 28)``.
        train_labels: Read-only ``uint8`` array ``(N,)``.
        test_images: Read-only ``uint8`` array ``(M, 28, 28)``.
        test_labels: Read-only ``uint8`` array ``(M,)``.
        class_names: One name per class, e.g. ("0", ..., "9").
        headers: File name -> IDX header of each file the dataset was read from.
    """

    name: str
    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    class_names: tuple[str, ...] = DIGIT_CLASS_NAMES
    headers: dict[str, IdxHeader] = field(default_factory=dict, compare=False)

    @property
    def num_classes(self) -> int:
        """Number of classes."""
        return len(self.class_names)

    @cached_property
    def fingerprint(self) -> str:
        """A hash of the data, computed once per object (e.g. a key for cached tables)."""
        digest = hashlib.blake2b(digest_size=16)
        for array in (self.train_images, self.train_labels, self.test_images, self.test_labels):
            digest.update(str(array.shape).encode())
            digest.update(np.ascontiguousarray(array).data)
        digest.update("\x00".join(self.class_names).encode())
        return digest.hexdigest()


def _read_only(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


def _check_pair(
    images: np.ndarray,
    labels: np.ndarray,
    images_name: str,
    labels_name: str,
    num_classes: int,
) -> None:
    """Check that an images array and a labels array make a usable labelled set."""
    if images.ndim != 3:
        raise DatasetError(
            f"The file '{images_name}' should hold images (3 dimensions: count, rows, columns) "
            f"but holds an array of shape {images.shape}. Did you swap the images and labels?"
        )
    if images.shape[1:] != IMAGE_SHAPE:
        raise DatasetError(
            f"The file '{images_name}' holds {images.shape[1]}x{images.shape[2]} images; "
            "MNIST Studio needs 28x28 images like MNIST's."
        )
    if labels.ndim != 1:
        raise DatasetError(
            f"The file '{labels_name}' should hold labels (1 dimension) but holds an array of "
            f"shape {labels.shape}. Did you swap the images and labels?"
        )
    if len(images) == 0:
        raise DatasetError(f"The file '{images_name}' holds no images.")
    if len(images) != len(labels):
        raise DatasetError(
            f"The file '{images_name}' holds {len(images):,} images but '{labels_name}' holds "
            f"{len(labels):,} labels; they must be the same number."
        )
    largest = int(labels.max())
    if largest >= num_classes:
        raise DatasetError(
            f"The file '{labels_name}' has the label {largest}, but there are only "
            f"{num_classes} classes (labels 0 to {num_classes - 1}). Set class names for "
            "more classes, or check the file."
        )


def resolve_class_names(
    class_names: Iterable[object] | None, num_classes: int | None = None
) -> tuple[str, ...]:
    """Return one display name per class, as text: the one check of class names.

    Args:
        class_names: One name per class, or None for the class indices ("0", "1", ...).
        num_classes: How many classes the names must cover. When None, the names set the
            number (at least two), and None names mean the ten digits.

    Returns:
        The names as a tuple of strings.

    Raises:
        DatasetError: If the names do not match `num_classes`, or are fewer than two.
    """
    if class_names is None:
        if num_classes is None:
            return DIGIT_CLASS_NAMES
        return tuple(str(index) for index in range(num_classes))
    names = tuple(str(name) for name in class_names)
    if num_classes is None and len(names) < 2:
        raise DatasetError(f"A dataset needs at least two class names, not {len(names)}.")
    if num_classes is not None and len(names) != num_classes:
        raise DatasetError(
            f"Got {len(names)} class names for {num_classes} classes; give one name per class."
        )
    return names


def _find_file(folder: Path, stem: str) -> Path:
    for candidate in (folder / f"{stem}.gz", folder / stem):
        if candidate.is_file():
            return candidate
    raise DatasetError(
        f"The folder '{folder}' has no file '{stem}' or '{stem}.gz'. A dataset folder needs the "
        f"four standard IDX files: {', '.join(STANDARD_FILES)} (each optionally gzipped)."
    )


def load_idx_folder(
    folder: str | Path,
    name: str | None = None,
    class_names: tuple[str, ...] | list[str] | None = None,
) -> Dataset:
    """Load a folder holding the four standard MNIST-style IDX files.

    Args:
        folder: The folder with ``train-images-idx3-ubyte[.gz]``,
            ``train-labels-idx1-ubyte[.gz]``, ``t10k-images-idx3-ubyte[.gz]`` and
            ``t10k-labels-idx1-ubyte[.gz]`` (e.g. MNIST or Fashion-MNIST).
        name: The dataset's name; the folder's name when omitted.
        class_names: One name per class; the digits "0".."9" when omitted.

    Returns:
        The dataset, with read-only arrays.

    Raises:
        DatasetError: A file is missing or the files do not fit together.
        IdxError: A file is not valid IDX.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"The data folder '{folder}' does not exist.")
    names = resolve_class_names(class_names)
    paths = {stem: _find_file(folder, stem) for stem in STANDARD_FILES}
    arrays = {stem: _read_only(read_idx(path)) for stem, path in paths.items()}
    headers = {paths[stem].name: IdxHeader.for_array(array) for stem, array in arrays.items()}
    for images_stem, labels_stem in ((TRAIN_IMAGES, TRAIN_LABELS), (TEST_IMAGES, TEST_LABELS)):
        _check_pair(
            arrays[images_stem],
            arrays[labels_stem],
            paths[images_stem].name,
            paths[labels_stem].name,
            len(names),
        )
    return Dataset(
        name=name or folder.name,
        train_images=arrays[TRAIN_IMAGES],
        train_labels=arrays[TRAIN_LABELS],
        test_images=arrays[TEST_IMAGES],
        test_labels=arrays[TEST_LABELS],
        class_names=names,
        headers=headers,
    )


@lru_cache(maxsize=1)
def load_default_dataset() -> Dataset:
    """Return the dataset of the configured data folder, loaded once per process.

    The folder is `core.settings.data_dir()` (the bundled MNIST unless
    ``MNIST_STUDIO_DATA_DIR`` says otherwise) and the class names come from
    `core.settings.class_names()`. The arrays are read-only: never modify them.

    Raises:
        DatasetError: A file is missing or the files do not fit together.
        IdxError: A file is not valid IDX.
    """
    folder = settings.data_dir()
    bundled = folder.resolve() == (settings.PROJECT_ROOT / "data" / "mnist").resolve()
    return load_idx_folder(
        folder,
        name="MNIST" if bundled else folder.name,
        class_names=settings.class_names(),
    )


def _read_upload(
    source: IdxSource, file_name: str, max_bytes: int | None = None
) -> tuple[np.ndarray, IdxHeader]:
    if hasattr(source, "seek"):
        source.seek(0)
    limit = {} if max_bytes is None else {"max_bytes": max_bytes}
    array = _read_only(read_idx(source, name=file_name, **limit))
    return array, IdxHeader.for_array(array)


def _source_size(source: IdxSource) -> int | None:
    """Return how many bytes a source holds, without reading it (None when unknown)."""
    if isinstance(source, bytes | bytearray | memoryview):
        return len(source)
    if isinstance(source, str | Path):
        return Path(source).stat().st_size
    size = getattr(source, "size", None)  # Streamlit's UploadedFile
    if isinstance(size, int):
        return size
    if hasattr(source, "seek") and hasattr(source, "tell"):
        position = source.tell()
        end = source.seek(0, 2)
        source.seek(position)
        return end
    return None


def check_upload_limits(
    images_files: list[tuple[str, IdxSource]],
    labels_files: list[tuple[str, IdxSource]],
    max_file_bytes: int | None = None,
    max_images: int | None = None,
) -> None:
    """Refuse uploaded IDX files that are too big, reading only their sizes and headers.

    Args:
        images_files: (file name, source) of each images file.
        labels_files: (file name, source) of each labels file.
        max_file_bytes: Largest file, as uploaded (gzipped or not); None for any.
        max_images: Most images all the images files may hold together (and labels each
            labels file); None for any.

    Raises:
        DatasetTooLargeError: A file or the dataset is over a limit; the message says which.
        IdxError: A header is not valid IDX.
    """
    for file_name, source in images_files + labels_files:
        size = _source_size(source)
        if max_file_bytes is not None and size is not None and size > max_file_bytes:
            raise DatasetTooLargeError(
                f"The file '{file_name}' is {size / MEGABYTE:,.1f} MB; this app takes files of "
                f"at most {max_file_bytes / MEGABYTE:,.0f} MB each."
            )
    if max_images is None:
        return
    counts = {}
    for file_name, source in images_files + labels_files:
        if hasattr(source, "seek"):
            source.seek(0)
        shape = read_idx_header(source, name=file_name).shape
        counts[id(source)] = (file_name, shape[0] if shape else 0)
    images = sum(counts[id(source)][1] for _, source in images_files)
    if images > max_images:
        names = " and ".join(f"'{name}'" for name, _ in images_files)
        raise DatasetTooLargeError(
            f"{names} hold {images:,} images; this app loads datasets of at most "
            f"{max_images:,} images in all (MNIST and Fashion-MNIST have 70,000). Upload "
            "fewer images."
        )
    for file_name, count in counts.values():
        if count > max_images:
            raise DatasetTooLargeError(
                f"The file '{file_name}' holds {count:,} entries; this app loads datasets of "
                f"at most {max_images:,} images."
            )


def dataset_from_idx_files(
    images: IdxSource,
    labels: IdxSource,
    test_images: IdxSource | None = None,
    test_labels: IdxSource | None = None,
    name: str = "Uploaded",
    class_names: tuple[str, ...] | list[str] | None = None,
    seed: int = 0,
    max_file_bytes: int | None = None,
    max_images: int | None = None,
) -> Dataset:
    """Make a dataset from IDX files given as bytes, paths or file objects (e.g. uploads).

    Without a test pair, a stratified sixth of the images (chosen with `seed`) is held out
    as the test set. The limits are checked on the files' sizes and headers, before any
    image is decompressed (`check_upload_limits`).

    Args:
        images: The training images file.
        labels: The training labels file.
        test_images: The test images file, or None.
        test_labels: The test labels file, or None.
        name: The dataset's name.
        class_names: One name per class; the digits "0".."9" when omitted.
        seed: Random seed of the held-out test set.
        max_file_bytes: Largest file accepted, in bytes as given; None for any.
        max_images: Most images the dataset may hold, training and test together.

    Returns:
        The dataset, with read-only arrays.

    Raises:
        DatasetTooLargeError: A file or the dataset is over a limit.
        DatasetError: The files do not make a usable dataset.
        IdxError: A file is not valid IDX.
    """
    names = resolve_class_names(class_names)
    if (test_images is None) != (test_labels is None):
        raise DatasetError(
            "Give both a test images file and a test labels file, or neither (then a sixth "
            "of the training images is held out for testing)."
        )
    images_name = source_name(images, fallback="images file")
    labels_name = source_name(labels, fallback="labels file")
    images_files = [(images_name, images)]
    labels_files = [(labels_name, labels)]
    if test_images is not None and test_labels is not None:
        images_files.append((source_name(test_images, fallback="test images file"), test_images))
        labels_files.append((source_name(test_labels, fallback="test labels file"), test_labels))
    check_upload_limits(images_files, labels_files, max_file_bytes, max_images)
    # No file may unpack to more than the most images allowed (a gzip bomb stops there).
    payload = None if max_images is None else max_images * IMAGE_SHAPE[0] * IMAGE_SHAPE[1]
    train_x, images_header = _read_upload(images, images_name, payload)
    train_y, labels_header = _read_upload(labels, labels_name, payload)
    _check_pair(train_x, train_y, images_name, labels_name, len(names))
    headers = {images_name: images_header, labels_name: labels_header}
    if test_images is not None and test_labels is not None:
        test_images_name = source_name(test_images, fallback="test images file")
        test_labels_name = source_name(test_labels, fallback="test labels file")
        test_x, test_images_header = _read_upload(test_images, test_images_name, payload)
        test_y, test_labels_header = _read_upload(test_labels, test_labels_name, payload)
        _check_pair(test_x, test_y, test_images_name, test_labels_name, len(names))
        headers |= {test_images_name: test_images_header, test_labels_name: test_labels_header}
    else:
        if len(train_x) < 2:
            raise DatasetError(
                f"The file '{images_name}' holds only {len(train_x)} image; at least 2 are "
                "needed to hold one out for testing."
            )
        train_x, test_x, train_y, test_y = stratified_split(
            train_x, train_y, test_size=UPLOAD_TEST_FRACTION, seed=seed
        )
        for array in (train_x, test_x, train_y, test_y):
            _read_only(array)
    return Dataset(
        name=name,
        train_images=train_x,
        train_labels=train_y,
        test_images=test_x,
        test_labels=test_y,
        class_names=names,
        headers=headers,
    )
