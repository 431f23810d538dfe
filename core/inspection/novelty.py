"""Tell a sure prediction from a guess, and a digit from something that is not one.

A softmax always sums to 1, so a network "recognises" a digit in any scribble. Two extra
signals tell the visitor when not to trust the prediction:

- **not sure**: the highest class probability after temperature scaling (one number T fitted
  on held-out digits so that the probabilities match how often the model is right) is low;
- **not a digit**: four measures, each "how unusual would this be for a drawn digit", are
  combined. Each measure's value is turned into its tail share among held-out drawn digits
  (the share of them at least as far out) and the minus logarithms of the four shares are
  added (Fisher's method), so a drawing that is somewhat odd on several measures is flagged as
  well as one that is very odd on one. The measures:
  1. the distance, on unit-length embeddings of the network's last hidden layer, to the
     nearest training image (Sun et al., 2022, "Out-of-distribution detection with deep
     nearest neighbors");
  2. the Mahalanobis distance of that embedding to the nearest class mean, with one covariance
     shared by the classes (Lee et al., 2018);
  3. the share of the (slightly blurred) 28x28 pixels that the training digits' 40 main
     components cannot rebuild (principal component analysis);
  4. the number of enclosed holes in the ink (a digit has at most two; a scribble many).
  `bench/bench_novelty.py` chose these by measuring, against the maximum probability, the
  entropy, the energy, k-nearest-neighbour distances and pixel-space measures, alone and
  combined (bench/README.md).

The training images' embeddings are computed once per model (float16, projected to at most
`MAX_EMBEDDING_DIMENSION` dimensions; the Draw page keeps them in a cache bounded to a few
models), so a lookup is one small matrix product. The same lookup gives the nearest training
images shown under "Why this digit?".
"""

from __future__ import annotations

import dataclasses
import functools
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

NEIGHBOURS = 8
MAX_EMBEDDING_DIMENSION = 128
PIXEL_COMPONENTS = 40
PIXEL_BLUR = 1.0
INK_LEVEL = 64  # A pixel (0-255) brighter than this is ink when counting holes.
MEASURES = ("nearest distance", "Mahalanobis distance", "rebuild error", "holes")
# Share of held-out drawn digits that may be flagged: the thresholds are their quantiles.
DIGITS_FLAGGED_NOT_A_DIGIT = 0.015
DIGITS_FLAGGED_NOT_SURE = 0.02
BANK_SIZE = 20_000
CALIBRATION_SIZE = 3_000
BATCH_SIZE = 1_000
SINGLE_THREAD_ROWS = 4
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


@dataclass(frozen=True)
class Judgement:
    """The verdict on one drawing.

    Attributes:
        verdict: `VERDICT_DIGIT`, `VERDICT_NOT_SURE` or `VERDICT_NOT_A_DIGIT`.
        calibrated: The 10 probabilities after temperature scaling.
        confidence: The highest calibrated probability.
        measures: The drawing's value of each of `MEASURES`.
        novelty: The combined score; "not a digit" above `novelty_threshold`.
        novelty_threshold: The reference's threshold for `novelty`.
        neighbour_indices: Training-set indices of the nearest images, nearest first.
        neighbour_labels: Their labels.
        neighbour_distances: Their distances.
    """

    verdict: str
    calibrated: np.ndarray
    confidence: float
    measures: np.ndarray
    novelty: float
    novelty_threshold: float
    neighbour_indices: np.ndarray
    neighbour_labels: np.ndarray
    neighbour_distances: np.ndarray

    @property
    def distance(self) -> float:
        """Distance to the nearest training image's embedding (0 to 2)."""
        return float(self.measures[0])

    @property
    def rebuild_error(self) -> float:
        """Share of the drawing the training digits' main components cannot rebuild."""
        return float(self.measures[2])


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


def _centred(reference: Reference, embeddings: np.ndarray) -> np.ndarray:
    return ((embeddings - reference.mean) @ reference.projection).astype(np.float32)


def project(reference: Reference, embeddings: np.ndarray) -> np.ndarray:
    """Centre, project and scale raw embeddings to unit length, as the reference's are."""
    return _normalise(_centred(reference, embeddings))


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
    for image in np.asarray(digits).reshape(-1, 28, 28):
        _, regions = ndimage.label(image <= INK_LEVEL)
        counts.append(max(regions - 1, 0))
    return np.asarray(counts, dtype=np.float64)


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


def split_calibration(count: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows of `count` held-out digits that give the tails, and those that set the threshold."""
    order = np.random.default_rng(0).permutation(count)
    return order[: count // 2], order[count // 2 :]


def _class_statistics(centred: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    classes = np.unique(labels)
    means = np.stack([centred[labels == label].mean(axis=0) for label in classes])
    within = centred - means[np.searchsorted(classes, labels)]
    covariance = within.T @ within / len(within)
    ridge = 1e-3 * max(float(np.trace(covariance)) / len(covariance), 1e-8)
    precision = np.linalg.inv(covariance + ridge * np.eye(len(covariance)))
    return means.astype(np.float32), precision.astype(np.float32)


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
    class_means, precision = _class_statistics(
        ((bank - mean) @ projection).astype(np.float32), np.asarray(train_labels)
    )
    provisional = Reference(
        embeddings=_normalise((bank - mean) @ projection).astype(np.float16),
        indices=np.arange(len(train_images)) if bank_indices is None else bank_indices,
        labels=np.asarray(train_labels),
        projection=projection,
        mean=mean,
        temperature=1.0,
        confidence_threshold=0.0,
        pixel_mean=pixel_mean,
        pixel_components=pixel_axes[:PIXEL_COMPONENTS].astype(np.float32),
        class_means=class_means,
        precision=precision,
        tails=np.zeros((len(MEASURES), 0)),
        novelty_threshold=np.inf,
    )
    held_out, logits = embed_all(function, calibration_digits)
    temperature = fit_temperature(logits, np.asarray(calibration_labels))
    confidences = softmax(logits, temperature).max(axis=1)
    # Half the held-out digits give the tails, the other half the combined score's threshold,
    # so the threshold is set on digits the tails did not see.
    values = measure_values(provisional, held_out, calibration_digits)
    tail_rows, threshold_rows = split_calibration(len(values))
    tails = np.sort(values[tail_rows], axis=0).T
    scores = novelty_scores(tails, values[threshold_rows])
    return dataclasses.replace(
        provisional,
        temperature=temperature,
        confidence_threshold=float(np.quantile(confidences, DIGITS_FLAGGED_NOT_SURE)),
        tails=tails,
        novelty_threshold=float(np.quantile(scores, 1 - DIGITS_FLAGGED_NOT_A_DIGIT)),
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
    digits = np.asarray(digit)[np.newaxis]
    values = np.array([[
        distances[0, 0],
        mahalanobis_distance(reference, embeddings)[0],
        rebuild_error(reference, digits)[0],
        enclosed_holes(digits)[0],
    ]])  # fmt: skip
    score = float(novelty_scores(reference.tails, values)[0])
    if score > reference.novelty_threshold:
        verdict = VERDICT_NOT_A_DIGIT
    elif confidence < reference.confidence_threshold:
        verdict = VERDICT_NOT_SURE
    else:
        verdict = VERDICT_DIGIT
    return Judgement(
        verdict=verdict,
        calibrated=calibrated,
        confidence=confidence,
        measures=values[0],
        novelty=score,
        novelty_threshold=reference.novelty_threshold,
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
        images drawn through the canvas pipeline (`core.data.preprocess.redraw_digits`).
    """
    from core.data.preprocess import redraw_digits

    order = np.random.default_rng(seed).permutation(len(train_images))
    calibration_count = min(CALIBRATION_SIZE, len(order) // 5)
    held_out = np.sort(order[:calibration_count])
    bank = np.sort(order[calibration_count : calibration_count + BANK_SIZE])
    calibration = redraw_digits(train_images[held_out], seed=seed)
    return bank, calibration, train_labels[held_out]


# The drawn calibration digits do not depend on the model: the last training set's are kept
# (with the arrays themselves, so their ids stay valid), and a second model skips the redraw.
_INPUTS_LOCK = threading.Lock()
_LAST_INPUTS: dict = {}


def _cached_reference_inputs(train_images: np.ndarray, train_labels: np.ndarray):
    with _INPUTS_LOCK:
        cached = _LAST_INPUTS.get("entry")
        if cached is not None and cached[0] is train_images and cached[1] is train_labels:
            return cached[2]
        inputs = reference_inputs(train_images, train_labels)
        _LAST_INPUTS["entry"] = (train_images, train_labels, inputs)
        return inputs


def reference_for(model, train_images: np.ndarray, train_labels: np.ndarray) -> Reference:
    """Build the Draw page's `Reference` for `model` from a training set (a few seconds).

    The drawn calibration digits of the last training set are reused, so the second model
    on the same training set costs only its embeddings.
    """
    bank, calibration, calibration_labels = _cached_reference_inputs(train_images, train_labels)
    reference = build_reference(
        model, train_images[bank], train_labels[bank], calibration, calibration_labels, bank
    )
    reference.search_bank  # noqa: B018 (converted here, in the builder's thread, not per stroke)
    return reference


@dataclass(frozen=True)
class JudgementWords:
    """A judgement said in plain words for a learner.

    Attributes:
        summary: One or two sentences: how sure the model is and how unusual the drawing is.
        details: One line per measure, with its figure, for an expander.
    """

    summary: str
    details: tuple[str, ...]


def judgement_words(judgement: Judgement) -> JudgementWords:
    """Say what a `Judgement` found, in plain words, with the figures kept for the details."""
    share = 1 - DIGITS_FLAGGED_NOT_A_DIGIT
    sure = (
        f"How sure the model is, corrected for its habit of overconfidence: "
        f"{judgement.confidence:.0%}."
    )
    strangeness = (
        f"strangeness {judgement.novelty:.1f}; {share:.1%} of drawn digits score "
        f"{judgement.novelty_threshold:.1f} or less"
    )
    if judgement.verdict == VERDICT_NOT_A_DIGIT:
        shape = f"It looks unlike the digits the model learned from ({strangeness})."
    elif judgement.verdict == VERDICT_NOT_SURE:
        shape = (
            f"Its shape is within what drawn digits look like ({strangeness}), but the model "
            "hesitates between answers: it could be more than one digit."
        )
    else:
        shape = f"It looks like the digits the model learned from ({strangeness})."
    summary = f"{sure} {shape}"
    details = (
        f"How far it is from the most similar training image, as the model sees them (0 the "
        f"same, 2 the opposite): {judgement.distance:.2f}.",
        f"How far it is from the typical image of the closest digit, allowing for how much "
        f"each digit varies (a Mahalanobis distance): {judgement.measures[1]:.0f}.",
        f"How much of it cannot be redrawn from the {PIXEL_COMPONENTS} most common shapes in "
        f"training digits: {judgement.rebuild_error:.0%}.",
        f"Closed loops in the ink: {judgement.measures[3]:.0f} (a digit has at most two).",
        "Each figure is compared with drawn digits; the strangeness adds up how rare each one "
        "is among them.",
    )
    return JudgementWords(summary, details)
