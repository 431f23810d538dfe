"""What an uploaded Keras model costs, read from its `config.json` before Keras sees it.

The description must be a chain of layers the app knows, taking 28x28 images to class
probabilities; its parameters and operations per image are counted layer by layer and
capped (`core.settings.Limits`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from core import settings
from core.data.datasets import IMAGE_SHAPE
from core.nn.uploads import (
    LayerNotAllowedError,
    ModelConfigError,
    ModelShapeError,
    ModelTooCostlyError,
    shown_name,
)

MAX_LAYERS = 64
MAX_DIMENSION = 1 << 16
ALLOWED_ACTIVATIONS = frozenset(
    {"linear", "relu", "sigmoid", "tanh", "elu", "selu", "softmax", "softplus", "softsign",
     "gelu", "silu", "swish", "leaky_relu", "relu6", "hard_sigmoid", "exponential"}
)  # fmt: skip

Shape = tuple[int, ...]


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
            f"Layer {name!r} uses the activation {shown_name(activation)!r}; use one of "
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
            f"The file holds a {shown_name(kind)!r}; import a Sequential or functional Keras model."
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
    return shown_name(name or layer.get("class_name"))


def _counter(layer: dict) -> LayerCounter:
    """The counter of a layer's type; refuses types not in `LAYER_COUNTERS` and custom ones."""
    kind = layer.get("class_name")
    counter = LAYER_COUNTERS.get(kind) if isinstance(kind, str) else None
    builtin = layer.get("module") in (None, "keras.layers", "keras") and layer.get(
        "registered_name"
    ) in (None, kind)
    if counter is None or not builtin:
        raise LayerNotAllowedError(
            f"Layer {_layer_name(layer)!r} is a {shown_name(kind)}; MNIST Studio imports only "
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
