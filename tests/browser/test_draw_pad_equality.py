"""The page's network gives the server's answer: 200 canvas drawings in Chromium, each model.

Each drawing is painted on a 280x280 canvas in Chromium with the drawing component's own
stroke painter; the page's preprocessing and forward pass (ui/draw_pad/mnist_net.js) run on
its pixels, and the same pixels go through `preprocess_digit` and Keras here. The 28x28 inputs
must agree within one grey level and the probabilities to 1e-4, for the shipped model and one
model of each architecture and layer kind the app trains.
"""

from __future__ import annotations

import base64
import math
from pathlib import Path

import numpy as np
import pytest

from core.data.preprocess import BlankDrawingError, predict_probabilities, preprocess_digit
from core.nn.browser_model import export_browser_model
from core.nn.config import TrainingConfig

pytestmark = pytest.mark.browser

SIZE = 280
DRAWINGS = 200
NET_SCRIPT = Path(__file__).resolve().parents[2] / "ui" / "draw_pad" / "mnist_net.js"
# Hand-drawn digit shapes (strokes of points on a 280x280 canvas), placed, scaled and
# brushed differently in each drawing.
SHAPES = [
    [[(140 + 55 * math.sin(a), 140 - 95 * math.cos(a)) for a in np.linspace(0, 2 * math.pi, 26)]],
    [[(140, 35), (140, 245)]],
    [[(80, 80), (140, 40), (200, 80), (80, 240), (210, 240)]],
    [[(80, 50), (200, 60), (130, 130), (210, 190), (140, 250), (70, 220)]],
    [[(95, 40), (80, 160), (205, 160)], [(175, 60), (175, 250)]],
    [[(200, 45), (90, 45), (85, 130), (180, 125), (200, 200), (140, 250), (75, 225)]],
    [[(190, 50), (110, 110), (85, 200), (140, 250), (195, 200), (150, 150), (90, 180)]],
    [[(70, 50), (210, 50), (120, 250)]],
    [[(140, 140), (90, 90), (140, 40), (190, 90), (140, 140), (80, 200), (140, 250), (200, 200),
      (140, 140)]],
    [[(190, 100), (140, 40), (90, 100), (140, 140), (190, 100), (170, 250)]],
]  # fmt: skip


def drawings() -> list[list[dict]]:
    """200 fixed drawings: the ten digit shapes moved and scaled, and random curves."""
    rng = np.random.default_rng(25)
    result = []
    for index in range(DRAWINGS):
        if index < 120:
            shape = SHAPES[index % len(SHAPES)]
            scale = rng.uniform(0.3, 1.0)
            dx, dy = rng.uniform(-60, 60, size=2) * (1 - scale + 0.2)
            width = float(rng.integers(4, 41))
            strokes = [
                {
                    "width": width,
                    "points": [
                        [
                            round(140 + (x - 140) * scale + dx, 1),
                            round(140 + (y - 140) * scale + dy, 1),
                        ]
                        for x, y in stroke
                    ],
                }
                for stroke in shape
            ]
        else:
            # Random curves: thin and thick, small and large, some touching the edges.
            strokes = []
            for _ in range(int(rng.integers(1, 4))):
                start = rng.uniform(0, SIZE, size=2)
                steps = rng.normal(0, rng.uniform(5, 40), size=(int(rng.integers(1, 30)), 2))
                points = np.clip(start + np.cumsum(steps, axis=0), -10, SIZE + 10)
                strokes.append(
                    {"width": float(rng.integers(2, 41)), "points": np.round(points, 1).tolist()}
                )
        result.append(strokes)
    return result


@pytest.fixture(scope="module")
def models(mnist):
    """The shipped CNN and small trained models of each kind the app builds."""
    import keras

    from core.nn.model import build_model
    from core.nn.precision import FLOAT32
    from core.settings import PROJECT_ROOT

    configs = {
        "article (dense, raw pixels)": TrainingConfig(hidden_layers=(128,), scaling="raw"),
        "dense, batch norm, tanh, dropout": TrainingConfig(
            hidden_layers=(64, 32), activation="tanh", batch_norm=True, dropout=0.2
        ),
        "dense, sigmoid, no hidden layer norm": TrainingConfig(
            hidden_layers=(48,), activation="sigmoid"
        ),
        "cnn, elu, no batch norm": TrainingConfig(
            architecture="cnn", conv_filters=(8, 16), hidden_layers=(32,), activation="elu"
        ),
        "cnn, selu, batch norm": TrainingConfig(
            architecture="cnn", conv_filters=(4, 8), hidden_layers=(16,), activation="selu",
            batch_norm=True,
        ),
        "no hidden layer": TrainingConfig(hidden_layers=()),
    }  # fmt: skip
    result = {
        "shipped CNN": keras.models.load_model(PROJECT_ROOT / "models" / "default" / "model.keras")
    }
    for name, config in configs.items():
        # Float32, as the shipped model: a CNN trained in bfloat16 is checked on its own below.
        model = build_model(config, precision=FLOAT32)
        images = mnist.train_images[:1000].astype("float32")
        model.fit(images, mnist.train_labels[:1000], batch_size=100, epochs=1, verbose=0)
        result[name] = model
    return result


def page_results(page, models: dict) -> list[dict]:
    """Paint the fixed drawings in Chromium; the page's inputs and each model's answers."""
    page.set_content("<canvas id='pad' width='280' height='280'></canvas>")
    page.add_script_tag(content=NET_SCRIPT.read_text())
    blobs = {name: export_browser_model(model).blob for name, model in models.items()}
    for name, blob in blobs.items():
        page.evaluate(
            """([name, data]) => {
                const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
                (window.models = window.models || {})[name] = MnistNet.parseModel(bytes.buffer);
            }""",
            [name, base64.b64encode(blob).decode()],
        )
    return page.evaluate(
        """(drawings) => {
            const canvas = document.getElementById('pad');
            const context = canvas.getContext('2d', {willReadFrequently: true});
            return drawings.map((strokes) => {
                context.fillStyle = '#000';
                context.fillRect(0, 0, 280, 280);
                for (const stroke of strokes) MnistNet.paintStroke(context, stroke);
                const pixels = context.getImageData(0, 0, 280, 280).data;
                const prepared = MnistNet.preprocess(pixels, 280, 280);
                const out = {blank: prepared.blank || null};
                let binary = '';
                for (let i = 0; i < pixels.length; i += 8192) {
                    binary += String.fromCharCode.apply(null, pixels.subarray(i, i + 8192));
                }
                out.rgba = btoa(binary);
                if (prepared.input) {
                    out.input = Array.from(prepared.input);
                    out.probabilities = {};
                    for (const [name, model] of Object.entries(window.models)) {
                        const answer = MnistNet.predict(model, prepared.input);
                        out.probabilities[name] = Array.from(answer);
                    }
                }
                return out;
            });
        }""",
        drawings(),
    )


def compare(results: list[dict], models: dict) -> tuple[int, float, dict, dict]:
    """Drawings judged, worst pixel difference, worst probability difference and top-class
    agreement per model, between the page and Python."""
    judged, worst_pixel = 0, 0.0
    worst_probability = dict.fromkeys(models, 0.0)
    agreeing = dict.fromkeys(models, 0)
    for result in results:
        rgba = np.frombuffer(base64.b64decode(result["rgba"]), np.uint8).reshape(SIZE, SIZE, 4)
        try:
            expected = preprocess_digit(rgba)
        except BlankDrawingError:
            assert result["blank"] is not None
            continue
        assert result["blank"] is None
        judged += 1
        page_input = np.asarray(result["input"], np.float32).reshape(28, 28)
        worst_pixel = max(worst_pixel, float(np.abs(page_input - expected).max()))
        for name, model in models.items():
            keras_probabilities = predict_probabilities(model, expected)
            page_probabilities = np.asarray(result["probabilities"][name])
            worst_probability[name] = max(
                worst_probability[name],
                float(np.abs(page_probabilities - keras_probabilities).max()),
            )
            agreeing[name] += int(page_probabilities.argmax() == keras_probabilities.argmax())
    return judged, worst_pixel, worst_probability, agreeing


def test_page_inputs_and_probabilities_match_python_on_200_drawings(page, models):
    results = page_results(page, models)
    assert len(results) == DRAWINGS
    judged, worst_pixel, worst_probability, agreeing = compare(results, models)
    # Nearly all of the drawings have ink (a few random curves may be too small or faint).
    assert judged >= 190, judged
    assert worst_pixel <= 1.0, worst_pixel
    assert all(worst <= 1e-4 for worst in worst_probability.values()), str(worst_probability)
    assert all(count == judged for count in agreeing.values()), agreeing


def test_a_cnn_computing_in_bfloat16_is_close_and_says_so(page, mnist):
    """The app trains CNNs in bfloat16 where the CPU has it; the page computes in float32."""
    from core.nn.model import build_model
    from core.nn.precision import BFLOAT16

    config = TrainingConfig(architecture="cnn", conv_filters=(8, 16), hidden_layers=(32,),
                            batch_norm=True)  # fmt: skip
    model = build_model(config, precision=BFLOAT16)
    model.fit(mnist.train_images[:1000].astype("float32"), mnist.train_labels[:1000],
              batch_size=100, epochs=1, verbose=0)  # fmt: skip
    exported = export_browser_model(model)
    assert exported.bfloat16
    judged, _, worst_probability, agreeing = compare(
        page_results(page, {"bf16": model}), {"bf16": model}
    )
    assert judged >= 190
    # bfloat16 keeps 8 significant bits: the two answers differ by a few tenths of a percent.
    assert worst_probability["bf16"] < 0.05, worst_probability
    assert agreeing["bf16"] >= 0.97 * judged, agreeing
