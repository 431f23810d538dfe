"""Evaluate a trained classifier on held-out images and look inside the network.

`evaluate` runs the model once and returns an `Evaluation`: plain NumPy arrays and a pandas
table (probabilities, predictions, accuracy, cross-entropy loss, confusion matrix and
scikit-learn's per-class report). Everything the Evaluate page shows afterwards (a confusion
matrix cell, the misclassified gallery, one image's probabilities) is read from that object,
so switching between views never runs the model again.

Models follow the project convention: they take raw 0-255 pixels of shape ``(28, 28)`` and
end with a softmax layer. TensorFlow and Keras are imported lazily.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import classification_report, confusion_matrix

from core.data.datasets import resolve_class_names

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
    if images.ndim != 3 or images.shape[1:] != (28, 28) or images.shape[0] == 0:
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


def first_layer_weights(model) -> np.ndarray:
    """Return the first learned layer's weights as one small image per unit.

    For a dense network each neuron of the first hidden layer has one weight per pixel, so
    its weights form a 28x28 image: positive where ink excites the neuron, negative where
    ink inhibits it. For a convolutional network the first layer's filters are returned
    instead, one ``(height, width)`` kernel per filter.

    Args:
        model: A Keras model whose first learned layer is a Dense layer reading the 784
            pixels or a Conv2D layer reading the one-channel image.

    Returns:
        float32 ``(units, 28, 28)`` for a dense network, ``(filters, kh, kw)`` for a CNN.

    Raises:
        ValueError: If the first learned layer is neither of those.
    """
    for layer in _flat_layers(model):
        weights = layer.get_weights()
        if not weights:
            continue
        kernel = np.asarray(weights[0], dtype=np.float32)
        if kernel.ndim == 2 and kernel.shape[0] == 28 * 28:
            return np.ascontiguousarray(kernel.T.reshape(-1, 28, 28))
        if kernel.ndim == 4 and kernel.shape[2] == 1:
            return np.ascontiguousarray(np.transpose(kernel[:, :, 0, :], (2, 0, 1)))
        raise ValueError(
            f"The first learned layer ({layer.name}, weights of shape {kernel.shape}) does "
            "not read the 28x28 image directly, so its weights cannot be shown as images."
        )
    raise ValueError("This model has no learned weights to show.")


def _flat_layers(model) -> list:
    """Return the model's layers in order, looking inside nested models."""
    layers = []
    for layer in model.layers:
        if hasattr(layer, "layers") and layer.layers:
            layers.extend(_flat_layers(layer))
        else:
            layers.append(layer)
    return layers


# Layer types whose outputs are worth showing; Rescaling, Flatten, Dropout and pooling only
# reshape or copy what the layer before them computed.
ACTIVATION_LAYER_TYPES = ("Dense", "Conv2D")
_activation_models: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _activation_model(model):
    """Return (and remember) a Keras model mapping the input to every shown layer's output."""
    cached = _activation_models.get(model)
    if cached is not None:
        return cached
    import keras

    layers = [layer for layer in model.layers if type(layer).__name__ in ACTIVATION_LAYER_TYPES]
    if not layers:
        raise ValueError("This model has no Dense or Conv2D layers whose activations to show.")
    try:
        inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
        outputs = [layer.output for layer in layers]
    except (AttributeError, ValueError) as error:
        raise ValueError(
            "This model was built without a fixed input shape, so its layer activations "
            "cannot be read."
        ) from error
    extractor = keras.Model(inputs=inputs, outputs=outputs)
    result = ([layer.name for layer in layers], extractor)
    _activation_models[model] = result
    return result


def layer_activations(model, image) -> list[tuple[str, np.ndarray]]:
    """Return what each Dense or Conv2D layer computes for one image.

    The intermediate model that exposes these outputs is built once per model and reused.

    Args:
        model: A Keras model taking ``(28, 28)`` raw pixels.
        image: One ``(28, 28)`` image with pixels 0-255.

    Returns:
        A list of ``(layer name, activations)`` in layer order; activations are a float32
        1-D array with one value per neuron (Dense) or per filter (Conv2D: the filter's
        strongest response anywhere in the image).

    Raises:
        ValueError: If the image has the wrong shape or the model has no such layers.
    """
    image = np.asarray(image)
    if image.shape != (28, 28):
        raise ValueError(f"Expected one 28x28 image; got shape {image.shape}.")
    names, extractor = _activation_model(model)
    outputs = extractor.predict_on_batch(image[np.newaxis].astype(np.float32))
    if not isinstance(outputs, (list, tuple)):
        outputs = [outputs]
    activations = []
    for name, output in zip(names, outputs, strict=True):
        values = np.asarray(output, dtype=np.float32)[0]
        if values.ndim > 1:
            values = values.reshape(-1, values.shape[-1]).max(axis=0)
        activations.append((name, values))
    return activations
