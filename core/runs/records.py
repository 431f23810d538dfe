"""A run's record: the `Run` dataclass, its status, and the checks on a new run's fields.

`record_fields` checks a new run's arguments and turns them into the columns that
`core.runs.database.RunRecords` stores (JSON for configuration, history, metrics and
timings); `run_from_row` and `list_frame` turn what it reads back into a `Run` or a table.
"""

from __future__ import annotations

import json
import math
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from core.data.datasets import MNIST_NUM_CLASSES
from core.nn.config import TrainingConfig
from core.runs.errors import RunStoreError

RUN_KINDS = ("network", "baseline")


class RunStatus(StrEnum):
    """How a run ended; a `str`, so it is stored and read back as its value."""

    FINISHED = "finished"
    STOPPED = "stopped"  # Stop pressed, or a time budget or early stopping ended it.
    INTERRUPTED = "interrupted"  # The process died mid-training (see `core.runs.in_progress`).


class RunKind(StrEnum):
    """What a run trained; a `str`, so it is stored and read back as its value."""

    NETWORK = "network"
    BASELINE = "baseline"


RUN_STATUSES = tuple(status.value for status in RunStatus)
MAX_NAME_LENGTH = 120

LIST_COLUMNS = [
    "id", "created", "name", "kind", "summary", "parameters", "epochs", "train_seconds",
    "predict_seconds", "test_accuracy", "test_loss", "model_size", "status", "owner",
    "dataset", "has_model", "split", "seed",
]  # fmt: skip


@dataclass(frozen=True)
class Run:
    """One stored run, as `RunStore.get_run` returns it.

    Attributes:
        id: The run's id, e.g. ``"20261124-153700-3fa2c1"`` (sorts by creation time).
        created: When it was saved (timezone-aware, UTC).
        name: Its display name (see `RunStore.rename_run`).
        kind: ``"network"`` or ``"baseline"``.
        status: A `RunStatus` value: ``"finished"``, ``"stopped"`` or ``"interrupted"``.
        config: The configuration as a plain dict (e.g. ``TrainingConfig.to_dict()``).
        history: Per-epoch lists, e.g. ``{"loss": [...], "val_accuracy": [...]}``.
        metrics: Test metrics, e.g. ``{"test_accuracy": 0.97, "test_loss": 0.1}``.
        timings: ``{"train_seconds": ..., "predict_seconds": ...}`` and any other timings.
        confusion_matrix: Integer array (classes x classes, true rows), or None.
        model_path: Where its model file is, or None when the run has no model. With
            PostgreSQL, where a local copy goes (`RunStore.model_file` makes it).
        model_size: The model file's size in bytes, or None.
    """

    id: str
    created: datetime
    name: str
    kind: str
    status: str
    owner: str | None
    dataset: str | None
    summary: str
    parameters: int | None
    epochs: int | None
    config: dict[str, Any]
    history: dict[str, list]
    metrics: dict[str, Any]
    timings: dict[str, Any]
    confusion_matrix: np.ndarray | None
    model_path: Path | None
    model_size: int | None
    model_sha256: str | None = field(default=None, repr=False)
    # Whether the store held the model when the run was read; None: look at model_path.
    model_stored: bool | None = field(default=None, repr=False)

    @property
    def test_accuracy(self) -> float | None:
        """The test accuracy (0 to 1), or None if it was not measured."""
        return self.metrics.get("test_accuracy")

    @property
    def test_loss(self) -> float | None:
        """The test loss, or None if it was not measured (baselines have none)."""
        return self.metrics.get("test_loss")

    @property
    def has_model(self) -> bool:
        """True when the run's model is kept: its file present on disk (SQLite), or its chunks
        in the database (PostgreSQL, where `model_path` is only a local copy's place)."""
        if self.model_path is None:
            return False
        if self.model_stored is not None:
            return self.model_stored
        return self.model_path.is_file()


def new_run_id() -> str:
    """A new run id: the UTC time to the second and six random hex digits (sorts by time)."""
    return f"{datetime.now(UTC):%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


def clean_name(name: Any) -> str:
    """Return a run's display name with its white space collapsed.

    Raises:
        RunStoreError: If the name is empty or longer than `MAX_NAME_LENGTH` characters.
    """
    text = " ".join(str(name or "").split())
    if not text:
        raise RunStoreError("A run needs a name; type at least one character.")
    if len(text) > MAX_NAME_LENGTH:
        raise RunStoreError(
            f"A run's name can have at most {MAX_NAME_LENGTH} characters, got {len(text)}."
        )
    return text


def record_fields(
    kind: str,
    name: str,
    config: dict[str, Any],
    history: dict[str, Any] | None,
    metrics: dict[str, Any],
    timings: dict[str, Any],
    confusion_matrix: np.ndarray | list | None,
    status: str,
    owner: str | None,
    parameters: int | None,
    dataset: str | None,
    summary: str | None,
    epochs: int | None,
) -> dict[str, Any]:
    """Check a new run's arguments and turn them into its record's columns.

    The arguments are those of `RunStore.save_run`. The columns left out are the ones known
    only once the model file is written: id, created, model_file, model_size, model_sha256.

    Returns:
        Column name -> value, ready for `RunRecords.insert`.

    Raises:
        RunStoreError: If the kind, status, name, configuration or confusion matrix is
            invalid.
        TypeError: If a value cannot be written as JSON.
    """
    if kind not in RUN_KINDS:
        raise RunStoreError(f"A run's kind must be one of {RUN_KINDS}, got {kind!r}.")
    if status not in RUN_STATUSES:
        raise RunStoreError(f"A run's status must be one of {RUN_STATUSES}, got {status!r}.")
    name = clean_name(name)
    if not isinstance(config, dict):
        raise RunStoreError("A run's configuration must be a dict (use config.to_dict()).")
    history = {key: list(np.asarray(values).tolist()) for key, values in (history or {}).items()}
    if epochs is None and history.get("loss"):
        epochs = len(history["loss"])
    matrix = None if confusion_matrix is None else np.asarray(confusion_matrix)
    if matrix is not None and (matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]):
        raise RunStoreError(
            f"A confusion matrix must be square, got an array of shape {matrix.shape}."
        )
    return {
        "name": name,
        "kind": kind,
        "status": RunStatus(status).value,
        "owner": owner,
        "dataset": dataset,
        "summary": summary if summary is not None else _default_summary(kind, config, matrix),
        "parameters": None if parameters is None else int(parameters),
        "epochs": None if epochs is None else int(epochs),
        "train_seconds": _optional_float(timings.get("train_seconds")),
        "predict_seconds": _optional_float(timings.get("predict_seconds")),
        "test_accuracy": _optional_float(metrics.get("test_accuracy")),
        "test_loss": _optional_float(metrics.get("test_loss")),
        "config_json": to_json(config),
        "history_json": to_json(history),
        "metrics_json": to_json(metrics),
        "timings_json": to_json(timings),
        "confusion_json": None if matrix is None else to_json(matrix.astype(np.int64)),
    }


def run_from_row(row: dict[str, Any], models_folder: Path) -> Run:
    """Turn a record read by `RunRecords.fetch` into a `Run` (JSON columns decoded)."""
    matrix = None
    if row["confusion_json"]:
        matrix = np.asarray(json.loads(row["confusion_json"]), dtype=np.int64)
    model_path = models_folder / row["model_file"] if row["model_file"] else None
    return Run(
        id=row["id"],
        created=datetime.fromisoformat(row["created"]),
        name=row["name"],
        kind=row["kind"],
        status=row["status"],
        owner=row["owner"],
        dataset=row["dataset"],
        summary=row["summary"] or "",
        parameters=row["parameters"],
        epochs=row["epochs"],
        config=json.loads(row["config_json"]),
        history=json.loads(row["history_json"]),
        metrics=json.loads(row["metrics_json"]),
        timings=json.loads(row["timings_json"]),
        confusion_matrix=matrix,
        model_path=model_path,
        model_size=row["model_size"],
        model_sha256=row["model_sha256"],
    )


def list_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Turn the rows of `RunRecords.list_rows`, each with has_model added, into a table.

    Returns:
        A DataFrame with columns `LIST_COLUMNS`: created as UTC timestamps; parameters,
        epochs and model_size as nullable integers; seconds, accuracy and loss as floats;
        split and seed as the configuration stored them (None when it has none).
    """
    frame = pd.DataFrame(rows, columns=LIST_COLUMNS)
    frame["created"] = pd.to_datetime(frame["created"], utc=True)
    for column in ("parameters", "epochs", "model_size"):
        frame[column] = frame[column].astype("Int64")
    for column in ("train_seconds", "predict_seconds", "test_accuracy", "test_loss"):
        frame[column] = frame[column].astype("float64")
    frame["has_model"] = frame["has_model"].astype(bool)
    return frame


def to_json(value: Any) -> str:
    """Write a value as JSON, numpy arrays and numbers as plain lists and numbers.

    Raises:
        TypeError: If the value holds something else JSON cannot store.
    """
    return json.dumps(value, default=_to_plain)


def _to_plain(value: Any) -> Any:
    """Turn numpy values into JSON-ready Python values (for ``json.dumps(default=...)``)."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"Cannot store a value of type {type(value).__name__} in a run record.")


def _optional_float(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) else number


def _default_summary(kind: str, config: dict[str, Any], matrix: np.ndarray | None) -> str:
    """A one-line description of a configuration, used when the caller gives none (the
    classes are the confusion matrix's, MNIST's without one)."""
    if kind == "network":
        try:
            return TrainingConfig.from_dict(config).summary(
                MNIST_NUM_CLASSES if matrix is None else len(matrix)
            )
        except (AttributeError, TypeError, ValueError):
            pass
    return ", ".join(f"{key}={value}" for key, value in config.items())


def split_and_seed(config_json: str | None) -> tuple[str | None, int | None]:
    """Return the split and seed a configuration's JSON names (None where it names none).

    Stored as columns of each run (`core.runs.schema.runs`), so listing thousands of runs
    never parses their configurations.
    """
    try:
        config = json.loads(config_json or "")
    except ValueError:
        return None, None
    if not isinstance(config, dict):
        return None, None
    split, seed = config.get("split"), config.get("seed")
    return (
        str(split) if split is not None else None,
        seed if isinstance(seed, int) and not isinstance(seed, bool) else None,
    )
