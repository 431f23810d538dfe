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
import hashlib
import sys
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.data import preprocess as preprocess_module
from core.data.preprocess import redraw_digits
from core.inspection import novelty_measures as novelty_measures_module
from core.inspection.novelty_measures import (
    MAX_EMBEDDING_DIMENSION,
    MEASURES,
    NEIGHBOURS,
    PIXEL_COMPONENTS,
    Reference,
    blurred_pixels,
    embed_all,
    embedding_function,
    enclosed_holes,
    fit_temperature,
    mahalanobis_distance,
    measure_values,
    nearest,
    normalise,
    novelty_scores,
    project,
    rebuild_error,
    softmax,
)

DIGITS_FLAGGED_NOT_A_DIGIT = 0.015
DIGITS_FLAGGED_NOT_SURE = 0.02
BANK_SIZE = 20_000
CALIBRATION_SIZE = 3_000
VERDICT_DIGIT = "digit"
VERDICT_NOT_SURE = "not sure"
VERDICT_NOT_A_DIGIT = "not a digit"


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
        embeddings=normalise((bank - mean) @ projection).astype(np.float16),
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


# The reference saved beside a shipped model file (models/default/).
REFERENCE_FILE = "reference.npz"
# A saved reference (`save_reference`): the arrays and numbers of a `Reference`, and the
# SHA-256 of the model file it was built for.
_REFERENCE_NUMBERS = ("temperature", "confidence_threshold", "novelty_threshold")
_REFERENCE_ARRAYS = tuple(
    field.name for field in dataclasses.fields(Reference) if field.name not in _REFERENCE_NUMBERS
)


def reference_code_digest() -> str:
    """SHA-256 of the code a reference is built with (this module, its measures and the
    preprocessing that draws the calibration digits): a saved reference from other code is
    not used."""
    digest = hashlib.sha256()
    for module in (novelty_measures_module, preprocess_module, sys.modules[__name__]):
        digest.update(Path(module.__file__ or "").read_bytes())
    return digest.hexdigest()


def save_reference(reference: Reference, path: Path, model_digest: str) -> None:
    """Write `reference` for the model file whose SHA-256 is `model_digest` (no pickles)."""
    contents: dict[str, Any] = {name: getattr(reference, name) for name in _REFERENCE_ARRAYS}
    contents.update({name: np.float64(getattr(reference, name)) for name in _REFERENCE_NUMBERS})
    contents.update(
        model_digest=np.str_(model_digest), code_digest=np.str_(reference_code_digest())
    )
    temporary = path.with_name(path.name + ".tmp")
    with temporary.open("wb") as file:
        np.savez_compressed(file, **contents)
    temporary.replace(path)


def load_reference(path: Path, model_digest: str) -> Reference | None:
    """The reference saved at `path` for the model file `model_digest`; None when there is
    none, it belongs to another model file or other code, or it cannot be read (it is then
    rebuilt).

    The file is the app's own (``models/default/``), read without pickles all the same.
    """
    try:
        with np.load(path, allow_pickle=False) as saved:
            expected = {"model_digest", "code_digest", *_REFERENCE_ARRAYS, *_REFERENCE_NUMBERS}
            if set(saved.files) != expected:
                return None
            if str(saved["model_digest"]) != model_digest:
                return None
            if str(saved["code_digest"]) != reference_code_digest():
                return None
            values: dict[str, Any] = {name: saved[name] for name in _REFERENCE_ARRAYS}
            values.update({name: float(saved[name]) for name in _REFERENCE_NUMBERS})
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None
    return Reference(**values)


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
