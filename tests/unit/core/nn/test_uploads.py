"""Uploaded configuration JSON and Keras models: good files load, bad ones say why."""

import json
import zipfile
from io import BytesIO

import keras
import pytest

from core import settings
from core.nn import PRESETS, TrainingConfig, count_parameters, training_flops_per_sample
from core.nn.layer_costs import model_cost_from_config
from core.nn.model import build_model
from core.nn.model_files import evaluation_batch_size, model_from_keras_file
from core.nn.uploads import (
    ArchiveTooLargeError,
    LayerNotAllowedError,
    ModelImportError,
    ModelShapeError,
    ModelTooCostlyError,
    NotAKerasFileError,
    UnexpectedMemberError,
    UploadError,
    config_from_json,
)
from testkit.attack_files import many_members, padded_config


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
    with pytest.raises(LayerNotAllowedError, match="is a Lambda; MNIST Studio imports only"):
        model_from_keras_file(data, "lambda.keras")


def test_a_model_of_the_wrong_shape_is_refused(tmp_path):
    model = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Flatten(),
                              keras.layers.Dense(10, activation="softmax")])  # fmt: skip
    with pytest.raises(ModelShapeError, match="28x28"):
        model_from_keras_file(_keras_bytes(model, tmp_path), "cifar.keras")


def test_a_file_that_is_not_a_keras_archive_is_refused():
    with pytest.raises(NotAKerasFileError, match="not a Keras model file"):
        model_from_keras_file(b"hello", "notes.keras")
    archive = BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("readme.txt", "not a model")
    with pytest.raises(UnexpectedMemberError, match="'readme.txt'; a Keras model file holds only"):
        model_from_keras_file(archive.getvalue(), "zip.keras")


def _small_model_bytes(tmp_path) -> bytes:
    return _keras_bytes(build_model(TrainingConfig(hidden_layers=(8,))), tmp_path)


def _rezipped(members: dict[str, bytes], compression=zipfile.ZIP_STORED) -> bytes:
    buffer = BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def _members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def test_every_refusal_is_a_model_import_error_and_a_value_error():
    for error in (ArchiveTooLargeError, LayerNotAllowedError, ModelShapeError,
                  ModelTooCostlyError, NotAKerasFileError, UnexpectedMemberError):  # fmt: skip
        assert issubclass(error, ModelImportError)
        assert issubclass(error, ValueError)


def test_a_padded_config_json_is_refused_from_the_listing(tmp_path):
    """Finding 1: 3.9 MiB of spaces after config.json took Keras to 8.5 GiB."""
    data = padded_config(_small_model_bytes(tmp_path))
    with pytest.raises(ArchiveTooLargeError, match=r"config\.json in padded\.keras unpacks to"):
        model_from_keras_file(data, "padded.keras")


def test_a_config_json_just_under_the_cap_still_loads(tmp_path):
    data = padded_config(_small_model_bytes(tmp_path), padding=200 * 1024)
    assert model_from_keras_file(data, "padded.keras").output_shape == (None, 10)


def test_extra_members_are_refused_before_anything_is_extracted(tmp_path):
    """Finding 2: with more than three members Keras extracted them all to disk."""
    data = many_members(_small_model_bytes(tmp_path), count=2, member_bytes=1024)
    with pytest.raises(UnexpectedMemberError, match="'assets/filler_0.bin'"):
        model_from_keras_file(data, "many.keras")


def test_a_highly_compressed_member_is_refused(tmp_path):
    members = _members(_small_model_bytes(tmp_path))
    members["model.weights.h5"] += bytes(20 * 2**20)
    with pytest.raises(ArchiveTooLargeError, match="expands .* times; at most 20"):
        model_from_keras_file(_rezipped(members, zipfile.ZIP_DEFLATED), "bomb.keras")


def test_weights_larger_than_the_parameters_need_are_refused(tmp_path):
    members = _members(_small_model_bytes(tmp_path))
    members["model.weights.h5"] += bytes(3 * 2**20)
    with pytest.raises(ArchiveTooLargeError, match="more than its 6,370 parameters need"):
        model_from_keras_file(_rezipped(members), "heavy.keras")


def test_a_missing_member_is_named(tmp_path):
    members = _members(_small_model_bytes(tmp_path))
    del members["model.weights.h5"]
    with pytest.raises(UnexpectedMemberError, match="has no model.weights.h5"):
        model_from_keras_file(_rezipped(members), "empty.keras")


def _upsampling(tmp_path) -> bytes:
    from testkit.attack_files import upsampling_model

    return upsampling_model()


def test_an_upsampling_model_is_refused_by_the_layer_list(tmp_path):
    """Finding 3: Reshape -> UpSampling2D 6x -> Conv2D took Evaluate to 4.8 GiB."""
    with pytest.raises(LayerNotAllowedError, match="is a UpSampling2D; MNIST Studio imports only"):
        model_from_keras_file(_upsampling(tmp_path), "up.keras")


def _wide_convolution(filters: int) -> keras.Model:
    return keras.Sequential([
        keras.Input((28, 28)), keras.layers.Reshape((28, 28, 1)),
        keras.layers.Conv2D(64, 3, padding="same"), keras.layers.Conv2D(filters, 3, padding="same"),
        keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(10, activation="softmax"),
    ])  # fmt: skip


def test_a_model_over_the_operations_cap_is_refused_with_its_count(tmp_path):
    data = _keras_bytes(_wide_convolution(512), tmp_path)
    with pytest.raises(
        ModelTooCostlyError, match="needs 464 million operations per image; at most 50"
    ):
        model_from_keras_file(data, "wide.keras", limits=settings.DEMO_LIMITS)
    # Locally the same model is allowed, and evaluated in small batches.
    model = model_from_keras_file(data, "wide.keras", limits=settings.Limits())
    # 2.5 float32 copies of the largest activation (core.nn.budget.ACTIVATION_COPIES).
    assert evaluation_batch_size(model) == 256 * 2**20 // (28 * 28 * 512 * 4 * 5 // 2)


def test_a_model_over_the_parameter_cap_is_refused(tmp_path):
    model = build_model(TrainingConfig(hidden_layers=(2048, 2048)))
    limits = settings.Limits(max_import_parameters=1_000_000)
    with pytest.raises(ModelTooCostlyError, match="has 5,824,522 parameters; at most 1,000,000"):
        model_from_keras_file(_keras_bytes(model, tmp_path), "big.keras", limits=limits)


def test_a_model_with_two_branches_is_refused(tmp_path):
    inputs = keras.Input((28, 28))
    flat = keras.layers.Flatten()(inputs)
    merged = keras.layers.Add()([keras.layers.Dense(10)(flat), keras.layers.Dense(10)(flat)])
    data = _keras_bytes(keras.Model(inputs, keras.layers.Softmax()(merged)), tmp_path)
    with pytest.raises(LayerNotAllowedError):
        model_from_keras_file(data, "branches.keras")


@pytest.mark.parametrize("preset", ["As in the article", "Convolutional"])
def test_the_layer_counter_agrees_with_the_apps_own_counts(preset):
    config = PRESETS[preset]
    model = build_model(config)
    cost = model_cost_from_config(
        {"class_name": "Functional", "config": json.loads(json.dumps(model.get_config()))}
    )
    assert cost.input_shape == (28, 28) and cost.output_shape == (10,)
    assert cost.parameters == count_parameters(config) == model.count_params()
    weighted = sum(layer.flops for layer in cost.layers if layer.kind in ("Dense", "Conv2D"))
    assert 3 * weighted == training_flops_per_sample(config)


def test_small_models_are_evaluated_in_full_batches():
    assert evaluation_batch_size(build_model(TrainingConfig(hidden_layers=(128,)))) == 512


def test_names_from_the_file_reach_the_message_as_plain_characters():
    hostile = "**[Log in again](https://evil.example/login)** ![t](https://evil.example/p.png)"
    config = {
        "class_name": "Sequential",
        "config": {
            "layers": [
                {"class_name": "InputLayer", "config": {"batch_shape": [None, 28, 28]}},
                {"class_name": hostile, "config": {"name": hostile}},
            ]
        },
    }
    with pytest.raises(LayerNotAllowedError) as error:
        model_cost_from_config(config)
    message = str(error.value)
    assert not set("[]()*!:") & set(message.split(";")[0])
    assert message.startswith("Layer '???Log in again??https?//evil.example/lo' is a ???Log")
