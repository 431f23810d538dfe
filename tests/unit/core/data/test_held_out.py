"""Which images a run was tested on, and when two runs compare like for like."""

import numpy as np
import pandas as pd
import pytest

from core.data.held_out import (
    HeldOutImages,
    held_out_images,
    like_for_like,
    mixed_test_sets_warning,
    shared_held_out,
)
from core.data.splits import (
    HELD_OUT,
    NOT_USED,
    TRAINED_ON,
    VALIDATED_ON,
    held_out_sources,
    image_use,
    make_splits,
)
from core.nn.config import TrainingConfig
from core.runs.display import NOT_TESTED, held_out_labels

MNIST_SIZES = (60_000, 10_000)


def test_the_official_split_tests_on_the_test_file_whatever_the_seed():
    first = held_out_images(TrainingConfig(seed=0).to_dict(), "MNIST")
    second = held_out_images(TrainingConfig(seed=7).to_dict(), "MNIST")
    assert first == second == HeldOutImages("MNIST", "official", None)
    assert like_for_like(first, second)
    assert first.describe(MNIST_SIZES) == "test file (10,000)"


def test_article_runs_are_like_for_like_only_with_the_same_seed():
    article = TrainingConfig(split="article", validation_fraction=0.0)
    seed_0 = held_out_images(article.to_dict(), "MNIST")
    seed_3 = held_out_images({**article.to_dict(), "seed": 3}, "MNIST")
    official = held_out_images(TrainingConfig().to_dict(), "MNIST")
    assert seed_0.describe(MNIST_SIZES) == "15,000 held out of training, seed 0"
    assert seed_3.describe() == "held out of training, seed 3"
    assert like_for_like(seed_0, held_out_images(article.to_dict(), "MNIST"))
    assert not like_for_like(seed_0, seed_3)
    assert not like_for_like(seed_0, official)
    # The same split and seed on another data set are other images.
    assert not like_for_like(seed_0, held_out_images(article.to_dict(), "Fashion-MNIST"))


def test_runs_tested_on_different_images_are_both_scored_on_the_test_file():
    official = held_out_images(TrainingConfig().to_dict(), "MNIST")
    article = held_out_images(TrainingConfig(split="article").to_dict(), "MNIST")
    assert shared_held_out(article, official) == official
    assert shared_held_out(article, held_out_images({"split": "article", "seed": 1}, "MNIST")) == (
        official
    )
    assert shared_held_out(article, article) == article


def test_a_model_without_settings_or_with_odd_ones_counts_as_official():
    assert held_out_images(None, "MNIST") == HeldOutImages("MNIST", "official")
    assert held_out_images({"split": "nonsense"}, "MNIST").split == "official"
    assert held_out_images({"split": "article", "seed": "x"}, "MNIST").seed == 0
    assert held_out_images({"split": "article", "seed": 4.0}, "MNIST").seed == 4


def test_the_counts_are_the_sizes_the_splits_really_hold_out(mnist):
    for split in ("official", "article"):
        images = held_out_images({"split": split}, mnist.name)
        expected = len(make_splits(mnist, split, 0.0).x_test)
        assert images.count(len(mnist.train_images), len(mnist.test_images)) == expected


def test_a_mixed_table_gets_a_warning_naming_each_set_and_a_plain_one_none():
    runs = pd.DataFrame(
        {
            "dataset": ["MNIST", "MNIST", "MNIST"],
            "split": ["official", "article", None],
            "seed": [0, 2, None],
        }
    )
    texts = held_out_labels(runs, {"MNIST": MNIST_SIZES})
    assert texts == [
        "test file (10,000)",
        "15,000 held out of training, seed 2",
        "test file (10,000)",
    ]
    warning = mixed_test_sets_warning(texts)
    assert warning is not None and warning.startswith("Not like for like")
    assert "2 runs: test file (10,000); 1 run: 15,000 held out of training, seed 2" in warning
    assert mixed_test_sets_warning(texts[::2]) is None
    assert mixed_test_sets_warning([]) is None


def test_a_run_without_a_test_score_is_not_tested_and_makes_no_warning():
    """An interrupted run (its process died) has no score: it was tested on nothing, and a
    table of it beside a run tested on held-out images is no mixture (a visitor saw one)."""
    runs = pd.DataFrame(
        {
            "dataset": ["MNIST", "MNIST"],
            "split": ["official", "article"],
            "seed": [0, 0],
            "test_accuracy": [float("nan"), 0.95],
        }
    )
    texts = held_out_labels(runs, {"MNIST": MNIST_SIZES})
    assert texts == [NOT_TESTED, "15,000 held out of training, seed 0"]
    assert mixed_test_sets_warning([text for text in texts if text != NOT_TESTED]) is None


def test_a_table_of_several_data_sets_names_the_data_set():
    runs = pd.DataFrame(
        {"dataset": ["MNIST", "letters.gz"], "split": ["official", "official"], "seed": [0, 0]}
    )
    assert held_out_labels(runs, {"MNIST": MNIST_SIZES}) == [
        "MNIST: test file (10,000)",
        "letters.gz: test file",
    ]


def _index_of(dataset, image) -> int:
    """The training-file index of an image, found by its pixels."""
    (index,) = np.flatnonzero((dataset.train_images == image).all(axis=(1, 2)))
    return int(index)


def test_image_use_says_what_a_run_did_with_one_image(mnist):
    """Training image 999 (the article's 6) was trained on by a run of the official split."""
    assert image_use(mnist, "train", 999) == TRAINED_ON
    assert image_use(mnist, "test", 999) == HELD_OUT
    settings = {"validation_fraction": 0.1, "train_size": 1_000}
    splits = make_splits(mnist, "official", seed=0, **settings)
    trained = _index_of(mnist, splits.x_train[0])
    validated = _index_of(mnist, splits.x_val[0])
    assert image_use(mnist, "train", trained, **settings) == TRAINED_ON
    assert image_use(mnist, "train", validated, **settings) == VALIDATED_ON
    used = {image.tobytes() for image in (*splits.x_train, *splits.x_val)}
    unused = next(
        index for index, image in enumerate(mnist.train_images) if image.tobytes() not in used
    )
    assert image_use(mnist, "train", unused, **settings) == NOT_USED
    _, held_out = held_out_sources(mnist, "article", 3)
    assert image_use(mnist, "train", int(held_out[0]), "article", 3) == HELD_OUT
    assert image_use(mnist, "train", 999, "article", 3) == (
        HELD_OUT if 999 in set(held_out.tolist()) else TRAINED_ON
    )
    assert image_use(mnist, "test", 0, "article", 3) == NOT_USED
    with pytest.raises(ValueError, match="no image"):
        image_use(mnist, "train", len(mnist.train_images))
