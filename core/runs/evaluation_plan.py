"""What a model is evaluated on: the split and seed its configuration names, whether its
outputs fit the data set's classes, and the images two models are compared on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.data.held_out import HeldOutImages, held_out_images, like_for_like, shared_held_out


def config_setting(config: Any, name: str, default: Any) -> Any:
    """Return one setting of a model's configuration, or `default` when it has none.

    Args:
        config: A `core.nn.TrainingConfig`, the dict of the default model or a stored run's
            settings, or None (an imported model comes without one).
        name: The setting, e.g. ``"split"`` or ``"seed"``.
        default: What to return when the configuration does not say.
    """
    if config is None:
        return default
    if isinstance(config, dict):
        return config.get(name, default)
    return getattr(config, name, default)


def split_and_seed(config: Any) -> tuple[str, int]:
    """Return the (split, seed) whose held-out images a model is evaluated on."""
    return config_setting(config, "split", "official"), int(config_setting(config, "seed", 0))


def check_class_count(model: Any, num_classes: int) -> None:
    """Refuse a model whose output layer does not have one output per class of the data set.

    Args:
        model: A Keras model (any object with ``outputs``; without them nothing is checked).
        num_classes: The data set's number of classes.

    Raises:
        ValueError: The counts differ; the message says both and what to do.
    """
    outputs = getattr(model, "outputs", None)
    num_outputs = int(outputs[0].shape[-1]) if outputs else None
    if num_outputs is not None and num_outputs != num_classes:
        raise ValueError(
            f"The model predicts {num_outputs} classes but the data set has "
            f"{num_classes}; pick a model trained on this data set."
        )


@dataclass(frozen=True)
class ComparedImages:
    """The images two models were tested on, and those the comparison scores them on.

    Attributes:
        own: The images the first model was tested on.
        other: The images the second model was tested on.
        shared: Images neither trained on: their own when the same, else the test file.
    """

    own: HeldOutImages
    other: HeldOutImages
    shared: HeldOutImages

    @property
    def like_for_like(self) -> bool:
        """True when both were tested on the same images, so their scores compare directly."""
        return like_for_like(self.own, self.other)

    @property
    def rescored(self) -> tuple[str, int] | None:
        """The (split, seed) both are scored on again, or None when the first's own images
        serve (each model keeps its evaluation)."""
        return None if self.shared == self.own else (self.shared.split, 0)


def compared_images(
    first: tuple[str, int], second: tuple[str, int], dataset: str
) -> ComparedImages:
    """Return the images two models are compared on.

    Args:
        first, second: Each model's (split, seed), as `split_and_seed` gives them.
        dataset: The data set's name.
    """
    own = held_out_images({"split": first[0], "seed": first[1]}, dataset)
    other = held_out_images({"split": second[0], "seed": second[1]}, dataset)
    return ComparedImages(own, other, shared_held_out(own, other))
