"""The model file the Draw page's browser runs: what it holds, and what stays on the server."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest

from core.nn.browser_model import MAGIC, BrowserModelError, export_browser_model
from core.nn.config import TrainingConfig
from core.nn.model import build_model
from core.nn.precision import FLOAT32


def header_of(blob: bytes) -> tuple[dict, np.ndarray]:
    assert blob[:4] == MAGIC
    (length,) = struct.unpack("<I", blob[4:8])
    assert length % 4 == 0
    return json.loads(blob[8 : 8 + length]), np.frombuffer(blob[8 + length :], "<f4")


def numpy_forward(header: dict, data: np.ndarray, image: np.ndarray) -> np.ndarray:
    """A plain forward pass of a dense file, to check what the file holds."""
    x = image.astype(np.float64).ravel()
    for layer in header["layers"]:
        if layer["kind"] == "scale":
            x = x * layer["scale"] + layer["offset"]
        elif layer["kind"] == "dense":
            ref = layer["kernel"]
            kernel = data[ref["offset"] : ref["offset"] + ref["size"]].reshape(-1, layer["units"])
            x = x @ kernel
            if layer.get("bias"):
                x = x + data[layer["bias"]["offset"] : layer["bias"]["offset"] + layer["units"]]
            x = {"linear": x, "relu": np.maximum(x, 0), "tanh": np.tanh(x)}.get(
                layer["activation"], x
            )
            if layer["activation"] == "softmax":
                x = np.exp(x - x.max()) / np.exp(x - x.max()).sum()
        elif layer["kind"] == "activation":
            x = {"relu": np.maximum(x, 0), "tanh": np.tanh(x)}[layer["activation"]]
    return x


def test_a_dense_network_with_batch_norm_is_folded_and_gives_keras_answer(mnist):
    config = TrainingConfig(hidden_layers=(32,), activation="tanh", batch_norm=True, dropout=0.3)
    model = build_model(config, precision=FLOAT32)
    model.fit(mnist.train_images[:500].astype("float32"), mnist.train_labels[:500], epochs=1,
              verbose=0)  # fmt: skip
    exported = export_browser_model(model)
    header, data = header_of(exported.blob)
    kinds = [layer["kind"] for layer in header["layers"]]
    # Batch normalisation folded into the hidden layer, dropout left out.
    assert kinds == ["scale", "reshape", "dense", "activation", "dense"]
    assert header["classes"] == 10 and not exported.bfloat16
    assert exported.parameters == data.size
    # The file has fewer numbers than the model: the norm's four vectors became one bias.
    assert exported.parameters == model.count_params() - 4 * 32 + 32
    image = mnist.test_images[0]
    expected = model.predict_on_batch(image[np.newaxis].astype("float32"))[0]
    np.testing.assert_allclose(numpy_forward(header, data, image), expected, atol=1e-5)


def test_the_file_is_named_by_its_content():
    model = build_model(TrainingConfig(hidden_layers=(8,)), precision=FLOAT32)
    first, again = export_browser_model(model), export_browser_model(model)
    assert first.digest == again.digest and len(first.digest) == 64
    model.layers[-1].bias.assign(np.ones(10, np.float32))
    assert export_browser_model(model).digest != first.digest


def test_a_cnn_keeps_its_shapes_and_folds_both_norms():
    config = TrainingConfig(architecture="cnn", conv_filters=(4, 8), hidden_layers=(16,),
                            batch_norm=True)  # fmt: skip
    header, _ = header_of(export_browser_model(build_model(config, precision=FLOAT32)).blob)
    convolutions = [layer for layer in header["layers"] if layer["kind"] == "conv2d"]
    assert [c["output"] for c in convolutions] == [[28, 28, 4], [14, 14, 8]]
    assert all(c["bias"] is not None and c["window"] == [3, 3] for c in convolutions)
    assert "affine" not in [layer["kind"] for layer in header["layers"]]


def test_what_the_page_cannot_run_stays_on_the_server():
    import keras

    gelu = keras.Sequential(
        [keras.Input((28, 28)), keras.layers.Flatten(), keras.layers.Dense(10, activation="gelu")]
    )
    with pytest.raises(BrowserModelError, match="gelu"):
        export_browser_model(gelu)
    recurrent = keras.Sequential(
        [keras.Input((28, 28)), keras.layers.SimpleRNN(4), keras.layers.Dense(10)]
    )
    with pytest.raises(BrowserModelError, match="SimpleRNN"):
        export_browser_model(recurrent)
    wrong_input = keras.Sequential([keras.Input((32, 32)), keras.layers.Flatten(),
                                    keras.layers.Dense(10)])  # fmt: skip
    with pytest.raises(BrowserModelError, match="not 28x28"):
        export_browser_model(wrong_input)


def test_a_large_model_stays_on_the_server(monkeypatch):
    import core.nn.browser_model as browser_model

    model = build_model(TrainingConfig(hidden_layers=(64,)), precision=FLOAT32)
    monkeypatch.setattr(browser_model, "MAX_BROWSER_PARAMETERS", model.count_params() - 1)
    with pytest.raises(BrowserModelError, match="parameters"):
        browser_model.export_browser_model(model)
