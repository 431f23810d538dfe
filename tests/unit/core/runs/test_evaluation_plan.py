"""`core.runs.evaluation_plan`: a model's split and seed, its class count, compared images."""

from types import SimpleNamespace

import pytest

from core.nn.config import TrainingConfig
from core.runs.evaluation_plan import (
    check_class_count,
    compared_images,
    config_setting,
    split_and_seed,
)


def test_a_setting_is_read_from_a_dict_a_config_or_nothing():
    assert config_setting({"split": "article"}, "split", "official") == "article"
    assert config_setting({}, "split", "official") == "official"
    assert config_setting(TrainingConfig(seed=7), "seed", 0) == 7
    assert config_setting(SimpleNamespace(), "seed", 0) == 0
    assert config_setting(None, "seed", 3) == 3
    assert split_and_seed({"split": "article", "seed": "4"}) == ("article", 4)
    assert split_and_seed(None) == ("official", 0)


def model_with_outputs(count):
    return SimpleNamespace(outputs=[SimpleNamespace(shape=(None, count))])


def test_a_model_must_have_one_output_per_class():
    check_class_count(model_with_outputs(10), 10)
    check_class_count(SimpleNamespace(), 26)  # no outputs to check (e.g. a baseline)
    with pytest.raises(ValueError, match="predicts 10 classes but the data set has 26"):
        check_class_count(model_with_outputs(10), 26)


def test_models_tested_on_the_same_images_keep_their_own_evaluations():
    images = compared_images(("article", 2), ("article", 2), "MNIST")
    assert images.like_for_like
    assert images.rescored is None
    assert images.own.describe((60_000, 10_000)) == "15,000 held out of training, seed 2"


def test_models_tested_on_different_images_are_both_scored_on_the_test_file():
    images = compared_images(("article", 2), ("article", 5), "MNIST")
    assert not images.like_for_like
    assert images.rescored == ("official", 0)
    assert images.shared.describe((60_000, 10_000)) == "test file (10,000)"
    assert images.other.seed == 5
