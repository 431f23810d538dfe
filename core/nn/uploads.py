"""Reading what a person uploads on the Compare page: configuration JSON and Keras models.

Nothing from outside is trusted: a configuration must be a small JSON object whose fields
pass `TrainingConfig`'s checks. A model file is vetted before Keras sees it: the zip's
listing must hold only the members Keras 3 writes, each read under a size cap in memory
(nothing else goes to disk); its `config.json` must describe a chain of layers the app knows,
taking 28x28 images to class probabilities, whose parameters and operations per image are
counted layer by layer and capped (`core.settings.Limits`). Only then does Keras load it,
in safe mode, from a fresh archive of only the vetted members. Each refusal is a `ModelImportError`
subclass whose message says what to change.
"""

from __future__ import annotations

import json
import math
import re
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any

from core import settings
from core.nn.config import TrainingConfig
from core.nn.evaluation import DEFAULT_BATCH_SIZE

MAX_CONFIG_BYTES = 64 * 1024
MAX_MODEL_BYTES = 100 * 1024 * 1024


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


# --- Keras model files ------------------------------------------------------------------------

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
MAX_LAYERS = 64
MAX_DIMENSION = 1 << 16
IMAGE_SHAPE = (28, 28)
# Evaluating a model holds a batch of its largest activation a few times over (the layer's
# input, its output and a working copy); this much memory is what one evaluation may take.
EVALUATION_MEMORY_BYTES = 256 * 1024 * 1024
ACTIVATION_COPIES = 3
FLOAT_BYTES = 4
ALLOWED_ACTIVATIONS = frozenset(
    {"linear", "relu", "sigmoid", "tanh", "elu", "selu", "softmax", "softplus", "softsign",
     "gelu", "silu", "swish", "leaky_relu", "relu6", "hard_sigmoid", "exponential"}
)  # fmt: skip

Shape = tuple[int, ...]
# Names from the file (layers, members, the file's own) are shown with these characters only,
# so no markup or link from a file reaches the page.
UNSHOWN_CHARACTERS = re.compile(r"[^A-Za-z0-9_./ -]")


def _shown(text: Any, limit: int = 40) -> str:
    """Return `text` cut to `limit` characters, anything but letters, digits and _./- as ?."""
    return UNSHOWN_CHARACTERS.sub("?", str(text)[:limit])


@dataclass(frozen=True)
class LayerCost:
    """What one layer does to one image.

    Attributes:
        name: The layer's name.
        kind: Its Keras class name, e.g. ``"Conv2D"``.
        output_shape: The shape of its output for one image (no batch axis).
        parameters: Its weights (trainable or not).
        flops: Floating-point operations of its forward pass on one image.
    """

    name: str
    kind: str
    output_shape: Shape
    parameters: int
    flops: float


@dataclass(frozen=True)
class ModelCost:
    """What a model costs per image, counted from its layers.

    Attributes:
        input_shape: The shape of one input image.
        layers: One `LayerCost` per layer after the input, in the order the data flows.
    """

    input_shape: Shape
    layers: tuple[LayerCost, ...]

    @property
    def output_shape(self) -> Shape:
        """The shape of the model's output for one image."""
        return self.layers[-1].output_shape if self.layers else self.input_shape

    @property
    def parameters(self) -> int:
        """All weights of the model."""
        return sum(layer.parameters for layer in self.layers)

    @property
    def flops(self) -> float:
        """Operations of one forward pass on one image."""
        return sum(layer.flops for layer in self.layers)

    @property
    def largest_activation(self) -> int:
        """Numbers in the largest tensor one image produces (the input included)."""
        sizes = [math.prod(layer.output_shape) for layer in self.layers]
        return max([math.prod(self.input_shape), *sizes])


def _number(config: dict, key: str, name: str, default: Any = None) -> int:
    value = config.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_DIMENSION:
        raise ModelConfigError(
            f"Layer {name!r} has {key} = {str(value)[:40]}; a whole number from 1 to "
            f"{MAX_DIMENSION:,} is needed."
        )
    return value


def _pair(config: dict, key: str, name: str, default: Any = None) -> tuple[int, int]:
    value = config.get(key, default)
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value, value)
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise ModelConfigError(f"Layer {name!r} has {key} = {str(value)[:40]}; two numbers needed.")
    return _number({key: value[0]}, key, name), _number({key: value[1]}, key, name)


def _activation(config: dict, name: str) -> None:
    activation = config.get("activation", "linear")
    if activation is None:
        return
    if not isinstance(activation, str) or activation not in ALLOWED_ACTIVATIONS:
        raise LayerNotAllowedError(
            f"Layer {name!r} uses the activation {_shown(activation)!r}; use one of "
            f"{', '.join(sorted(ALLOWED_ACTIVATIONS))}."
        )


def _channels_last(config: dict, name: str, shape: Shape, rank: int) -> None:
    if config.get("data_format", "channels_last") != "channels_last":
        raise LayerNotAllowedError(
            f"Layer {name!r} puts channels first; MNIST Studio runs channels-last models."
        )
    if len(shape) != rank:
        raise ModelShapeError(
            f"Layer {name!r} needs inputs with {rank} axes (height, width, channels); it gets "
            f"{shape}. Add a Reshape to (28, 28, 1) before it."
        )


def _window_side(size: int, window: int, stride: int, padding: str, name: str) -> int:
    if padding == "same":
        return math.ceil(size / stride)
    if padding != "valid":
        raise LayerNotAllowedError(f"Layer {name!r} uses padding {padding!r}; use valid or same.")
    side = (size - window) // stride + 1
    if side < 1:
        raise ModelShapeError(f"Layer {name!r} shrinks its {size}-wide input to nothing.")
    return side


def _dense_cost(config: dict, name: str, shape: Shape) -> tuple[Shape, int, float]:
    _activation(config, name)
    units = _number(config, "units", name)
    inputs = shape[-1]
    bias = units if config.get("use_bias", True) else 0
    return (*shape[:-1], units), inputs * units + bias, 2.0 * inputs * units * math.prod(shape[:-1])


def _conv2d_cost(config: dict, name: str, shape: Shape) -> tuple[Shape, int, float]:
    _channels_last(config, name, shape, 3)
    _activation(config, name)
    filters = _number(config, "filters", name)
    kernel = _pair(config, "kernel_size", name)
    strides = _pair(config, "strides", name, (1, 1))
    dilation = _pair(config, "dilation_rate", name, (1, 1))
    groups = _number(config, "groups", name, 1)
    height, width, channels = shape
    if channels % groups or filters % groups:
        raise ModelConfigError(f"Layer {name!r} splits {channels} channels into {groups} groups.")
    padding = config.get("padding", "valid")
    sides = [
        _window_side(size, (k - 1) * d + 1, s, padding, name)
        for size, k, s, d in zip((height, width), kernel, strides, dilation, strict=True)
    ]
    weights = kernel[0] * kernel[1] * (channels // groups) * filters
    bias = filters if config.get("use_bias", True) else 0
    return (*sides, filters), weights + bias, 2.0 * sides[0] * sides[1] * weights


def _pooling_cost(config: dict, name: str, shape: Shape) -> tuple[Shape, int, float]:
    _channels_last(config, name, shape, 3)
    pool = _pair(config, "pool_size", name, (2, 2))
    strides = _pair(config, "strides", name, pool) if config.get("strides") else pool
    padding = config.get("padding", "valid")
    sides = [
        _window_side(size, window, stride, padding, name)
        for size, window, stride in zip(shape[:2], pool, strides, strict=True)
    ]
    return (*sides, shape[2]), 0, float(sides[0] * sides[1] * shape[2] * pool[0] * pool[1])


def _global_pooling_cost(config: dict, name: str, shape: Shape) -> tuple[Shape, int, float]:
    _channels_last(config, name, shape, 3)
    if config.get("keepdims"):
        raise LayerNotAllowedError(f"Layer {name!r} keeps its dimensions; use keepdims=False.")
    return (shape[2],), 0, float(math.prod(shape))


def _flatten_cost(config: dict, name: str, shape: Shape) -> tuple[Shape, int, float]:
    return (math.prod(shape),), 0, 0.0


def _reshape_cost(config: dict, name: str, shape: Shape) -> tuple[Shape, int, float]:
    target = config.get("target_shape")
    if not isinstance(target, list | tuple) or not 1 <= len(target) <= 3:
        raise ModelConfigError(f"Layer {name!r} has no usable target_shape.")
    known = [_number({"target_shape": size}, "target_shape", name) for size in target if size != -1]
    size = math.prod(shape)
    if len(known) == len(target) - 1 and known and size % math.prod(known) == 0:
        target = [size // math.prod(known) if item == -1 else item for item in target]
    elif len(known) != len(target) or math.prod(known) != size:
        raise ModelShapeError(f"Layer {name!r} cannot reshape {shape} into {tuple(target)}.")
    return tuple(target), 0, 0.0


def _elementwise(flops_per_number: float, *, check_activation: bool = False):
    def cost(config: dict, name: str, shape: Shape) -> tuple[Shape, int, float]:
        if check_activation:
            _activation(config, name)
        return shape, 0, flops_per_number * math.prod(shape)

    return cost


def _batch_normalization_cost(config: dict, name: str, shape: Shape) -> tuple[Shape, int, float]:
    if config.get("axis", -1) not in (-1, len(shape), [-1], [len(shape)]):
        raise LayerNotAllowedError(f"Layer {name!r} normalises another axis than the last.")
    return shape, 4 * shape[-1], 2.0 * math.prod(shape)


LayerCounter = Callable[[dict, str, Shape], tuple[Shape, int, float]]

# The layer types an imported model may use, each with its counter: `counter(config, name,
# input shape)` returns (output shape, parameters, forward operations) for one image.
LAYER_COUNTERS: dict[str, LayerCounter] = {
    "Dense": _dense_cost,
    "Conv2D": _conv2d_cost,
    "MaxPooling2D": _pooling_cost,
    "AveragePooling2D": _pooling_cost,
    "GlobalAveragePooling2D": _global_pooling_cost,
    "GlobalMaxPooling2D": _global_pooling_cost,
    "Flatten": _flatten_cost,
    "Reshape": _reshape_cost,
    "Rescaling": _elementwise(2.0),
    "Dropout": _elementwise(0.0),
    "Activation": _elementwise(1.0, check_activation=True),
    "ReLU": _elementwise(1.0),
    "Softmax": _elementwise(3.0),
    "BatchNormalization": _batch_normalization_cost,
}
INPUT_LAYERS = frozenset({"InputLayer"})


def _input_shape(layer: dict, name: str) -> Shape:
    config = layer.get("config") or {}
    shape = config.get("batch_shape") or config.get("batch_input_shape")
    if not isinstance(shape, list | tuple) or len(shape) < 2:
        raise ModelConfigError(f"The input layer {name!r} has no shape.")
    sizes = list(shape[1:])
    if any(isinstance(size, bool) or not isinstance(size, int) for size in sizes):
        raise ModelShapeError(
            f"The model takes inputs of shape {tuple(sizes)}; MNIST Studio models take 28x28 "
            "images of raw 0-255 pixels."
        )
    return tuple(sizes)


def _chain(model_config: dict) -> tuple[Shape, list[dict]]:
    """Return the input shape and the layers after it, checking they form one chain."""
    kind = model_config.get("class_name")
    body = model_config.get("config")
    if kind not in ("Sequential", "Functional", "Model") or not isinstance(body, dict):
        raise LayerNotAllowedError(
            f"The file holds a {_shown(kind)!r}; import a Sequential or functional Keras model."
        )
    layers = body.get("layers")
    if not isinstance(layers, list) or not layers:
        raise ModelConfigError("The model's config.json lists no layers.")
    if len(layers) > MAX_LAYERS:
        raise ModelTooCostlyError(
            f"The model has {len(layers)} layers; at most {MAX_LAYERS} are allowed."
        )
    if not all(isinstance(layer, dict) for layer in layers):
        raise ModelConfigError("Every layer in config.json must be an object.")
    first = layers[0]
    if first.get("class_name") in INPUT_LAYERS:
        input_shape, rest = _input_shape(first, str(first.get("name"))), layers[1:]
    elif kind == "Sequential" and isinstance(body.get("build_input_shape"), list):
        input_shape = _input_shape({"config": {"batch_shape": body["build_input_shape"]}}, "input")
        rest = layers
    else:
        raise ModelConfigError("The model does not say what shape of input it takes.")
    for layer in rest:
        _counter(layer)
    if kind != "Sequential":
        _check_functional_chain(body, layers)
    return input_shape, rest


def _layer_name(layer: dict) -> str:
    config = layer.get("config")
    name = (config if isinstance(config, dict) else {}).get("name") or layer.get("name")
    return _shown(name or layer.get("class_name"))


def _counter(layer: dict) -> LayerCounter:
    """The counter of a layer's type; refuses types not in `LAYER_COUNTERS` and custom ones."""
    kind = layer.get("class_name")
    counter = LAYER_COUNTERS.get(kind) if isinstance(kind, str) else None
    builtin = layer.get("module") in (None, "keras.layers", "keras") and layer.get(
        "registered_name"
    ) in (None, kind)
    if counter is None or not builtin:
        raise LayerNotAllowedError(
            f"Layer {_layer_name(layer)!r} is a {_shown(kind)}; MNIST Studio imports only "
            f"{', '.join(sorted(LAYER_COUNTERS))} layers."
        )
    if not isinstance(layer.get("config"), dict):
        raise ModelConfigError(f"Layer {_layer_name(layer)!r} has no settings.")
    return counter


def _check_functional_chain(body: dict, layers: list[dict]) -> None:
    """Refuse a functional model unless each layer takes the previous one's output."""
    for previous, layer in zip(layers, layers[1:], strict=False):
        nodes: Any = layer.get("inbound_nodes")
        try:
            (node,) = nodes
            (argument,) = node["args"]
            source = argument["config"]["keras_history"][0]
        except (TypeError, ValueError, KeyError, IndexError):
            source = None
        if source != previous.get("name"):
            raise LayerNotAllowedError(
                f"Layer {_layer_name(layer)!r} does not simply follow the layer "
                "before it; MNIST Studio imports models that are one chain of layers."
            )
    outputs = body.get("output_layers")
    last = layers[-1].get("name")
    if outputs not in ([[last, 0, 0]], [last, 0, 0]):
        raise LayerNotAllowedError("The model's output must be its last layer.")


def model_cost_from_config(model_config: dict) -> ModelCost:
    """Count a saved model's parameters and operations per image from its `config.json`.

    Nothing is built: the shapes are worked out layer by layer, so a model that would take
    gigabytes is refused before any memory is spent on it.

    Args:
        model_config: The parsed `config.json` of a `.keras` file (``class_name``
            ``"Sequential"`` or ``"Functional"``, with its ``config.layers``).

    Returns:
        The `ModelCost`.

    Raises:
        LayerNotAllowedError: If a layer, activation or connection is not one the app runs.
        ModelConfigError: If a layer's settings are missing or malformed.
        ModelShapeError: If the shapes do not fit together.
        ModelTooCostlyError: If it has more than `MAX_LAYERS` layers.
    """
    if not isinstance(model_config, dict):
        raise ModelConfigError("config.json must hold an object describing the model.")
    input_shape, layers = _chain(model_config)
    shape = input_shape
    costs = []
    for layer in layers:
        name, kind = _layer_name(layer), layer["class_name"]
        shape, parameters, flops = _counter(layer)(layer["config"], name, shape)
        costs.append(LayerCost(name, kind, tuple(shape), parameters, flops))
    return ModelCost(input_shape=input_shape, layers=tuple(costs))


def check_model_cost(cost: ModelCost, limits: settings.Limits, num_classes: int = 10) -> None:
    """Refuse a model that does not fit the app or costs more than `limits` allow.

    Args:
        cost: What `model_cost_from_config` counted.
        limits: The caps in force (`core.settings.limits()`).
        num_classes: How many class probabilities the model must give.

    Raises:
        ModelShapeError: If it does not take 28x28 images or give `num_classes` outputs.
        ModelTooCostlyError: If its parameters or operations per image are over the caps.
    """
    if cost.input_shape != IMAGE_SHAPE:
        raise ModelShapeError(
            f"The model takes inputs of shape {cost.input_shape}; MNIST Studio models take "
            "28x28 images of raw 0-255 pixels."
        )
    if cost.output_shape != (num_classes,):
        raise ModelShapeError(
            f"The model gives outputs of shape {cost.output_shape}; {num_classes} class "
            "probabilities are needed."
        )
    if cost.parameters > limits.max_import_parameters:
        raise ModelTooCostlyError(
            f"The model has {cost.parameters:,} parameters; at most "
            f"{limits.max_import_parameters:,} are allowed here. Import a smaller model."
        )
    if cost.flops > limits.max_import_flops:
        raise ModelTooCostlyError(
            f"The model needs {cost.flops / 1e6:,.0f} million operations per image; at most "
            f"{limits.max_import_flops / 1e6:,.0f} million are allowed here. Use fewer "
            "filters or smaller layers."
        )


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
    name = _shown(name, 80)
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
        shown = ", ".join(repr(_shown(item, 60)) for item in unexpected[:3]) or "repeated members"
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
    name = _shown(name, 80)
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
                f"{_shown((str(error).splitlines() or [''])[0], 300)}"
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
    return max(1, min(default, EVALUATION_MEMORY_BYTES // per_image))
