"""The optimizers a training may use: one registry of label, default learning rate, builder."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# Keras's (and the Adam paper's) decay rates of Adam's two moving averages.
DEFAULT_ADAM_BETA_1 = 0.9
DEFAULT_ADAM_BETA_2 = 0.999


def _adam(
    learning_rate: float, beta_1: float = DEFAULT_ADAM_BETA_1, beta_2: float = DEFAULT_ADAM_BETA_2
):
    # Keras (with TensorFlow) takes seconds to import: only building a model pays for it.
    import keras

    return keras.optimizers.Adam(learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2)


def _sgd(learning_rate: float, **_: float):
    # Keras (with TensorFlow) takes seconds to import: only building a model pays for it.
    import keras

    return keras.optimizers.SGD(learning_rate=learning_rate, momentum=0.9)


def _plain_sgd(learning_rate: float, **_: float):
    # Keras (with TensorFlow) takes seconds to import: only building a model pays for it.
    import keras

    return keras.optimizers.SGD(learning_rate=learning_rate)


def _rmsprop(learning_rate: float, **_: float):
    # Keras (with TensorFlow) takes seconds to import: only building a model pays for it.
    import keras

    return keras.optimizers.RMSprop(learning_rate=learning_rate)


@dataclass(frozen=True)
class OptimizerSpec:
    """One optimizer choice: its display label, a sensible learning rate and a builder.

    Attributes:
        label: What the page shows.
        default_learning_rate: The learning rate that usually works for it.
        build: Function `(learning_rate, beta_1=..., beta_2=...) -> keras.optimizers.Optimizer`
            (imports Keras lazily); only Adam uses the betas, the others ignore them.
        short_label: How a configuration's one-line summary and run names write it.
    """

    label: str
    default_learning_rate: float
    build: Callable[..., Any]
    short_label: str


OPTIMIZERS: dict[str, OptimizerSpec] = {
    "adam": OptimizerSpec("Adam", 0.001, _adam, "adam"),
    "sgd": OptimizerSpec("SGD with momentum 0.9", 0.01, _sgd, "sgd momentum"),
    "plain_sgd": OptimizerSpec(
        'SGD, plain (Keras\'s default "sgd")', 0.01, _plain_sgd, "plain sgd"
    ),
    "rmsprop": OptimizerSpec("RMSprop", 0.001, _rmsprop, "rmsprop"),
}
