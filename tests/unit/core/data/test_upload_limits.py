"""Caps on uploaded datasets: bytes per file and images in all, checked before decoding."""

import io

import numpy as np
import pytest

from core import settings
from core.data.datasets import MEGABYTE, DatasetTooLargeError, dataset_from_idx_files
from core.data.idx import idx_bytes
from core.figures.explore import FRAME_GREY, ink_on_paper
from testkit.attack_files import zeros_idx_gzip


def named(content: bytes, name: str) -> io.BytesIO:
    stream = io.BytesIO(content)
    stream.name = name
    return stream


def caps(demo: bool) -> dict:
    limits = settings.DEMO_LIMITS if demo else settings.Limits()
    return {
        "max_file_bytes": limits.max_upload_mb * MEGABYTE,
        "max_images": limits.max_upload_images,
    }


@pytest.fixture(scope="module")
def fashion_sized_pair():
    """60,000 images of noise (which gzip cannot shrink) and their labels, gzipped."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(60_000, 28, 28), dtype=np.uint8)
    labels = (np.arange(60_000) % 10).astype(np.uint8)
    return idx_bytes(images, compress=True), idx_bytes(labels, compress=True)


def test_a_dataset_of_fashion_mnists_size_loads_locally(fashion_sized_pair):
    images, labels = fashion_sized_pair
    assert len(images) > 26 * 1_000_000  # bigger than Fashion-MNIST's training images file
    dataset = dataset_from_idx_files(
        named(images, "train-images.gz"), named(labels, "train-labels.gz"), **caps(demo=False)
    )
    assert len(dataset.train_images) + len(dataset.test_images) == 60_000


def test_the_demo_refuses_it_by_size_and_says_its_cap(fashion_sized_pair):
    images, labels = fashion_sized_pair
    with pytest.raises(DatasetTooLargeError, match=r"'train-images.gz' is 4\d\.\d MB; .* 20 MB"):
        dataset_from_idx_files(
            named(images, "train-images.gz"), named(labels, "train-labels.gz"), **caps(demo=True)
        )


def test_a_small_file_declaring_many_images_is_refused_from_its_header():
    bomb = zeros_idx_gzip(342_000)
    assert len(bomb) < 2 * MEGABYTE  # 268 MB of pixels unpacked
    labels = idx_bytes((np.arange(342_000) % 10).astype(np.uint8), compress=True)
    with pytest.raises(DatasetTooLargeError, match="hold 342,000 images; .* 70,000 images"):
        dataset_from_idx_files(
            named(bomb, "bomb-images.gz"), named(labels, "bomb-labels.gz"), **caps(demo=True)
        )


def test_the_image_cap_counts_training_and_test_files_together():
    train = idx_bytes(np.zeros((50, 28, 28), np.uint8))
    test = idx_bytes(np.zeros((30, 28, 28), np.uint8))
    train_labels = idx_bytes((np.arange(50) % 10).astype(np.uint8))
    test_labels = idx_bytes((np.arange(30) % 10).astype(np.uint8))
    files = [named(train, "a"), named(train_labels, "b"), named(test, "c"), named(test_labels, "d")]
    with pytest.raises(DatasetTooLargeError, match="'a' and 'c' hold 80 images"):
        dataset_from_idx_files(*files, max_images=79)
    dataset = dataset_from_idx_files(*files, max_images=80)
    assert (len(dataset.train_images), len(dataset.test_images)) == (50, 30)


def test_a_labels_file_longer_than_the_cap_is_refused_before_decoding():
    images = idx_bytes(np.zeros((20, 28, 28), np.uint8))
    labels = idx_bytes(np.zeros(5_000, np.uint8), compress=True)
    with pytest.raises(DatasetTooLargeError, match="'labels.gz' holds 5,000 entries"):
        dataset_from_idx_files(named(images, "images"), named(labels, "labels.gz"), max_images=100)


def test_thumbnails_are_ink_on_paper_like_the_heat_maps():
    image = np.zeros((28, 28), np.uint8)
    image[10:18, 12:16] = 255
    thumbnail = ink_on_paper(image)
    assert thumbnail.shape == (30, 30) and thumbnail.dtype == np.uint8
    assert thumbnail[1, 1] == 255  # paper is white
    assert thumbnail[11, 13] == 0  # full ink is black
    assert thumbnail[0, 0] == FRAME_GREY
