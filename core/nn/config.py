"""The training configuration: one frozen, self-validating value (presets: `core.nn.presets`).

A `TrainingConfig` is the only thing the training code reads. It checks every field when it
is created (so a bad value never reaches Keras), serialises to JSON for the run store and to
URL query parameters for share links, and reads both back.

Example:
    >>> config = TrainingConfig(hidden_layers=(256,), epochs=5, learning_rate=0.001)
    >>> config.summary(num_classes=10)
    '784-256-10 relu, adam 0.001, 5 ep'
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from core.bounds import (
    MAX_ADAM_BETA,
    MAX_BATCH_SIZE,
    MAX_CONV_BLOCKS,
    MAX_CONV_FILTERS,
    MAX_DROPOUT,
    MAX_EPOCHS,
    MAX_HIDDEN_LAYERS,
    MAX_LEARNING_RATE,
    MAX_NEURONS,
    MAX_SEED,
    MAX_TRAIN_SIZE,
    MAX_VALIDATION_FRACTION,
    MIN_LEARNING_RATE,
    MIN_TRAIN_SIZE,
)
from core.data.datasets import IMAGE_SHAPE
from core.data.scaling import SCALINGS
from core.data.splits import SPLITS
from core.nn.optimizers import DEFAULT_ADAM_BETA_1, DEFAULT_ADAM_BETA_2, OPTIMIZERS
from core.nn.query_params import QUERY_FORMATTERS, QUERY_PARSERS

# Error messages quote a bad value up to this length.
MAX_SHOWN_CHARACTERS = 60
# What a share link or a configuration file may hold: values longer than this are not read.
MAX_QUERY_VALUE_CHARACTERS = 200
MAX_JSON_CHARACTERS = 64 * 1024

ARCHITECTURES = {
    "dense": "Dense (fully connected, as in the article)",
    "cnn": "Convolutional front + dense",
}
ACTIVATIONS = {
    "relu": "ReLU",
    "sigmoid": "Sigmoid",
    "tanh": "Tanh",
    "elu": "ELU",
    "selu": "SELU",
}


SCHEDULES = {
    "constant": "Constant (as in the article)",
    "cosine": "Cosine decay to zero",
    "one_cycle": "One cycle: warm up, then cosine decay",
}


def _shown(value: Any) -> str:
    """A value for an error message: its repr, cut to `MAX_SHOWN_CHARACTERS`.

    Values come from links and uploaded files, so they may be huge (an integer of thousands
    of digits, whose repr Python refuses to write) or of any type.
    """
    try:
        text = repr(value)
    except ValueError:
        text = f"a number of {value.bit_length() * 0.30103:,.0f} digits"
    return _cut(text)


def _cut(text: str) -> str:
    """Text cut to `MAX_SHOWN_CHARACTERS`, with an ellipsis when it was longer."""
    if len(text) > MAX_SHOWN_CHARACTERS:
        return text[: MAX_SHOWN_CHARACTERS - 1] + "…"
    return text


def learning_rate_for(optimizer: str, current: float, typed: bool) -> float:
    """Return the learning rate to propose when a person switches to `optimizer`.

    A rate the person typed stays. Any other rate came with a preset or the previous
    optimizer, so the new optimizer's own default replaces it (SGD with momentum barely
    moves at Adam's 0.001).

    Args:
        optimizer: A key of `OPTIMIZERS`.
        current: The learning rate shown before the switch.
        typed: Whether the person typed `current` themselves.

    Returns:
        The learning rate to show now.

    Raises:
        ValueError: If `optimizer` is unknown.
    """
    _check_choice("Optimizer", optimizer, OPTIMIZERS)
    return current if typed else OPTIMIZERS[optimizer].default_learning_rate


def _check_choice(name: str, value: Any, choices: Mapping[str, Any]) -> None:
    if not isinstance(value, str) or value not in choices:
        raise ValueError(
            f"{name} must be one of {', '.join(sorted(choices))}; got {_shown(value)}."
        )


def _check_int(name: str, value: Any, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be a whole number; got {_shown(value)}.")
    if not low <= value <= high:
        raise ValueError(f"{name} must be between {low:,} and {high:,}; got {_shown(value)}.")


def _check_float(name: str, value: Any, low: float, high: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a number; got {_shown(value)}.")
    # A whole number from JSON may be too large for a float, so compare before converting.
    if (isinstance(value, float) and not math.isfinite(value)) or not low <= value <= high:
        raise ValueError(f"{name} must be between {low:g} and {high:g}; got {_shown(value)}.")


@dataclass(frozen=True)
class TrainingConfig:
    """Every hyperparameter of one training run. Invalid values raise `ValueError`.

    Attributes:
        architecture: "dense" (Flatten + Dense layers) or "cnn" (Conv2D + MaxPooling blocks
            before the Dense layers).
        hidden_layers: Neuron counts of the hidden Dense layers, 0 to 8 layers of 1 to 2048.
        conv_filters: Filter counts of the convolutional blocks (used when "cnn"), 1 to 4
            blocks of 1 to 512 filters.
        activation: Activation of the hidden layers: relu, sigmoid, tanh, elu or selu.
        dropout: Dropout rate after each hidden Dense layer, 0 (none) to 0.8.
        optimizer: "adam", "sgd" (with momentum 0.9) or "rmsprop".
        learning_rate: Step size of the optimizer, 1e-6 to 1.
        batch_size: Images per gradient step, 1 to 60,000.
        epochs: Passes over the training images, 1 to 200.
        scaling: "unit" divides pixels by 255 inside the model; "raw" feeds 0-255 as the
            article does.
        split: "official" (60,000/10,000) or "article" (45,000/15,000 of the training file).
        validation_fraction: Share of the training part held out for validation, 0 to 0.5.
        train_size: Train on a stratified subset of this many images (100 to 60,000), or
            None for all of them.
        seed: Random seed for the split, the weights and the shuffling.
        batch_norm: Batch normalisation after each convolution and each hidden Dense layer
            (before the activation).
        schedule: How the learning rate changes during training: "constant", "cosine"
            (from `learning_rate` down to zero) or "one_cycle" (a warm-up from a tenth of
            it over the first 30% of the steps, then cosine decay to zero).
        adam_beta_1: How much of its past gradients Adam's step remembers (the decay of
            its moving average of gradients, 0 to 0.9999; Keras's default 0.9). Used with
            Adam only.
        adam_beta_2: The same for its moving average of squared gradients, which sets each
            weight's step size (Keras's default 0.999). Lower values adapt the steps faster,
            which pays in short trainings.
    """

    architecture: str = "dense"
    hidden_layers: tuple[int, ...] = (256,)
    conv_filters: tuple[int, ...] = (32, 64)
    activation: str = "relu"
    dropout: float = 0.0
    optimizer: str = "adam"
    learning_rate: float = 0.001
    batch_size: int = 128
    epochs: int = 5
    scaling: str = "unit"
    split: str = "official"
    validation_fraction: float = 0.1
    train_size: int | None = None
    seed: int = 0
    batch_norm: bool = False
    schedule: str = "constant"
    adam_beta_1: float = DEFAULT_ADAM_BETA_1
    adam_beta_2: float = DEFAULT_ADAM_BETA_2

    def __post_init__(self) -> None:
        # Lists from JSON or widgets become tuples, so the value stays hashable.
        for name in ("hidden_layers", "conv_filters"):
            value = getattr(self, name)
            if isinstance(value, (list, tuple)):
                object.__setattr__(self, name, tuple(value))
        _check_choice("Architecture", self.architecture, ARCHITECTURES)
        self._check_layers(
            "Hidden layers", self.hidden_layers, 0, MAX_HIDDEN_LAYERS, MAX_NEURONS, "neurons"
        )
        self._check_layers(
            "Convolutional blocks",
            self.conv_filters,
            1,
            MAX_CONV_BLOCKS,
            MAX_CONV_FILTERS,
            "filters",
        )
        _check_choice("Activation", self.activation, ACTIVATIONS)
        _check_float("Dropout", self.dropout, 0.0, MAX_DROPOUT)
        _check_choice("Optimizer", self.optimizer, OPTIMIZERS)
        _check_float("Learning rate", self.learning_rate, MIN_LEARNING_RATE, MAX_LEARNING_RATE)
        _check_int("Batch size", self.batch_size, 1, MAX_BATCH_SIZE)
        _check_int("Epochs", self.epochs, 1, MAX_EPOCHS)
        _check_choice("Input scaling", self.scaling, SCALINGS)
        _check_choice("Split", self.split, SPLITS)
        _check_float("Validation fraction", self.validation_fraction, 0.0, MAX_VALIDATION_FRACTION)
        if self.train_size is not None:
            _check_int("Training-set size", self.train_size, MIN_TRAIN_SIZE, MAX_TRAIN_SIZE)
        _check_int("Seed", self.seed, 0, MAX_SEED)
        if not isinstance(self.batch_norm, bool):
            raise ValueError(f"Batch normalisation must be true or false; got {self.batch_norm!r}.")
        _check_choice("Learning-rate schedule", self.schedule, SCHEDULES)
        _check_float("Adam beta 1", self.adam_beta_1, 0.0, MAX_ADAM_BETA)
        _check_float("Adam beta 2", self.adam_beta_2, 0.0, MAX_ADAM_BETA)
        # Whole floats (e.g. 0 from a JSON file) are stored as floats for equality.
        object.__setattr__(self, "dropout", float(self.dropout))
        object.__setattr__(self, "learning_rate", float(self.learning_rate))
        object.__setattr__(self, "validation_fraction", float(self.validation_fraction))
        object.__setattr__(self, "adam_beta_1", float(self.adam_beta_1))
        object.__setattr__(self, "adam_beta_2", float(self.adam_beta_2))

    @staticmethod
    def _check_layers(
        name: str, sizes: Any, min_count: int, max_count: int, max_size: int, unit: str
    ) -> None:
        if not isinstance(sizes, tuple):
            raise ValueError(f"{name} must be a list of {unit} counts; got {_shown(sizes)}.")
        if not min_count <= len(sizes) <= max_count:
            raise ValueError(f"{name}: use between {min_count} and {max_count}; got {len(sizes)}.")
        for size in sizes:
            if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= max_size:
                raise ValueError(
                    f"{name}: each needs 1 to {max_size:,} {unit}; got {_shown(size)}."
                )

    # Serialisation ------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Return the configuration as a JSON-ready dict (tuples become lists)."""
        data = asdict(self)
        data["hidden_layers"] = list(self.hidden_layers)
        data["conv_filters"] = list(self.conv_filters)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainingConfig:
        """Build a configuration from `to_dict()` output; missing keys take the defaults.

        Raises:
            ValueError: On an unknown key or an invalid value.
        """
        known = {field.name for field in fields(cls)}
        unknown = sorted(str(key) for key in set(data) - known)
        if unknown:
            raise ValueError(f"Unknown configuration keys: {_cut(', '.join(unknown))}.")
        return cls(**dict(data))

    def to_json(self) -> str:
        """Return the configuration as a JSON string with sorted keys."""
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> TrainingConfig:
        """Read a configuration written by `to_json`.

        Raises:
            ValueError: When the text is too long, not a JSON object or holds an invalid
                value.
        """
        if len(text) > MAX_JSON_CHARACTERS:
            raise ValueError(
                f"The configuration is {len(text):,} characters long; at most "
                f"{MAX_JSON_CHARACTERS:,} are read."
            )
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as error:
            # ValueError covers bad JSON, bad UTF-8 and integers of over 4,300 digits.
            raise ValueError(f"The configuration is not valid JSON: {error}.") from None
        if not isinstance(data, dict):
            raise ValueError("The configuration JSON must be an object of field: value.")
        return cls.from_dict(data)

    def to_query_params(self) -> dict[str, str]:
        """Return the configuration as URL query parameters (text values only)."""
        return {name: QUERY_FORMATTERS[name](value) for name, value in self.to_dict().items()}

    @classmethod
    def from_query_params(
        cls, params: Mapping[str, str], base: TrainingConfig | None = None
    ) -> tuple[TrainingConfig, list[str]]:
        """Read a configuration from URL query parameters, tolerating junk.

        Each known parameter with a valid value replaces the base configuration's field;
        unknown parameters and invalid values are skipped and reported.

        Args:
            params: Parameter name -> text value (e.g. `st.query_params`).
            base: The configuration to start from (default: `TrainingConfig()`).

        Returns:
            The configuration and the sorted names of the ignored parameters.
        """
        config = base if base is not None else cls()
        if "optimizer" in params and not {"adam_beta_1", "adam_beta_2"} & set(params):
            # A link that names its optimizer but not Adam's betas was made before they
            # were settings (or keeps Keras's): it means Keras's 0.9/0.999, not the base's.
            config = replace(
                config, adam_beta_1=DEFAULT_ADAM_BETA_1, adam_beta_2=DEFAULT_ADAM_BETA_2
            )
        ignored = []
        for name in sorted(str(key) for key in params):
            parser = QUERY_PARSERS.get(name)
            value = str(params[name]) if parser is not None else ""
            if parser is None or len(value) > MAX_QUERY_VALUE_CHARACTERS:
                ignored.append(name)
                continue
            try:
                config = replace(config, **{name: parser(value)})
            except (ValueError, TypeError, OverflowError):
                ignored.append(name)
        return config, ignored

    # Description --------------------------------------------------------------------------

    @property
    def default_adam_betas(self) -> bool:
        """True when Adam keeps Keras's decay rates (0.9 and 0.999)."""
        return (self.adam_beta_1, self.adam_beta_2) == (DEFAULT_ADAM_BETA_1, DEFAULT_ADAM_BETA_2)

    def network_summary(self, num_classes: int) -> str:
        """Return the network's layers, e.g. "784-128-10" or "conv 16-32, dense 128-10".

        Args:
            num_classes: Outputs of the network: the dataset's number of classes.
        """
        dense = "-".join(str(size) for size in (*self.hidden_layers, num_classes))
        if self.architecture == "cnn":
            convs = "-".join(str(size) for size in self.conv_filters)
            return f"conv {convs}, dense {dense}"
        return f"{math.prod(IMAGE_SHAPE)}-{dense}"

    def summary(self, num_classes: int, epochs_text: str | None = None) -> str:
        """Return a one-line description, e.g. "784-128-10 relu, adam 0.001, 20 ep".

        Args:
            num_classes: Outputs of the network: the dataset's number of classes.
            epochs_text: What to write for the epochs instead of "20 ep" (e.g. a stopped
                run's "9 of 20 ep, stopped").
        """
        network = self.network_summary(num_classes)
        optimizer = OPTIMIZERS[self.optimizer].short_label
        text = f"{network} {self.activation}, {optimizer} {self.learning_rate:g}"
        if self.optimizer == "adam" and not self.default_adam_betas:
            text += f" betas {self.adam_beta_1:g}/{self.adam_beta_2:g}"
        text += f", {epochs_text or f'{self.epochs} ep'}"
        if self.dropout:
            text += f", dropout {self.dropout:g}"
        if self.batch_norm:
            text += ", batch norm"
        if self.schedule != "constant":
            text += f", {self.schedule.replace('_', '-')} schedule"
        if self.train_size is not None:
            text += f", {self.train_size:,} images"
        return text
