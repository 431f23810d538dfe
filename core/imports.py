"""Reading what a person uploads on the Compare page: configuration JSON and Keras models.

Nothing from outside is trusted: a configuration must be a small JSON object whose fields
pass `TrainingConfig`'s checks, and a model is loaded only with Keras's safe mode (no
arbitrary code, e.g. no `Lambda` layers) and must take 28x28 images and output class
probabilities.
"""

from __future__ import annotations

import json
import tempfile
import zipfile
from io import BytesIO
from pathlib import Path
from typing import Any

from core.config import TrainingConfig

MAX_CONFIG_BYTES = 64 * 1024
MAX_MODEL_BYTES = 100 * 1024 * 1024


class UploadError(ValueError):
    """An uploaded file cannot be used; the message says why."""


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


def model_from_keras_file(data: bytes, name: str = "the file", num_classes: int = 10):
    """Load an uploaded `.keras` model safely and check that it fits the app.

    Args:
        data: The file's contents.
        name: The file's name, for messages.
        num_classes: How many classes the model must output.

    Returns:
        The Keras model.

    Raises:
        UploadError: If the file is not a `.keras` archive, needs unsafe deserialisation,
            or does not take 28x28 images and give `num_classes` probabilities.
    """
    if len(data) > MAX_MODEL_BYTES:
        raise UploadError(f"{name} is larger than {MAX_MODEL_BYTES // 2**20} MB.")
    if not zipfile.is_zipfile(BytesIO(data)):
        raise UploadError(f"{name} is not a Keras model file (.keras, a zip archive).")
    import keras

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "uploaded.keras"
        path.write_bytes(data)
        try:
            model = keras.saving.load_model(path, safe_mode=True, compile=False)
        except Exception as error:  # noqa: BLE001 - Keras raises many kinds for bad files.
            raise UploadError(
                f"{name} could not be loaded safely: {str(error).splitlines()[0][:300]}"
            ) from None
    input_shape = tuple(model.input_shape[1:]) if hasattr(model, "input_shape") else ()
    output_shape = tuple(model.output_shape[1:]) if hasattr(model, "output_shape") else ()
    if input_shape != (28, 28):
        raise UploadError(
            f"{name} takes inputs of shape {input_shape}; MNIST Studio models take 28x28 "
            "images of raw 0-255 pixels."
        )
    if output_shape != (num_classes,):
        raise UploadError(
            f"{name} gives outputs of shape {output_shape}; {num_classes} class "
            "probabilities are needed."
        )
    return model
