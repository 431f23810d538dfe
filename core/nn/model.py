"""Build the Keras model that a `TrainingConfig` describes, and describe it as a table.

Every model takes raw pixels 0-255 of shape (28, 28). With "unit" scaling its first layer is
`Rescaling(1/255)`; with "raw" scaling (as in the article) the pixels go in unchanged. So
the Evaluate and Draw pages never need to know how a model was trained.

The convolutional front computes in bfloat16 when the run's precision is "bfloat16" (per-layer
dtype policies, see `core.nn.precision`); the output layer always computes in float32.

Labels are integers and the loss is sparse categorical cross-entropy. The article one-hot
encodes the labels and uses categorical cross-entropy; both compute the same number
(-log of the probability given to the true class), sparse just skips the one-hot arrays.

In dense networks Adam applies its update to each weight with one fused TensorFlow kernel
(`fuse_adam_updates`): the same formula in one step instead of about twenty, which makes a
small network's training step a fifth cheaper on a CPU.
"""

from __future__ import annotations

import math
import threading
import types
from typing import TYPE_CHECKING, Any

import pandas as pd

from core.data.datasets import IMAGE_SHAPE
from core.nn.architecture import KERNEL_SIZE, POOL_SIZE
from core.nn.budget import training_images
from core.nn.config import TrainingConfig
from core.nn.optimizers import OPTIMIZERS
from core.nn.precision import FLOAT32, LAYER_POLICIES, effective_precision, training_precision

if TYPE_CHECKING:
    import keras

# Batch normalisation's moving mean and variance (used for predictions) follow the batches
# with this momentum. Keras's default 0.99 needs several hundred steps to settle, so a short
# or stopped training predicted almost at random (11% after 70 steps); 0.9 settles in tens.
BATCH_NORM_MOMENTUM = 0.9
# The one-cycle schedule warms up from this share of the learning rate over this share of
# the steps, then decays along a cosine to zero.
ONE_CYCLE_START_FRACTION = 0.1
ONE_CYCLE_WARMUP_FRACTION = 0.3
# Networks whose Adam updates run fused (`fuse_adam_updates`): in a dense network's small
# step the update was a third of the time. A convolutional step is dominated by its
# convolutions, so there it would only change the last bits of the results (and the
# Convolutional preset's and the default model's measured figures) for no speed.
FUSED_ADAM_ARCHITECTURES = frozenset({"dense"})
# Seeding sets process-wide generators (Python's, NumPy's, TensorFlow's global seed): two
# models built at once in different threads would take each other's draws. Whoever seeds
# holds this lock until its draws are done (`core.nn.training` holds it until `fit` has made
# its shuffled dataset).
SEEDING = threading.RLock()


def build_model(
    config: TrainingConfig,
    num_classes: int = 10,
    *,
    steps_per_execution: int = 1,
    jit_compile: bool | str = "auto",
    precision: str | None = None,
    steps_per_epoch: int | None = None,
) -> keras.Model:
    """Build and compile the network of `config`, with its seed set first.

    Args:
        config: The training configuration.
        num_classes: Number of output classes (10 for digits).
        steps_per_execution: Batches run per call into TensorFlow (a speed setting that
            does not change the maths; see `core.nn.training`).
        jit_compile: Passed to `Model.compile` (XLA compilation).
        precision: "float32" or "bfloat16" for the convolutional front; None chooses by
            the ``precision`` setting and the CPU (`core.nn.precision.training_precision`).
        steps_per_epoch: Gradient steps per epoch, which a learning-rate schedule needs;
            None estimates it from the configuration and the 60,000 MNIST training images.

    Returns:
        A compiled `keras.Model` whose input is (28, 28) pixels 0-255 and whose output is
        `num_classes` softmax probabilities.

    Raises:
        ValueError: If `num_classes` is below 2.
    """
    # Keras (with TensorFlow) takes seconds to import: pages that build no model never pay.
    import keras

    if num_classes < 2:
        raise ValueError(f"A classifier needs at least 2 classes; got {num_classes}.")
    if precision is None:
        precision = training_precision()
    if steps_per_epoch is None:
        steps_per_epoch = math.ceil(training_images(config) / config.batch_size)
    # Same seed, same initial weights, dropout masks and shuffling order, also when other
    # threads build models at the same time.
    with SEEDING:
        keras.utils.set_random_seed(config.seed)
        model = _network(config, num_classes, precision)
        learning_rate = learning_rate_schedule(config, steps_per_epoch * config.epochs)
        optimizer = OPTIMIZERS[config.optimizer].build(
            learning_rate, beta_1=config.adam_beta_1, beta_2=config.adam_beta_2
        )
        if config.architecture in FUSED_ADAM_ARCHITECTURES:
            optimizer = fuse_adam_updates(optimizer)
        model.compile(
            optimizer=optimizer,
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
            steps_per_execution=steps_per_execution,
            jit_compile=jit_compile,
        )
        return model


def fuse_adam_updates(optimizer: Any) -> Any:
    """Let a Keras Adam update each weight with one fused TensorFlow kernel.

    Keras's Adam writes its update as about twenty small operations per weight tensor; for a
    small network on a CPU they cost a third of a training step. TensorFlow's
    `ResourceApplyAdam` computes the same formula (the same moment updates and bias
    correction) in one kernel. Only this instance's `update_step` changes, so the optimizer
    still saves and loads as a plain Keras Adam. Other optimizers, and Adam with AMSGrad,
    are returned unchanged.

    Args:
        optimizer: A Keras optimizer.

    Returns:
        The same optimizer.
    """
    # Keras (with TensorFlow) takes seconds to import: only code that needs it pays for it.
    import keras

    if type(optimizer) is keras.optimizers.Adam and not optimizer.amsgrad:
        optimizer.update_step = types.MethodType(_fused_adam_update_step, optimizer)
    return optimizer


def _fused_adam_update_step(optimizer: Any, gradient: Any, variable: Any, learning_rate: Any):
    """Keras Adam's `update_step` as one `ResourceApplyAdam` (see `fuse_adam_updates`)."""
    # Keras (with TensorFlow) takes seconds to import: only code that needs it pays for it.
    import keras
    import tensorflow as tf

    if isinstance(gradient, tf.IndexedSlices):
        return type(optimizer).update_step(optimizer, gradient, variable, learning_rate)
    if isinstance(variable, keras.Variable):
        variable = variable.value
    dtype = variable.dtype
    step = tf.cast(optimizer.iterations + 1, dtype)
    index = optimizer._get_variable_index(variable)
    return tf.raw_ops.ResourceApplyAdam(
        var=variable.handle,
        m=optimizer._momentums[index].value.handle,
        v=optimizer._velocities[index].value.handle,
        beta1_power=tf.pow(tf.cast(optimizer.beta_1, dtype), step),
        beta2_power=tf.pow(tf.cast(optimizer.beta_2, dtype), step),
        lr=tf.cast(learning_rate, dtype),
        beta1=tf.cast(optimizer.beta_1, dtype),
        beta2=tf.cast(optimizer.beta_2, dtype),
        epsilon=tf.cast(optimizer.epsilon, dtype),
        grad=tf.cast(gradient, dtype),
    )


def learning_rate_schedule(config: TrainingConfig, total_steps: int) -> Any:
    """Return the learning rate of `config`: a number, or a Keras schedule over the steps.

    Args:
        config: The training configuration (its `learning_rate` and `schedule`).
        total_steps: Gradient steps of the whole training.

    Returns:
        `config.learning_rate` for "constant"; a `keras.optimizers.schedules.CosineDecay`
        from it to zero for "cosine"; for "one_cycle" the same with a linear warm-up from a
        tenth of it over the first 30% of the steps.
    """
    if config.schedule == "constant":
        return config.learning_rate
    # Keras (with TensorFlow) takes seconds to import: only code that needs it pays for it.
    import keras

    total_steps = max(1, total_steps)
    if config.schedule == "cosine":
        return keras.optimizers.schedules.CosineDecay(config.learning_rate, total_steps)
    warmup_steps = max(1, int(total_steps * ONE_CYCLE_WARMUP_FRACTION))
    return keras.optimizers.schedules.CosineDecay(
        config.learning_rate * ONE_CYCLE_START_FRACTION,
        max(1, total_steps - warmup_steps),
        warmup_target=config.learning_rate,
        warmup_steps=warmup_steps,
    )


def _network(config: TrainingConfig, num_classes: int, precision: str = FLOAT32) -> keras.Model:
    """The uncompiled network of `config` (its weights drawn from the current seed).

    The convolutional front takes the dtype policy of `precision`; everything after it,
    the softmax output included, computes in float32.
    """
    # Keras (with TensorFlow) takes seconds to import: only code that needs it pays for it.
    import keras
    from keras import layers

    front = LAYER_POLICIES[effective_precision(config, precision)]
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
                # Batch normalisation's offset replaces the bias.
                use_bias=not config.batch_norm,
                activation=None if config.batch_norm else config.activation,
                name=f"conv_{block}",
                dtype=front,
            )(features)
            if config.batch_norm:
                features = layers.BatchNormalization(
                    momentum=BATCH_NORM_MOMENTUM, name=f"conv_norm_{block}", dtype=front
                )(features)
                features = layers.Activation(
                    config.activation, name=f"conv_activation_{block}", dtype=front
                )(features)
            features = layers.MaxPooling2D(POOL_SIZE, name=f"pool_{block}", dtype=front)(features)
    features = layers.Flatten(name="flatten", dtype=FLOAT32)(features)
    for index, units in enumerate(config.hidden_layers, start=1):
        features = layers.Dense(
            units,
            use_bias=not config.batch_norm,
            activation=None if config.batch_norm else config.activation,
            name=f"hidden_{index}",
        )(features)
        if config.batch_norm:
            features = layers.BatchNormalization(
                momentum=BATCH_NORM_MOMENTUM, name=f"hidden_norm_{index}"
            )(features)
            features = layers.Activation(config.activation, name=f"hidden_activation_{index}")(
                features
            )
        if config.dropout > 0:
            features = layers.Dropout(config.dropout, name=f"dropout_{index}")(features)
    # Probabilities and the loss keep full precision whatever the front computes in.
    outputs = layers.Dense(num_classes, activation="softmax", name="output", dtype=FLOAT32)(
        features
    )
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
