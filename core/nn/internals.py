"""Inside a trained model: its first layer's weights as images, its layers' activations.

What the Evaluate page draws under "inside the network", read from any Keras model that
takes ``(28, 28)`` raw pixels (trained here or uploaded).
"""

from __future__ import annotations

import math
import weakref

import numpy as np

from core.data.datasets import IMAGE_SHAPE


def first_layer_weights(model) -> np.ndarray:
    """Return the first learned layer's weights as one small image per unit.

    For a dense network each neuron of the first hidden layer has one weight per pixel, so
    its weights form a 28x28 image: positive where ink excites the neuron, negative where
    ink inhibits it. For a convolutional network the first layer's filters are returned
    instead, one ``(height, width)`` kernel per filter.

    Args:
        model: A Keras model whose first learned layer is a Dense layer reading the 784
            pixels or a Conv2D layer reading the one-channel image.

    Returns:
        float32 ``(units, 28, 28)`` for a dense network, ``(filters, kh, kw)`` for a CNN.

    Raises:
        ValueError: If the first learned layer is neither of those.
    """
    for layer in _flat_layers(model):
        weights = layer.get_weights()
        if not weights:
            continue
        kernel = np.asarray(weights[0], dtype=np.float32)
        if kernel.ndim == 2 and kernel.shape[0] == math.prod(IMAGE_SHAPE):
            return np.ascontiguousarray(kernel.T.reshape(-1, *IMAGE_SHAPE))
        if kernel.ndim == 4 and kernel.shape[2] == 1:
            return np.ascontiguousarray(np.transpose(kernel[:, :, 0, :], (2, 0, 1)))
        raise ValueError(
            f"The first learned layer ({layer.name}, weights of shape {kernel.shape}) does "
            "not read the 28x28 image directly, so its weights cannot be shown as images."
        )
    raise ValueError("This model has no learned weights to show.")


def _flat_layers(model) -> list:
    """Return the model's layers in order, looking inside nested models."""
    layers = []
    for layer in model.layers:
        if hasattr(layer, "layers") and layer.layers:
            layers.extend(_flat_layers(layer))
        else:
            layers.append(layer)
    return layers


# Layer types whose outputs are worth showing; Rescaling, Flatten, Dropout and pooling only
# reshape or copy what the layer before them computed.
ACTIVATION_LAYER_TYPES = ("Dense", "Conv2D")
_activation_models: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _activation_model(model):
    """Return (and remember) a Keras model mapping the input to every shown layer's output."""
    cached = _activation_models.get(model)
    if cached is not None:
        return cached
    # Keras (with TensorFlow) takes seconds to import: only code that needs it pays for it.
    import keras

    layers = [layer for layer in model.layers if type(layer).__name__ in ACTIVATION_LAYER_TYPES]
    if not layers:
        raise ValueError("This model has no Dense or Conv2D layers whose activations to show.")
    try:
        inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
        outputs = [layer.output for layer in layers]
    except (AttributeError, ValueError) as error:
        raise ValueError(
            "This model was built without a fixed input shape, so its layer activations "
            "cannot be read."
        ) from error
    extractor = keras.Model(inputs=inputs, outputs=outputs)
    result = ([layer.name for layer in layers], extractor)
    _activation_models[model] = result
    return result


def layer_activations(model, image) -> list[tuple[str, np.ndarray]]:
    """Return what each Dense or Conv2D layer computes for one image.

    The intermediate model that exposes these outputs is built once per model and reused.

    Args:
        model: A Keras model taking ``(28, 28)`` raw pixels.
        image: One ``(28, 28)`` image with pixels 0-255.

    Returns:
        A list of ``(layer name, activations)`` in layer order; activations are a float32
        1-D array with one value per neuron (Dense) or per filter (Conv2D: the filter's
        strongest response anywhere in the image).

    Raises:
        ValueError: If the image has the wrong shape or the model has no such layers.
    """
    image = np.asarray(image)
    if image.shape != IMAGE_SHAPE:
        raise ValueError(f"Expected one 28x28 image; got shape {image.shape}.")
    names, extractor = _activation_model(model)
    outputs = extractor.predict_on_batch(image[np.newaxis].astype(np.float32))
    if not isinstance(outputs, (list, tuple)):
        outputs = [outputs]
    activations = []
    for name, output in zip(names, outputs, strict=True):
        values = np.asarray(output, dtype=np.float32)[0]
        if values.ndim > 1:
            values = values.reshape(-1, values.shape[-1]).max(axis=0)
        activations.append((name, values))
    return activations
