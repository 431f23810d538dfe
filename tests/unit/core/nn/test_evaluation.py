"""The evaluation core and its figures: metrics agree with scikit-learn, galleries are right."""

import numpy as np
import pytest
from sklearn.metrics import classification_report, confusion_matrix, log_loss

from core.figures import (
    COMPARISON_MODES,
    activation_strips_figure,
    confusion_comparison_figure,
    confusion_matrix_figure,
    image_grid_figure,
    normalize_rows,
    tile_images,
    weight_tiles_figure,
)
from core.nn.evaluation import (
    cell_indices,
    cross_entropy,
    evaluate,
    evaluation_from_probabilities,
    misclassified,
)
from core.nn.internals import first_layer_weights, layer_activations

# Six images, three classes. Mistakes: image 1 (true 0 -> 1, p=0.6), image 3 (true 1 -> 2,
# p=0.9), image 5 (true 2 -> 0, p=0.5) and image 4 (true 1 -> 2, p=0.7).
PROBABILITIES = np.array(
    [
        [0.8, 0.1, 0.1],
        [0.3, 0.6, 0.1],
        [0.2, 0.7, 0.1],
        [0.05, 0.05, 0.9],
        [0.1, 0.2, 0.7],
        [0.5, 0.2, 0.3],
    ],
    dtype=np.float32,
)
LABELS = np.array([0, 0, 1, 1, 1, 2])


@pytest.fixture(scope="module")
def fixed():
    return evaluation_from_probabilities(PROBABILITIES, LABELS, class_names=("a", "b", "c"))


def test_metrics_agree_with_scikit_learn(fixed):
    predictions = PROBABILITIES.argmax(axis=1)
    assert fixed.predictions.tolist() == [0, 1, 1, 2, 2, 0]
    np.testing.assert_array_equal(fixed.confusion_matrix, confusion_matrix(LABELS, predictions))
    assert fixed.confusion_matrix.tolist() == [[1, 1, 0], [0, 1, 2], [1, 0, 0]]
    assert fixed.accuracy == pytest.approx(2 / 6)
    assert fixed.loss == pytest.approx(log_loss(LABELS, PROBABILITIES), rel=1e-6)
    expected = classification_report(
        LABELS, predictions, target_names=["a", "b", "c"], output_dict=True, zero_division=0
    )
    for name in ("a", "b", "c", "macro avg", "weighted avg"):
        for column in ("precision", "recall", "f1-score", "support"):
            assert fixed.report.loc[name, column] == pytest.approx(expected[name][column])
    # Class "b": 1 of 2 predicted b are right, 1 of 3 true b found.
    assert fixed.report.loc["b", "precision"] == pytest.approx(0.5)
    assert fixed.report.loc["b", "recall"] == pytest.approx(1 / 3)
    assert fixed.report["support"].tolist()[:3] == [2, 3, 1]
    assert fixed.num_mistakes == 4


def test_misclassified_are_exactly_the_mistakes_most_confident_first(fixed):
    assert misclassified(fixed).tolist() == [3, 4, 1, 5]
    assert misclassified(fixed, true_label=1).tolist() == [3, 4]
    assert misclassified(fixed, predicted_label=0).tolist() == [5]
    assert misclassified(fixed, true_label=0, predicted_label=2).tolist() == []
    with pytest.raises(ValueError, match="class number"):
        misclassified(fixed, true_label=3)


def test_cell_indices_match_the_confusion_matrix(fixed):
    assert cell_indices(fixed, 1, 2).tolist() == [3, 4]
    assert cell_indices(fixed, 1, 1).tolist() == [2]
    for true in range(3):
        for predicted in range(3):
            cell = cell_indices(fixed, true, predicted)
            assert len(cell) == fixed.confusion_matrix[true, predicted]


def test_evaluation_arrays_are_read_only(fixed):
    with pytest.raises(ValueError):
        fixed.probabilities[0, 0] = 1.0


@pytest.mark.parametrize(
    ("probabilities", "labels", "message"),
    [
        (PROBABILITIES, LABELS[:4], "one label per image"),
        (PROBABILITIES, np.array([0, 0, 1, 1, 1, 3]), "must lie in 0..2"),
        (PROBABILITIES * 2, LABELS, "sum to 1"),
        (PROBABILITIES[0], LABELS, "at least two"),
    ],
)
def test_bad_input_raises_a_helpful_value_error(probabilities, labels, message):
    with pytest.raises(ValueError, match=message):
        evaluation_from_probabilities(probabilities, labels)


# --- A small real network ------------------------------------------------------------------


@pytest.fixture(scope="module")
def mnist():
    from core.data.datasets import load_default_dataset

    return load_default_dataset()


@pytest.fixture(scope="module")
def dense_model(mnist):
    """A 784-32-10 network trained for one epoch on 2,000 images."""
    from core.nn.config import TrainingConfig
    from core.nn.model import build_model

    config = TrainingConfig(hidden_layers=(32,), epochs=1, batch_size=64, seed=1)
    model = build_model(config)
    model.fit(mnist.train_images[:2000], mnist.train_labels[:2000], epochs=1, verbose=0)
    return model


@pytest.fixture(scope="module")
def real_evaluation(dense_model, mnist):
    return evaluate(dense_model, mnist.test_images[:1000], mnist.test_labels[:1000])


def test_evaluate_a_real_model(dense_model, mnist, real_evaluation):
    images, labels = mnist.test_images[:1000], mnist.test_labels[:1000]
    evaluation = real_evaluation
    assert evaluation.probabilities.shape == (1000, 10)
    assert evaluation.probabilities.dtype == np.float32
    np.testing.assert_allclose(evaluation.probabilities.sum(axis=1), 1.0, atol=1e-5)
    expected = dense_model.predict(images, verbose=0)
    np.testing.assert_allclose(evaluation.probabilities, expected, atol=1e-5)
    keras_loss, keras_accuracy = dense_model.evaluate(images, labels, verbose=0)
    assert evaluation.accuracy == pytest.approx(keras_accuracy, abs=1e-6)
    assert evaluation.loss == pytest.approx(keras_loss, rel=1e-4)
    # One epoch on 2,000 images already learns most digits.
    assert evaluation.accuracy > 0.6
    assert evaluation.confusion_matrix.sum() == 1000
    mistakes = misclassified(evaluation)
    assert len(mistakes) == evaluation.num_mistakes == int((evaluation.predictions != labels).sum())
    assert np.all(np.diff(evaluation.confidences[mistakes]) <= 0)


def test_batch_size_does_not_change_the_result(dense_model, mnist, real_evaluation):
    small_batches = evaluate(
        dense_model, mnist.test_images[:1000], mnist.test_labels[:1000], batch_size=300
    )
    np.testing.assert_allclose(
        small_batches.probabilities, real_evaluation.probabilities, atol=1e-6
    )


def test_evaluate_rejects_wrong_image_shapes(dense_model):
    with pytest.raises(ValueError, match=r"\(N, 28, 28\)"):
        evaluate(dense_model, np.zeros((5, 784), np.uint8), np.zeros(5, np.uint8))


def test_first_layer_weights_are_one_tile_per_neuron(dense_model):
    tiles = first_layer_weights(dense_model)
    assert tiles.shape == (32, 28, 28)
    kernel = dense_model.get_layer("hidden_1").get_weights()[0]
    # Neuron 5's weight for pixel (row 10, column 3) is kernel[10 * 28 + 3, 5].
    assert tiles[5, 10, 3] == pytest.approx(kernel[10 * 28 + 3, 5])


def test_first_layer_weights_of_a_cnn_are_its_filters():
    from core.nn.config import TrainingConfig
    from core.nn.model import build_model

    model = build_model(TrainingConfig(architecture="cnn", conv_filters=(8,), hidden_layers=()))
    assert first_layer_weights(model).shape == (8, 3, 3)


def test_layer_activations_follow_the_network(dense_model, mnist, real_evaluation):
    activations = layer_activations(dense_model, mnist.test_images[0])
    assert [name for name, _ in activations] == ["hidden_1", "output"]
    assert activations[0][1].shape == (32,)
    assert np.all(activations[0][1] >= 0)  # ReLU
    np.testing.assert_allclose(activations[1][1], real_evaluation.probabilities[0], atol=1e-5)
    with pytest.raises(ValueError, match="28x28"):
        layer_activations(dense_model, mnist.test_images[:2])


# --- Figures -------------------------------------------------------------------------------


def test_confusion_matrix_figure_shows_counts_and_clickable_cells(fixed):
    figure = confusion_matrix_figure(fixed.confusion_matrix, fixed.class_names, selected=(1, 2))
    heatmap, cells = figure.data
    assert np.asarray(heatmap.z).tolist() == fixed.confusion_matrix.tolist()
    assert heatmap.text[1][2] == "2"
    assert len(cells.x) == 9
    # Each clickable marker knows its cell: [true, predicted, count, rate].
    cell = list(cells.customdata[5])
    assert cell[:3] == [1, 2, 2] and cell[3] == pytest.approx(2 / 3)
    assert (cells.x[5], cells.y[5]) == (2, 1)
    (outline,) = figure.layout.shapes
    assert (outline.x0, outline.y0) == (1.5, 0.5)


def test_normalised_confusion_matrix_rows_sum_to_one(fixed):
    figure = confusion_matrix_figure(fixed.confusion_matrix, normalize=True)
    np.testing.assert_allclose(np.asarray(figure.data[0].z).sum(axis=1), 1.0)
    assert normalize_rows([[0, 0], [1, 3]]).tolist() == [[0, 0], [0.25, 0.75]]


def test_image_grid_places_images_and_keeps_their_ids():
    images = np.zeros((5, 28, 28), np.uint8)
    images[3, 0, 0] = 255
    figure = image_grid_figure(
        images, captions=list("abcde"), customdata=[10, 11, 12, 13, 14], columns=3
    )
    grid = np.asarray(figure.data[0].z, dtype=float)
    assert list(figure.data[1].customdata) == [10, 11, 12, 13, 14]
    # Image 3 starts the second row: below the first row and its caption gap.
    assert grid[28 + 11, 0] == 255
    assert grid[28, 0] == 0  # the gap is white, like the background
    assert list(figure.data[2].text) == list("abcde")
    with pytest.raises(ValueError, match="one per image"):
        image_grid_figure(images, captions=["a"])


def test_tile_images_layout():
    tiles = tile_images(np.arange(3 * 2 * 2).reshape(3, 2, 2), columns=2, gap=1)
    assert tiles.shape == (5, 5)
    assert tiles[3, 0] == 8 and np.isnan(tiles[2, 0]) and np.isnan(tiles[3, 3])


def test_weight_tiles_use_a_symmetric_diverging_scale(dense_model):
    weights = first_layer_weights(dense_model)
    figure = weight_tiles_figure(weights, max_tiles=16, columns=4)
    heatmap = figure.data[0]
    assert heatmap.zmin == -heatmap.zmax
    assert heatmap.zmax == pytest.approx(np.abs(weights[:16]).max())
    assert np.asarray(heatmap.z).shape == (4 * 30 - 2, 4 * 30 - 2)


def test_activation_strips_one_row_per_layer():
    figure = activation_strips_figure(
        [("hidden", np.array([0.0, 1.5, 2.0])), ("output", np.array([0.2, 0.8]))],
        output_names=["cat", "dog"],
    )
    assert len(figure.data) == 2
    assert list(figure.data[1].x) == ["cat", "dog"]
    with pytest.raises(ValueError, match="no layer activations"):
        activation_strips_figure([])


def test_comparison_figures(fixed):
    other = np.array([[2, 0, 0], [0, 3, 0], [0, 0, 1]])
    side = confusion_comparison_figure(fixed.confusion_matrix, other, ("old", "new"))
    assert len(side.data) == 2
    difference = confusion_comparison_figure(
        fixed.confusion_matrix, other, ("old", "new"), mode="difference"
    )
    # Row "b": old 1/3 right, new 3/3 right -> +2/3 on the diagonal.
    assert difference.data[0].z[1][1] == pytest.approx(2 / 3)
    assert {key: mode.label for key, mode in COMPARISON_MODES.items()} == {
        "side_by_side": "Side by side",
        "difference": "Difference",
    }
    with pytest.raises(ValueError, match="different numbers of classes"):
        confusion_comparison_figure(fixed.confusion_matrix, np.eye(2, dtype=int))


def test_cross_entropy_matches_keras():
    import keras

    rng = np.random.default_rng(0)
    probabilities = rng.dirichlet(np.ones(10), size=50).astype(np.float32)
    labels = rng.integers(0, 10, size=50)
    expected = keras.losses.SparseCategoricalCrossentropy()(labels, probabilities)
    assert cross_entropy(probabilities, labels) == pytest.approx(float(expected), rel=1e-5)
    one_hot = np.eye(10, dtype=np.float32)[labels]
    categorical = keras.losses.CategoricalCrossentropy()(one_hot, probabilities)
    assert cross_entropy(probabilities, labels) == pytest.approx(float(categorical), rel=1e-5)


def test_cross_entropy_clips_both_ends_as_keras_does():
    import keras

    def keras_loss(probabilities, labels):
        one_hot = np.eye(probabilities.shape[1], dtype=np.float32)[labels]
        return float(keras.losses.CategoricalCrossentropy()(one_hot, probabilities))

    # Certain and right: Keras clips 1 to 1 - epsilon, so the loss is tiny but not 0.
    certain = np.eye(10, dtype=np.float32)[[3, 7]]
    labels = np.array([3, 7])
    assert keras_loss(certain, labels) > 0
    assert cross_entropy(certain, labels) == pytest.approx(keras_loss(certain, labels), rel=1e-5)
    # Certain and wrong: 0 is clipped to epsilon, a large but finite loss.
    wrong = np.array([7, 3])
    assert cross_entropy(certain, wrong) == pytest.approx(keras_loss(certain, wrong), rel=1e-5)
    evaluation = evaluation_from_probabilities(certain, labels)
    assert evaluation.loss == cross_entropy(certain, labels)
