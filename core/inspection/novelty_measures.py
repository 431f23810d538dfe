"""The measures behind a drawing's verdict: embeddings, calibrated softmax, distances, holes.

`core.inspection.novelty` combines them into a verdict. A `Reference` holds what the
measures compare a drawing with: the training images' embeddings (float16, projected to at
most `MAX_EMBEDDING_DIMENSION` dimensions), the class means and shared covariance, the
training digits' main pixel components, and each measure's values on held-out drawn digits.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from core.data.datasets import IMAGE_SHAPE

NEIGHBOURS = 8
MAX_EMBEDDING_DIMENSION = 128
PIXEL_COMPONENTS = 40
PIXEL_BLUR = 1.0
INK_LEVEL = 64  # A pixel (0-255) brighter than this is ink when counting holes.
MEASURES = ("nearest distance", "Mahalanobis distance", "rebuild error", "holes")
# Share of held-out drawn digits that may be flagged: the thresholds are their quantiles.
BATCH_SIZE = 1_000
SINGLE_THREAD_ROWS = 4


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
        confidence_threshold: Calibrated top probability below which the model is "not sure".
        pixel_mean: (784,) mean training image (0-1).
        pixel_components: (PIXEL_COMPONENTS, 784) main components of the training images.
        class_means: (10, d) float32 mean projected embedding of each class.
        precision: (d, d) float32 inverse of the covariance the classes share.
        tails: (len(MEASURES), m) each measure's values on m held-out drawn digits, sorted.
        novelty_threshold: Combined score (`novelty_scores`) above which a drawing is "not a
            digit", set on other held-out drawn digits than `tails`.
    """

    embeddings: np.ndarray
    indices: np.ndarray
    labels: np.ndarray
    projection: np.ndarray
    mean: np.ndarray
    temperature: float
    confidence_threshold: float
    pixel_mean: np.ndarray
    pixel_components: np.ndarray
    class_means: np.ndarray
    precision: np.ndarray
    tails: np.ndarray
    novelty_threshold: float

    @functools.cached_property
    def search_bank(self) -> np.ndarray:
        """The embeddings as float32: converted once, not on every lookup."""
        return self.embeddings.astype(np.float32)

    @property
    def nbytes(self) -> int:
        """Bytes held by the arrays (the float32 search copy included)."""
        arrays = (self.embeddings, self.projection, self.labels, self.pixel_components,
                  self.precision, self.tails, self.search_bank)  # fmt: skip
        return int(sum(array.nbytes for array in arrays))


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
    import keras  # TensorFlow: seconds to import, so only once a model is judged.

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
    from scipy.optimize import minimize_scalar  # About 0.3 s to import: only when fitting.

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


def normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, 1e-8)


def _centred(reference: Reference, embeddings: np.ndarray) -> np.ndarray:
    return ((embeddings - reference.mean) @ reference.projection).astype(np.float32)


def project(reference: Reference, embeddings: np.ndarray) -> np.ndarray:
    """Centre, project and scale raw embeddings to unit length, as the reference's are."""
    return normalise(_centred(reference, embeddings))


def nearest(reference: Reference, unit: np.ndarray, count: int = NEIGHBOURS):
    """Return (positions, distances) of the `count` nearest bank embeddings, for each row."""
    if len(unit) <= SINGLE_THREAD_ROWS:
        # One drawing: NumPy's own loop. A BLAS product spreads even this small one over
        # threads, which took 20-50 ms instead of 0.5 ms while the cores were busy.
        similarities = np.einsum("nd,md->mn", reference.search_bank, unit)
    else:
        similarities = unit @ reference.search_bank.T
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


def mahalanobis_distance(reference: Reference, embeddings: np.ndarray) -> np.ndarray:
    """Squared Mahalanobis distance from each raw embedding to the nearest class mean."""
    differences = _centred(reference, embeddings)[:, np.newaxis, :] - reference.class_means
    if len(differences) <= SINGLE_THREAD_ROWS:
        squared = np.einsum("nkd,de,nke->nk", differences, reference.precision, differences)
    else:
        squared = np.sum((differences @ reference.precision) * differences, axis=-1)
    return squared.min(axis=1)


def enclosed_holes(digits: np.ndarray) -> np.ndarray:
    """Number of background regions each 28x28 digit's ink encloses (8 has two)."""
    counts = []
    for image in np.asarray(digits).reshape(-1, *IMAGE_SHAPE):
        _, regions = ndimage.label(image <= INK_LEVEL)
        counts.append(max(regions - 1, 0))
    return np.asarray(counts, dtype=np.float64)


def blurred_pixels(digits: np.ndarray) -> np.ndarray:
    """(n, 784) pixels in 0-1 after a Gaussian blur of `PIXEL_BLUR` pixels.

    The blur makes the rebuild error blind to stroke width: without it a 1 drawn with a thin
    brush (a one-pixel line after preprocessing) was "not a digit" 78% of the time.
    """
    images = np.asarray(digits, dtype=np.float32).reshape(-1, *IMAGE_SHAPE) / 255.0
    blurred = ndimage.gaussian_filter(images, sigma=(0, PIXEL_BLUR, PIXEL_BLUR))
    return blurred.reshape(len(images), -1)


def rebuild_error(reference: Reference, digits: np.ndarray) -> np.ndarray:
    """Share of each 28x28 digit (0-255) that the training digits' main components miss."""
    pixels = blurred_pixels(digits)
    centred = pixels - reference.pixel_mean
    rebuilt = (centred @ reference.pixel_components.T) @ reference.pixel_components
    residual = np.linalg.norm(centred - rebuilt, axis=1)
    return residual / np.maximum(np.linalg.norm(pixels, axis=1), 1e-6)


def measure_values(reference: Reference, embeddings: np.ndarray, digits: np.ndarray) -> np.ndarray:
    """(n, len(MEASURES)) values of each measure ("higher is less like a digit")."""
    return np.stack(
        [
            knn_distance(reference, embeddings),
            mahalanobis_distance(reference, embeddings),
            rebuild_error(reference, digits),
            enclosed_holes(digits),
        ],
        axis=1,
    )


def novelty_scores(tails: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Fisher's combination of tail shares: the sum over measures of -log(share).

    Args:
        tails: (len(MEASURES), m) each measure's sorted values on m held-out drawn digits.
        values: (n, len(MEASURES)) values of n drawings.

    Returns:
        (n,) scores; the share for a value is (digits at least as far out + 1) / (m + 1).
    """
    count = tails.shape[1]
    scores = np.zeros(len(values))
    for column, sorted_values in enumerate(tails):
        above = count - np.searchsorted(sorted_values, values[:, column], side="left")
        scores -= np.log((above + 1.0) / (count + 1.0))
    return scores
