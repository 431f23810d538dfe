"""Loading an uploaded Keras model file safely, and sizing the batches it is evaluated in.

A model file is vetted before Keras sees it: the zip's listing must hold only the members
Keras 3 writes, each read under a size cap in memory (nothing else goes to disk); its
`config.json` must pass `core.nn.layer_costs`. Only then does Keras load it, in safe mode,
from a fresh archive of only the vetted members.
"""

from __future__ import annotations

import json
import math
import tempfile
import zipfile
from io import BytesIO
from pathlib import Path

from core import settings
from core.data.datasets import IMAGE_SHAPE
from core.nn.budget import ACTIVATION_COPIES, FLOAT_BYTES
from core.nn.evaluation import DEFAULT_BATCH_SIZE
from core.nn.layer_costs import check_model_cost, model_cost_from_config
from core.nn.uploads import (
    ArchiveTooLargeError,
    ModelConfigError,
    ModelShapeError,
    NotAKerasFileError,
    UnexpectedMemberError,
    UnsafeModelError,
    shown_name,
)

MAX_MODEL_BYTES = 100 * 1024 * 1024

# What `keras.saving.save_model` (Keras 3) writes into a `.keras` zip for the layers below:
# no `assets/` folder, since none of them has assets.
CONFIG_MEMBER = "config.json"
METADATA_MEMBER = "metadata.json"
WEIGHTS_MEMBER = "model.weights.h5"
KERAS_MEMBERS = (METADATA_MEMBER, CONFIG_MEMBER, WEIGHTS_MEMBER)
MAX_CONFIG_JSON_BYTES = 256 * 1024
MAX_METADATA_BYTES = 4 * 1024
# Keras stores members uncompressed; a deflated member over this size may expand at most
# this many times (float weights barely compress, a padded file compresses a thousandfold).
COMPRESSION_FLOOR_BYTES = 1024 * 1024
MAX_COMPRESSION_RATIO = 20
# An HDF5 weights file holds 4 bytes per float32 parameter plus its own bookkeeping.
WEIGHTS_BYTES_PER_PARAMETER = 4
WEIGHTS_FILE_OVERHEAD_BYTES = 1024 * 1024
# Evaluating a model holds a batch of its largest activation a few times over (the layer's
# input, its output and working copies: `core.nn.budget.ACTIVATION_COPIES`, as measured for
# training); this much memory is what one evaluation may take.
EVALUATION_MEMORY_BYTES = 256 * 1024 * 1024


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, cap: int, name: str) -> bytes:
    """Read one member into memory, never more than `cap` bytes whatever its header says."""
    if info.file_size > cap:
        raise ArchiveTooLargeError(
            f"{info.filename} in {name} unpacks to {info.file_size:,} bytes; at most "
            f"{cap:,} are allowed."
        )
    try:
        with archive.open(info) as member:
            data = member.read(cap + 1)
    except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError, EOFError) as error:
        raise NotAKerasFileError(f"{name} is a damaged zip archive ({error}).") from None
    if len(data) > cap:
        raise ArchiveTooLargeError(f"{info.filename} in {name} unpacks to more than {cap:,} bytes.")
    return data


def vetted_members(data: bytes, name: str = "the file") -> dict[str, bytes]:
    """Read a `.keras` archive's members into memory after checking its listing.

    Only the three members Keras 3 writes are accepted, each once; `config.json` and
    `metadata.json` have small caps, all members together at most the upload cap, and a
    compressed member may not expand more than `MAX_COMPRESSION_RATIO` times.

    Args:
        data: The uploaded file.
        name: The file's name, for messages.

    Returns:
        Member name -> contents.

    Raises:
        NotAKerasFileError: If it is too large or not a zip archive.
        UnexpectedMemberError: If members are missing, repeated or not Keras's own.
        ArchiveTooLargeError: If a member or the whole would unpack past the caps.
    """
    name = shown_name(name, 80)
    if len(data) > MAX_MODEL_BYTES:
        raise NotAKerasFileError(f"{name} is larger than {MAX_MODEL_BYTES // 2**20} MB.")
    try:
        archive = zipfile.ZipFile(BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        raise NotAKerasFileError(
            f"{name} is not a Keras model file (.keras, a zip archive)."
        ) from None
    names = [info.filename for info in infos]
    unexpected = sorted(set(names) - set(KERAS_MEMBERS))
    if unexpected or len(names) != len(set(names)):
        shown = (
            ", ".join(repr(shown_name(item, 60)) for item in unexpected[:3]) or "repeated members"
        )
        raise UnexpectedMemberError(
            f"{name} holds {shown}; a Keras model file holds only "
            f"{', '.join(KERAS_MEMBERS)}. Save the model with model.save('name.keras')."
        )
    missing = [member for member in KERAS_MEMBERS if member not in names]
    if missing:
        raise UnexpectedMemberError(
            f"{name} has no {', '.join(missing)}; save the model with model.save('name.keras')."
        )
    total = sum(info.file_size for info in infos)
    if total > MAX_MODEL_BYTES:
        raise ArchiveTooLargeError(
            f"{name} unpacks to {total:,} bytes; a model file may hold at most {MAX_MODEL_BYTES:,}."
        )
    for info in infos:
        if (
            info.file_size > COMPRESSION_FLOOR_BYTES
            and info.file_size > MAX_COMPRESSION_RATIO * max(info.compress_size, 1)
        ):
            ratio = info.file_size // max(info.compress_size, 1)
            raise ArchiveTooLargeError(
                f"{info.filename} in {name} expands {ratio:,} times; at most "
                f"{MAX_COMPRESSION_RATIO} is allowed. Save the model with model.save('name.keras')."
            )
    caps = {
        CONFIG_MEMBER: MAX_CONFIG_JSON_BYTES,
        METADATA_MEMBER: MAX_METADATA_BYTES,
        WEIGHTS_MEMBER: MAX_MODEL_BYTES,
    }
    return {info.filename: _read_member(archive, info, caps[info.filename], name) for info in infos}


def _parse_config(raw: bytes, name: str) -> dict:
    try:
        payload = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise ModelConfigError(f"config.json in {name} is not readable JSON ({error}).") from None
    if not isinstance(payload, dict):
        raise ModelConfigError(f"config.json in {name} must hold an object describing the model.")
    return payload


def _repacked(members: dict[str, bytes]) -> BytesIO:
    """A fresh in-memory zip of the vetted members, stored as Keras writes them."""
    buffer = BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for member in KERAS_MEMBERS:
            archive.writestr(member, members[member])
    buffer.seek(0)
    return buffer


def model_from_keras_file(
    data: bytes,
    name: str = "the file",
    num_classes: int = 10,
    limits: settings.Limits | None = None,
):
    """Load an uploaded `.keras` model safely and check that it fits the app.

    The archive's listing, sizes and `config.json` are checked first (`vetted_members`,
    `model_cost_from_config`, `check_model_cost`); Keras then loads the vetted members from
    memory in safe mode. Only the vetted members, at most the upload cap, are written to
    a temporary folder for Keras.

    Args:
        data: The file's contents.
        name: The file's name, for messages.
        num_classes: How many classes the model must output.
        limits: The caps in force (default: `core.settings.limits()`).

    Returns:
        The Keras model.

    Raises:
        ModelImportError: A subclass naming why the file is refused (see the classes above).
    """
    limits = limits or settings.limits()
    name = shown_name(name, 80)
    members = vetted_members(data, name)
    weights_size = len(members[WEIGHTS_MEMBER])
    cost = model_cost_from_config(_parse_config(members[CONFIG_MEMBER], name))
    check_model_cost(cost, limits, num_classes)
    expected = cost.parameters * WEIGHTS_BYTES_PER_PARAMETER + WEIGHTS_FILE_OVERHEAD_BYTES
    if weights_size > expected:
        raise ArchiveTooLargeError(
            f"The weights in {name} take {weights_size:,} bytes, more than its "
            f"{cost.parameters:,} parameters need; save the model again with model.save."
        )
    # Keras (with TensorFlow) takes seconds to import: only code that needs it pays for it.
    import keras

    # Keras's public loader takes a path: only the vetted three members go to disk, so it
    # never extracts anything else, whatever the Keras version.
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "vetted.keras"
        path.write_bytes(_repacked(members).getvalue())
        try:
            model = keras.saving.load_model(path, safe_mode=True, compile=False)
        except Exception as error:  # noqa: BLE001 - Keras raises many kinds for bad files.
            raise UnsafeModelError(
                f"{name} could not be loaded safely: "
                f"{shown_name((str(error).splitlines() or [''])[0], 300)}"
            ) from None
    input_shape = tuple(model.input_shape[1:]) if hasattr(model, "input_shape") else ()
    output_shape = tuple(model.output_shape[1:]) if hasattr(model, "output_shape") else ()
    if input_shape != IMAGE_SHAPE or output_shape != (num_classes,):
        raise ModelShapeError(
            f"{name} takes {input_shape} and gives {output_shape}; MNIST Studio models take "
            f"28x28 images and give {num_classes} class probabilities."
        )
    return model


def evaluation_batch_size(model, default: int = DEFAULT_BATCH_SIZE) -> int:
    """Pick how many images to evaluate at once so one batch stays within a memory budget.

    Args:
        model: A built Keras model.
        default: The batch size for small models (`core.nn.evaluation.DEFAULT_BATCH_SIZE`).

    Returns:
        A batch size from 1 to `default`: smaller for models with large activations.
    """
    largest = math.prod(IMAGE_SHAPE)
    for layer in getattr(model, "layers", ()):
        try:
            sizes = [int(size) for size in layer.output.shape[1:]]
        except (AttributeError, TypeError, ValueError):
            continue
        largest = max(largest, math.prod(sizes))
    per_image = largest * FLOAT_BYTES * ACTIVATION_COPIES
    return max(1, min(default, int(EVALUATION_MEMORY_BYTES // per_image)))
