"""Choose the Draw page's "not a digit" measure by measuring, and report its flag rates.

For the shipped default model (or `--model PATH`, or `--train-recommended` for a freshly
trained Recommended network), computes candidate measures ("higher is less like a digit") on

- 3,000 held-out MNIST *training* digits drawn through the canvas pipeline (`redraw_digits`):
  half give each measure's tail shares, the other half set the threshold so that
  `DIGITS_FLAGGED_NOT_A_DIGIT` of them are flagged (as
  `core.inspection.novelty.build_reference` does);
- 2,000 MNIST *test* digits drawn the same way (the share flagged must stay at most 2%);
- a *selection* set of non-digits (`testkit.nondigits`, seed 3, letters in the DejaVu fonts) on
  which combinations are ranked;
- a *held-out* set of non-digits (seed 4, letters in the Liberation fonts), never used for
  choosing, on which the rates are reported (the share flagged should be at least 80%).

Single measures use their own quantile; combinations add each measure's -log(tail share)
(Fisher's method, `core.inspection.novelty.novelty_scores`). Prints every single measure, the best
combinations on the selection set, and the page's own verdicts on the held-out set. Usage:
    .venv/bin/python -m bench.bench_novelty [--model PATH | --train-recommended]
"""

from __future__ import annotations

import argparse
import time
from itertools import combinations
from pathlib import Path

import numpy as np

from core.data.datasets import load_default_dataset
from core.data.preprocess import preprocess_digit, redraw_digits
from core.inspection import novelty
from core.inspection import novelty_measures as measures
from testkit.nondigits import KINDS, available_fonts, nondigit_set

PROJECT_ROOT = Path(__file__).resolve().parent.parent

DEFAULT_MODEL = PROJECT_ROOT / "models" / "default" / "model.keras"
PAGE_MEASURES = ("nearest distance", "Mahalanobis distance", "rebuild error", "holes")


def scores(reference, digits, function, bank_pixels) -> dict[str, np.ndarray]:
    """Each candidate measure as "higher means less like a digit"."""
    embeddings, logits = measures.embed_all(function, digits)
    temperature = reference.temperature
    page = measures.measure_values(reference, embeddings, digits)
    _, five = measures.nearest(reference, measures.project(reference, embeddings), 5)
    pixels = measures.blurred_pixels(digits)
    pixels /= np.maximum(np.linalg.norm(pixels, axis=1, keepdims=True), 1e-6)
    return {
        "max probability (T-scaled)": -measures.softmax(logits, temperature).max(axis=1),
        "entropy (T-scaled)": measures.entropy(logits, temperature),
        "energy": measures.energy(logits),
        **{name: page[:, column] for column, name in enumerate(measures.MEASURES)},
        "5th-nearest distance": five[:, 4],
        "nearest in pixels (cosine)": 1 - (pixels @ bank_pixels.T).max(axis=1),
    }


def flags(calibration, sets, names):
    """Flags on each of `sets` for one measure (own quantile) or a Fisher combination."""
    tail_rows, threshold_rows = novelty.split_calibration(len(calibration[names[0]]))
    budget = 1 - novelty.DIGITS_FLAGGED_NOT_A_DIGIT
    if len(names) == 1:
        threshold = np.quantile(calibration[names[0]][threshold_rows], budget)
        return [values[names[0]] > threshold for values in sets]
    stacked = np.stack([calibration[name] for name in names], axis=1)
    tails = np.sort(stacked[tail_rows], axis=0).T
    threshold = np.quantile(measures.novelty_scores(tails, stacked[threshold_rows]), budget)
    return [
        measures.novelty_scores(tails, np.stack([values[n] for n in names], axis=1)) > threshold
        for values in sets
    ]


def row(label, test_flag, selection_flag, held_flag, held_out) -> str:
    kinds = np.array([item.kind for item in held_out])
    digit_like = np.array([item.digit_like for item in held_out])
    line = (f"{label[:70]:70s} {test_flag.mean():6.1%} {selection_flag.mean():7.1%} "
            f"{held_flag.mean():7.1%} {held_flag[~digit_like].mean():7.1%}")  # fmt: skip
    return line + "".join(f" {held_flag[kinds == kind].mean():6.0%}" for kind in KINDS)


def recommended_model(dataset):
    """Train the Recommended preset as the Train page does; return the Keras model."""
    from core.nn.presets import PRESETS
    from core.nn.training import train_model

    started = time.perf_counter()
    result = train_model(PRESETS["Recommended"], dataset)
    print(f"Recommended trained in {time.perf_counter() - started:.0f} s, "
          f"test accuracy {result.test_accuracy:.2%}")  # fmt: skip
    return result.model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--train-recommended", action="store_true")
    parser.add_argument("--test-digits", type=int, default=2000)
    parser.add_argument("--per-kind", type=int, default=100)
    parser.add_argument("--top", type=int, default=12)
    arguments = parser.parse_args()

    import keras

    dataset = load_default_dataset()
    if arguments.train_recommended:
        model = recommended_model(dataset)
    else:
        model = keras.saving.load_model(arguments.model)
    images, labels = dataset.train_images, dataset.train_labels
    started = time.perf_counter()
    bank, calibration, calibration_labels = novelty.reference_inputs(images, labels)
    reference = novelty.build_reference(
        model, images[bank], labels[bank], calibration, calibration_labels, bank
    )
    print(f"reference built in {time.perf_counter() - started:.1f} s, "
          f"{reference.nbytes / 1e6:.1f} MB, T = {reference.temperature:.2f}")  # fmt: skip
    rng = np.random.default_rng(1)
    test_index = rng.choice(len(dataset.test_images), arguments.test_digits, replace=False)
    test_digits = redraw_digits(dataset.test_images[test_index], seed=2)
    fonts = available_fonts()
    selection = nondigit_set(arguments.per_kind, 3, [f for f in fonts if "DejaVu" in f.name])
    held_out = nondigit_set(arguments.per_kind, 4, [f for f in fonts if "DejaVu" not in f.name])
    selection_digits = np.stack([preprocess_digit(item.canvas) for item in selection])
    held_digits = np.stack([preprocess_digit(item.canvas) for item in held_out])
    function = measures.embedding_function(model)
    bank_pixels = measures.blurred_pixels(images[bank])
    bank_pixels /= np.maximum(np.linalg.norm(bank_pixels, axis=1, keepdims=True), 1e-6)
    calibration_scores, test_scores, selection_scores, held_scores = (
        scores(reference, digits, function, bank_pixels)
        for digits in (calibration, test_digits, selection_digits, held_digits)
    )
    sets = (test_scores, selection_scores, held_scores)
    header = (f"{'measure (flag when over its threshold)':70s} {'test':>6s} {'select':>7s} "
              f"{'held':>7s} {'held-dl':>7s}")  # fmt: skip
    print(header + "".join(f" {kind[:6]:>6s}" for kind in KINDS))
    names = list(calibration_scores)
    for name in names:
        print(row(name, *flags(calibration_scores, sets, [name]), held_out))
    ranked = []
    for size in (2, 3, 4):
        for chosen in combinations(names, size):
            test_flag, selection_flag, held_flag = flags(calibration_scores, sets, list(chosen))
            if test_flag.mean() <= 0.02:
                ranked.append((selection_flag.mean(), chosen, test_flag, selection_flag, held_flag))
    ranked.sort(key=lambda entry: -entry[0])
    print(f"best {arguments.top} Fisher combinations on the selection set (of {len(ranked)} "
          "flagging at most 2% of test digits):")  # fmt: skip
    for _, chosen, *flagged in ranked[: arguments.top]:
        print(row(" + ".join(chosen), *flagged, held_out))
    page = flags(calibration_scores, sets, list(PAGE_MEASURES))
    print(row("the page's measure: " + " + ".join(PAGE_MEASURES), *page, held_out))
    judged = [novelty.judge(model, reference, digit) for digit in test_digits]
    judged_held = [novelty.judge(model, reference, digit) for digit in held_digits]
    flagged = np.array([j.verdict == novelty.VERDICT_NOT_A_DIGIT for j in judged_held])
    digit_like = np.array([item.digit_like for item in held_out])
    print(f"page verdicts on held-out non-digits: not a digit {flagged.mean():.1%} "
          f"({flagged[~digit_like].mean():.1%} without digit-like letters)")  # fmt: skip
    not_sure = np.mean([j.verdict == novelty.VERDICT_NOT_SURE for j in judged])
    print(f"page verdicts on test digits: not sure {not_sure:.1%}, not a digit "
          f"{np.mean([j.verdict == novelty.VERDICT_NOT_A_DIGIT for j in judged]):.1%}")  # fmt: skip
    timings = []
    for digit in test_digits[:200]:
        started = time.perf_counter()
        novelty.judge(model, reference, digit)
        timings.append((time.perf_counter() - started) * 1000)
    print(f"judge (embedding, neighbours, four measures): median {np.median(timings):.1f} ms, "
          f"p90 {np.quantile(timings, 0.9):.1f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
