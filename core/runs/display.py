"""How a stored run is shown to a reader: its number, its short name, its colour, its history.

A training run is named after what was trained (`training_run_name`: its preset or its
configuration, the epochs actually done, its seed), and a visitor's reruns get "(2)", "(3)"
(`unique_name`). Every list, legend and title also starts with the run's number ("#7 · …"),
which `core.runs.RunStore.run_numbers` keeps fixed for the run's life, and every chart draws
run #7 in the same colour, derived from the number.
"""

from __future__ import annotations

import colorsys
import math
from collections.abc import Iterable, Mapping

import pandas as pd

from core.data.held_out import held_out_images
from core.nn import TrainingConfig, preset_of

# Consecutive numbers get hues a golden-ratio turn apart, so neighbours never look alike.
GOLDEN_RATIO_CONJUGATE = (math.sqrt(5) - 1) / 2
COLOR_SATURATION = 0.75
COLOR_LIGHTNESS = 0.42
MAX_SHORT_NAME = 44
ELLIPSIS = "…"


def _shorten(text: str, max_length: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= max_length else text[: max_length - 1].rstrip() + ELLIPSIS


def epochs_text(config: TrainingConfig, epochs_completed: int | None = None) -> str:
    """Say how many epochs were trained: "20 ep", or "9 of 20 ep, stopped" for a stopped run.

    Args:
        config: The run's configuration (its planned epochs).
        epochs_completed: Whole epochs a stopped run finished; None for a run that finished.
    """
    if epochs_completed is None:
        return f"{config.epochs} ep"
    return f"{epochs_completed} of {config.epochs} ep, stopped"


def training_run_name(
    config: TrainingConfig, num_classes: int, epochs_completed: int | None = None
) -> str:
    """Name a training run after what was trained, e.g. "As in the article · 20 ep · seed 0".

    A preset (whatever its seed) is named by the preset, any other configuration by its
    summary; the seed is always named, so two runs that differ only in it can be told apart.

    Args:
        config: The run's configuration.
        num_classes: Outputs of the network: the dataset's number of classes.
        epochs_completed: Whole epochs done by a stopped run ("9 of 20 ep, stopped"); None
            for a run that trained all its epochs.

    Returns:
        The name, before `unique_name` tells reruns apart.
    """
    epochs = epochs_text(config, epochs_completed)
    preset = preset_of(config)
    base = f"{preset} · {epochs}" if preset else config.summary(num_classes, epochs_text=epochs)
    return f"{base} · seed {config.seed}"


def unique_name(name: str, taken: Iterable[str]) -> str:
    """Return `name`, or `name (2)`, `name (3)`… when it is already among `taken`."""
    taken = set(taken)
    if name not in taken:
        return name
    number = 2
    while f"{name} ({number})" in taken:
        number += 1
    return f"{name} ({number})"


def display_name(number: int | None, name: str, summary: str = "") -> str:
    """Return a run's full label, e.g. ``"#7 · 784-128-10 relu, adam 0.001, 20 ep"``.

    Args:
        number: The run's number (`RunStore.run_numbers`), or None when it has none.
        name: The run's name (its configuration unless renamed).
        summary: Its configuration summary: added in brackets to a name of its own, used
            instead of a name it begins with (a baseline "Random Forest, 300 images, …"),
            left out of a name that begins with it (a run named "<summary> · seed 0").

    Returns:
        One line of text; the name is never repeated as its own summary.
    """
    text = " ".join(str(name).split())
    summary = " ".join(str(summary or "").split())
    if summary.startswith(text):
        text = summary
    elif summary and not text.startswith(summary):
        text = f"{text} ({summary})"
    return text if number is None else f"#{number} · {text}"


def short_name(number: int | None, name: str, max_length: int = MAX_SHORT_NAME) -> str:
    """Return a run's label cut to `max_length` characters, number first.

    Two runs with the same long name stay distinguishable because the number comes first.
    """
    prefix = "" if number is None else f"#{number} · "
    return prefix + _shorten(name, max(max_length - len(prefix), 8))


def run_colour(number: int | None) -> str:
    """Return the colour of run `number` on every chart, as ``"#rrggbb"`` (grey for None)."""
    if number is None:
        return "#555555"
    hue = (int(number) * GOLDEN_RATIO_CONJUGATE) % 1.0
    red, green, blue = colorsys.hls_to_rgb(hue, COLOR_LIGHTNESS, COLOR_SATURATION)
    return "#{:02x}{:02x}{:02x}".format(*(round(channel * 255) for channel in (red, green, blue)))


def with_display_columns(runs: pd.DataFrame, numbers: Mapping[str, int]) -> pd.DataFrame:
    """Return the run table with columns ``number``, ``label`` and ``colour`` added.

    Args:
        runs: `RunStore.list_runs` output (columns id, name, summary, ...).
        numbers: Run id -> number, from `RunStore.run_numbers`.

    Returns:
        A copy of `runs`; a run missing from `numbers` has number NA and no "#" prefix.
    """
    table = runs.copy()
    table["number"] = table["id"].map(dict(numbers)).astype("Int64")
    plain = [None if pd.isna(number) else int(number) for number in table["number"]]
    table["label"] = [
        display_name(number, name, summary)
        for number, name, summary in zip(plain, table["name"], table["summary"], strict=True)
    ]
    table["colour"] = [run_colour(number) for number in plain]
    return table


# "Tested on" for a run that has no test score (its process died before it was tested).
NOT_TESTED = "not tested"


def held_out_labels(runs: pd.DataFrame, sizes: Mapping[str, tuple[int, int]]) -> list[str]:
    """Return what each run was tested on, for the table's "Tested on" column.

    Args:
        runs: `RunStore.list_runs` output (columns dataset, split and seed).
        sizes: Data set name -> (training images, test images), for the data sets whose
            sizes are known: their runs' texts give the number of images.

    Returns:
        One text per run, e.g. "test file (10,000)" or "15,000 held out of training, seed 0",
        starting with the data set's name when the table holds runs of several data sets;
        `NOT_TESTED` for a run without a test score (an interrupted one).
    """
    datasets = [str(name) if isinstance(name, str) else "unknown data" for name in runs["dataset"]]
    several = len(set(datasets)) > 1
    tested = (
        runs["test_accuracy"].notna()
        if "test_accuracy" in runs
        else pd.Series(True, index=runs.index)
    )
    return [
        held_out_images({"split": split, "seed": seed}, dataset).describe(
            sizes.get(dataset), dataset=several
        )
        if has_score
        else NOT_TESTED
        for dataset, split, seed, has_score in zip(
            datasets, runs["split"], runs["seed"], tested, strict=True
        )
    ]


def history_table(history: Mapping[str, list] | None) -> pd.DataFrame:
    """Return a run's per-epoch history as a table indexed by epoch, counted from 1.

    Series of different lengths are allowed (a run without validation data has empty
    ``val_*`` lists, a stopped run may have fewer validation points): the missing values are
    left empty, and series with no value at all are left out.

    Args:
        history: Keras-style history, e.g. ``{"loss": [...], "val_loss": []}``.

    Returns:
        A DataFrame with index ``epoch`` (1, 2, ...) and one column per non-empty series;
        empty when the run trained no full epoch.
    """
    series = {
        key: pd.Series(list(values), dtype="float64")
        for key, values in (history or {}).items()
        if values is not None and len(values)
    }
    if not series:
        return pd.DataFrame(index=pd.RangeIndex(1, 1, name="epoch"))
    table = pd.DataFrame(series)
    table.index = pd.RangeIndex(1, len(table) + 1, name="epoch")
    return table
