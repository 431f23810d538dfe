"""The one-line note that compares a training with the previous one.

After each training the Train page says what changed against the visitor's previous run
and what it did, e.g. "more neurons, +0.4 points, 1.8x slower". `CHANGE_DESCRIPTIONS` says
how each difference between two configurations is put into words (one entry per setting).
"""

from __future__ import annotations

from collections.abc import Callable

from core.data import MNIST_TRAIN_IMAGES
from core.nn import OPTIMIZERS, TrainingConfig


def _more_or_fewer(before: float, after: float, more: str, fewer: str) -> str | None:
    if after > before:
        return more
    if after < before:
        return fewer
    return None


# What can differ between two configurations -> how to say it (None when it is the same).
CHANGE_DESCRIPTIONS: dict[str, Callable[[TrainingConfig, TrainingConfig], str | None]] = {
    "architecture": lambda b, a: (
        None if a.architecture == b.architecture else f"{a.architecture} network"
    ),
    "conv_filters": lambda b, a: (
        None
        if a.architecture != "cnn" or b.architecture != "cnn"
        else _more_or_fewer(
            sum(b.conv_filters), sum(a.conv_filters), "more filters", "fewer filters"
        )
    ),
    "layers": lambda b, a: _more_or_fewer(
        len(b.hidden_layers), len(a.hidden_layers), "more layers", "fewer layers"
    ),
    "neurons": lambda b, a: _more_or_fewer(
        sum(b.hidden_layers), sum(a.hidden_layers), "more neurons", "fewer neurons"
    ),
    "activation": lambda b, a: (
        None if a.activation == b.activation else f"{a.activation} instead of {b.activation}"
    ),
    "dropout": lambda b, a: _more_or_fewer(b.dropout, a.dropout, "more dropout", "less dropout"),
    "optimizer": lambda b, a: (
        None if a.optimizer == b.optimizer else f"{OPTIMIZERS[a.optimizer].short_label} optimizer"
    ),
    "learning_rate": lambda b, a: _more_or_fewer(
        b.learning_rate, a.learning_rate, "higher learning rate", "lower learning rate"
    ),
    "adam_betas": lambda b, a: (
        None
        if (a.adam_beta_1, a.adam_beta_2) == (b.adam_beta_1, b.adam_beta_2) or a.optimizer != "adam"
        else f"Adam betas {a.adam_beta_1:g}/{a.adam_beta_2:g}"
    ),
    "batch_size": lambda b, a: _more_or_fewer(
        b.batch_size, a.batch_size, "larger batches", "smaller batches"
    ),
    "epochs": lambda b, a: _more_or_fewer(b.epochs, a.epochs, "more epochs", "fewer epochs"),
    "scaling": lambda b, a: (
        None
        if a.scaling == b.scaling
        else ("raw pixels" if a.scaling == "raw" else "scaled pixels")
    ),
    "split": lambda b, a: None if a.split == b.split else f"{a.split} split",
    "validation": lambda b, a: _more_or_fewer(
        b.validation_fraction, a.validation_fraction, "more validation", "less validation"
    ),
    "train_size": lambda b, a: _more_or_fewer(
        b.train_size or MNIST_TRAIN_IMAGES,
        a.train_size or MNIST_TRAIN_IMAGES,
        "more images",
        "fewer images",
    ),
    "seed": lambda b, a: None if a.seed == b.seed else "another seed",
}


def comparison_note(
    previous: TrainingConfig,
    previous_accuracy: float,
    previous_seconds: float,
    current: TrainingConfig,
    accuracy: float,
    seconds: float,
) -> str:
    """Say what changed against the previous run, e.g. "more neurons, +0.4 points, 1.8x slower".

    Args:
        previous: The previous run's configuration.
        previous_accuracy: Its test accuracy (0 to 1).
        previous_seconds: Its training time.
        current: This run's configuration.
        accuracy: This run's test accuracy (0 to 1).
        seconds: This run's training time.

    Returns:
        One line: the changes (or "same settings"), the accuracy difference in percentage
        points (or, when the two were tested on different images, that they cannot be
        compared) and the speed ratio.
    """
    changes = [
        text for describe in CHANGE_DESCRIPTIONS.values() if (text := describe(previous, current))
    ]
    points = (accuracy - previous_accuracy) * 100
    # The article split draws its test images with the seed; the official test set is fixed.
    same_test_set = previous.split == current.split and (
        current.split == "official" or previous.seed == current.seed
    )
    accuracy_change = f"{points:+.1f} points"
    if not same_test_set:
        accuracy_change = "accuracies not comparable (tested on other images)"
    ratio = seconds / max(previous_seconds, 1e-9)
    if ratio >= 1.05:
        speed = f"{ratio:.1f}x slower"
    elif ratio <= 1 / 1.05:
        speed = f"{1 / ratio:.1f}x faster"
    else:
        speed = "about as fast"
    return f"{', '.join(changes) or 'same settings'}, {accuracy_change}, {speed}"
