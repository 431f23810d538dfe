"""The shipped default model (models/default/): its files, its accuracy, and on drawn digits."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.data.datasets import MNIST_NUM_CLASSES, load_default_dataset
from core.data.preprocess import predict_probabilities, preprocess_digit, render_as_drawing
from core.nn.config import TrainingConfig
from core.settings import PROJECT_ROOT
from testkit.drawings import draw_seven, draw_zero

MODEL_DIR = PROJECT_ROOT / "models" / "default"
MAX_FILE_BYTES = 2 * 1024 * 1024
DRAWN_IMAGES = 1000


@pytest.fixture(scope="module")
def metadata() -> dict:
    return json.loads((MODEL_DIR / "model.json").read_text())


@pytest.fixture(scope="module")
def model():
    import keras

    return keras.saving.load_model(MODEL_DIR / "model.keras", safe_mode=True)


@pytest.fixture(scope="module")
def dataset():
    return load_default_dataset()


def predict_classes(model, images: np.ndarray) -> np.ndarray:
    return np.argmax(model.predict(images.astype(np.float32), batch_size=500, verbose=0), axis=1)


def test_model_file_is_small_and_metadata_complete(metadata):
    assert (MODEL_DIR / "model.keras").stat().st_size < MAX_FILE_BYTES
    config = TrainingConfig.from_dict(metadata["config"])
    assert config.architecture == "cnn"
    assert metadata["summary"] == config.summary(MNIST_NUM_CLASSES)
    for key in ("test_accuracy", "drawn_test_accuracy", "seconds", "date", "command"):
        assert key in metadata, key
    assert metadata["command"].startswith("python scripts/train_default_model.py")
    assert metadata["test_images"] == 10_000
    assert metadata["augmentation"]["max_rotation_degrees"] > 0


def test_model_takes_raw_pixels_and_returns_probabilities(model, dataset):
    assert tuple(model.input_shape) == (None, 28, 28)
    assert tuple(model.output_shape) == (None, 10)
    probabilities = predict_probabilities(model, dataset.test_images[0])
    assert probabilities.shape == (10,)
    assert probabilities.sum() == pytest.approx(1.0, abs=1e-5)
    assert int(np.argmax(probabilities)) == int(dataset.test_labels[0])


def test_test_accuracy_is_high_and_matches_the_metadata(model, metadata, dataset):
    accuracy = float(np.mean(predict_classes(model, dataset.test_images) == dataset.test_labels))
    assert accuracy >= 0.985
    assert accuracy == pytest.approx(metadata["test_accuracy"], abs=0.002)


def test_digits_drawn_on_a_canvas_keep_the_accuracy_within_two_points(model, metadata, dataset):
    rng = np.random.default_rng(7)
    indices = rng.choice(len(dataset.test_images), DRAWN_IMAGES, replace=False)
    images, labels = dataset.test_images[indices], dataset.test_labels[indices]
    drawn = np.empty(images.shape, dtype=np.float32)
    for position, image in enumerate(images):
        size = int(rng.integers(80, 270))
        row, column = (int(value) for value in rng.integers(0, 280 - size + 1, 2))
        canvas = render_as_drawing(image, 280, size, (row, column), dark_on_light=position % 4 == 0)
        drawn[position] = preprocess_digit(canvas)
    plain_accuracy = float(np.mean(predict_classes(model, images) == labels))
    drawn_accuracy = float(np.mean(predict_classes(model, drawn) == labels))
    assert drawn_accuracy >= plain_accuracy - 0.02
    assert metadata["drawn_test_accuracy"] >= metadata["test_accuracy"] - 0.02


@pytest.mark.parametrize(
    ("expected", "canvas"),
    [
        (7, draw_seven((60, 40, 200, 240), width=18)),
        (7, draw_seven((8, 10, 60, 80), width=5)),
        (7, draw_seven((60, 40, 200, 240), width=16, dark_on_light=True)),
        (0, draw_zero((80, 40, 200, 240), width=18)),
        (0, draw_zero((150, 150, 260, 275), width=6)),
    ],
)
def test_synthetic_drawings_are_recognised(model, expected, canvas):
    probabilities = predict_probabilities(model, preprocess_digit(canvas))
    assert int(np.argmax(probabilities)) == expected


def test_a_drawn_one_is_recognised(model):
    canvas = np.zeros((280, 280), dtype=np.uint8)
    canvas[40:240, 132:150] = 255
    probabilities = predict_probabilities(model, preprocess_digit(canvas))
    assert int(np.argmax(probabilities)) == 1


def test_the_shipped_draw_reference_belongs_to_the_shipped_model(model, dataset):
    # The Draw page judges a first drawing at once with the reference saved beside the model
    # (scripts/train_default_model.py); it must be this model's, built from these images.
    import hashlib

    from core.inspection import novelty, novelty_measures

    digest = hashlib.sha256((MODEL_DIR / "model.keras").read_bytes()).hexdigest()
    reference = novelty.load_reference(MODEL_DIR / novelty.REFERENCE_FILE, digest)
    assert reference is not None, "models/default/reference.npz is missing or for another model"
    assert len(reference.embeddings) == novelty.BANK_SIZE
    assert 0 < reference.confidence_threshold < 1 and reference.temperature >= 0.05
    sample = np.arange(0, novelty.BANK_SIZE, 400)
    images = dataset.train_images[reference.indices[sample]]
    embeddings, _ = novelty_measures.embed_all(novelty_measures.embedding_function(model), images)
    fresh = novelty_measures.project(reference, embeddings)
    saved = reference.embeddings[sample].astype(np.float32)
    np.testing.assert_allclose(fresh, saved, atol=2e-3)  # float16 rounding
    np.testing.assert_array_equal(
        reference.labels[sample], dataset.train_labels[reference.indices[sample]]
    )
    # Another model file (another digest) gets no reference: the page builds its own.
    assert novelty.load_reference(MODEL_DIR / novelty.REFERENCE_FILE, "0" * 64) is None
