"""Tell a sure prediction from a guess, and a digit from something that is not one.

A softmax always sums to 1, so a network "recognises" a digit in any scribble. Two extra
signals tell the visitor when not to trust the prediction:

- **not sure**: the highest class probability after temperature scaling (one number T fitted
  on held-out digits so that the probabilities match how often the model is right) is low;
- **not a digit**: either the drawing is far from every training image in the network's last
  hidden layer (the layer before the softmax: the distance, on unit-length embeddings, to the
  nearest training image, as in Sun et al., 2022, "Out-of-distribution detection with deep
  nearest neighbors"), or its 28x28 pixels (slightly blurred) are far from the space of the
  training digits' 40 main components (principal component analysis: the share of the image
  the components cannot rebuild). `bench/bench_novelty.py` compared these with the maximum
  probability after temperature scaling, the entropy and the energy, alone and in pairs, on
  the same drawings; this pair flags the most non-digits at the same share of flagged digits
  (bench/README.md).

The training images' embeddings are computed once per model (float16, projected to at most
`MAX_EMBEDDING_DIMENSION` dimensions; the Draw page keeps them in a cache bounded to a few
models), so a lookup is one small matrix product. The same
lookup gives the nearest training images shown under "Why this digit?".
"""

from __future__ import annotations

import dataclasses
import weakref
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

NEIGHBOURS = 8
MAX_EMBEDDING_DIMENSION = 128
PIXEL_COMPONENTS = 40
PIXEL_BLUR = 1.0
# Share of held-out drawn digits that may be flagged: the thresholds are their quantiles
# (each of the two "not a digit" measures flags half of this share).
DIGITS_FLAGGED_NOT_A_DIGIT = 0.012
DIGITS_FLAGGED_NOT_SURE = 0.02
BANK_SIZE = 20_000
CALIBRATION_SIZE = 1_500
BATCH_SIZE = 1_000
VERDICT_DIGIT = "digit"
VERDICT_NOT_SURE = "not sure"
VERDICT_NOT_A_DIGIT = "not a digit"


@dataclass(frozen=True)
class Reference:
    """What a model needs to judge a drawing: training embeddings and calibrated thresholds.

    Attributes:
        embeddings: (n, d) float16 unit-length embeddings of n training images.
        indices: (n,) indices of those images in the training set.
        labels: (n,) their labels.
        projection: (D, d) float32 matrix applied to the raw embedding (identity when D <= d).
        mean: (D,) float32 mean removed before the projection.
        temperature: The fitted softmax temperature (>= 0.05).
        distance_threshold: Nearest-neighbour distance above which a drawing is "not a digit".
        confidence_threshold: Calibrated top probability below which the model is "not sure".
        pixel_mean: (784,) mean training image (0-1).
        pixel_components: (PIXEL_COMPONENTS, 784) main components of the training images.
        rebuild_threshold: Share of a drawing the components cannot rebuild above which it is
            "not a digit".
    """

    embeddings: np.ndarray
    indices: np.ndarray
    labels: np.ndarray
    projection: np.ndarray
    mean: np.ndarray
    temperature: float
    distance_threshold: float
    confidence_threshold: float
    pixel_mean: np.ndarray
    pixel_components: np.ndarray
    rebuild_threshold: float

    @property
    def nbytes(self) -> int:
        """Bytes held by the arrays."""
        arrays = (self.embeddings, self.projection, self.labels, self.pixel_components)
        return int(sum(array.nbytes for array in arrays))


@dataclass(frozen=True)
class Judgement:
    """The verdict on one drawing.

    Attributes:
        verdict: `VERDICT_DIGIT`, `VERDICT_NOT_SURE` or `VERDICT_NOT_A_DIGIT`.
        calibrated: The 10 probabilities after temperature scaling.
        confidence: The highest calibrated probability.
        distance: Distance to the nearest training image's embedding (0 to 2).
        rebuild_error: Share of the drawing the training digits' main components cannot
            rebuild (0 to 1).
        neighbour_indices: Training-set indices of the nearest images, nearest first.
        neighbour_labels: Their labels.
        neighbour_distances: Their distances.
    """

    verdict: str
    calibrated: np.ndarray
    confidence: float
    distance: float
    rebuild_error: float
    neighbour_indices: np.ndarray
    neighbour_labels: np.ndarray
    neighbour_distances: np.ndarray


def _output_layer(model):
    layer = model.layers[-1]
    if type(layer).__name__ == "Dense" and len(layer.get_weights()) == 2:
        return layer
    return None


_FUNCTIONS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def embedding_function(model) -> Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """The cached `make_embedding_function(model)` (building one costs tens of ms)."""
    function = _FUNCTIONS.get(model)
    if function is None:
        function = _FUNCTIONS[model] = make_embedding_function(model)
    return function


def make_embedding_function(model) -> Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Return f(images) -> (embeddings, logits) for a Keras model ending in a Dense softmax.

    The embedding is the input of the last Dense layer (the pixels, scaled to 0-1, for a
    network without hidden layers); logits are that embedding times the layer's weights. For
    another kind of model the embedding is the pixels and the logits are log-probabilities.
    """
    import keras

    output = _output_layer(model)
    if output is None:

        def pixels_and_log_probabilities(images):
            probabilities = np.asarray(model.predict_on_batch(images), dtype=np.float64)
            pixels = images.reshape(len(images), -1) / 255.0
            return pixels.astype(np.float32), np.log(np.clip(probabilities, 1e-12, 1.0))

        return pixels_and_log_probabilities
    kernel, bias = (np.asarray(weight, dtype=np.float64) for weight in output.get_weights())
    hidden = keras.Model(model.inputs, output.input)

    def embeddings_and_logits(images):
        embeddings = np.asarray(hidden.predict_on_batch(images), dtype=np.float32)
        embeddings = embeddings.reshape(len(images), -1)
        return embeddings, embeddings.astype(np.float64) @ kernel + bias

    return embeddings_and_logits


def embed_all(function, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Run `embedding_function` over images in batches; return (embeddings, logits)."""
    parts = [
        function(np.asarray(images[start : start + BATCH_SIZE], dtype=np.float32))
        for start in range(0, len(images), BATCH_SIZE)
    ]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Row-wise softmax of logits / temperature."""
    scaled = np.asarray(logits, dtype=np.float64) / temperature
    scaled = scaled - scaled.max(axis=-1, keepdims=True)
    exponentials = np.exp(scaled)
    return exponentials / exponentials.sum(axis=-1, keepdims=True)


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """Return the temperature that minimises the negative log-likelihood of `labels`."""
    from scipy.optimize import minimize_scalar

    rows = np.arange(len(labels))

    def negative_log_likelihood(log_temperature: float) -> float:
        probabilities = softmax(logits, float(np.exp(log_temperature)))
        return float(-np.mean(np.log(np.clip(probabilities[rows, labels], 1e-12, 1.0))))

    result = minimize_scalar(negative_log_likelihood, bounds=(np.log(0.05), np.log(20.0)),
                             method="bounded")  # fmt: skip
    return float(np.exp(result.x))


def entropy(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Entropy (nats) of the temperature-scaled softmax, one value per row."""
    probabilities = softmax(logits, temperature)
    return -np.sum(probabilities * np.log(np.clip(probabilities, 1e-12, 1.0)), axis=-1)


def energy(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Energy score -T * logsumexp(logits / T) (higher means less like the training data)."""
    scaled = np.asarray(logits, dtype=np.float64) / temperature
    top = scaled.max(axis=-1, keepdims=True)
    return -temperature * (top[:, 0] + np.log(np.exp(scaled - top).sum(axis=-1)))


def _normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, 1e-8)


def project(reference: Reference, embeddings: np.ndarray) -> np.ndarray:
    """Centre, project and scale raw embeddings to unit length, as the reference's are."""
    return _normalise((embeddings - reference.mean) @ reference.projection).astype(np.float32)


def nearest(reference: Reference, unit: np.ndarray, count: int = NEIGHBOURS):
    """Return (positions, distances) of the `count` nearest bank embeddings, for each row."""
    similarities = unit @ reference.embeddings.T.astype(np.float32)
    positions = np.argpartition(-similarities, count - 1, axis=1)[:, :count]
    chosen = np.take_along_axis(similarities, positions, axis=1)
    order = np.argsort(-chosen, axis=1)
    positions = np.take_along_axis(positions, order, axis=1)
    chosen = np.take_along_axis(chosen, order, axis=1)
    distances = np.sqrt(np.clip(2.0 - 2.0 * chosen, 0.0, None))
    return positions, distances


def knn_distance(reference: Reference, embeddings: np.ndarray) -> np.ndarray:
    """Distance from each raw embedding to its nearest training image's."""
    return nearest(reference, project(reference, embeddings), 1)[1][:, 0]


def blurred_pixels(digits: np.ndarray) -> np.ndarray:
    """(n, 784) pixels in 0-1 after a Gaussian blur of `PIXEL_BLUR` pixels.

    The blur makes the rebuild error blind to stroke width: without it a 1 drawn with a thin
    brush (a one-pixel line after preprocessing) was "not a digit" 78% of the time.
    """
    images = np.asarray(digits, dtype=np.float32).reshape(-1, 28, 28) / 255.0
    blurred = ndimage.gaussian_filter(images, sigma=(0, PIXEL_BLUR, PIXEL_BLUR))
    return blurred.reshape(len(images), -1)


def rebuild_error(reference: Reference, digits: np.ndarray) -> np.ndarray:
    """Share of each 28x28 digit (0-255) that the training digits' main components miss."""
    pixels = blurred_pixels(digits)
    centred = pixels - reference.pixel_mean
    rebuilt = (centred @ reference.pixel_components.T) @ reference.pixel_components
    residual = np.linalg.norm(centred - rebuilt, axis=1)
    return residual / np.maximum(np.linalg.norm(pixels, axis=1), 1e-6)


def build_reference(
    model,
    train_images: np.ndarray,
    train_labels: np.ndarray,
    calibration_digits: np.ndarray,
    calibration_labels: np.ndarray,
    bank_indices: np.ndarray | None = None,
) -> Reference:
    """Embed training images and fit the temperature and both thresholds for one model.

    Args:
        model: A Keras model taking (28, 28) pixels 0-255 and ending in a softmax.
        train_images: (n, 28, 28) training images for the neighbour bank.
        train_labels: (n,) their labels.
        calibration_digits: (m, 28, 28) held-out digits drawn through the page's
            preprocessing (not in `train_images`).
        calibration_labels: (m,) their labels.
        bank_indices: Training-set indices of `train_images` (their positions by default),
            reported as the neighbours' indices.

    Returns:
        A `Reference` whose thresholds flag `DIGITS_FLAGGED_NOT_A_DIGIT` and
        `DIGITS_FLAGGED_NOT_SURE` of the calibration digits.

    Raises:
        ValueError: If there are fewer than `NEIGHBOURS` training images or no calibration
            digits.
    """
    if len(train_images) < NEIGHBOURS or len(calibration_digits) == 0:
        raise ValueError(
            f"Judging drawings needs at least {NEIGHBOURS} training images and one held-out digit."
        )
    function = embedding_function(model)
    bank, _ = embed_all(function, train_images)
    mean = bank.mean(axis=0).astype(np.float32)
    dimension = bank.shape[1]
    if dimension > MAX_EMBEDDING_DIMENSION:
        sample = bank[:: max(1, len(bank) // 5000)] - mean
        _, _, components = np.linalg.svd(sample, full_matrices=False)
        projection = components[:MAX_EMBEDDING_DIMENSION].T.astype(np.float32)
    else:
        projection = np.eye(dimension, dtype=np.float32)
    pixels = blurred_pixels(train_images)
    pixel_mean = pixels.mean(axis=0)
    _, _, pixel_axes = np.linalg.svd(
        pixels[:: max(1, len(pixels) // 5000)] - pixel_mean, full_matrices=False
    )
    provisional = Reference(
        embeddings=_normalise((bank - mean) @ projection).astype(np.float16),
        indices=np.arange(len(train_images)) if bank_indices is None else bank_indices,
        labels=np.asarray(train_labels),
        projection=projection,
        mean=mean,
        temperature=1.0,
        distance_threshold=np.inf,
        confidence_threshold=0.0,
        pixel_mean=pixel_mean,
        pixel_components=pixel_axes[:PIXEL_COMPONENTS].astype(np.float32),
        rebuild_threshold=np.inf,
    )
    held_out, logits = embed_all(function, calibration_digits)
    temperature = fit_temperature(logits, np.asarray(calibration_labels))
    distances = knn_distance(provisional, held_out)
    errors = rebuild_error(provisional, calibration_digits)
    confidences = softmax(logits, temperature).max(axis=1)
    each = 1 - DIGITS_FLAGGED_NOT_A_DIGIT / 2
    return dataclasses.replace(
        provisional,
        temperature=temperature,
        distance_threshold=float(np.quantile(distances, each)),
        confidence_threshold=float(np.quantile(confidences, DIGITS_FLAGGED_NOT_SURE)),
        rebuild_threshold=float(np.quantile(errors, each)),
    )


def judge(model, reference: Reference, digit: np.ndarray) -> Judgement:
    """Judge one preprocessed 28x28 digit: digit, not sure, or not a digit.

    Args:
        model: The model `reference` was built for.
        reference: From `build_reference`.
        digit: (28, 28) pixels 0-255, the output of `preprocess_digit`.

    Returns:
        A `Judgement` with the verdict and the nearest training images.
    """
    embeddings, logits = embedding_function(model)(np.asarray(digit, np.float32)[np.newaxis])
    return judge_embedding(reference, embeddings, logits, digit)


def judge_embedding(
    reference: Reference, embeddings: np.ndarray, logits: np.ndarray, digit: np.ndarray
) -> Judgement:
    """`judge` for an embedding and logits already computed (one row each)."""
    positions, distances = nearest(reference, project(reference, embeddings))
    calibrated = softmax(logits, reference.temperature)[0]
    confidence = float(calibrated.max())
    distance = float(distances[0, 0])
    error = float(rebuild_error(reference, np.asarray(digit)[np.newaxis])[0])
    if distance > reference.distance_threshold or error > reference.rebuild_threshold:
        verdict = VERDICT_NOT_A_DIGIT
    elif confidence < reference.confidence_threshold:
        verdict = VERDICT_NOT_SURE
    else:
        verdict = VERDICT_DIGIT
    return Judgement(
        verdict=verdict,
        calibrated=calibrated,
        confidence=confidence,
        distance=distance,
        rebuild_error=error,
        neighbour_indices=reference.indices[positions[0]],
        neighbour_labels=reference.labels[positions[0]],
        neighbour_distances=distances[0],
    )


def reference_inputs(
    train_images: np.ndarray, train_labels: np.ndarray, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split training images into a neighbour bank and held-out drawn calibration digits.

    Args:
        train_images: (n, 28, 28) training images.
        train_labels: (n,) their labels.
        seed: Seed of the split and of the drawing sizes and places.

    Returns:
        (bank indices, calibration digits, calibration labels): the training-set indices of
        up to `BANK_SIZE` images for the neighbour bank, and up to `CALIBRATION_SIZE` other
        images drawn through the canvas pipeline (`core.preprocess.redraw_digits`).
    """
    from core.preprocess import redraw_digits

    order = np.random.default_rng(seed).permutation(len(train_images))
    calibration_count = min(CALIBRATION_SIZE, len(order) // 5)
    held_out = np.sort(order[:calibration_count])
    bank = np.sort(order[calibration_count : calibration_count + BANK_SIZE])
    calibration = redraw_digits(train_images[held_out], seed=seed)
    return bank, calibration, train_labels[held_out]


def reference_for(model, train_images: np.ndarray, train_labels: np.ndarray) -> Reference:
    """Build the Draw page's `Reference` for `model` from a training set (a few seconds)."""
    bank, calibration, calibration_labels = reference_inputs(train_images, train_labels)
    return build_reference(
        model, train_images[bank], train_labels[bank], calibration, calibration_labels, bank
    )
