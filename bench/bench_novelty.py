"""Choose the Draw page's "not a digit" measure by measuring, and report its flag rates.

For the shipped default model (or `--model PATH`), computes four scores on

- held-out MNIST training digits drawn through the canvas pipeline (`redraw_digits`), which
  set each score's threshold so that `DIGITS_FLAGGED_NOT_A_DIGIT` of them are flagged,
- 2,000 MNIST test digits drawn the same way (the rate that must stay at most 2%),
- the non-digit set of `core.nondigits` (letters, scribbles, circles, boxes; the rate that
  should be at least 80%),

and prints the share flagged per score, and per pair of scores (either over its threshold), and
per kind. The scores: maximum softmax probability after temperature scaling, entropy of that
softmax, energy, the distance to the nearest training image in the last hidden layer, and the
share of the 28x28 pixels that the training digits' 40 main components cannot rebuild. Usage:
    .venv/bin/python bench/bench_novelty.py [--model models/default/model.keras]
"""

from __future__ import annotations

import argparse
import sys
import time
from itertools import combinations
from pathlib import Path

import numpy as np

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from core import novelty  # noqa: E402
from core.data import load_default_dataset  # noqa: E402
from core.nondigits import KINDS, nondigit_set  # noqa: E402
from core.preprocess import preprocess_digit, redraw_digits  # noqa: E402

DEFAULT_MODEL = PROJECT_ROOT / "models" / "default" / "model.keras"


def scores(reference, digits, function) -> dict[str, np.ndarray]:
    """Each measure as "higher means less like a digit"."""
    embeddings, logits = novelty.embed_all(function, digits)
    temperature = reference.temperature
    return {
        "max probability (T-scaled)": -novelty.softmax(logits, temperature).max(axis=1),
        "entropy (T-scaled)": novelty.entropy(logits, temperature),
        "energy": novelty.energy(logits),
        "nearest-neighbour distance": novelty.knn_distance(reference, embeddings),
        "pixel PCA-40 rebuild error": novelty.rebuild_error(reference, digits),
    }


def flag_rates(calibration, test, other, names, share):
    """Shares of test digits and non-digits flagged when any of `names` is over its
    calibration quantile, each measure taking an equal part of `share`."""
    test_flag = np.zeros(len(test[names[0]]), bool)
    other_flag = np.zeros(len(other[names[0]]), bool)
    for name in names:
        threshold = np.quantile(calibration[name], 1 - share / len(names))
        test_flag |= test[name] > threshold
        other_flag |= other[name] > threshold
    return test_flag, other_flag


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--test-digits", type=int, default=2000)
    parser.add_argument("--per-kind", type=int, default=100)
    arguments = parser.parse_args()

    import keras

    model = keras.saving.load_model(arguments.model)
    dataset = load_default_dataset()
    started = time.perf_counter()
    reference, calibration = build(model, dataset)
    print(f"reference built in {time.perf_counter() - started:.1f} s, "
          f"{reference.nbytes / 1e6:.1f} MB, T = {reference.temperature:.2f}")  # fmt: skip
    rng = np.random.default_rng(1)
    test_index = rng.choice(len(dataset.test_images), arguments.test_digits, replace=False)
    test_digits = redraw_digits(dataset.test_images[test_index], seed=2)
    others = nondigit_set(arguments.per_kind, seed=3)
    other_digits = np.stack([preprocess_digit(item.canvas) for item in others])
    function = novelty.embedding_function(model)
    calibration_scores = scores(reference, calibration, function)
    test_scores = scores(reference, test_digits, function)
    other_scores = scores(reference, other_digits, function)
    kinds = np.array([item.kind for item in others])
    digit_like = np.array([item.digit_like for item in others])
    header = f"{'measure':56s} {'test digits':>11s} {'non-digits':>10s} {'w/o digit-like':>14s}"
    header += "".join(f" {kind:>9s}" for kind in KINDS)
    print(header)
    names = list(calibration_scores)
    choices = [[name] for name in names] + [list(pair) for pair in combinations(names, 2)]
    for chosen in choices:
        test_flag, flagged = flag_rates(
            calibration_scores, test_scores, other_scores, chosen,
            novelty.DIGITS_FLAGGED_NOT_A_DIGIT,
        )  # fmt: skip
        label = " + ".join(chosen)
        row = (f"{label[:56]:56s} {test_flag.mean():11.1%} "
               f"{flagged.mean():10.1%} {flagged[~digit_like].mean():14.1%}")  # fmt: skip
        row += "".join(f" {flagged[kinds == kind].mean():9.1%}" for kind in KINDS)
        print(row)
    judged = [novelty.judge(model, reference, digit) for digit in test_digits]
    judged_others = [novelty.judge(model, reference, digit) for digit in other_digits]
    flagged = np.array([j.verdict == novelty.VERDICT_NOT_A_DIGIT for j in judged_others])
    print(f"page verdicts on non-digits: not a digit {flagged.mean():.1%} "
          f"({flagged[~digit_like].mean():.1%} without digit-like letters)")  # fmt: skip
    not_sure = np.mean([j.verdict == novelty.VERDICT_NOT_SURE for j in judged])
    print(f"page verdicts on test digits: not sure {not_sure:.1%}, not a digit "
          f"{np.mean([j.verdict == novelty.VERDICT_NOT_A_DIGIT for j in judged]):.1%}")  # fmt: skip
    timings = []
    for digit in test_digits[:200]:
        started = time.perf_counter()
        novelty.judge(model, reference, digit)
        timings.append((time.perf_counter() - started) * 1000)
    print(f"judge (embedding + neighbour lookup): median {np.median(timings):.1f} ms, "
          f"p90 {np.quantile(timings, 0.9):.1f} ms")  # fmt: skip


def build(model, dataset):
    """The page's reference for `model`, and the calibration digits it was fitted on."""
    images, labels = dataset.train_images, dataset.train_labels
    bank, calibration, calibration_labels = novelty.reference_inputs(images, labels)
    reference = novelty.build_reference(
        model, images[bank], labels[bank], calibration, calibration_labels, bank
    )
    return reference, calibration


if __name__ == "__main__":
    main()
