"""The IDX reader refuses every kind of malformed file with its own named error, and reads
what the writer writes."""

import gzip
import io
import struct
import tracemalloc

import numpy as np
import pytest

from core.data.idx import (
    IdxCompressionError,
    IdxEmptyError,
    IdxError,
    IdxHeader,
    IdxMagicError,
    IdxTooLargeError,
    IdxTrailingDataError,
    IdxTruncatedError,
    IdxUnsupportedTypeError,
    idx_bytes,
    read_idx,
    read_idx_header,
    write_idx,
)
from core.settings import PROJECT_ROOT

MNIST = PROJECT_ROOT / "data" / "mnist"


@pytest.fixture
def images():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(12, 28, 28), dtype=np.uint8)


# --- The bundled files -------------------------------------------------------------------


def test_bundled_label_files_match_the_data_readme():
    train_labels = read_idx(MNIST / "train-labels-idx1-ubyte.gz")
    test_labels = read_idx(MNIST / "t10k-labels-idx1-ubyte.gz")
    assert train_labels.dtype == np.uint8
    assert train_labels.shape == (60_000,)
    assert np.bincount(train_labels).tolist() == [
        5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949
    ]  # fmt: skip
    assert np.bincount(test_labels).tolist() == [
        980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009
    ]  # fmt: skip
    assert train_labels[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert test_labels[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert train_labels[999] == 6


def test_bundled_image_files_have_mnist_headers_and_pixels():
    header = read_idx_header(MNIST / "train-images-idx3-ubyte.gz")
    assert header == IdxHeader(
        magic=0x803, type_code=0x08, dtype=np.dtype("u1"), shape=(60_000, 28, 28)
    )
    assert header.payload_bytes + header.header_bytes == 47_040_016
    train_images = read_idx(MNIST / "train-images-idx3-ubyte.gz")
    assert train_images.shape == (60_000, 28, 28)
    assert train_images.dtype == np.uint8
    assert round(float(train_images.mean()), 3) == 33.318
    test_header = read_idx_header(MNIST / "t10k-images-idx3-ubyte.gz")
    assert test_header.shape == (10_000, 28, 28)
    assert read_idx_header(MNIST / "t10k-labels-idx1-ubyte.gz").magic == 0x801


# --- Round trips ---------------------------------------------------------------------------


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gzip"])
def test_writer_reader_round_trip_through_a_file(tmp_path, images, compress):
    path = tmp_path / ("images.gz" if compress else "images")
    write_idx(path, images, compress=compress)
    content = path.read_bytes()
    assert (content[:2] == b"\x1f\x8b") is compress
    restored = read_idx(path)
    assert restored.dtype == np.uint8
    np.testing.assert_array_equal(restored, images)
    assert read_idx_header(path) == IdxHeader.for_array(images)


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gzip"])
def test_round_trip_through_bytes_and_file_objects(images, compress):
    labels = np.arange(12, dtype=np.uint8) % 10
    buffer = io.BytesIO()
    write_idx(buffer, labels, compress=compress)
    np.testing.assert_array_equal(read_idx(buffer.getvalue()), labels)
    buffer.seek(0)
    np.testing.assert_array_equal(read_idx(buffer), labels)
    np.testing.assert_array_equal(read_idx(idx_bytes(images, compress=compress)), images)


def test_writer_output_is_the_standard_layout():
    content = idx_bytes(np.array([[1, 2, 3], [4, 5, 6]], dtype=np.uint8))
    assert content == bytes([0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6])


def test_gzip_output_is_reproducible(images):
    assert idx_bytes(images, compress=True) == idx_bytes(images, compress=True)


def test_header_of_other_types_is_readable_and_big_endian():
    content = idx_bytes(np.array([1.5, -2.0], dtype=np.float32))
    header = read_idx_header(content)
    assert header.magic == 0x00000D01
    assert header.type_name == "32-bit float"
    assert header.shape == (2,)
    assert content[8:12] == struct.pack(">f", 1.5)


def test_writer_refuses_what_idx_cannot_hold():
    with pytest.raises(ValueError, match="complex128"):
        idx_bytes(np.zeros(3, dtype=np.complex128))
    with pytest.raises(ValueError, match="dimensions"):
        idx_bytes(np.uint8(3))


# --- Malformed files -----------------------------------------------------------------------


def raw_and_gzip(content: bytes):
    return [content, gzip.compress(content, mtime=0)]


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gzip"])
def test_truncated_payload_is_refused(images, compress):
    content = idx_bytes(images)[:-100]
    source = gzip.compress(content) if compress else content
    with pytest.raises(IdxTruncatedError) as error:
        read_idx(source, name="cut.idx3")
    message = str(error.value)
    assert "'cut.idx3'" in message
    assert "cut off" in message
    assert "9,408 bytes" in message  # 12 * 28 * 28 declared
    assert "9,308 bytes" in message  # what is there


def test_truncated_header_is_refused():
    content = bytes([0, 0, 8, 3, 0, 0, 0, 5, 0, 0])
    with pytest.raises(IdxTruncatedError, match=r"'short\.idx'.*inside its header"):
        read_idx(content, name="short.idx")


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gzip"])
def test_trailing_bytes_are_refused(images, compress):
    content = idx_bytes(images) + b"\x00"
    source = gzip.compress(content) if compress else content
    with pytest.raises(IdxTrailingDataError) as error:
        read_idx(source, name="long.idx3")
    assert "'long.idx3'" in str(error.value)
    assert "extra bytes" in str(error.value)


def test_wrong_magic_is_refused(images):
    content = bytearray(idx_bytes(images))
    content[0] = 0x12
    with pytest.raises(IdxMagicError) as error:
        read_idx(bytes(content), name="bad-magic.idx3")
    assert "'bad-magic.idx3' is not an IDX file" in str(error.value)
    assert "two zero bytes" in str(error.value)


def test_unknown_type_code_is_refused(images):
    content = bytearray(idx_bytes(images))
    content[2] = 0x07
    with pytest.raises(IdxMagicError, match="unknown type code 0x07"):
        read_idx(bytes(content), name="odd.idx3")


def test_zero_dimensions_are_refused():
    with pytest.raises(IdxMagicError, match="zero dimensions"):
        read_idx(bytes([0, 0, 8, 0]), name="flat.idx")


@pytest.mark.parametrize(
    ("dtype", "type_name", "code"),
    [
        (np.int8, "signed byte", "0x09"),
        (np.int16, "16-bit integer", "0x0b"),
        (np.int32, "32-bit integer", "0x0c"),
        (np.float32, "32-bit float", "0x0d"),
        (np.float64, "64-bit float", "0x0e"),
    ],
)
def test_other_element_types_are_unsupported(dtype, type_name, code):
    content = idx_bytes(np.zeros((3, 28, 28), dtype=dtype))
    with pytest.raises(IdxUnsupportedTypeError) as error:
        read_idx(content, name="typed.idx3")
    message = str(error.value)
    assert "'typed.idx3'" in message
    assert type_name in message
    assert code in message
    assert "only unsigned byte" in message


@pytest.mark.parametrize(
    "source", raw_and_gzip(bytes([0, 0, 8, 3]) + struct.pack(">3I", 10**9, 28, 28))
)
def test_huge_declared_size_is_refused_at_once(source):
    # 784 GB declared by a 16-byte file: refused from the header (allocating first would
    # raise MemoryError instead).
    with pytest.raises(IdxTooLargeError) as error:
        read_idx(source, name="bomb.idx3")
    message = str(error.value)
    assert "'bomb.idx3'" in message
    assert "1000000000 x 28 x 28" in message
    assert "784,000,000,000 bytes" in message


def test_size_cap_is_adjustable(images):
    content = idx_bytes(images)
    with pytest.raises(IdxTooLargeError):
        read_idx(content, max_bytes=images.size - 1)
    assert read_idx(content, max_bytes=images.size).shape == images.shape


class CountingReader(io.BytesIO):
    """A file object that records how many bytes were read from it."""

    consumed = 0

    def read(self, size=-1):
        chunk = super().read(size)
        self.consumed += len(chunk)
        return chunk


def test_gzip_bomb_is_refused_without_decompressing_it():
    # A valid header declaring 400 MB, then 400 gzip members of 1 MB of zeros each: about
    # 400 kB of file that would inflate to 400 MB.
    header = bytes([0, 0, 8, 3]) + struct.pack(">3I", 510_204, 28, 28)
    zeros = gzip.compress(bytes(1 << 20), mtime=0)
    source = CountingReader(gzip.compress(header, mtime=0) + zeros * 400)
    tracemalloc.start()
    try:
        with pytest.raises(IdxTooLargeError, match="'bomb.gz'"):
            read_idx(source, name="bomb.gz", max_bytes=100_000_000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2_000_000  # nothing near the declared size was allocated
    assert source.consumed < len(source.getvalue()) // 4  # only the start was read


def test_multi_member_gzip_reads_like_gzip_does(images):
    content = idx_bytes(images)
    middle = len(content) // 2
    two_members = gzip.compress(content[:middle]) + gzip.compress(content[middle:])
    np.testing.assert_array_equal(read_idx(two_members), images)
    assert gzip.decompress(two_members) == content


def test_bytes_after_the_gzip_data_are_refused(images):
    with pytest.raises(IdxCompressionError, match="'tail.gz'.*after the end of the gzip data"):
        read_idx(idx_bytes(images, compress=True) + b"junk", name="tail.gz")


def test_garbage_is_refused():
    garbage = b"\x89PNG\r\n\x1a\n" + bytes(range(200))
    with pytest.raises(IdxMagicError) as error:
        read_idx(garbage, name="picture.png")
    assert "'picture.png' is not an IDX file" in str(error.value)
    assert "0x89504e47" in str(error.value)


def test_text_file_is_refused():
    with pytest.raises(IdxMagicError, match="'notes.txt'"):
        read_idx(b"hello, this is not a digit", name="notes.txt")


@pytest.mark.parametrize("source", [b"", gzip.compress(b"", mtime=0)], ids=["raw", "gzip"])
def test_empty_file_is_refused(source):
    with pytest.raises(IdxEmptyError) as error:
        read_idx(source, name="nothing.idx")
    assert "'nothing.idx'" in str(error.value)


def test_empty_path_is_refused_with_the_file_name(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(b"")
    with pytest.raises(IdxEmptyError, match="'train-images-idx3-ubyte' is empty"):
        read_idx(path)


def test_corrupt_gzip_is_refused(images):
    compressed = bytearray(idx_bytes(images, compress=True))
    compressed[len(compressed) // 2] ^= 0xFF
    with pytest.raises((IdxCompressionError, IdxTruncatedError, IdxTrailingDataError)) as error:
        read_idx(bytes(compressed), name="damaged.gz")
    assert "'damaged.gz'" in str(error.value)


def test_cut_gzip_stream_is_refused_as_truncated(images):
    compressed = idx_bytes(images, compress=True)
    with pytest.raises(IdxTruncatedError, match="'cut.gz'"):
        read_idx(compressed[: len(compressed) // 2], name="cut.gz")


def test_every_refusal_is_a_value_error():
    for error_class in (
        IdxEmptyError,
        IdxMagicError,
        IdxUnsupportedTypeError,
        IdxTruncatedError,
        IdxTrailingDataError,
        IdxTooLargeError,
        IdxCompressionError,
    ):
        assert issubclass(error_class, IdxError)
        assert issubclass(error_class, ValueError)


def test_file_object_name_is_used_in_messages():
    upload = io.BytesIO(b"")
    upload.name = "/somewhere/my-upload.idx"
    with pytest.raises(IdxEmptyError, match="'my-upload.idx'"):
        read_idx(upload)
