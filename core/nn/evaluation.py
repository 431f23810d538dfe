"""Evaluate a trained classifier on held-out images.

`evaluate` runs the model once and returns an `Evaluation`: plain NumPy arrays and a pandas
table (probabilities, predictions, accuracy, cross-entropy loss, confusion matrix and
scikit-learn's per-class report). Everything the Evaluate page shows afterwards (a confusion
matrix cell, the misclassified gallery, one image's probabilities) is read from that object,
so switching between views never runs the model again.

Models follow the project convention: they take raw 0-255 pixels of shape ``(28, 28)`` and
end with a softmax layer. What the layers inside compute is `core.nn.internals`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import classification_report, confusion_matrix

from core.data.datasets import IMAGE_SHAPE, resolve_class_names

# Probabilities are clipped to [epsilon, 1 - epsilon] before the logarithm, as Keras's
# categorical cross-entropy does when it is given probabilities (keras.src.backend.
# tensorflow.nn.categorical_crossentropy, epsilon = keras.config.epsilon()), so one
# confidently wrong prediction gives a large but finite loss.
EPSILON = 1e-7
DEFAULT_BATCH_SIZE = 512
# Rows of probabilities must sum to 1 within this tolerance to count as a softmax output.
SUM_TOLERANCE = 1e-3
REPORT_COLUMNS = ("precision", "recall", "f1-score", "support")


@dataclass(frozen=True)
class Evaluation:
    """A model's predictions on a labelled set of images, with the usual metrics.

    Attributes:
        probabilities: float32 ``(N, C)``, the softmax output for every image.
        labels: int64 ``(N,)``, the true classes.
        predictions: int64 ``(N,)``, the most probable class of every image.
        confidences: float32 ``(N,)``, the probability of the predicted class.
        accuracy: Fraction of images whose prediction is the true class.
        loss: Mean categorical cross-entropy computed from the probabilities.
        confusion_matrix: int64 ``(C, C)``; row = true class, column = predicted class.
        report: Per-class precision, recall, F1 and support (scikit-learn's
            ``classification_report``), one row per class plus "macro avg" and
            "weighted avg".
        class_names: Display names of the C classes.
    """

    probabilities: np.ndarray
    labels: np.ndarray
    predictions: np.ndarray
    confidences: np.ndarray
    accuracy: float
    loss: float
    confusion_matrix: np.ndarray
    report: pd.DataFrame
    class_names: tuple[str, ...]

    @property
    def num_classes(self) -> int:
        """Number of classes C."""
        return int(self.probabilities.shape[1])

    @property
    def num_examples(self) -> int:
        """Number of evaluated images N."""
        return int(self.probabilities.shape[0])

    @property
    def num_mistakes(self) -> int:
        """Number of misclassified images."""
        return int(np.count_nonzero(self.predictions != self.labels))


def _freeze(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)
    return array


def cross_entropy(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """Mean cross-entropy of predicted probabilities against integer labels.

    The number Keras's categorical cross-entropy gives for probabilities and one-hot labels
    (what the article uses): the mean of -log(probability of the true class), each clipped
    to [`EPSILON`, 1 - `EPSILON`]. (Keras's sparse variant also renormalises the clipped
    rows, which differs from this by at most about C x `EPSILON`.) The validation curve, the
    test loss of a training and the Evaluate page all use it.

    Args:
        probabilities: ``(N, C)`` predicted probabilities.
        labels: ``(N,)`` integer labels in ``[0, C)``.

    Returns:
        The mean cross-entropy (NaN for no images).
    """
    labels = np.asarray(labels).astype(np.int64)
    chosen = np.asarray(probabilities)[np.arange(len(labels)), labels]
    if chosen.size == 0:
        return float("nan")
    return float(-np.mean(np.log(np.clip(chosen, EPSILON, 1.0 - EPSILON))))


def confusion_counts(labels, predictions, num_classes: int) -> np.ndarray:
    """Count each (true class, predicted class) pair: the confusion matrix.

    The one confusion path of the app: Evaluate, the test score of a training and the
    baselines all count with it.

    Args:
        labels: ``(N,)`` true classes.
        predictions: ``(N,)`` predicted classes.
        num_classes: C, so that classes never predicted still get a row and a column.

    Returns:
        int64 ``(C, C)``; row = true class, column = predicted class.
    """
    matrix = confusion_matrix(labels, predictions, labels=np.arange(num_classes))
    return matrix.astype(np.int64)


def evaluation_from_probabilities(probabilities, labels, class_names=None) -> Evaluation:
    """Build an `Evaluation` from probabilities a model has already produced.

    Args:
        probabilities: Array-like ``(N, C)`` of class probabilities; each row sums to 1.
        labels: Array-like ``(N,)`` of true class indices in ``[0, C)``.
        class_names: Optional C display names (default "0", "1", ...).

    Returns:
        The evaluation, with read-only arrays.

    Raises:
        ValueError: If the shapes disagree, a label is out of range, or a row of
            probabilities is not a probability distribution.
    """
    probabilities = np.asarray(probabilities, dtype=np.float32)
    labels = np.asarray(labels)
    if probabilities.ndim != 2 or probabilities.shape[0] == 0 or probabilities.shape[1] < 2:
        raise ValueError(
            "Probabilities must be a non-empty (images, classes) table with at least two "
            f"classes; got shape {probabilities.shape}."
        )
    if labels.shape != (probabilities.shape[0],):
        raise ValueError(
            f"Got {labels.size} labels for {probabilities.shape[0]} images; "
            "give one label per image."
        )
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError("Labels must be whole class numbers such as 0-9.")
    num_classes = probabilities.shape[1]
    labels = labels.astype(np.int64)
    if labels.min() < 0 or labels.max() >= num_classes:
        raise ValueError(
            f"Labels must lie in 0..{num_classes - 1} for a {num_classes}-class model; "
            f"found {labels.min()}..{labels.max()}. Is the model trained for this data set?"
        )
    if not np.all(np.isfinite(probabilities)) or probabilities.min() < 0:
        raise ValueError("Probabilities must be finite and non-negative.")
    row_sums = probabilities.sum(axis=1)
    if np.max(np.abs(row_sums - 1.0)) > SUM_TOLERANCE:
        raise ValueError(
            "Each row of probabilities must sum to 1 (the output of a softmax layer); "
            f"found sums between {row_sums.min():.4f} and {row_sums.max():.4f}."
        )
    names = resolve_class_names(class_names, num_classes)

    predictions = probabilities.argmax(axis=1).astype(np.int64)
    confidences = probabilities[np.arange(len(labels)), predictions]
    class_indices = list(range(num_classes))
    matrix = confusion_counts(labels, predictions, num_classes)
    report_dict = classification_report(
        labels,
        predictions,
        labels=class_indices,
        target_names=list(names),
        output_dict=True,
        zero_division=0,
    )
    report_dict.pop("accuracy", None)
    report = pd.DataFrame(report_dict).T.loc[:, list(REPORT_COLUMNS)]
    report["support"] = report["support"].astype(np.int64)

    return Evaluation(
        probabilities=_freeze(probabilities),
        labels=_freeze(labels),
        predictions=_freeze(predictions),
        confidences=_freeze(confidences.astype(np.float32)),
        accuracy=float(np.mean(predictions == labels)),
        loss=cross_entropy(probabilities, labels),
        confusion_matrix=_freeze(matrix),
        report=report,
        class_names=names,
    )


def _check_images(images) -> np.ndarray:
    images = np.asarray(images)
    if images.ndim == 2:
        images = images[np.newaxis]
    if images.ndim != 3 or images.shape[1:] != IMAGE_SHAPE or images.shape[0] == 0:
        raise ValueError(
            f"Images must have shape (N, 28, 28) with raw 0-255 pixels; got {images.shape}."
        )
    return images


def predict_images(model, images, batch_size: int = DEFAULT_BATCH_SIZE) -> np.ndarray:
    """Return the model's softmax output for many raw 0-255 images, a batch at a time.

    (`core.data.preprocess.predict_probabilities` is its one-digit counterpart for the Draw page.)

    Batches go through ``model.predict_on_batch``, which reuses the model's compiled
    prediction function without ``model.predict``'s per-call dataset and progress loop
    (see bench/README.md, "Evaluate").

    Args:
        model: A Keras model taking ``(28, 28)`` raw pixels and ending in softmax.
        images: ``(N, 28, 28)`` or one ``(28, 28)`` image, pixels 0-255.
        batch_size: Images per forward pass.

    Returns:
        float32 ``(N, C)`` probabilities.

    Raises:
        ValueError: If the images have the wrong shape or ``batch_size`` is not positive.
    """
    images = _check_images(images)
    if batch_size < 1:
        raise ValueError(f"batch_size must be a positive number of images; got {batch_size}.")
    outputs = []
    for start in range(0, len(images), batch_size):
        batch = images[start : start + batch_size].astype(np.float32)
        outputs.append(np.asarray(model.predict_on_batch(batch), dtype=np.float32))
    return np.concatenate(outputs, axis=0)


def evaluate(
    model, images, labels, class_names=None, batch_size: int = DEFAULT_BATCH_SIZE
) -> Evaluation:
    """Run a model on labelled images and compute its metrics.

    Args:
        model: A Keras model taking ``(28, 28)`` raw pixels (0-255) and ending in softmax.
        images: uint8 ``(N, 28, 28)`` held-out images.
        labels: ``(N,)`` true class indices.
        class_names: Optional display names of the classes.
        batch_size: Images per forward pass.

    Returns:
        The `Evaluation` of the model on these images.

    Raises:
        ValueError: If the images or labels are malformed, or the model's output is not a
            probability per class.
    """
    images = _check_images(images)
    if np.asarray(labels).shape != (len(images),):
        raise ValueError(
            f"Got {np.asarray(labels).size} labels for {len(images)} images; "
            "give one label per image."
        )
    probabilities = predict_images(model, images, batch_size=batch_size)
    return evaluation_from_probabilities(probabilities, labels, class_names=class_names)


def _check_class(evaluation: Evaluation, value, name: str) -> None:
    if value is not None and not 0 <= int(value) < evaluation.num_classes:
        raise ValueError(
            f"{name} must be a class number in 0..{evaluation.num_classes - 1}; got {value}."
        )


def _by_confidence(evaluation: Evaluation, mask: np.ndarray) -> np.ndarray:
    indices = np.flatnonzero(mask)
    order = np.argsort(-evaluation.confidences[indices], kind="stable")
    return indices[order]


def misclassified(evaluation: Evaluation, true_label=None, predicted_label=None) -> np.ndarray:
    """Return the indices of the misclassified images, most confident mistakes first.

    Args:
        evaluation: The evaluation to read.
        true_label: Keep only mistakes whose true class is this one (None: any).
        predicted_label: Keep only mistakes predicted as this class (None: any).

    Returns:
        int64 indices into the evaluated images, sorted by decreasing confidence of the
        (wrong) prediction; ties keep the original order.

    Raises:
        ValueError: If a filter is not a class number.
    """
    _check_class(evaluation, true_label, "true_label")
    _check_class(evaluation, predicted_label, "predicted_label")
    mask = evaluation.predictions != evaluation.labels
    if true_label is not None:
        mask &= evaluation.labels == int(true_label)
    if predicted_label is not None:
        mask &= evaluation.predictions == int(predicted_label)
    return _by_confidence(evaluation, mask)


def cell_indices(evaluation: Evaluation, true_label, predicted_label) -> np.ndarray:
    """Return the images of one confusion-matrix cell, most confident first.

    Args:
        evaluation: The evaluation to read.
        true_label: The cell's row (true class).
        predicted_label: The cell's column (predicted class).

    Returns:
        int64 indices of the images with this true class and this prediction; their number
        equals ``evaluation.confusion_matrix[true_label, predicted_label]``.

    Raises:
        ValueError: If either class is not a class number.
    """
    _check_class(evaluation, true_label, "true_label")
    _check_class(evaluation, predicted_label, "predicted_label")
    mask = (evaluation.labels == int(true_label)) & (evaluation.predictions == int(predicted_label))
    return _by_confidence(evaluation, mask)
