"""Uploaded configuration JSON and Keras models: good files load, bad ones say why."""

import json
import zipfile
from io import BytesIO

import keras
import pytest

from core.config import TrainingConfig
from core.imports import UploadError, config_from_json, model_from_keras_file
from core.model import build_model


def test_configuration_round_trips_through_an_export_file():
    config = TrainingConfig(hidden_layers=(64, 32), activation="tanh", epochs=3, seed=7)
    exported = json.dumps({"config": config.to_dict(), "name": "my run"}).encode()
    assert config_from_json(exported, "run.json") == config
    assert config_from_json(config.to_json(), "bare.json") == config


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x89PNG\r\n", "not a JSON file"),
        (b"[1, 2, 3]", "JSON object of settings"),
        (b'{"config": 5}', "must be an object"),
        (b'{"epochs": 100000}', "does not hold a usable configuration"),
        (b'{"activation": "__import__(\\"os\\")"}', "does not hold a usable configuration"),
        (b"[" * 100_000, "at most 65,536 bytes"),
        (b"[" * 50_000, "not a JSON file"),
    ],
)
def test_bad_configuration_files_are_refused_with_a_reason(data, message):
    with pytest.raises(UploadError, match=message) as error:
        config_from_json(data, "upload.json")
    assert "upload.json" in str(error.value) or "at most" in str(error.value)


def _keras_bytes(model, tmp_path) -> bytes:
    path = tmp_path / "model.keras"
    model.save(path)
    return path.read_bytes()


def test_a_model_of_the_app_loads_and_predicts_the_same(tmp_path):
    model = build_model(TrainingConfig(hidden_layers=(8,)))
    loaded = model_from_keras_file(_keras_bytes(model, tmp_path), "m.keras")
    images = keras.random.uniform((3, 28, 28), maxval=255, seed=1)
    assert keras.ops.convert_to_numpy(loaded(images)).shape == (3, 10)


def test_a_model_with_a_lambda_layer_is_refused_in_safe_mode(tmp_path):
    inputs = keras.Input((28, 28))
    outputs = keras.layers.Dense(10, activation="softmax")(
        keras.layers.Flatten()(keras.layers.Lambda(lambda x: x * 2)(inputs))
    )
    data = _keras_bytes(keras.Model(inputs, outputs), tmp_path)
    with pytest.raises(UploadError, match="could not be loaded safely"):
        model_from_keras_file(data, "lambda.keras")


def test_a_model_of_the_wrong_shape_is_refused(tmp_path):
    model = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Flatten(),
                              keras.layers.Dense(10, activation="softmax")])  # fmt: skip
    with pytest.raises(UploadError, match="28x28"):
        model_from_keras_file(_keras_bytes(model, tmp_path), "cifar.keras")


def test_a_file_that_is_not_a_keras_archive_is_refused():
    with pytest.raises(UploadError, match="not a Keras model file"):
        model_from_keras_file(b"hello", "notes.keras")
    archive = BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("readme.txt", "not a model")
    with pytest.raises(UploadError, match="could not be loaded safely"):
        model_from_keras_file(archive.getvalue(), "zip.keras")
