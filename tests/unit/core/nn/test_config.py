"""Tests of core.nn.config: bounds, JSON and query-parameter round trips, presets."""

import json

import pytest

from core.nn import OPTIMIZERS, PRESET_NOTES, PRESETS, TrainingConfig

# field -> (valid values at the bounds, invalid values just beyond them)
BOUNDS = {
    "hidden_layers": ([(), (1,), (2048,), (8,) * 8], [(0,), (2049,), (8,) * 9, (-3,)]),
    "conv_filters": ([(1,), (512,), (4,) * 4], [(), (0,), (513,), (4,) * 5]),
    "dropout": ([0.0, 0.8], [-0.01, 0.81, float("nan")]),
    "learning_rate": ([1e-6, 1.0], [9e-7, 1.01, 0.0, float("inf")]),
    "batch_size": ([1, 60_000], [0, 60_001, 12.5, True]),
    "epochs": ([1, 200], [0, 201, "5"]),
    "validation_fraction": ([0.0, 0.5], [-0.1, 0.51]),
    "train_size": ([None, 100, 60_000], [99, 60_001]),
    "seed": ([0, 2**31 - 1], [-1, 2**31]),
    "activation": (["relu", "sigmoid", "tanh", "elu", "selu"], ["softmax", "ReLU", ""]),
    "optimizer": (["adam", "sgd", "plain_sgd", "rmsprop"], ["adagrad", None]),
    "architecture": (["dense", "cnn"], ["rnn"]),
    "scaling": (["unit", "raw"], ["standard"]),
    "split": (["official", "article"], ["random"]),
}
CASES_OK = [(field, value) for field, (good, _) in BOUNDS.items() for value in good]
CASES_BAD = [(field, value) for field, (_, bad) in BOUNDS.items() for value in bad]


@pytest.mark.parametrize(("field", "value"), CASES_OK)
def test_values_at_the_bounds_are_accepted(field, value):
    config = TrainingConfig(**{field: value})
    assert getattr(config, field) == value


@pytest.mark.parametrize(("field", "value"), CASES_BAD)
def test_values_beyond_the_bounds_raise_a_helpful_value_error(field, value):
    with pytest.raises(ValueError) as error:
        TrainingConfig(**{field: value})
    message = str(error.value)
    assert message.endswith(".")
    # The message names the setting so the person knows what to change.
    label = field.split("_")[0].lower()
    assert label[:4] in message.lower() or "training-set" in message.lower()


def test_error_message_gives_the_range():
    with pytest.raises(ValueError, match=r"Epochs must be between 1 and 200; got 500\."):
        TrainingConfig(epochs=500)


def test_lists_become_tuples_and_config_is_frozen():
    config = TrainingConfig(hidden_layers=[64, 32])
    assert config.hidden_layers == (64, 32)
    with pytest.raises(AttributeError):
        config.epochs = 3  # type: ignore[misc]


@pytest.mark.parametrize("name", list(PRESETS))
def test_json_round_trip(name):
    config = PRESETS[name]
    text = config.to_json()
    assert json.loads(text)["hidden_layers"] == list(config.hidden_layers)
    assert TrainingConfig.from_json(text) == config


def test_json_round_trip_of_non_default_values():
    config = TrainingConfig(
        architecture="cnn",
        hidden_layers=(),
        conv_filters=(8, 16, 32),
        activation="selu",
        dropout=0.25,
        optimizer="rmsprop",
        learning_rate=3e-4,
        batch_size=1,
        epochs=200,
        scaling="raw",
        split="article",
        validation_fraction=0.0,
        train_size=2_000,
        seed=42,
    )
    assert TrainingConfig.from_json(config.to_json()) == config
    assert TrainingConfig.from_dict(config.to_dict()) == config


def test_from_json_rejects_bad_text_and_unknown_keys():
    with pytest.raises(ValueError, match="not valid JSON"):
        TrainingConfig.from_json("{epochs: 3")
    with pytest.raises(ValueError, match="object"):
        TrainingConfig.from_json("[1, 2]")
    with pytest.raises(ValueError, match="Unknown configuration keys: neurons"):
        TrainingConfig.from_json('{"neurons": 5}')


def test_query_params_round_trip():
    config = TrainingConfig(
        hidden_layers=(), dropout=0.3, train_size=5_000, learning_rate=0.0005, seed=7
    )
    params = config.to_query_params()
    assert all(isinstance(value, str) for value in params.values())
    assert params["hidden_layers"] == "none"
    rebuilt, ignored = TrainingConfig.from_query_params(params)
    assert rebuilt == config
    assert ignored == []


def test_query_params_with_junk_fall_back_per_field_and_name_what_was_ignored():
    params = {
        "epochs": "lots",
        "hidden_layers": "64,32",
        "dropout": "0.95",
        "batch_size": "",
        "utm_source": "mail",
        "activation": "tanh",
    }
    config, ignored = TrainingConfig.from_query_params(params)
    assert config.hidden_layers == (64, 32)
    assert config.activation == "tanh"
    default = TrainingConfig()
    assert config.epochs == default.epochs
    assert config.dropout == default.dropout
    assert config.batch_size == default.batch_size
    assert ignored == ["batch_size", "dropout", "epochs", "utm_source"]


def test_presets_match_the_issue():
    article = PRESETS["As in the article"]
    assert article.summary(10) == "784-128-10 relu, adam 0.001, 20 ep"
    assert (article.batch_size, article.scaling, article.split) == (128, "raw", "article")
    assert article.validation_fraction == 0.0
    assert PRESETS["Convolutional"].architecture == "cnn"
    assert set(PRESETS) == {
        "As in the article",
        "Article, plain SGD",
        "Recommended",
        "Quick look",
        "Best dense",
        "Convolutional",
    }
    assert PRESETS["Best dense"].architecture == "dense"  # no convolutions
    plain = PRESETS["Article, plain SGD"]
    assert (plain.optimizer, plain.learning_rate, plain.scaling) == ("plain_sgd", 0.01, "unit")
    assert set(PRESET_NOTES) == set(PRESETS)


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_survives_a_share_link(name):
    rebuilt, ignored = TrainingConfig.from_query_params(PRESETS[name].to_query_params())
    assert rebuilt == PRESETS[name]
    assert ignored == []


def test_batch_norm_and_schedule_are_checked_and_shared():
    config = TrainingConfig(batch_norm=True, schedule="one_cycle")
    assert config.summary(10).endswith("batch norm, one-cycle schedule")
    assert config.to_query_params()["batch_norm"] == "1"
    rebuilt, ignored = TrainingConfig.from_query_params({"batch_norm": "maybe", "schedule": "x"})
    assert (rebuilt.batch_norm, rebuilt.schedule) == (False, "constant")
    assert ignored == ["batch_norm", "schedule"]
    with pytest.raises(ValueError, match="Learning-rate schedule must be one of"):
        TrainingConfig(schedule="step")
    with pytest.raises(ValueError, match="Batch normalisation must be true or false"):
        TrainingConfig(batch_norm="yes")
    # Stored runs from before these fields existed still load, with the old behaviour.
    old = {
        key: value
        for key, value in config.to_dict().items()
        if key not in {"batch_norm", "schedule"}
    }
    assert TrainingConfig.from_dict(old).schedule == "constant"


def test_adam_betas_are_checked_shared_and_optional_in_stored_runs():
    config = TrainingConfig(adam_beta_1=0.7, adam_beta_2=0.9)
    assert "adam 0.001 betas 0.7/0.9," in config.summary(10)
    assert TrainingConfig().summary(10) == "784-256-10 relu, adam 0.001, 5 ep"
    params = config.to_query_params()
    assert (params["adam_beta_1"], params["adam_beta_2"]) == ("0.7", "0.9")
    rebuilt, ignored = TrainingConfig.from_query_params(params)
    assert rebuilt == config and ignored == []
    rebuilt, ignored = TrainingConfig.from_query_params({"adam_beta_1": "1", "adam_beta_2": "x"})
    assert (rebuilt.adam_beta_1, rebuilt.adam_beta_2) == (0.9, 0.999)
    assert ignored == ["adam_beta_1", "adam_beta_2"]
    with pytest.raises(ValueError, match="Adam beta 1 must be between 0 and 0.9999"):
        TrainingConfig(adam_beta_1=1.0)
    with pytest.raises(ValueError, match="Adam beta 2 must be a number"):
        TrainingConfig(adam_beta_2="0.9")
    # Stored runs from before these fields existed load with Keras's betas.
    old = {key: value for key, value in config.to_dict().items() if not key.startswith("adam_")}
    assert TrainingConfig.from_dict(old).default_adam_betas
    assert TrainingConfig.from_json(config.to_json()) == config


def test_optimizer_registry_builds_keras_optimizers():
    sgd = OPTIMIZERS["sgd"].build(0.05)
    assert float(sgd.learning_rate) == pytest.approx(0.05)
    assert sgd.momentum == pytest.approx(0.9)
    assert type(OPTIMIZERS["rmsprop"].build(0.001)).__name__ == "RMSprop"


def test_switching_optimizer_proposes_its_own_learning_rate_unless_one_was_typed():
    from core.nn import OPTIMIZERS, learning_rate_for

    assert OPTIMIZERS["sgd"].default_learning_rate == 0.01
    assert learning_rate_for("sgd", 0.002, typed=False) == 0.01
    assert learning_rate_for("adam", 0.01, typed=False) == 0.001
    assert learning_rate_for("sgd", 0.005, typed=True) == 0.005
    with pytest.raises(ValueError, match="Optimizer must be one of"):
        learning_rate_for("lbfgs", 0.001, typed=False)

    plain = OPTIMIZERS["plain_sgd"].build(0.01)
    assert (type(plain).__name__, plain.momentum) == ("SGD", 0.0)


def test_a_three_class_network_is_described_with_three_outputs():
    dense = TrainingConfig(hidden_layers=(128,))
    assert dense.network_summary(3) == "784-128-3"
    assert dense.summary(3) == "784-128-3 relu, adam 0.001, 5 ep"
    cnn = TrainingConfig(architecture="cnn", conv_filters=(16, 32), hidden_layers=(64,))
    assert cnn.network_summary(3) == "conv 16-32, dense 64-3"


def test_a_link_made_before_adam_betas_were_settings_keeps_keras_betas():
    recommended = PRESETS["Recommended"]
    assert not recommended.default_adam_betas
    # A full link of before issue 26: every field but the betas.
    old_link = {
        name: value
        for name, value in recommended.to_query_params().items()
        if not name.startswith("adam_beta")
    }
    config, ignored = TrainingConfig.from_query_params(old_link, base=recommended)
    assert ignored == [] and config.default_adam_betas
    # A short hand-made link changes only what it names: the base's betas stay.
    config, _ = TrainingConfig.from_query_params({"epochs": "3"}, base=recommended)
    assert (config.adam_beta_1, config.adam_beta_2) == (0.8, 0.99)
