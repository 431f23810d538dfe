"""A trained model as the Draw page's browser runs it: a compact file of weights and layers.

The Draw page predicts in the visitor's browser while the pen moves (ui/draw_pad/). The
browser gets each model once, as one binary file:

- 4 bytes ``MNW1``, then the header's length in bytes (uint32, little-endian);
- the header: UTF-8 JSON (padded with spaces to a multiple of 4 bytes) listing the layers in
  order, each with its kind, shapes and where its weights start in the data that follows;
- the weights: float32, little-endian.

Only what a forward pass needs is kept: batch normalisation is folded into the convolution
or dense layer before it (or kept as a per-channel scale and shift where nothing is before
it), dropout is left out (it does nothing at prediction time), reshapes and flattens are
kept as markers (the page's arrays are channels-last, as Keras's). A model with a layer or
activation the page cannot run, or larger than `MAX_BROWSER_PARAMETERS`, raises
`BrowserModelError` with the reason, and the page predicts on the server instead.

Float16 weights would halve the download (810 KB to 405 KB for the shipped CNN); measured on
1,000 re-drawn test digits (bench/bench_browser_model.py) they change no top class but move
probabilities by up to 2.4e-3, far more than the 1e-4 the page promises against Keras, so the
file keeps float32.
"""

from __future__ import annotations

import hashlib
import json
import struct
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.data.datasets import IMAGE_SHAPE

MAGIC = b"MNW1"
# Above this many parameters (16 MB of float32) a model stays on the server: the download
# would cost a phone more than predicting on the server does.
MAX_BROWSER_PARAMETERS = 4_000_000
# The activations the page's forward pass computes (ui/draw_pad/mnist_net.js).
BROWSER_ACTIVATIONS = ("linear", "relu", "sigmoid", "tanh", "elu", "selu", "softmax")


class BrowserModelError(ValueError):
    """Raised when a model cannot run in the browser; the message says why."""


@dataclass(frozen=True)
class BrowserModel:
    """A model exported for the page's forward pass.

    Attributes:
        blob: The whole file (magic, header, float32 weights).
        digest: SHA-256 of `blob` in hex: the file's name, so a browser caches it by content.
        parameters: Number of float32 values in the file.
        layers: The header's layer list, for a caption or a test.
        bfloat16: Whether some layer computes in bfloat16 in Keras (the app trains CNNs so
            where the CPU has bfloat16 units): the page computes in float32, so its answers
            differ from the server's by a few tenths of a percent, not 1e-4.
    """

    blob: bytes
    digest: str
    parameters: int
    layers: tuple[dict[str, Any], ...]
    bfloat16: bool = False


def _activation_name(layer: Any) -> str:
    activation = getattr(layer, "activation", None)
    name = getattr(activation, "__name__", None) if activation is not None else "linear"
    if name not in BROWSER_ACTIVATIONS:
        raise BrowserModelError(f"the activation {name!r} of layer {layer.name!r}")
    return str(name)


def _pair(value: Any) -> list[int]:
    values = [int(v) for v in (value if isinstance(value, tuple | list) else (value, value))]
    if len(values) != 2:
        raise BrowserModelError(f"a 2-D window of {value!r}")
    return values


def export_browser_model(model: Any) -> BrowserModel:
    """Export a Keras model taking 28x28 pixels for the Draw page's forward pass.

    Args:
        model: A built Keras model (Sequential or functional, one input, a chain of layers).

    Returns:
        The exported file and its digest.

    Raises:
        BrowserModelError: If a layer, activation or shape is one the page cannot run, or the
            model has more than `MAX_BROWSER_PARAMETERS` parameters.
    """
    parameters = int(model.count_params())
    if parameters > MAX_BROWSER_PARAMETERS:
        raise BrowserModelError(
            f"{parameters:,} parameters, more than the {MAX_BROWSER_PARAMETERS:,} sent to a browser"
        )
    input_shape = tuple(model.inputs[0].shape[1:])
    if int(np.prod(input_shape)) != IMAGE_SHAPE[0] * IMAGE_SHAPE[1]:
        raise BrowserModelError(f"an input of shape {input_shape}, not 28x28 pixels")
    flat = len(input_shape) == 1
    shape: list[int] = [1, 1, int(input_shape[0])] if flat else [IMAGE_SHAPE[0], IMAGE_SHAPE[1], 1]
    specs: list[dict[str, Any]] = []
    arrays: list[np.ndarray] = []

    def add(array: np.ndarray) -> int:
        values = np.ascontiguousarray(array, dtype="<f4").ravel()
        if not np.all(np.isfinite(values)):
            raise BrowserModelError("weights that are not finite numbers")
        arrays.append(values)
        return len(arrays) - 1

    for layer in model.layers:
        kind = type(layer).__name__
        if kind == "InputLayer" or kind in ("Dropout", "SpatialDropout2D", "GaussianNoise"):
            continue
        if kind == "Rescaling":
            scale, offset = float(np.asarray(layer.scale)), float(np.asarray(layer.offset))
            specs.append({"kind": "scale", "scale": scale, "offset": offset})
        elif kind in ("Reshape", "Flatten"):
            target = [int(size) for size in layer.output.shape[1:]]
            if int(np.prod(target)) != int(np.prod(shape)):
                raise BrowserModelError(f"the reshape {layer.name!r}")
            shape = target if len(target) == 3 else [1, 1, int(np.prod(target))]
            specs.append({"kind": "reshape", "shape": shape})
        elif kind == "Dense":
            kernel, *rest = layer.get_weights()
            units, inputs = kernel.shape[1], kernel.shape[0]
            if shape[0] * shape[1] != 1 or shape[2] != inputs:
                # A Dense on a 2-D map applies per pixel; the app never builds one.
                raise BrowserModelError(f"the dense layer {layer.name!r} on a 2-D map")
            specs.append(
                {
                    "kind": "dense",
                    "inputs": int(inputs),
                    "units": int(units),
                    "activation": _activation_name(layer),
                    "_kernel": add(kernel),
                    "_bias": add(rest[0]) if rest else None,
                }
            )
            shape = [1, 1, int(units)]
        elif kind == "Conv2D":
            if _pair(layer.dilation_rate) != [1, 1] or getattr(layer, "groups", 1) != 1:
                raise BrowserModelError(f"the dilated or grouped convolution {layer.name!r}")
            if layer.data_format != "channels_last" or len(shape) != 3:
                raise BrowserModelError(f"the convolution {layer.name!r}'s data format")
            kernel, *rest = layer.get_weights()
            height, width, channels, filters = (int(size) for size in kernel.shape)
            out = [int(size) for size in layer.output.shape[1:]]
            specs.append(
                {
                    "kind": "conv2d",
                    "window": [height, width],
                    "strides": _pair(layer.strides),
                    "padding": str(layer.padding),
                    "channels": channels,
                    "filters": filters,
                    "input": shape,
                    "output": out,
                    "activation": _activation_name(layer),
                    "_kernel": add(kernel),
                    "_bias": add(rest[0]) if rest else None,
                }
            )
            shape = out
        elif kind == "BatchNormalization":
            gamma, beta, mean, variance = _norm_weights(layer)
            scale = (gamma / np.sqrt(variance + layer.epsilon)).astype(np.float64)
            shift = beta - mean * scale
            previous = specs[-1] if specs else None
            if (
                previous is not None
                and previous["kind"] in ("dense", "conv2d")
                and previous["activation"] == "linear"
                and "_kernel" in previous
            ):
                _fold(previous, arrays, scale, shift, add)
            else:
                specs.append(
                    {
                        "kind": "affine",
                        "channels": int(scale.size),
                        "_scale": add(scale),
                        "_shift": add(shift),
                    }
                )
        elif kind in ("Activation", "ReLU", "Softmax"):
            name = "relu" if kind == "ReLU" else "softmax" if kind == "Softmax" else None
            if kind == "ReLU" and (
                float(layer.negative_slope) != 0.0
                or layer.max_value is not None
                or float(layer.threshold) != 0.0
            ):
                raise BrowserModelError(f"the leaky or capped ReLU {layer.name!r}")
            specs.append({"kind": "activation", "activation": name or _activation_name(layer)})
        elif kind in ("MaxPooling2D", "AveragePooling2D"):
            out = [int(size) for size in layer.output.shape[1:]]
            specs.append(
                {
                    "kind": "maxpool" if kind == "MaxPooling2D" else "avgpool",
                    "window": _pair(layer.pool_size),
                    "strides": _pair(layer.strides),
                    "padding": str(layer.padding),
                    "input": shape,
                    "output": out,
                }
            )
            shape = out
        elif kind == "GlobalAveragePooling2D":
            specs.append({"kind": "globalavgpool", "input": shape})
            shape = [1, 1, shape[2]]
        else:
            raise BrowserModelError(f"the layer {layer.name!r} ({kind})")
    bfloat16 = any(
        str(getattr(getattr(layer, "dtype_policy", None), "compute_dtype", "")) == "bfloat16"
        for layer in model.layers
    )
    return _write(specs, arrays, shape, bfloat16)


def _norm_weights(layer: Any) -> tuple[np.ndarray, ...]:
    """A batch normalisation's gamma, beta, moving mean and variance (as float64)."""
    weights = {w.path.rsplit("/", 1)[-1]: np.asarray(w.numpy(), np.float64) for w in layer.weights}
    channels = weights["moving_mean"].size
    gamma = weights.get("gamma", np.ones(channels))
    beta = weights.get("beta", np.zeros(channels))
    return gamma, beta, weights["moving_mean"], weights["moving_variance"]


def _fold(previous: dict[str, Any], arrays: list[np.ndarray], scale, shift, add) -> None:
    """Fold a per-channel ``scale`` and ``shift`` into the dense or convolution before it."""
    kernel = arrays[previous["_kernel"]].astype(np.float64)
    arrays[previous["_kernel"]] = (kernel.reshape(-1, scale.size) * scale).ravel().astype("<f4")
    bias_index = previous["_bias"]
    bias = arrays[bias_index].astype(np.float64) if bias_index is not None else 0.0
    folded = (bias * scale + shift).astype("<f4")
    if bias_index is None:
        previous["_bias"] = add(folded)
    else:
        arrays[bias_index] = folded


def _write(
    specs: list[dict[str, Any]], arrays: list[np.ndarray], shape: list[int], bfloat16: bool
) -> BrowserModel:
    """Lay the arrays out one after another and point each layer at its weights."""
    if not specs or shape[:2] != [1, 1]:
        raise BrowserModelError("an output that is not one vector of class probabilities")
    offsets, total = [], 0
    for array in arrays:
        offsets.append(total)
        total += array.size
    layers = []
    for spec in specs:
        entry = {key: value for key, value in spec.items() if not key.startswith("_")}
        for key in ("_kernel", "_bias", "_scale", "_shift"):
            if spec.get(key) is not None:
                index = spec[key]
                entry[key[1:]] = {"offset": offsets[index], "size": int(arrays[index].size)}
        layers.append(entry)
    header = json.dumps(
        {"format": 1, "input": [IMAGE_SHAPE[0], IMAGE_SHAPE[1]], "classes": shape[2],
         "bfloat16": bfloat16, "layers": layers},
        separators=(",", ":"),
    ).encode()  # fmt: skip
    header += b" " * (-len(header) % 4)
    data = b"".join(np.ascontiguousarray(array, "<f4").tobytes() for array in arrays)
    blob = MAGIC + struct.pack("<I", len(header)) + header + data
    return BrowserModel(
        blob=blob,
        digest=hashlib.sha256(blob).hexdigest(),
        parameters=total,
        layers=tuple(layers),
        bfloat16=bfloat16,
    )
