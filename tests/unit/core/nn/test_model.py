"""Tests of core.nn.model: layers, parameter counts, scaling and seeding."""

import numpy as np
import pytest

from core.nn import PRESETS, TrainingConfig, count_parameters
from core.nn.model import (
    build_model,
    fuse_adam_updates,
    learning_rate_schedule,
    model_summary_table,
)


def test_article_network_has_101_770_parameters():
    config = PRESETS["As in the article"]
    model = build_model(config)
    table = model_summary_table(model)
    assert list(table.columns) == ["layer", "type", "output shape", "parameters"]
    dense = table[table["type"] == "Dense"]
    assert dense["parameters"].tolist() == [100_480, 1_290]
    assert table["parameters"].sum() == 101_770
    assert model.count_params() == 101_770
    assert count_parameters(config) == 101_770
    # Raw pixels: no rescaling layer.
    assert "Rescaling" not in table["type"].tolist()
    assert table.iloc[-1]["output shape"] == "(batch, 10)"


@pytest.mark.parametrize(
    "config",
    [
        TrainingConfig(hidden_layers=()),
        TrainingConfig(hidden_layers=(300, 100), dropout=0.2),
        TrainingConfig(architecture="cnn", conv_filters=(8, 16, 32, 64), hidden_layers=(16,)),
        PRESETS["Convolutional"],
    ],
)
def test_count_parameters_matches_keras(config):
    assert count_parameters(config) == build_model(config).count_params()


def test_unit_scaling_adds_rescaling_first_and_outputs_probabilities():
    model = build_model(TrainingConfig(scaling="unit"), num_classes=3)
    types = model_summary_table(model)["type"].tolist()
    assert types[:3] == ["InputLayer", "Rescaling", "Flatten"]
    pixels = np.random.default_rng(0).integers(0, 256, size=(4, 28, 28), dtype=np.uint8)
    probabilities = model.predict(pixels, verbose=0)
    assert probabilities.shape == (4, 3)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_cnn_has_conv_and_pooling_blocks():
    model = build_model(TrainingConfig(architecture="cnn", conv_filters=(4, 8), hidden_layers=()))
    table = model_summary_table(model)
    assert table["type"].tolist().count("Conv2D") == 2
    assert table["type"].tolist().count("MaxPooling2D") == 2
    assert table.set_index("layer").loc["pool_2", "output shape"] == "(batch, 7, 7, 8)"


def test_same_seed_gives_same_initial_weights():
    first = build_model(TrainingConfig(seed=3)).get_weights()
    second = build_model(TrainingConfig(seed=3)).get_weights()
    other = build_model(TrainingConfig(seed=4)).get_weights()
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], other[0])


def test_optimizer_and_loss_come_from_the_config():
    model = build_model(TrainingConfig(optimizer="sgd", learning_rate=0.02))
    assert type(model.optimizer).__name__ == "SGD"
    assert float(model.optimizer.learning_rate) == pytest.approx(0.02)
    assert model.loss == "sparse_categorical_crossentropy"


def test_adam_takes_the_betas_of_the_config_and_other_optimizers_ignore_them():
    model = build_model(TrainingConfig(adam_beta_1=0.7, adam_beta_2=0.9))
    assert (model.optimizer.beta_1, model.optimizer.beta_2) == (0.7, 0.9)
    default = build_model(TrainingConfig())
    assert (default.optimizer.beta_1, default.optimizer.beta_2) == (0.9, 0.999)
    sgd = build_model(TrainingConfig(optimizer="sgd", learning_rate=0.01, adam_beta_1=0.5))
    assert type(sgd.optimizer).__name__ == "SGD"


def test_too_few_classes_raise():
    with pytest.raises(ValueError, match="at least 2 classes"):
        build_model(TrainingConfig(), num_classes=1)


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_builds_with_the_parameters_it_announces(name):
    config = PRESETS[name]
    model = build_model(config, precision="float32")
    assert model.count_params() == count_parameters(config)
    assert model.output.dtype == "float32"
    assert model.get_layer("output").activation.__name__ == "softmax"


def test_schedules_lower_the_learning_rate_to_zero_by_the_last_step():
    constant = TrainingConfig(learning_rate=0.01)
    assert learning_rate_schedule(constant, 100) == 0.01
    cosine = learning_rate_schedule(TrainingConfig(learning_rate=0.01, schedule="cosine"), 100)
    assert float(cosine(0)) == pytest.approx(0.01)
    assert float(cosine(100)) == pytest.approx(0.0, abs=1e-9)
    cycle = learning_rate_schedule(TrainingConfig(learning_rate=0.01, schedule="one_cycle"), 100)
    # Warms up from a tenth over the first 30 steps, peaks, then decays to zero.
    assert float(cycle(0)) == pytest.approx(0.001)
    assert float(cycle(30)) == pytest.approx(0.01)
    assert float(cycle(15)) == pytest.approx(0.0055)
    assert float(cycle(100)) == pytest.approx(0.0, abs=1e-9)


def test_a_short_batch_norm_training_already_predicts_well(mnist):
    from core.nn.training import train_model

    # 63 steps: batch normalisation's moving statistics must have settled by then.
    config = TrainingConfig(
        architecture="cnn",
        conv_filters=(8, 16),
        hidden_layers=(32,),
        batch_norm=True,
        batch_size=32,
        train_size=2_000,
        epochs=1,
        validation_fraction=0.0,
    )
    assert train_model(config, mnist).test_accuracy > 0.8


def test_fused_adam_takes_the_steps_of_keras_adam_and_saves_as_plain_adam(tmp_path):
    import keras

    from core.nn.model import _network

    config = TrainingConfig(hidden_layers=(16,), batch_size=32, learning_rate=0.01)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (256, 28, 28)).astype(np.uint8)
    labels = rng.integers(0, 10, 256)
    fused = build_model(config, steps_per_execution=4, precision="float32")
    keras.utils.set_random_seed(config.seed)
    reference = _network(config, 10)
    reference.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    initial = fused.get_weights()
    for model in (fused, reference):
        model.fit(images, labels, batch_size=32, epochs=3, shuffle=False, verbose=0)

    assert "update_step" in vars(fused.optimizer)
    weights = zip(initial, fused.get_weights(), reference.get_weights(), strict=True)
    for before, after, expected in weights:
        assert np.max(np.abs(after - before)) > 1e-3
        np.testing.assert_allclose(after, expected, atol=1e-4)
    fused.save(tmp_path / "fused.keras")
    loaded = keras.saving.load_model(tmp_path / "fused.keras", safe_mode=True)
    assert type(loaded.optimizer) is keras.optimizers.Adam
    cnn = build_model(TrainingConfig(architecture="cnn", conv_filters=(4,)), precision="float32")
    assert "update_step" not in vars(cnn.optimizer)
    sgd = keras.optimizers.SGD()
    assert fuse_adam_updates(sgd) is sgd and "update_step" not in vars(sgd)
