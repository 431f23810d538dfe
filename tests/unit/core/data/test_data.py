"""The dataset layer: loading folders and uploads, checks, splits, scaling and one-hot."""

import io

import numpy as np
import pytest

import core.data as data
from core.data import (
    Dataset,
    DatasetError,
    dataset_from_idx_files,
    load_default_dataset,
    load_idx_folder,
    make_splits,
    one_hot,
    scale_images,
)
from core.data.idx import IdxMagicError, IdxTruncatedError, idx_bytes, write_idx

TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
FASHION_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip


@pytest.fixture(scope="module")
def mnist() -> Dataset:
    return load_default_dataset()


def make_images(count: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(count, 28, 28), dtype=np.uint8)


def balanced_labels(count: int, num_classes: int = 10) -> np.ndarray:
    return (np.arange(count) % num_classes).astype(np.uint8)


def upload(array: np.ndarray, name: str, compress: bool = False) -> io.BytesIO:
    """An in-memory IDX file with a name, like Streamlit's UploadedFile."""
    return named(idx_bytes(array, compress=compress), name)


def write_folder(folder, train_count=120, test_count=30, compress=False, labels=None):
    """Write the four standard files of a small MNIST-style dataset into `folder`."""
    suffix = ".gz" if compress else ""
    train_labels = balanced_labels(train_count) if labels is None else labels
    arrays = {
        data.TRAIN_IMAGES: make_images(train_count, seed=1),
        data.TRAIN_LABELS: train_labels,
        data.TEST_IMAGES: make_images(test_count, seed=2),
        data.TEST_LABELS: balanced_labels(test_count),
    }
    for stem, array in arrays.items():
        write_idx(folder / f"{stem}{suffix}", array, compress=compress)
    return arrays


# --- The bundled dataset -------------------------------------------------------------------


def test_default_dataset_is_the_bundled_mnist(mnist):
    assert mnist.name == "MNIST"
    assert mnist.train_images.shape == (60_000, 28, 28)
    assert mnist.test_images.shape == (10_000, 28, 28)
    assert mnist.train_images.dtype == np.uint8
    assert mnist.train_labels.dtype == np.uint8
    assert mnist.class_names == tuple("0123456789")
    assert mnist.num_classes == 10
    assert np.bincount(mnist.train_labels).tolist() == TRAIN_COUNTS
    assert mnist.train_labels[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert mnist.test_labels[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert mnist.train_labels[999] == 6
    assert round(float(mnist.train_images.mean()), 3) == 33.318


def test_default_dataset_is_one_read_only_copy(mnist):
    assert load_default_dataset() is mnist
    for array in (mnist.train_images, mnist.train_labels, mnist.test_images, mnist.test_labels):
        assert not array.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        mnist.train_images[0, 0, 0] = 1


def test_default_dataset_keeps_each_files_header(mnist):
    assert set(mnist.headers) == {
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
    }
    assert mnist.headers["train-images-idx3-ubyte.gz"].magic == 0x00000803
    assert mnist.headers["t10k-labels-idx1-ubyte.gz"].shape == (10_000,)
    table = data.header_table(mnist.headers)
    row = table.set_index("file").loc["train-images-idx3-ubyte.gz"]
    assert (row["magic"], row["count"], row["rows"], row["columns"]) == (
        "0x00000803",
        60_000,
        "28",
        "28",
    )
    assert row["bytes"] == 47_040_016
    assert table.set_index("file").loc["t10k-labels-idx1-ubyte.gz", "rows"] == "–"


# --- Other folders -------------------------------------------------------------------------


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gzip"])
def test_a_folder_of_the_four_standard_files_loads(tmp_path, compress):
    arrays = write_folder(tmp_path, compress=compress)
    dataset = load_idx_folder(tmp_path, class_names=FASHION_CLASSES)
    assert dataset.name == tmp_path.name
    assert dataset.class_names == FASHION_CLASSES
    np.testing.assert_array_equal(dataset.train_images, arrays[data.TRAIN_IMAGES])
    np.testing.assert_array_equal(dataset.test_labels, arrays[data.TEST_LABELS])
    suffix = ".gz" if compress else ""
    assert f"t10k-images-idx3-ubyte{suffix}" in dataset.headers


def test_data_dir_and_class_names_settings_pick_another_folder(tmp_path, monkeypatch):
    folder = tmp_path / "fashion"
    folder.mkdir()
    write_folder(folder, compress=True)
    monkeypatch.setenv("MNIST_STUDIO_DATA_DIR", str(folder))
    monkeypatch.setenv("MNIST_STUDIO_CLASS_NAMES", ",".join(FASHION_CLASSES))
    load_default_dataset.cache_clear()
    try:
        dataset = load_default_dataset()
        assert dataset.name == "fashion"
        assert dataset.class_names == FASHION_CLASSES
        assert dataset.train_images.shape == (120, 28, 28)
    finally:
        load_default_dataset.cache_clear()


def test_missing_file_is_named(tmp_path):
    write_folder(tmp_path)
    (tmp_path / data.TEST_LABELS).unlink()
    with pytest.raises(DatasetError, match="no file 't10k-labels-idx1-ubyte'"):
        load_idx_folder(tmp_path)


def test_missing_folder_is_refused(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        load_idx_folder(tmp_path / "nowhere")


def test_mismatched_image_and_label_counts_are_refused(tmp_path):
    write_folder(tmp_path, labels=balanced_labels(119))
    with pytest.raises(DatasetError) as error:
        load_idx_folder(tmp_path)
    message = str(error.value)
    assert "'train-images-idx3-ubyte' holds 120 images" in message
    assert "'train-labels-idx1-ubyte' holds 119 labels" in message


def test_label_out_of_range_is_refused(tmp_path):
    labels = balanced_labels(120)
    labels[7] = 10
    write_folder(tmp_path, labels=labels)
    with pytest.raises(DatasetError) as error:
        load_idx_folder(tmp_path)
    assert "'train-labels-idx1-ubyte' has the label 10" in str(error.value)
    assert "only 10 classes" in str(error.value)


def test_more_class_names_allow_more_labels(tmp_path):
    labels = balanced_labels(120, num_classes=12)
    write_folder(tmp_path, labels=labels)
    dataset = load_idx_folder(tmp_path, class_names=[f"class {i}" for i in range(12)])
    assert dataset.num_classes == 12


def test_a_broken_file_in_a_folder_is_refused_with_its_name(tmp_path):
    write_folder(tmp_path)
    path = tmp_path / data.TRAIN_IMAGES
    path.write_bytes(path.read_bytes()[:-5])
    with pytest.raises(IdxTruncatedError, match="'train-images-idx3-ubyte' is cut off"):
        load_idx_folder(tmp_path)


# --- Uploaded files ------------------------------------------------------------------------


def test_an_uploaded_pair_holds_out_a_stratified_sixth():
    images, labels = make_images(600), balanced_labels(600)
    dataset = dataset_from_idx_files(
        upload(images, "my-images.idx3"), upload(labels, "my-labels.idx1", compress=True)
    )
    assert dataset.name == "Uploaded"
    assert len(dataset.train_images) == 500
    assert len(dataset.test_images) == 100
    assert np.bincount(dataset.test_labels).tolist() == [10] * 10
    assert np.bincount(dataset.train_labels).tolist() == [50] * 10
    assert set(dataset.headers) == {"my-images.idx3", "my-labels.idx1"}
    assert dataset.headers["my-images.idx3"].shape == (600, 28, 28)
    assert not dataset.train_images.flags.writeable
    # Every image keeps its own label.
    by_image = {images[i].tobytes(): labels[i] for i in range(600)}
    for image, label in zip(dataset.test_images, dataset.test_labels, strict=True):
        assert by_image[image.tobytes()] == label


def test_the_held_out_sixth_depends_only_on_the_seed():
    images, labels = make_images(120), balanced_labels(120)
    first = dataset_from_idx_files(idx_bytes(images), idx_bytes(labels), seed=3)
    again = dataset_from_idx_files(idx_bytes(images), idx_bytes(labels), seed=3)
    other = dataset_from_idx_files(idx_bytes(images), idx_bytes(labels), seed=4)
    np.testing.assert_array_equal(first.test_images, again.test_images)
    assert not np.array_equal(first.test_images, other.test_images)


def test_an_uploaded_test_pair_is_used_as_the_test_set():
    dataset = dataset_from_idx_files(
        idx_bytes(make_images(50)),
        idx_bytes(balanced_labels(50)),
        test_images=idx_bytes(make_images(20, seed=5)),
        test_labels=idx_bytes(balanced_labels(20)),
        name="Mine",
    )
    assert dataset.name == "Mine"
    assert (len(dataset.train_images), len(dataset.test_images)) == (50, 20)
    np.testing.assert_array_equal(dataset.test_images, make_images(20, seed=5))
    assert len(dataset.headers) == 4


def test_half_a_test_pair_is_refused():
    with pytest.raises(DatasetError, match="both a test images file and a test labels file"):
        dataset_from_idx_files(
            idx_bytes(make_images(12)),
            idx_bytes(balanced_labels(12)),
            test_images=idx_bytes(make_images(6)),
        )


def test_a_bad_upload_is_refused_with_its_name():
    with pytest.raises(IdxMagicError, match="'holiday.jpg' is not an IDX file"):
        dataset_from_idx_files(
            upload(make_images(12), "images.idx3"), named(b"\xff\xd8\xff\xe0 JPEG", "holiday.jpg")
        )


def named(content: bytes, name: str) -> io.BytesIO:
    file = io.BytesIO(content)
    file.name = name
    return file


def test_swapped_upload_files_are_explained():
    with pytest.raises(DatasetError, match="Did you swap the images and labels"):
        dataset_from_idx_files(
            upload(balanced_labels(12), "labels.idx1"), upload(make_images(12), "images.idx3")
        )


def test_images_that_are_not_28x28_are_refused():
    with pytest.raises(DatasetError, match=r"holds 32x32 images; MNIST Studio needs 28x28"):
        dataset_from_idx_files(
            upload(np.zeros((12, 32, 32), dtype=np.uint8), "cifar.idx3"),
            upload(balanced_labels(12), "labels.idx1"),
        )


def test_mismatched_uploads_are_refused():
    with pytest.raises(DatasetError, match="holds 12 images but 'labels.idx1' holds 11 labels"):
        dataset_from_idx_files(
            upload(make_images(12), "images.idx3"), upload(balanced_labels(11), "labels.idx1")
        )


def test_a_class_too_small_to_stratify_still_loads():
    labels = balanced_labels(30)
    labels[:2] = 9  # class 0 keeps a single image, too few for a stratified split
    dataset = dataset_from_idx_files(idx_bytes(make_images(30)), idx_bytes(labels))
    assert len(dataset.train_images) + len(dataset.test_images) == 30


# --- Splits --------------------------------------------------------------------------------


def test_official_split_uses_the_files_sets(mnist):
    splits = make_splits(mnist, "official", validation_fraction=0.1)
    assert (len(splits.x_train), len(splits.x_val), len(splits.x_test)) == (54_000, 6_000, 10_000)
    assert splits.x_test is mnist.test_images
    for array in (splits.x_train, splits.y_train, splits.x_val, splits.y_val):
        assert array.dtype == np.uint8


def test_no_validation_gives_an_empty_validation_set(mnist):
    splits = make_splits(mnist, validation_fraction=0)
    assert splits.x_val.shape == (0, 28, 28)
    assert splits.y_val.shape == (0,)
    assert splits.x_train is mnist.train_images


def test_article_split_is_45000_and_15000(mnist):
    from sklearn.model_selection import train_test_split

    splits = make_splits(mnist, "article", validation_fraction=0, seed=0)
    assert (len(splits.x_train), len(splits.x_test)) == (45_000, 15_000)
    _, expected_test, _, expected_labels = train_test_split(
        mnist.train_images, mnist.train_labels, test_size=0.25, random_state=0
    )
    np.testing.assert_array_equal(splits.x_test, expected_test)
    np.testing.assert_array_equal(splits.y_test, expected_labels)
    with_validation = make_splits(mnist, "article", validation_fraction=0.1)
    assert (len(with_validation.x_train), len(with_validation.x_val)) == (40_500, 4_500)


def test_validation_set_is_stratified(mnist):
    splits = make_splits(mnist, validation_fraction=0.1)
    expected = np.array(TRAIN_COUNTS) * 0.1
    assert np.all(np.abs(np.bincount(splits.y_val) - expected) <= 1)


def test_train_size_subsamples_stratified_after_validation(mnist):
    splits = make_splits(mnist, validation_fraction=0.1, train_size=2_000)
    assert len(splits.x_train) == 2_000
    assert len(splits.x_val) == 6_000
    expected = np.array(TRAIN_COUNTS) / 60_000 * 2_000
    assert np.all(np.abs(np.bincount(splits.y_train, minlength=10) - expected) <= 1)
    # No training image is also in the validation set.
    val_keys = {image.tobytes() for image in splits.x_val[:500]}
    assert not any(image.tobytes() in val_keys for image in splits.x_train)


def test_splits_are_deterministic_by_seed(mnist):
    first = make_splits(mnist, validation_fraction=0.1, train_size=1_000, seed=7)
    again = make_splits(mnist, validation_fraction=0.1, train_size=1_000, seed=7)
    other = make_splits(mnist, validation_fraction=0.1, train_size=1_000, seed=8)
    np.testing.assert_array_equal(first.x_train, again.x_train)
    np.testing.assert_array_equal(first.y_val, again.y_val)
    assert not np.array_equal(first.x_train, other.x_train)


def test_split_arguments_are_checked(mnist):
    with pytest.raises(ValueError, match="Unknown split 'random'; choose one of: official"):
        make_splits(mnist, "random")
    with pytest.raises(ValueError, match="validation fraction"):
        make_splits(mnist, validation_fraction=1.0)
    with pytest.raises(ValueError, match="between 1 and 54,000"):
        make_splits(mnist, train_size=60_000)
    with pytest.raises(ValueError, match="whole number"):
        make_splits(mnist, train_size=2.5)


def test_the_held_out_set_is_the_test_files_or_the_articles_15000(mnist):
    images, labels = data.held_out_set(mnist, "official", seed=5)
    assert images is mnist.test_images and labels is mnist.test_labels
    source, indices = data.held_out_sources(mnist, "official", seed=5)
    assert source == data.TEST_FILES
    np.testing.assert_array_equal(indices, np.arange(10_000))

    images, labels = data.held_out_set(mnist, "article", seed=3)
    assert images.shape == (15_000, 28, 28) and labels.shape == (15_000,)
    # The same 15,000 a training of the article's split (with validation images) tests on.
    trained = make_splits(mnist, "article", validation_fraction=0.1, seed=3)
    np.testing.assert_array_equal(images, trained.x_test)
    np.testing.assert_array_equal(labels, trained.y_test)
    # Each held-out image is named by its index in the training file, as Explore shows it.
    source, indices = data.held_out_sources(mnist, "article", seed=3)
    assert source == data.TRAIN_FILES and len(indices) == len(set(indices.tolist())) == 15_000
    np.testing.assert_array_equal(mnist.train_images[indices], images)
    np.testing.assert_array_equal(mnist.train_labels[indices], labels)
    assert not np.array_equal(data.held_out_sources(mnist, "article", seed=4)[1], indices)
    with pytest.raises(ValueError, match="Unknown split 'random'"):
        data.held_out_set(mnist, "random")


# --- Scaling and one-hot -------------------------------------------------------------------


def test_unit_scaling_divides_by_255():
    images = np.array([[[0, 51, 255]]], dtype=np.uint8)
    scaled = scale_images(images)
    assert scaled.dtype == np.float32
    np.testing.assert_allclose(scaled, [[[0.0, 0.2, 1.0]]])
    assert images[0, 0, 1] == 51  # the input is left alone


def test_raw_scaling_keeps_pixel_values_as_in_the_article(mnist):
    scaled = scale_images(mnist.train_images[:100], "raw", flatten=True)
    assert scaled.shape == (100, 784)
    assert scaled.dtype == np.float32
    assert scaled.max() == 255.0
    np.testing.assert_array_equal(scaled[5], mnist.train_images[5].reshape(-1))


def test_unknown_scaling_is_refused():
    with pytest.raises(ValueError, match="Unknown scaling 'standard'"):
        scale_images(np.zeros((1, 28, 28), dtype=np.uint8), "standard")


def test_one_hot_of_index_999_is_a_six(mnist):
    labels_np_onehot = one_hot(mnist.train_labels)
    assert labels_np_onehot.shape == (60_000, 10)
    assert labels_np_onehot.dtype == np.float32
    assert labels_np_onehot[999].tolist() == [0, 0, 0, 0, 0, 0, 1, 0, 0, 0]
    assert np.all(labels_np_onehot.sum(axis=1) == 1)
    np.testing.assert_array_equal(labels_np_onehot.argmax(axis=1), mnist.train_labels)


def test_one_hot_checks_its_labels():
    assert one_hot(np.array([2]), num_classes=3).tolist() == [[0, 0, 1]]
    with pytest.raises(ValueError, match="between 0 and 2"):
        one_hot(np.array([3]), num_classes=3)
    with pytest.raises(ValueError, match="whole numbers"):
        one_hot(np.array([0.5]))


# --- Derived tables ------------------------------------------------------------------------


def test_class_counts_and_mean_images(mnist):
    counts = data.class_counts(mnist.train_labels, 10)
    assert counts.tolist() == TRAIN_COUNTS
    means = data.mean_images(mnist.train_images, mnist.train_labels, 10)
    assert means.shape == (10, 28, 28)
    overall = float((means.mean(axis=(1, 2)) * counts).sum() / counts.sum())
    assert round(overall, 3) == 33.318
    np.testing.assert_allclose(
        means[6], mnist.train_images[mnist.train_labels == 6].mean(axis=0), rtol=1e-5
    )


def test_mean_image_of_an_empty_class_is_zero():
    images = np.stack([np.full((28, 28), 10), np.full((28, 28), 30)]).astype(np.uint8)
    means = data.mean_images(images, np.array([1, 1], dtype=np.uint8), 3)
    assert means[1, 0, 0] == 20
    assert not means[0].any() and not means[2].any()


def test_filter_indices():
    labels = np.array([3, 1, 3, 0], dtype=np.uint8)
    assert data.filter_indices(labels, 3).tolist() == [0, 2]
    assert data.filter_indices(labels).tolist() == [0, 1, 2, 3]


def test_fingerprint_tells_datasets_apart():
    images, labels = make_images(60), balanced_labels(60)
    first = dataset_from_idx_files(idx_bytes(images), idx_bytes(labels))
    again = dataset_from_idx_files(idx_bytes(images), idx_bytes(labels))
    changed = images.copy()
    changed[0, 0, 0] ^= 1
    other = dataset_from_idx_files(idx_bytes(changed), idx_bytes(labels))
    assert first.fingerprint == again.fingerprint
    assert first.fingerprint != other.fingerprint


def test_resolve_class_names_is_the_one_check_of_class_names():
    from core.data.datasets import DatasetError, resolve_class_names

    assert resolve_class_names(None) == tuple("0123456789")
    assert resolve_class_names(None, 3) == ("0", "1", "2")
    assert resolve_class_names([7, "dog"], 2) == ("7", "dog")
    with pytest.raises(DatasetError, match="Got 2 class names for 3 classes"):
        resolve_class_names(["a", "b"], 3)
    with pytest.raises(DatasetError, match="at least two class names"):
        resolve_class_names(["only"])
