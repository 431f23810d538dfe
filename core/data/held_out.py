"""Which images a run was tested on, and whether two runs' scores compare like for like.

A run trained with the official split is scored on the test file's images (10,000 for
MNIST); one trained with the article's split on the quarter of the training file that its
seed held out (15,000). Accuracies measured on different images are not like for like, so
every table and comparison says what each run was tested on.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from core.data.splits import SPLITS

OFFICIAL_SPLIT = "official"


@dataclass(frozen=True)
class HeldOutImages:
    """The images a run was tested on: a data set, a split and (where it matters) a seed.

    Attributes:
        dataset: The data set's name.
        split: A key of `core.data.splits.SPLITS`.
        seed: The seed that chose the held-out images, or None when the split does not use
            one (the official split always tests on the test file).
    """

    dataset: str
    split: str
    seed: int | None = None

    def count(self, num_train: int, num_test: int) -> int:
        """Return how many images these are, for a data set of these sizes."""
        share = SPLITS[self.split].held_out_share
        # train_test_split rounds the held-out share up.
        return math.ceil(share * num_train) if share > 0 else num_test

    def describe(self, sizes: tuple[int, int] | None = None, dataset: bool = False) -> str:
        """Return a short description, e.g. ``"test file (10,000)"``.

        Args:
            sizes: ``(training images, test images)`` of this data set, to give the count.
            dataset: Whether to start with the data set's name.

        Returns:
            ``"test file (10,000)"`` or ``"15,000 held out of training, seed 3"``.
        """
        if SPLITS[self.split].held_out_share > 0:
            count = "" if sizes is None else f"{self.count(*sizes):,} "
            text = f"{count}held out of training, seed {self.seed}"
        else:
            text = "test file" if sizes is None else f"test file ({self.count(*sizes):,})"
        return f"{self.dataset}: {text}" if dataset else text


def held_out_images(config: Mapping[str, Any] | None, dataset: str) -> HeldOutImages:
    """Return the images a run with this configuration was tested on.

    Args:
        config: The run's configuration as a dict (`TrainingConfig.to_dict()` or a baseline's
            settings), or None for a model that came without one (an imported model: it is
            tested on the test file).
        dataset: The name of the data set it was trained on.

    Returns:
        Its `HeldOutImages`; an unknown split counts as the official one.
    """
    config = config or {}
    split = config.get("split")
    if not isinstance(split, str) or split not in SPLITS:
        split = OFFICIAL_SPLIT
    seed: int | None = None
    if SPLITS[split].held_out_share > 0:
        seed = _whole_number(config.get("seed"))
    return HeldOutImages(str(dataset), split, seed)


def _whole_number(value: Any) -> int:
    """A stored seed as an int (0 when it is missing or not a whole number)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0
    return int(number) if math.isfinite(number) and number.is_integer() else 0


def like_for_like(first: HeldOutImages, second: HeldOutImages) -> bool:
    """True when two runs were tested on the same images, so their scores compare directly."""
    return first == second


def shared_held_out(first: HeldOutImages, second: HeldOutImages) -> HeldOutImages:
    """Return images that neither of two runs trained on, to score both on.

    Their own held-out images when they are the same; otherwise the test file, which no
    split trains on (the article's split trains on part of the training file only).
    """
    if like_for_like(first, second):
        return first
    return HeldOutImages(first.dataset, OFFICIAL_SPLIT)


def mixed_test_sets_warning(descriptions: Iterable[str]) -> str | None:
    """Return a warning when runs were tested on different images, else None.

    Args:
        descriptions: Each run's `HeldOutImages.describe()` text.

    Returns:
        One sentence naming each set of images and how many runs were tested on it, or None
        when all were tested on the same images.
    """
    counts = Counter(descriptions)
    if len(counts) <= 1:
        return None
    groups = "; ".join(
        f"{count} {'run' if count == 1 else 'runs'}: {description}"
        for description, count in counts.most_common()
    )
    return (
        f"Not like for like: these runs were tested on different images ({groups}). "
        "Compare accuracies only between runs with the same 'Tested on'."
    )
