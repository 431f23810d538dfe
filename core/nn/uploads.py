"""Reading what a person uploads on the Compare page: configuration JSON, and every refusal.

Nothing from outside is trusted: a configuration must be a small JSON object whose fields
pass `TrainingConfig`'s checks (`config_from_json`). Uploaded Keras models are vetted by
`core.nn.layer_costs` (what their layers cost) and `core.nn.model_files` (the archive); each
refusal is an `UploadError`, for a model a `ModelImportError` subclass, whose message says
what to change.
"""

from __future__ import annotations

import json
import re
from typing import Any

from core.nn.config import TrainingConfig

MAX_CONFIG_BYTES = 64 * 1024
# Names from a model file (layers, members, the file's own) are shown with these characters
# only, so no markup or link from a file reaches the page.
UNSHOWN_CHARACTERS = re.compile(r"[^A-Za-z0-9_./ -]")


class UploadError(ValueError):
    """An uploaded file cannot be used; the message says why."""


class ModelImportError(UploadError):
    """An uploaded Keras model is refused; the message says why and what to change."""


class NotAKerasFileError(ModelImportError):
    """The file is not a `.keras` zip archive, or is larger than an upload may be."""


class UnexpectedMemberError(ModelImportError):
    """The archive holds files a Keras 3 model file does not have."""


class ArchiveTooLargeError(ModelImportError):
    """A member, or all of them, would unpack to more than the caps allow."""


class ModelConfigError(ModelImportError):
    """`config.json` is not a readable description of a chain of layers."""


class LayerNotAllowedError(ModelImportError):
    """The model uses a layer type or setting the app does not run for visitors."""


class ModelShapeError(ModelImportError):
    """The model does not take 28x28 images or does not give one probability per class."""


class ModelTooCostlyError(ModelImportError):
    """The model has more parameters or operations per image than allowed."""


class UnsafeModelError(ModelImportError):
    """Keras (in safe mode) refused or failed to load the vetted file."""


def config_from_json(data: bytes | str, name: str = "the file") -> TrainingConfig:
    """Read a training configuration exported by MNIST Studio.

    Args:
        data: The file's contents.
        name: The file's name, for messages.

    Returns:
        The validated configuration.

    Raises:
        UploadError: If the file is too large, not JSON, not an object, or out of range.
    """
    if len(data) > MAX_CONFIG_BYTES:
        raise UploadError(
            f"{name} is {len(data):,} bytes; a configuration file is at most "
            f"{MAX_CONFIG_BYTES:,} bytes."
        )
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        payload = json.loads(text)
    except (ValueError, RecursionError) as error:  # ValueError: also 4,300+ digit integers
        raise UploadError(f"{name} is not a JSON file ({error}).") from None
    if not isinstance(payload, dict):
        raise UploadError(f"{name} must hold a JSON object of settings, not a list or a value.")
    # An exported run wraps its configuration; a bare configuration is accepted too.
    settings: Any = payload.get("config", payload)
    if not isinstance(settings, dict):
        raise UploadError(f"The 'config' entry of {name} must be an object of settings.")
    try:
        return TrainingConfig.from_dict(settings)
    except (TypeError, ValueError) as error:
        raise UploadError(f"{name} does not hold a usable configuration: {error}") from None


def shown_name(text: Any, limit: int = 40) -> str:
    """Return `text` cut to `limit` characters, anything but letters, digits and _./- as ?."""
    return UNSHOWN_CHARACTERS.sub("?", str(text)[:limit])
