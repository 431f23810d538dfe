"""A configuration's network counted without Keras: its parameters and operations per image.

The same layers `core.nn.model.build_model` builds, walked as arithmetic, so a page, a budget
or an estimate can size a network without importing TensorFlow.
"""

from __future__ import annotations

from core.data.datasets import IMAGE_SHAPE
from core.nn.config import TrainingConfig

KERNEL_SIZE = 3
POOL_SIZE = 2
# Batch normalisation keeps 4 numbers per channel: scale and offset (learned), and the
# moving mean and variance (tracked). Keras counts all four as parameters.
BATCH_NORM_PARAMETERS_PER_CHANNEL = 4


def _weighted_layers(config: TrainingConfig, num_classes: int) -> list[tuple[int, int, int]]:
    """Walk `config`'s network as `build_model` builds it, without building it.

    Returns:
        One ``(fan_in, units, positions)`` per layer with weights, input to output: each of
        its ``units`` (neurons, or a convolution's filters) has ``fan_in`` weights, used at
        ``positions`` places of every image (1 for a Dense layer; every pixel of the feature
        map for a "same"-padded convolution). The last entry is the output layer.
    """
    layers = []
    if config.architecture == "cnn":
        channels, side = 1, IMAGE_SHAPE[0]
        for filters in config.conv_filters:
            layers.append((KERNEL_SIZE * KERNEL_SIZE * channels, filters, side * side))
            channels, side = filters, side // POOL_SIZE
        inputs = side * side * channels
    else:
        inputs = IMAGE_SHAPE[0] * IMAGE_SHAPE[1]
    for units in (*config.hidden_layers, num_classes):
        layers.append((inputs, units, 1))
        inputs = units
    return layers


def count_parameters(config: TrainingConfig, num_classes: int = 10) -> int:
    """Count the parameters of `config`'s network without building it (as Keras counts them).

    Each Dense layer has inputs x units weights plus one bias per unit; each Conv2D layer
    has kernel height x width x input channels x filters weights plus one bias per filter.
    With batch normalisation a layer has no bias, and its normalisation keeps 4 numbers per
    channel or unit (scale, offset, moving mean and variance).
    The article's 784-128-10 network has 784*128+128 + 128*10+10 = 100,480 + 1,290 =
    101,770.

    Args:
        config: The training configuration.
        num_classes: Number of output classes.

    Returns:
        The number of parameters.
    """
    *hidden, (inputs, _, _) = _weighted_layers(config, num_classes)
    total = sum(fan_in * units + _extra(config, units) for fan_in, units, _ in hidden)
    # The output layer is never normalised: one bias per class.
    return total + inputs * num_classes + num_classes


def training_flops_per_sample(config: TrainingConfig, num_classes: int = 10) -> float:
    """Estimate floating-point operations to train on one image (forward + backward).

    A forward pass costs 2 operations per weight use (multiply and add); the backward pass
    about twice the forward pass. Dense weights are used once per image; a convolution's
    weights once per output position. Biases, normalisation and pooling are left out.

    Args:
        config: The training configuration.
        num_classes: Number of output classes.

    Returns:
        The estimated operations per training image.
    """
    forward = sum(
        2.0 * fan_in * units * positions
        for fan_in, units, positions in _weighted_layers(config, num_classes)
    )
    return 3.0 * forward


def _extra(config: TrainingConfig, channels: int) -> int:
    """Parameters besides the weights of a hidden layer: biases, or its normalisation."""
    return BATCH_NORM_PARAMETERS_PER_CHANNEL * channels if config.batch_norm else channels
