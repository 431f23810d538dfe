"""AppTest of the Draw page: the default model, drawings, forged canvas messages, uploads,
bad uploads and the model choice.

AppTest runs no JavaScript: a drawing is given as the canvas component's state (what
ui/draw_pad/draw_pad.js sends when a stroke ends); the drawing itself, and the prediction
that follows the pen, are tested in a real Chromium (tests/browser/test_draw_browser.py,
tests/browser/test_draw_pad_equality.py).
"""

from __future__ import annotations

import base64
import io
import time

import numpy as np
import pytest
from PIL import Image

import ui
from core.data.datasets import load_default_dataset
from core.data.drawings import DOT_MESSAGE
from core.data.preprocess import render_as_drawing
from testkit.harness import app_test

PAGE = "app_pages/draw.py"
NOISE = np.random.default_rng(0).integers(0, 256, (60, 60), dtype=np.uint8)


def png_bytes(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def photo_of_test_digit(index: int) -> tuple[bytes, int]:
    """A test digit as dark ink on white paper, 4x larger, off-centre; and its label."""
    dataset = load_default_dataset()
    digit = Image.fromarray(255 - dataset.test_images[index]).resize((112, 112))
    paper = Image.new("L", (200, 160), 255)
    paper.paste(digit, (70, 20))
    return png_bytes(np.asarray(paper)), int(dataset.test_labels[index])


def constant_model(digit: int):
    """A real Keras model that ignores its input and always predicts `digit`."""
    import keras

    bias = np.zeros(10, dtype="float32")
    bias[digit] = 5.0
    model = keras.Sequential(
        [
            keras.Input(shape=(28, 28)),
            keras.layers.Flatten(),
            keras.layers.Dense(
                10,
                activation="softmax",
                kernel_initializer="zeros",
                bias_initializer=keras.initializers.Constant(bias),
            ),
        ]
    )
    return model


def upload(app, data: bytes, name: str = "digit.png", mime: str = "image/png"):
    app.run()
    app.radio(key="draw_input").set_value("Upload a picture").run()
    app.file_uploader(key="draw_upload").set_value((name, data, mime)).run()
    assert not app.exception, [exception.message for exception in app.exception]
    return app


def shown_choice(app) -> str:
    """The label the model picker shows for its chosen option."""
    box = app.selectbox(key="draw_model")
    return box.options[box.index]


def predicted_digit(app) -> str | None:
    metrics = [metric for metric in app.metric if metric.label == "Predicted digit"]
    return metrics[0].value if metrics else None


def test_page_renders_with_the_default_model_and_asks_for_a_drawing():
    app = app_test(PAGE)
    app.run()
    assert not app.exception
    assert app.title[0].value == "Draw a digit"
    assert app.selectbox(key="draw_model").value == ui.DEFAULT_CHOICE
    assert shown_choice(app) == "Default model (ships with MNIST Studio)"
    assert any("test accuracy" in caption.value for caption in app.caption)
    assert any("Draw a digit" in info.value for info in app.info)
    assert predicted_digit(app) is None
    assert app.session_state["draw_pad"] == {"drawing": None}


def canvas_state(pixels: np.ndarray, strokes=None) -> dict:
    """What the drawing component sends when a stroke ends (ui/draw_pad/draw_pad.js)."""
    png = "data:image/png;base64," + base64.b64encode(png_bytes(pixels)).decode()
    return {"drawing": {"png": png, "serial": 1, "strokes": strokes or []}}


@pytest.mark.parametrize("index", [0, 1, 2])
def test_a_drawing_sent_by_the_canvas_is_predicted_on_the_server(index):
    dataset = load_default_dataset()
    app = app_test(PAGE)
    app.run()
    app.session_state["draw_pad"] = canvas_state(
        render_as_drawing(dataset.test_images[index], 280, 180)
    )
    app.run()
    assert not app.exception
    assert predicted_digit(app) == str(dataset.test_labels[index])
    # AppTest sends no visitor cookie: the page predicts on the server and says why.
    assert app.session_state["draw_pad_last"]["serial"] == 1


def test_a_tap_is_called_a_dot_not_read_as_a_confident_zero():
    pixels = np.zeros((280, 280, 4), np.uint8)
    pixels[..., 3] = 255
    rows, columns = np.mgrid[:280, :280]
    pixels[(rows - 140) ** 2 + (columns - 140) ** 2 <= 9**2, :3] = 255  # An 18 px brush's tap.
    tap = [{"width": 18, "points": [[140, 140]]}]
    app = app_test(PAGE)
    app.run()
    app.session_state["draw_pad"] = canvas_state(pixels, strokes=tap)
    app.run()
    assert not app.exception
    assert predicted_digit(app) is None
    assert any(DOT_MESSAGE in info.value for info in app.info), [i.value for i in app.info]
    # The same picture without its strokes (a forged message) is judged as any picture.
    app.session_state["draw_pad"] = canvas_state(pixels)
    app.run()
    assert not app.exception
    assert predicted_digit(app) is not None


@pytest.mark.parametrize(
    ("drawing", "message"),
    [
        ({"png": "javascript:alert(1)"}, "did not arrive as a PNG"),
        ({"png": "data:image/png;base64,AAAA"}, "cannot be read"),
        ("<img src=x onerror=alert(1)>", "form the page does not know"),
        ({"png": None, "strokes": "x" * 1000}, "did not arrive as a PNG"),
    ],
)
def test_a_forged_canvas_message_gets_a_reason_not_a_traceback(drawing, message):
    app = app_test(PAGE)
    app.run()
    app.session_state["draw_pad"] = {"drawing": drawing}
    app.run()
    assert not app.exception
    assert predicted_digit(app) is None
    assert any(message in error.value for error in app.error), [e.value for e in app.error]


def test_a_wrong_sized_picture_is_refused():
    app = app_test(PAGE)
    app.run()
    app.session_state["draw_pad"] = canvas_state(np.zeros((100, 100, 4), np.uint8))
    app.run()
    assert not app.exception
    assert any("100x100, not 280x280" in error.value for error in app.error)


@pytest.mark.parametrize("index", [0, 1, 2, 3, 4])
def test_uploaded_photo_of_a_digit_is_predicted(index):
    data, label = photo_of_test_digit(index)
    app = upload(app_test(PAGE), data)
    assert not app.error
    assert predicted_digit(app) == str(label)
    assert any("Confidence" in markdown.value for markdown in app.markdown)
    # A clean white-paper picture is read as a scan: its grayscale and 28x28 steps are shown,
    # and the 28x28 input the model sees.
    assert len(app.get("image")) == 2
    assert any("Read as a clean scan" in caption.value for caption in app.caption)
    assert any("2 28x28 input" in str(element.proto) for element in app.get("image"))


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("notes.png", b"these are not pixels", "not an image that can be read"),
        ("half.png", png_bytes(NOISE)[: len(png_bytes(NOISE)) // 2], "truncated or damaged"),
    ],
)
def test_bad_upload_shows_an_error_and_no_prediction(name, data, message):
    app = upload(app_test(PAGE), data, name=name)
    assert len(app.error) == 1
    assert message in app.error[0].value and name in app.error[0].value
    assert predicted_digit(app) is None


def test_blank_upload_says_there_is_no_ink():
    app = upload(app_test(PAGE), png_bytes(np.full((80, 80), 255, np.uint8)))
    assert not app.error
    assert any("no ink" in info.value for info in app.info)
    assert predicted_digit(app) is None


def test_the_sessions_current_model_is_offered_first_and_used():
    app = app_test(PAGE)
    app.session_state[ui.KEY_CURRENT_MODEL] = ui.CurrentModel(
        model=constant_model(3), label="Always three"
    )
    data, label = photo_of_test_digit(0)
    assert label != 3
    upload(app, data)
    assert app.selectbox(key="draw_model").value == ui.CURRENT_CHOICE
    assert shown_choice(app) == "Your current model: Always three"
    assert predicted_digit(app) == "3"
    app.selectbox(key="draw_model").set_value(ui.DEFAULT_CHOICE).run()
    assert predicted_digit(app) == str(label)


def test_a_stored_run_can_be_chosen(isolated_run_store):
    from core.nn.config import TrainingConfig
    from core.runs import RunStore

    RunStore(isolated_run_store).save_run(
        kind="network",
        name="Always four",
        config=TrainingConfig().to_dict(),
        history=None,
        metrics={"test_accuracy": 0.1, "test_loss": 2.3},
        timings={"train_seconds": 1.0, "predict_seconds": 0.1},
        model=constant_model(4),
    )
    app = app_test(PAGE)
    data, _ = photo_of_test_digit(0)
    upload(app, data)
    labels = app.selectbox(key="draw_model").options
    stored = [label for label in labels if label.startswith("Stored run: #1 · Always four")]
    assert len(stored) == 1 and "10.0%" in stored[0]
    app.selectbox(key="draw_model").select_index(labels.index(stored[0])).run()
    assert not app.exception
    assert predicted_digit(app) == "4"


FASHION_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                 "Sneaker", "Bag", "Ankle boot")  # fmt: skip


def test_the_prediction_is_named_as_the_data_set_names_its_classes():
    """A Fashion-MNIST model says "Sneaker", not "7", everywhere on the page."""
    import dataclasses
    import json

    app = app_test(PAGE)
    app.session_state[ui.KEY_DATASET] = dataclasses.replace(
        load_default_dataset(), class_names=FASHION_NAMES
    )
    app.session_state[ui.KEY_CURRENT_MODEL] = ui.CurrentModel(
        model=constant_model(7), label="Always a sneaker"
    )
    upload(app, photo_of_test_digit(0)[0])
    assert not app.error
    assert predicted_digit(app) == "Sneaker"
    bars = next(
        json.loads(chart.proto.spec)
        for chart in app.get("plotly_chart")
        if "draw_probabilities" in chart.proto.id
    )
    assert list(bars["data"][0]["x"]) == list(FASHION_NAMES)
    assert "Prediction: Sneaker" in bars["layout"]["title"]["text"]
    verdicts = [element.proto.body for element in app.get("html")]
    assert any("Sneaker</span>" in body for body in verdicts), verdicts


@pytest.fixture
def served_pictures(monkeypatch):
    """Every picture the page hands to the browser, by the URL the page gives it."""
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

    served: dict[str, bytes] = {}
    original = MemoryMediaFileStorage.load_and_get_id

    def record(self, path_or_data, mimetype, kind, filename=None):
        file_id = original(self, path_or_data, mimetype, kind, filename)
        served[self.get_url(file_id)] = self.get_file(file_id).content
        return file_id

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", record)
    return served


def test_each_clean_up_step_is_served_with_the_grey_levels_the_model_uses(served_pictures, mnist):
    """Floats 0-255 given to st.image were read as 0-1: all white, or black and white only."""
    from core.data.image_files import load_uploaded_image
    from core.data.photo import clean_photo
    from testkit.photo_samples import photo_like_set

    sample = photo_like_set(mnist.test_images, mnist.test_labels, count=1, seed=3)[0]
    app = upload(app_test(PAGE), sample.jpeg, name="notebook.jpg", mime="image/jpeg")
    previews = next(image for image in app.get("image") if "lines removed" in str(image.proto))
    served = {
        image.caption: np.asarray(Image.open(io.BytesIO(served_pictures[image.url])).convert("L"))
        for image in previews.proto.imgs
    }
    expected = clean_photo(load_uploaded_image(sample.jpeg))
    steps = (expected.gray, expected.ink, expected.mask, expected.without_lines, expected.kept)
    for caption, step in zip(served, steps, strict=False):
        picture = np.clip(
            np.rint(np.asarray(step, dtype=np.float32) * (255 if step.dtype == bool else 1)), 0, 255
        )
        picture = picture.astype(np.uint8)
        # The browser's copy is the step's own picture, shrunk to the width shown.
        width = served[caption].shape[1]
        height = int(picture.shape[0] * width / picture.shape[1])
        shrunk = Image.fromarray(picture).resize((width, height), Image.Resampling.BILINEAR)
        difference = np.abs(served[caption].astype(int) - np.asarray(shrunk, dtype=int))
        assert difference.max() <= 1, caption
    gray, lighting = served["1 grayscale, cropped"], served["2 lighting divided out"]
    # Tinted, shadowed paper is grey, not white; dark ink on it.
    assert 100 <= np.median(gray) <= 235 and gray.min() <= 80
    # Light ink on black, with grey anti-aliased edges.
    assert np.median(lighting) <= 20 and lighting.max() >= 200
    assert np.count_nonzero((lighting > 60) & (lighting < 200)) >= 20
    # The 28x28 input has grey levels and is exactly the model's input, each pixel 3x3.
    model_input = served["6 28x28 input"]
    np.testing.assert_array_equal(model_input, np.kron(np.rint(expected.digit), np.ones((3, 3))))
    assert len(np.unique(model_input)) >= 20


def test_an_upload_is_decoded_once_however_often_the_page_reruns(monkeypatch):
    """Each rerun decoded the file again (16-19 s and gigabytes for 25-megapixel pictures).
    The decoded picture is held in the server's memory budget, one per session."""
    from core import singletons
    from core.data import image_files
    from core.visitors import memory_budget

    monkeypatch.delitem(singletons._objects, memory_budget.SINGLETON_KEY, raising=False)
    budget = memory_budget.server_budget()
    decoded = []
    original = image_files.load_uploaded_image

    def counting(data, *args, **kwargs):
        decoded.append(len(data))
        return original(data, *args, **kwargs)

    monkeypatch.setattr(image_files, "load_uploaded_image", counting)
    data, label = photo_of_test_digit(2)
    app = upload(app_test(PAGE), data)
    assert predicted_digit(app) == str(label)
    app.radio(key="draw_ink").set_value("dark ink on light paper").run()
    app.toggle(key="draw_explain").set_value(True).run()
    app.run()
    assert not app.exception
    assert predicted_digit(app) == str(label)
    assert decoded == [len(data)]
    # A new file is decoded (once), and the page holds only the newest picture.
    other, other_label = photo_of_test_digit(3)
    app.file_uploader(key="draw_upload").set_value(("other.png", other, "image/png")).run()
    app.run()
    assert decoded == [len(data), len(other)]
    assert predicted_digit(app) == str(other_label)
    (owner,) = budget.owners()
    held = budget.get(owner, "draw_upload_picture")
    assert held[1].shape == (160, 200)
    assert budget.owner_bytes(owner) == 160 * 200
    # Released for another visitor: the page decodes the file again and carries on.
    budget.release(owner, "draw_upload_picture")
    app.run()
    assert not app.exception
    assert decoded == [len(data), len(other), len(other)]
    assert predicted_digit(app) == str(other_label)
    # Back to drawing: the picture is let go.
    app.radio(key="draw_input").set_value("Draw on the canvas").run()
    assert budget.get(owner, "draw_upload_picture") is None and budget.held_bytes == 0


def test_a_failed_check_for_not_a_digit_says_so_instead_of_waiting_forever(monkeypatch):
    """Whatever the reference build raises resolves its Future: the page says it failed."""
    from core.inspection import novelty

    def broken(*args, **kwargs):
        raise RuntimeError("the embeddings ran out of memory")

    monkeypatch.setattr(novelty, "reference_for", broken)
    app = app_test(PAGE)
    app.session_state[ui.KEY_CURRENT_MODEL] = ui.CurrentModel(
        model=constant_model(3), label="Always three"
    )
    upload(app, photo_of_test_digit(0)[0])
    for _ in range(50):
        if any("could not be prepared" in warning.value for warning in app.warning):
            break
        time.sleep(0.1)
        app.run()
    assert not app.exception
    assert predicted_digit(app) == "3"
    warnings = [warning.value for warning in app.warning]
    assert any("could not be prepared" in text and "ran out of memory" in text for text in warnings)
    assert not any("still being prepared" in caption.value for caption in app.caption)
