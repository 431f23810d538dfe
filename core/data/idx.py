"""Read and write IDX files, the format the MNIST database is distributed in.

An IDX file is a big-endian header followed by the raw array:

* a 4-byte magic number: two zero bytes, a type code (0x08 unsigned byte, 0x09 signed
  byte, 0x0B short, 0x0C int, 0x0D float, 0x0E double) and the number of dimensions;
* one 4-byte size per dimension (e.g. 60000, 28, 28);
* the values, row-major.

The original tutorial trusted its input ("if this file was not from a trusted source, a lot
more checking would need to be done"). This reader does that checking, because the app also
reads files that people upload: gzip or raw input is detected by content, the header is
checked, only unsigned bytes are accepted, the declared size is compared with a cap *before*
anything large is allocated or decompressed, and the payload must have exactly the declared
length. Every refusal is a named `IdxError` (a `ValueError`) whose message names the file.
"""

from __future__ import annotations

import gzip
import io
import math
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from core.data.gunzip import GZIP_MAGIC, GunzipStream

# Largest payload read_idx accepts by default: 256 MiB, five times the MNIST training images.
DEFAULT_MAX_BYTES = 256 * 1024 * 1024

# Type code -> (big-endian numpy dtype, name a person understands).
IDX_TYPES: dict[int, tuple[np.dtype, str]] = {
    0x08: (np.dtype(">u1"), "unsigned byte"),
    0x09: (np.dtype(">i1"), "signed byte"),
    0x0B: (np.dtype(">i2"), "16-bit integer"),
    0x0C: (np.dtype(">i4"), "32-bit integer"),
    0x0D: (np.dtype(">f4"), "32-bit float"),
    0x0E: (np.dtype(">f8"), "64-bit float"),
}
SUPPORTED_TYPE_CODES = frozenset({0x08})

# numpy dtype kind + size -> type code, for the writer.
_TYPE_CODE_FOR_DTYPE = {
    (dtype.kind, dtype.itemsize): code for code, (dtype, _) in IDX_TYPES.items()
}

Source = str | Path | bytes | bytearray | memoryview | BinaryIO


class IdxError(ValueError):
    """Base class of every IDX refusal; the message names the file and the problem."""


class IdxEmptyError(IdxError):
    """The file holds no bytes at all (or decompresses to nothing)."""


class IdxMagicError(IdxError):
    """The file does not start with a valid IDX magic number."""


class IdxUnsupportedTypeError(IdxError):
    """The file is valid IDX but its values are not unsigned bytes."""


class IdxTruncatedError(IdxError):
    """The file ends before the header or the declared payload is complete."""


class IdxTrailingDataError(IdxError):
    """The file holds more bytes than its header declares."""


class IdxTooLargeError(IdxError):
    """The header declares a payload larger than the allowed maximum."""


class IdxShapeError(IdxError):
    """The header declares a shape no array can have (too many or too large dimensions)."""


class IdxCompressionError(IdxError):
    """The file starts like gzip but its compressed data is corrupt."""


@dataclass(frozen=True)
class IdxHeader:
    """The header of an IDX file.

    Attributes:
        magic: The 4-byte magic number as an integer, e.g. 0x00000803 for MNIST images.
        type_code: The element type code, e.g. 0x08 for unsigned bytes.
        dtype: The big-endian numpy dtype of the elements.
        shape: The size of each dimension, e.g. (60000, 28, 28).
    """

    magic: int
    type_code: int
    dtype: np.dtype
    shape: tuple[int, ...]

    @classmethod
    def for_array(cls, array: np.ndarray) -> IdxHeader:
        """Return the header an IDX file holding `array` has (as `write_idx` writes it).

        Raises:
            ValueError: IDX cannot hold the array's dtype or number of dimensions.
        """
        type_code = _type_code_for(array)
        return cls(
            magic=(type_code << 8) | array.ndim,
            type_code=type_code,
            dtype=IDX_TYPES[type_code][0],
            shape=tuple(int(size) for size in array.shape),
        )

    @property
    def ndim(self) -> int:
        """Number of dimensions."""
        return len(self.shape)

    @property
    def count(self) -> int:
        """Number of records (the size of the first dimension)."""
        return self.shape[0]

    @property
    def type_name(self) -> str:
        """The element type in words, e.g. "unsigned byte"."""
        return IDX_TYPES[self.type_code][1]

    @property
    def header_bytes(self) -> int:
        """Length of the header in bytes."""
        return 4 + 4 * self.ndim

    @property
    def payload_bytes(self) -> int:
        """Length of the payload the header declares, in bytes."""
        return math.prod(self.shape) * self.dtype.itemsize


def _type_code_for(array: np.ndarray) -> int:
    if array.ndim == 0 or array.ndim > 255:
        raise ValueError(f"IDX holds arrays of 1 to 255 dimensions, not {array.ndim}.")
    type_code = _TYPE_CODE_FOR_DTYPE.get((array.dtype.kind, array.dtype.itemsize))
    if type_code is None:
        raise ValueError(
            f"IDX cannot hold {array.dtype} values; use uint8, int8, int16, int32, float32 "
            "or float64."
        )
    return type_code


def source_name(
    source: Source, name: str | None = None, fallback: str = "the uploaded file"
) -> str:
    """Return the file name to show in messages about `source`.

    Args:
        source: A path, bytes or a binary file (an upload has a ``name``).
        name: A name given by the caller, used when set.
        fallback: What to call a source that has no name (e.g. bytes).
    """
    if name:
        return name
    if isinstance(source, str | Path):
        return Path(source).name
    file_name = getattr(source, "name", None)
    if isinstance(file_name, str) and file_name:
        return Path(file_name).name
    return fallback


class _Reader:
    """A binary stream over a source, decompressed when it starts with the gzip magic."""

    def __init__(self, source: Source, name: str) -> None:
        self.name = name
        self._owned: BinaryIO | None = None
        if isinstance(source, bytes | bytearray | memoryview):
            raw: BinaryIO = io.BytesIO(bytes(source))
        elif isinstance(source, str | Path):
            raw = self._owned = open(source, "rb")  # noqa: SIM115 - closed in close()
        else:
            raw = source
            if not raw.seekable():
                raw = io.BytesIO(raw.read())
        start = raw.tell()
        self.compressed = raw.read(2) == GZIP_MAGIC
        raw.seek(start)
        self._gunzip = GunzipStream(raw) if self.compressed else None
        self._raw = raw

    def readinto(self, buffer: memoryview) -> int:
        """Fill `buffer` as far as the file allows; return the number of bytes read."""
        if self._gunzip is None:
            filled = 0
            while filled < len(buffer):
                # Every binary file object has readinto; typing.BinaryIO does not declare it.
                count = self._raw.readinto(buffer[filled:])  # type: ignore[attr-defined]
                if not count:
                    break
                filled += count
            return filled
        try:
            return self._gunzip.readinto(buffer)
        except zlib.error as error:
            raise IdxCompressionError(
                f"The file '{self.name}' looks like a gzip file but its compressed data is "
                f"corrupt ({error}). Download or copy it again."
            ) from error

    def read(self, size: int) -> bytes:
        """Read up to `size` bytes; fewer only at the end of the file."""
        buffer = bytearray(size)
        count = self.readinto(memoryview(buffer))
        if count < size and self._gunzip is not None and self._gunzip.cut_off:
            raise IdxTruncatedError(
                f"The file '{self.name}' is cut off: its gzip data ends before the end of the "
                "compressed stream. Download or copy it again."
            )
        return bytes(buffer[:count])

    def close(self) -> None:
        if self._owned is not None:
            self._owned.close()


def _parse_header(reader: _Reader) -> IdxHeader:
    name = reader.name
    magic_bytes = reader.read(4)
    if not magic_bytes:
        kind = "decompresses to nothing" if reader.compressed else "is empty"
        raise IdxEmptyError(f"The file '{name}' {kind}: an IDX file needs at least a header.")
    if len(magic_bytes) < 4 or magic_bytes[:2] != b"\x00\x00":
        raise IdxMagicError(
            f"The file '{name}' is not an IDX file: it should start with two zero bytes, a type "
            f"code and a dimension count, but it starts with 0x{magic_bytes.hex()}."
        )
    type_code, ndim = magic_bytes[2], magic_bytes[3]
    magic = int.from_bytes(magic_bytes, "big")
    if type_code not in IDX_TYPES:
        raise IdxMagicError(
            f"The file '{name}' is not an IDX file: its magic number 0x{magic:08x} has the "
            f"unknown type code 0x{type_code:02x} (IDX uses 0x08, 0x09, 0x0b, 0x0c, 0x0d, 0x0e)."
        )
    if ndim == 0:
        raise IdxMagicError(
            f"The file '{name}' is not a usable IDX file: its magic number 0x{magic:08x} "
            "declares zero dimensions."
        )
    size_bytes = reader.read(4 * ndim)
    if len(size_bytes) < 4 * ndim:
        raise IdxTruncatedError(
            f"The file '{name}' is cut off inside its header: it declares {ndim} dimensions "
            f"but holds only {len(size_bytes)} of the {4 * ndim} bytes that give their sizes."
        )
    shape = struct.unpack(f">{ndim}I", size_bytes)
    return IdxHeader(magic=magic, type_code=type_code, dtype=IDX_TYPES[type_code][0], shape=shape)


def _shape_text(shape: tuple[int, ...], max_sizes: int = 8) -> str:
    """The shape as "60000 x 28 x 28", cut after `max_sizes` sizes."""
    text = " x ".join(map(str, shape[:max_sizes]))
    return text + (" x …" if len(shape) > max_sizes else "")


def read_idx_header(source: Source, name: str | None = None) -> IdxHeader:
    """Read and check only the header of an IDX file.

    Args:
        source: A path, the file's bytes, or a binary file object (gzip or raw).
        name: The file name used in error messages; taken from the source when omitted.

    Returns:
        The parsed header. Any IDX type code is accepted here; `read_idx` refuses the
        ones it cannot load.

    Raises:
        IdxEmptyError: The file is empty.
        IdxMagicError: The file does not start with a valid IDX magic number.
        IdxTruncatedError: The header is incomplete.
        IdxCompressionError: The gzip data is corrupt.
    """
    reader = _Reader(source, source_name(source, name))
    try:
        return _parse_header(reader)
    finally:
        reader.close()


def read_idx(
    source: Source, name: str | None = None, max_bytes: int = DEFAULT_MAX_BYTES
) -> np.ndarray:
    """Read an IDX file of unsigned bytes into a numpy array, checking it thoroughly.

    The header is read first; the declared payload size is compared with `max_bytes`
    before the payload is allocated or decompressed, and at most one byte more than
    declared is ever read.

    Args:
        source: A path, the file's bytes, or a binary file object (gzip or raw, detected
            by content).
        name: The file name used in error messages; taken from the source when omitted.
        max_bytes: Largest payload, in bytes, to accept.

    Returns:
        A `uint8` array with the shape the header declares.

    Raises:
        IdxEmptyError: The file is empty.
        IdxMagicError: The file does not start with a valid IDX magic number.
        IdxUnsupportedTypeError: The values are not unsigned bytes.
        IdxTooLargeError: The declared payload is larger than `max_bytes`.
        IdxTruncatedError: The file ends before the declared payload does.
        IdxTrailingDataError: The file goes on after the declared payload.
        IdxShapeError: The declared shape cannot be an array (e.g. over 64 dimensions).
        IdxCompressionError: The gzip data is corrupt.
    """
    reader = _Reader(source, source_name(source, name))
    try:
        header = _parse_header(reader)
        name = reader.name
        if header.type_code not in SUPPORTED_TYPE_CODES:
            raise IdxUnsupportedTypeError(
                f"The file '{name}' holds {header.type_name} values (IDX type code "
                f"0x{header.type_code:02x}); only unsigned byte (0x08) files, like MNIST's, "
                "are supported."
            )
        declared = header.payload_bytes
        if declared > max_bytes:
            raise IdxTooLargeError(
                f"The file '{name}' declares a shape of {_shape_text(header.shape)}, "
                f"which is {declared:,} bytes; the limit is {max_bytes:,} bytes, so it was not "
                "loaded."
            )
        payload = np.empty(declared, dtype=np.uint8)
        received = reader.readinto(payload.data)
        if received < declared:
            raise IdxTruncatedError(
                f"The file '{name}' is cut off: its header declares "
                f"{_shape_text(header.shape)} values ({declared:,} bytes) but only "
                f"{received:,} bytes follow the header."
            )
        if reader.read(1):
            raise IdxTrailingDataError(
                f"The file '{name}' has extra bytes after the {declared:,} bytes its header "
                f"declares ({_shape_text(header.shape)}); it may be damaged or not "
                "the file you meant."
            )
        try:
            return payload.reshape(header.shape)
        except ValueError as error:
            # e.g. more than numpy's 64 dimensions, or (0, 2**32 - 1, 2**32 - 1).
            raise IdxShapeError(
                f"The file '{name}' declares a shape of {header.ndim} dimensions "
                f"({_shape_text(header.shape)}) that cannot be loaded as an array ({error})."
            ) from None
    finally:
        reader.close()


def idx_bytes(array: np.ndarray, compress: bool = False) -> bytes:
    """Return an array encoded as an IDX file (gzip-compressed if `compress`).

    Args:
        array: An array of at least one dimension whose dtype IDX can hold (uint8, int8,
            int16, int32, float32, float64).
        compress: Whether to gzip the result (level 9, mtime 0, so output is reproducible).

    Returns:
        The file's bytes.

    Raises:
        ValueError: The array has no dimensions, more than 255, or an unsupported dtype.
    """
    array = np.asarray(array)
    type_code = _type_code_for(array)
    header = bytes([0, 0, type_code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = np.ascontiguousarray(array, dtype=IDX_TYPES[type_code][0]).tobytes()
    content = header + payload
    return gzip.compress(content, compresslevel=9, mtime=0) if compress else content


def write_idx(
    destination: str | Path | BinaryIO, array: np.ndarray, compress: bool = False
) -> None:
    """Write an array as an IDX file.

    Args:
        destination: A path or a writable binary file object.
        array: The array to write (see `idx_bytes` for the dtypes IDX can hold).
        compress: Whether to gzip the file.

    Raises:
        ValueError: The array cannot be stored as IDX.
    """
    content = idx_bytes(array, compress=compress)
    if isinstance(destination, str | Path):
        Path(destination).write_bytes(content)
    else:
        destination.write(content)
