"""Tests of core.nn.precision and of bfloat16 networks: the choice, the layers, save and load."""

import keras
import numpy as np
import pytest

from core import settings
from core.nn.config import TrainingConfig
from core.nn.model import build_model
from core.nn.precision import (
    choose_precision,
    effective_precision,
    parse_cpu_flags,
    training_precision,
)
from core.nn.training import train_model

SAPPHIRE_RAPIDS = frozenset({"avx2", "avx512f", "avx512_bf16", "amx_tile", "amx_bf16"})
COOPER_LAKE = frozenset({"avx2", "avx512f", "avx512_bf16"})
AMX_ONLY = frozenset({"avx2", "amx_tile", "amx_bf16"})
ZEN3 = frozenset({"avx2", "fma", "sha_ni", "vaes"})
SMALL_CNN = TrainingConfig(
    architecture="cnn", conv_filters=(4, 8), hidden_layers=(16,), batch_norm=True, epochs=1
)


@pytest.mark.parametrize(
    ("setting", "flags", "expected"),
    [
        ("auto", SAPPHIRE_RAPIDS, "bfloat16"),
        ("auto", COOPER_LAKE, "bfloat16"),
        ("auto", AMX_ONLY, "bfloat16"),
        ("auto", ZEN3, "float32"),
        ("auto", frozenset(), "float32"),
        ("float32", SAPPHIRE_RAPIDS, "float32"),
        ("bfloat16", ZEN3, "bfloat16"),
    ],
)
def test_precision_is_chosen_from_the_setting_and_the_cpu_flags(setting, flags, expected):
    assert choose_precision(setting, flags) == expected


def test_unknown_precision_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="auto, float32 or bfloat16"):
        choose_precision("float16", ZEN3)


def test_cpu_flags_are_read_from_cpuinfo_text():
    text = "processor\t: 0\nvendor_id\t: GenuineIntel\nflags\t\t: fpu avx2 amx_bf16 avx512_bf16\n"
    assert parse_cpu_flags(text) == {"fpu", "avx2", "amx_bf16", "avx512_bf16"}
    assert parse_cpu_flags("processor : 0\n") == frozenset()


def test_precision_setting_forces_the_choice_and_ignores_junk(monkeypatch):
    monkeypatch.setenv("MNIST_STUDIO_PRECISION", "bfloat16")
    assert settings.precision() == "bfloat16"
    assert training_precision() == "bfloat16"
    monkeypatch.setenv("MNIST_STUDIO_PRECISION", "Float32")
    assert training_precision() == "float32"
    monkeypatch.setenv("MNIST_STUDIO_PRECISION", "half please")
    assert settings.precision() == "auto"


def test_only_the_convolutional_front_takes_bfloat16():
    dense = TrainingConfig(hidden_layers=(32,))
    assert effective_precision(dense, "bfloat16") == "float32"
    assert effective_precision(SMALL_CNN, "bfloat16") == "bfloat16"
    model = build_model(SMALL_CNN, precision="bfloat16")
    policies = {layer.name: layer.dtype_policy.name for layer in model.layers}
    assert policies["conv_1"] == policies["conv_norm_2"] == policies["pool_2"] == "mixed_bfloat16"
    assert policies["hidden_1"] == policies["output"] == "float32"
    # The softmax output computes and returns float32 probabilities.
    assert model.get_layer("conv_2").output.dtype == "bfloat16"
    assert model.output.dtype == "float32"
    probabilities = model.predict(np.zeros((3, 28, 28), np.uint8), verbose=0)
    assert probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-6)
    dense_model = build_model(dense, precision="bfloat16")
    assert {layer.dtype_policy.name for layer in dense_model.layers} == {"float32"}


def test_bfloat16_trained_model_predicts_the_same_after_save_and_load(mnist, tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_STUDIO_PRECISION", "bfloat16")
    config = TrainingConfig(
        architecture="cnn",
        conv_filters=(8, 16),
        hidden_layers=(32,),
        batch_norm=True,
        schedule="one_cycle",
        batch_size=32,
        train_size=2_000,
        epochs=1,
        validation_fraction=0.0,
    )
    result = train_model(config, mnist)
    assert result.precision == "bfloat16"
    assert result.timings["precision"] == "bfloat16"
    assert result.test_accuracy > 0.5  # it learned something in bfloat16
    path = tmp_path / "bf16.keras"
    result.model.save(path)
    loaded = keras.models.load_model(path)
    assert loaded.get_layer("conv_1").dtype_policy.name == "mixed_bfloat16"
    assert loaded.get_layer("output").dtype_policy.name == "float32"
    images = mnist.test_images[:200]
    before = result.model.predict(images, verbose=0)
    after = loaded.predict(images, verbose=0)
    np.testing.assert_allclose(after, before, atol=1e-5)
    assert (after.argmax(axis=1) == before.argmax(axis=1)).all()
