"""Build the Keras model that a `TrainingConfig` describes, and describe it as a table.

Every model takes raw pixels 0-255 of shape (28, 28). With "unit" scaling its first layer is
`Rescaling(1/255)`; with "raw" scaling (as in the article) the pixels go in unchanged. So
the Evaluate and Draw pages never need to know how a model was trained.

Labels are integers and the loss is sparse categorical cross-entropy. The article one-hot
encodes the labels and uses categorical cross-entropy; both compute the same number
(-log of the probability given to the true class), sparse just skips the one-hot arrays.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import pandas as pd

from core.config import OPTIMIZERS, TrainingConfig

if TYPE_CHECKING:
    import keras

IMAGE_SHAPE = (28, 28)
KERNEL_SIZE = 3
POOL_SIZE = 2
# Seeding sets process-wide generators (Python's, NumPy's, TensorFlow's global seed): two
# models built at once in different threads would take each other's draws. Whoever seeds
# holds this lock until its draws are done (`core.training` holds it until `fit` has made
# its shuffled dataset).
SEEDING = threading.RLock()


def build_model(
    config: TrainingConfig,
    num_classes: int = 10,
    *,
    steps_per_execution: int = 1,
    jit_compile: bool | str = "auto",
) -> keras.Model:
    """Build and compile the network of `config`, with its seed set first.

    Args:
        config: The training configuration.
        num_classes: Number of output classes (10 for digits).
        steps_per_execution: Batches run per call into TensorFlow (a speed setting that
            does not change the maths; see `core.training`).
        jit_compile: Passed to `Model.compile` (XLA compilation).

    Returns:
        A compiled `keras.Model` whose input is (28, 28) pixels 0-255 and whose output is
        `num_classes` softmax probabilities.

    Raises:
        ValueError: If `num_classes` is below 2.
    """
    import keras

    if num_classes < 2:
        raise ValueError(f"A classifier needs at least 2 classes; got {num_classes}.")
    # Same seed, same initial weights, dropout masks and shuffling order, also when other
    # threads build models at the same time.
    with SEEDING:
        keras.utils.set_random_seed(config.seed)
        model = _network(config, num_classes)
        model.compile(
            optimizer=OPTIMIZERS[config.optimizer].build(config.learning_rate),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
            steps_per_execution=steps_per_execution,
            jit_compile=jit_compile,
        )
        return model


def _network(config: TrainingConfig, num_classes: int) -> keras.Model:
    """The uncompiled network of `config` (its weights drawn from the current seed)."""
    import keras
    from keras import layers

    inputs = keras.Input(shape=IMAGE_SHAPE, name="pixels")
    features = inputs
    if config.scaling == "unit":
        features = layers.Rescaling(1 / 255, name="rescaling")(features)
    if config.architecture == "cnn":
        features = layers.Reshape((*IMAGE_SHAPE, 1), name="add_channel")(features)
        for block, filters in enumerate(config.conv_filters, start=1):
            features = layers.Conv2D(
                filters,
                KERNEL_SIZE,
                padding="same",
                activation=config.activation,
                name=f"conv_{block}",
            )(features)
            features = layers.MaxPooling2D(POOL_SIZE, name=f"pool_{block}")(features)
    features = layers.Flatten(name="flatten")(features)
    for index, units in enumerate(config.hidden_layers, start=1):
        features = layers.Dense(units, activation=config.activation, name=f"hidden_{index}")(
            features
        )
        if config.dropout > 0:
            features = layers.Dropout(config.dropout, name=f"dropout_{index}")(features)
    outputs = layers.Dense(num_classes, activation="softmax", name="output")(features)
    return keras.Model(inputs, outputs, name=f"mnist_{config.architecture}")


def model_summary_table(model: keras.Model) -> pd.DataFrame:
    """Describe a model layer by layer.

    Args:
        model: A built Keras model.

    Returns:
        A DataFrame with columns layer, type, output shape and parameters (one row per
        layer, the input included), in the order the data flows.
    """
    rows = []
    for layer in model.layers:
        shape = ", ".join("batch" if size is None else str(size) for size in layer.output.shape)
        rows.append(
            {
                "layer": layer.name,
                "type": type(layer).__name__,
                "output shape": f"({shape})",
                "parameters": int(layer.count_params()) if layer.weights else 0,
            }
        )
    return pd.DataFrame(rows, columns=["layer", "type", "output shape", "parameters"])


def count_parameters(config: TrainingConfig, num_classes: int = 10) -> int:
    """Count the trainable parameters of `config`'s network without building it.

    Each Dense layer has inputs x units weights plus one bias per unit; each Conv2D layer
    has kernel height x width x input channels x filters weights plus one bias per filter.
    The article's 784-128-10 network has 784*128+128 + 128*10+10 = 100,480 + 1,290 =
    101,770.

    Args:
        config: The training configuration.
        num_classes: Number of output classes.

    Returns:
        The number of parameters.
    """
    total = 0
    if config.architecture == "cnn":
        channels, side = 1, IMAGE_SHAPE[0]
        for filters in config.conv_filters:
            total += KERNEL_SIZE * KERNEL_SIZE * channels * filters + filters
            channels, side = filters, side // POOL_SIZE
        inputs = side * side * channels
    else:
        inputs = IMAGE_SHAPE[0] * IMAGE_SHAPE[1]
    for units in (*config.hidden_layers, num_classes):
        total += inputs * units + units
        inputs = units
    return total
