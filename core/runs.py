"""The run store: every finished or stopped training run, kept across app restarts.

One folder holds everything::

    folder/runs.sqlite         the records (SQLite in WAL mode, schema version in user_version)
    folder/models/<id>.keras   a network's model, saved by Keras
    folder/models/<id>.joblib  a classical baseline's estimator, saved by joblib

A model file is written under a temporary name in the same folder, flushed to disk and renamed
with ``os.replace``; its record is committed only after that, so a crash never leaves a record
without its file or a half-written model under a run's name.

Security: Keras models are loaded with ``safe_mode=True``. Baseline estimators are stored with
joblib (pickle), which can run code when loaded, so this module only ever unpickles files that
this store wrote itself: the file name comes from the store's own record and its SHA-256 must
match the digest recorded when it was saved. Never point `RunStore` at a folder from someone
else, and never use it to import models from outside (the Compare page's import takes a
``.keras`` file and loads it with ``safe_mode=True`` instead).

Each call opens its own SQLite connection, so job threads can save runs while pages read.
Streamlit is not imported and Keras is imported only when a network's model is saved or loaded.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import math
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

SCHEMA_VERSION = 1
DATABASE_NAME = "runs.sqlite"
MODELS_FOLDER = "models"
RUN_KINDS = ("network", "baseline")
RUN_STATUSES = ("finished", "stopped", "interrupted")
MODEL_SUFFIXES = {"network": ".keras", "baseline": ".joblib"}
BASELINE_COMPRESSION = 3
MAX_NAME_LENGTH = 120
TEMPORARY_MARKER = ".partial"
STALE_TEMPORARY_SECONDS = 3600
IN_PROGRESS_FOLDER = "in_progress"

LIST_COLUMNS = [
    "id", "created", "name", "kind", "summary", "parameters", "epochs", "train_seconds",
    "predict_seconds", "test_accuracy", "test_loss", "model_size", "status", "owner",
    "dataset", "has_model",
]  # fmt: skip

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    created TEXT NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    owner TEXT,
    dataset TEXT,
    summary TEXT,
    parameters INTEGER,
    epochs INTEGER,
    train_seconds REAL,
    predict_seconds REAL,
    test_accuracy REAL,
    test_loss REAL,
    model_file TEXT,
    model_size INTEGER,
    model_sha256 TEXT,
    config_json TEXT NOT NULL,
    history_json TEXT NOT NULL,
    metrics_json TEXT NOT NULL,
    timings_json TEXT NOT NULL,
    confusion_json TEXT
);
CREATE INDEX IF NOT EXISTS runs_owner ON runs (owner);
"""


class RunStoreError(ValueError):
    """The run store cannot do what was asked; the message says why and what to do."""


class RunNotFoundError(RunStoreError):
    """No run has the given id (it may have been deleted)."""


class DamagedRunStoreError(RunStoreError):
    """The database file cannot be read as a run store."""


class MissingModelFileError(RunStoreError):
    """A run's record exists but its model file is missing or altered."""


@dataclass(frozen=True)
class Run:
    """One stored run, as `RunStore.get_run` returns it.

    Attributes:
        id: The run's id, e.g. ``"20261124-153700-3fa2c1"`` (sorts by creation time).
        created: When it was saved (timezone-aware, UTC).
        name: Its display name (see `RunStore.rename_run`).
        kind: ``"network"`` or ``"baseline"``.
        status: ``"finished"``, ``"stopped"`` or ``"interrupted"``.
        config: The configuration as a plain dict (e.g. ``TrainingConfig.to_dict()``).
        history: Per-epoch lists, e.g. ``{"loss": [...], "val_accuracy": [...]}``.
        metrics: Test metrics, e.g. ``{"test_accuracy": 0.97, "test_loss": 0.1}``.
        timings: ``{"train_seconds": ..., "predict_seconds": ...}`` and any other timings.
        confusion_matrix: Integer array (classes x classes, true rows), or None.
        model_path: Where its model file is, or None when the run has no model.
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
        """True when the run's model file is present."""
        return self.model_path is not None and self.model_path.is_file()


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


def _dumps(value: Any) -> str:
    return json.dumps(value, default=_to_plain)


def _optional_float(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) else number


def _default_summary(kind: str, config: dict[str, Any]) -> str:
    """A one-line description of a configuration, used when the caller gives none."""
    if kind == "network":
        try:
            from core.config import TrainingConfig

            return TrainingConfig.from_dict(config).summary()
        except (ImportError, AttributeError, TypeError, ValueError):
            pass
    return ", ".join(f"{key}={value}" for key, value in config.items())


def _fsync_folder(folder: Path) -> None:
    """Flush a folder's entries to disk so a rename survives a power cut (POSIX only)."""
    if os.name != "posix":
        return
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as model_file:
        for block in iter(lambda: model_file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class PruneQuota:
    """What the run store keeps; None leaves a cap out.

    Attributes:
        max_runs: Runs kept in all.
        max_age_days: Runs older than this many days are deleted.
        max_runs_per_owner: Runs kept per owner (runs without an owner count as one owner).
        max_bytes: Model-file bytes kept in all.
        max_bytes_per_owner: Model-file bytes kept per owner (the newest run always stays).
    """

    max_runs: int | None = None
    max_age_days: float | None = None
    max_runs_per_owner: int | None = None
    max_bytes: int | None = None
    max_bytes_per_owner: int | None = None

    @property
    def limits_anything(self) -> bool:
        """True when at least one cap is set."""
        return any(value is not None for value in vars(self).values())


def runs_to_prune(runs: pd.DataFrame, quota: PruneQuota) -> list[str]:
    """Choose which runs to delete so the rest fit the quota, fairly between owners.

    In order: runs older than ``max_age_days``; each owner's oldest runs beyond
    ``max_runs_per_owner`` or ``max_bytes_per_owner`` (an owner's newest run is kept even
    when it alone is larger); then, while the store holds more than ``max_runs`` runs or
    ``max_bytes`` bytes, the oldest run of the owner who holds the most runs (or bytes).
    So a visitor who floods the store only ever loses their own runs while they hold more
    than anyone else.

    Args:
        runs: `RunStore.list_runs` output, newest first (columns id, created, owner,
            model_size).
        quota: The caps.

    Returns:
        The ids to delete, in the order they were chosen.
    """
    ordered = runs.iloc[::-1]  # Oldest first.
    records = [
        (str(run_id), owner if isinstance(owner, str) else None, _size(size), created)
        for run_id, owner, size, created in zip(
            ordered["id"], ordered["owner"], ordered["model_size"], ordered["created"], strict=True
        )
    ]
    doomed: list[str] = []
    if quota.max_age_days is not None:
        cutoff = pd.Timestamp.now(tz="UTC") - pd.Timedelta(days=quota.max_age_days)
        doomed += [run_id for run_id, _, _, created in records if created < cutoff]
    kept: dict[str | None, list[tuple[str, int]]] = {}
    for run_id, owner, size, _ in records:
        if run_id not in doomed:
            kept.setdefault(owner, []).append((run_id, size))

    def drop_oldest(owner: str | None, needs_bytes: bool = False) -> None:
        runs_of_owner = kept[owner]
        index = next(
            (i for i, (_, size) in enumerate(runs_of_owner) if size > 0 or not needs_bytes), 0
        )
        doomed.append(runs_of_owner.pop(index)[0])
        if not runs_of_owner:
            del kept[owner]

    def owner_bytes(owner: str | None) -> int:
        return sum(size for _, size in kept[owner])

    for owner in list(kept):
        while quota.max_runs_per_owner is not None and len(kept[owner]) > quota.max_runs_per_owner:
            drop_oldest(owner)
        while (
            quota.max_bytes_per_owner is not None
            and len(kept[owner]) > 1
            and owner_bytes(owner) > quota.max_bytes_per_owner
        ):
            drop_oldest(owner, needs_bytes=True)

    def most_runs(owner: str | None) -> tuple[int, str]:
        return -len(kept[owner]), kept[owner][0][0]  # Ties: the oldest run (ids sort by time).

    def most_bytes(owner: str | None) -> tuple[int, str]:
        return -owner_bytes(owner), kept[owner][0][0]

    while quota.max_runs is not None and sum(map(len, kept.values())) > quota.max_runs:
        drop_oldest(min(kept, key=most_runs))
    while quota.max_bytes is not None and sum(map(owner_bytes, kept)) > quota.max_bytes:
        drop_oldest(min(kept, key=most_bytes), needs_bytes=True)
    return doomed


def _size(value: Any) -> int:
    return 0 if value is None or pd.isna(value) else int(value)


class RunStore:
    """Keeps runs (records in SQLite, model files beside them) under one folder.

    Opening never raises for a damaged database: the problem is kept in `problems()` and
    `list_runs` returns whatever is readable (possibly nothing), so a page can show a warning
    instead of crashing. Saving to a damaged store raises `DamagedRunStoreError`.

    A training in progress leaves a small journal file under ``in_progress/`` (see
    `begin_run`); if the process dies before the run is saved, the next store opened on the
    folder records it as an ``"interrupted"`` run, so it is shown rather than lost.

    Args:
        folder: The store's folder; created if missing (e.g. ``core.settings.runs_dir()``).
        max_runs: Keep at most this many runs; older ones are pruned after each save (None:
            no limit). Used by the public-demo profile to bound the disk.
        max_age_days: Prune runs older than this after each save (None: no limit).
        max_runs_per_owner: Keep at most this many runs of each owner (None: no limit).
        max_bytes: Keep the model files of all runs within this many bytes (None: no limit).
        max_bytes_per_owner: Keep each owner's model files within this many bytes, though
            an owner's newest run is always kept (None: no limit).

    Pruning is fair between owners: an owner over a quota loses their own oldest runs, and
    the store-wide caps take the oldest run of whoever holds the most, so one visitor's
    flood never deletes another visitor's runs while the flooder has more (see `prune`).

    Raises:
        RunStoreError: If the folder cannot be created.
    """

    def __init__(
        self,
        folder: str | os.PathLike,
        max_runs: int | None = None,
        max_age_days: float | None = None,
        max_runs_per_owner: int | None = None,
        max_bytes: int | None = None,
        max_bytes_per_owner: int | None = None,
    ) -> None:
        self.folder = Path(folder)
        self.database_path = self.folder / DATABASE_NAME
        self.models_folder = self.folder / MODELS_FOLDER
        self.in_progress_folder = self.folder / IN_PROGRESS_FOLDER
        self.quota = PruneQuota(
            max_runs=max_runs,
            max_age_days=max_age_days,
            max_runs_per_owner=max_runs_per_owner,
            max_bytes=max_bytes,
            max_bytes_per_owner=max_bytes_per_owner,
        )
        try:
            self.models_folder.mkdir(parents=True, exist_ok=True)
            self.in_progress_folder.mkdir(exist_ok=True)
        except OSError as error:
            raise RunStoreError(
                f"Cannot create the run store folder {self.folder}: {error.strerror}. "
                "Choose another folder with the runs_dir setting."
            ) from error
        self._open_error: str | None = None
        self._try_to_open()
        self._remove_stale_temporary_files()
        if self._open_error is None:
            self.recover_interrupted()

    def __repr__(self) -> str:
        return f"RunStore({str(self.folder)!r})"

    # Saving -------------------------------------------------------------------------------

    def save_run(
        self,
        kind: str,
        name: str,
        config: dict[str, Any],
        history: dict[str, Any] | None,
        metrics: dict[str, Any],
        timings: dict[str, Any],
        confusion_matrix: np.ndarray | list | None = None,
        model: Any = None,
        status: str = "finished",
        owner: str | None = None,
        parameters: int | None = None,
        dataset: str | None = "MNIST",
        summary: str | None = None,
        epochs: int | None = None,
    ) -> str:
        """Store a run: its model file first (atomically), then its record.

        Args:
            kind: ``"network"`` (a Keras model) or ``"baseline"`` (a scikit-learn estimator).
            name: A display name (shown in the runs table; can be renamed later).
            config: The configuration as a plain dict (e.g. ``TrainingConfig.to_dict()``).
            history: Per-epoch lists (Keras ``History.history``); empty or None for baselines.
            metrics: At least ``test_accuracy``; ``test_loss`` for networks; any extra figures.
            timings: ``train_seconds`` and ``predict_seconds`` (and any other timings).
            confusion_matrix: Classes x classes counts (true labels in rows), or None.
            model: What to store as the model file, or None for none. For ``"network"``: a
                Keras model (saved with ``model.save``), the bytes of a ``.keras`` file, or a
                function that writes them to a binary file object. For ``"baseline"``: the
                fitted estimator (saved with joblib).
            status: ``"finished"``, ``"stopped"`` (Stop pressed) or ``"interrupted"``.
            owner: Who trained it (e.g. a session id), or None.
            parameters: The model's parameter count, if known.
            dataset: The dataset's name.
            summary: A one-line description; by default derived from ``config``.
            epochs: Epochs trained; by default the length of ``history["loss"]``.

        Returns:
            The new run's id.

        Raises:
            RunStoreError: If an argument is invalid, the store is damaged or the model
                cannot be written (nothing is stored then).
        """
        if kind not in RUN_KINDS:
            raise RunStoreError(f"A run's kind must be one of {RUN_KINDS}, got {kind!r}.")
        if status not in RUN_STATUSES:
            raise RunStoreError(f"A run's status must be one of {RUN_STATUSES}, got {status!r}.")
        name = self._clean_name(name)
        if not isinstance(config, dict):
            raise RunStoreError("A run's configuration must be a dict (use config.to_dict()).")
        history = {
            key: list(np.asarray(values).tolist()) for key, values in (history or {}).items()
        }
        if epochs is None and history.get("loss"):
            epochs = len(history["loss"])
        matrix = None if confusion_matrix is None else np.asarray(confusion_matrix)
        if matrix is not None and (matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]):
            raise RunStoreError(
                f"A confusion matrix must be square, got an array of shape {matrix.shape}."
            )
        self._raise_if_damaged()

        run_id = f"{datetime.now(UTC):%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"
        model_file, model_size, model_sha256 = None, None, None
        if model is not None:
            model_file = run_id + MODEL_SUFFIXES[kind]
            model_size, model_sha256 = self._write_model_file(model_file, kind, model)
        record = {
            "id": run_id,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "name": name,
            "kind": kind,
            "status": status,
            "owner": owner,
            "dataset": dataset,
            "summary": summary if summary is not None else _default_summary(kind, config),
            "parameters": None if parameters is None else int(parameters),
            "epochs": None if epochs is None else int(epochs),
            "train_seconds": _optional_float(timings.get("train_seconds")),
            "predict_seconds": _optional_float(timings.get("predict_seconds")),
            "test_accuracy": _optional_float(metrics.get("test_accuracy")),
            "test_loss": _optional_float(metrics.get("test_loss")),
            "model_file": model_file,
            "model_size": model_size,
            "model_sha256": model_sha256,
            "config_json": _dumps(config),
            "history_json": _dumps(history),
            "metrics_json": _dumps(metrics),
            "timings_json": _dumps(timings),
            "confusion_json": None if matrix is None else _dumps(matrix.astype(np.int64)),
        }
        columns = ", ".join(record)
        placeholders = ", ".join(f":{column}" for column in record)
        try:
            with self._connection() as connection:
                connection.execute(f"INSERT INTO runs ({columns}) VALUES ({placeholders})", record)
        except (sqlite3.Error, TypeError) as error:
            if model_file is not None:
                (self.models_folder / model_file).unlink(missing_ok=True)
            raise RunStoreError(f"Could not save run {name!r}: {error}.") from error
        if self.quota.limits_anything:
            self.prune(**vars(self.quota))
        return run_id

    def prune(
        self,
        max_runs: int | None = None,
        max_age_days: float | None = None,
        max_runs_per_owner: int | None = None,
        max_bytes: int | None = None,
        max_bytes_per_owner: int | None = None,
    ) -> list[str]:
        """Delete runs beyond the given caps, fairly between owners (see `runs_to_prune`).

        Args:
            max_runs: How many runs to keep in all (None: any number).
            max_age_days: The oldest age to keep, in days (None: any age).
            max_runs_per_owner: How many runs to keep per owner (None: any number).
            max_bytes: Model-file bytes to keep in all (None: any amount).
            max_bytes_per_owner: Model-file bytes to keep per owner (None: any amount).

        Returns:
            The ids of the deleted runs.
        """
        quota = PruneQuota(
            max_runs, max_age_days, max_runs_per_owner, max_bytes, max_bytes_per_owner
        )
        doomed = runs_to_prune(self.list_runs(), quota)
        for run_id in sorted(doomed):
            self.delete_run(run_id, missing_ok=True)  # Another session may have pruned it.
        return sorted(doomed)

    # Runs in progress ---------------------------------------------------------------------

    def begin_run(
        self,
        kind: str,
        name: str,
        config: dict[str, Any],
        owner: str | None = None,
        dataset: str | None = "MNIST",
    ) -> Path:
        """Note that a run has started, so a crash before `save_run` is not lost.

        Args:
            kind: ``"network"`` or ``"baseline"``.
            name: The run's display name.
            config: The configuration as a plain dict.
            owner: Who trains it.
            dataset: The dataset's name.

        Returns:
            The journal file; pass it to `end_run` once the run is saved (or has failed).
        """
        journal = {
            "kind": kind,
            "name": name,
            "config": config,
            "owner": owner,
            "dataset": dataset,
            "pid": os.getpid(),
            "started": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        path = self.in_progress_folder / f"{secrets.token_hex(8)}.json"
        temporary = path.with_suffix(TEMPORARY_MARKER)
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            # The lock is taken before the journal gets its name, so no reader ever sees
            # it unlocked while this process lives; it moves with the file on rename.
            _lock(descriptor, blocking=False)
            os.write(descriptor, _dumps(journal).encode())
            os.replace(temporary, path)
        except BaseException:
            os.close(descriptor)
            temporary.unlink(missing_ok=True)
            raise
        with _JOURNAL_LOCK:
            _JOURNAL_DESCRIPTORS[str(path)] = descriptor
        return path

    def end_run(self, journal: Path) -> None:
        """Forget a journal written by `begin_run` (the run was saved, or failed)."""
        Path(journal).unlink(missing_ok=True)
        with _JOURNAL_LOCK:
            descriptor = _JOURNAL_DESCRIPTORS.pop(str(journal), None)
        if descriptor is not None:
            os.close(descriptor)

    def recover_interrupted(self) -> list[str]:
        """Record runs whose process died mid-training as ``"interrupted"``.

        A live process holds a lock (``flock``) on each journal it wrote until `end_run`;
        the operating system drops it when the process dies. So a journal whose lock can be
        taken belongs to a dead process, even when a new process has the same id (a server
        restarted in a container is PID 1 every time). Journals of live processes, this
        one included, are left alone.

        Returns:
            The ids of the interrupted runs recorded.
        """
        recovered = []
        for path in sorted(self.in_progress_folder.glob("*.json")):
            try:
                descriptor = os.open(path, os.O_RDONLY)
            except OSError:
                continue  # Ended or recovered meanwhile.
            try:
                if not _lock(descriptor, blocking=False):
                    continue  # Its writer is alive.
                if not _same_file(descriptor, path):
                    continue  # Recovered and removed by another process meanwhile.
                run_id = self._record_interrupted(path)
                path.unlink(missing_ok=True)
            finally:
                os.close(descriptor)
            if run_id:
                recovered.append(run_id)
        self._remove_stale_journal_files()
        return recovered

    def _record_interrupted(self, path: Path) -> str | None:
        """Save a dead process's journal as an interrupted run; None if it is unreadable."""
        try:
            journal = json.loads(path.read_text())
            return self.save_run(
                journal["kind"],
                journal["name"],
                journal["config"],
                None,
                {},
                {"started": journal.get("started")},
                status="interrupted",
                owner=journal.get("owner"),
                dataset=journal.get("dataset"),
            )
        except (OSError, ValueError, KeyError, TypeError):
            # An unreadable journal cannot be recovered; dropping it loses nothing saved.
            return None

    def _remove_stale_journal_files(self) -> None:
        """Remove half-written journals of dead processes (unlocked and a minute old)."""
        cutoff = time.time() - 60
        for path in self.in_progress_folder.glob(f"*{TEMPORARY_MARKER}"):
            try:
                descriptor = os.open(path, os.O_RDONLY)
            except OSError:
                continue
            try:
                if _lock(descriptor, blocking=False) and path.stat().st_mtime < cutoff:
                    path.unlink(missing_ok=True)
            except OSError:
                pass
            finally:
                os.close(descriptor)

    def _write_model_file(self, file_name: str, kind: str, model: Any) -> tuple[int, str]:
        """Write a model to a temporary file, flush it, rename it; return (size, sha256)."""
        final_path = self.models_folder / file_name
        # Keras insists on the .keras suffix, so the marker goes before it.
        temporary_path = self.models_folder / (
            f".{final_path.stem}{TEMPORARY_MARKER}-{os.getpid()}-{secrets.token_hex(4)}"
            f"{final_path.suffix}"
        )
        try:
            if kind == "network":
                self._write_network(model, temporary_path)
            else:
                self._write_baseline(model, temporary_path)
            with temporary_path.open("rb") as written:
                os.fsync(written.fileno())
            size = temporary_path.stat().st_size
            digest = _sha256(temporary_path)
            os.replace(temporary_path, final_path)
            _fsync_folder(self.models_folder)
        except RunStoreError:
            temporary_path.unlink(missing_ok=True)
            raise
        except Exception as error:
            temporary_path.unlink(missing_ok=True)
            raise RunStoreError(f"Could not write the model file: {error}") from error
        return size, digest

    @staticmethod
    def _write_network(model: Any, path: Path) -> None:
        if isinstance(model, (bytes, bytearray, memoryview)):
            path.write_bytes(bytes(model))
        elif callable(model) and not hasattr(model, "save"):
            with path.open("wb") as model_file:
                model(model_file)
        elif hasattr(model, "save"):
            model.save(path)
        else:
            raise RunStoreError(
                "A network run's model must be a Keras model, the bytes of a .keras file or "
                f"a function that writes them; got {type(model).__name__}."
            )

    @staticmethod
    def _write_baseline(estimator: Any, path: Path) -> None:
        if isinstance(estimator, (bytes, bytearray, memoryview, str)) or not hasattr(
            estimator, "predict"
        ):
            raise RunStoreError(
                "A baseline run's model must be a fitted scikit-learn estimator (the store "
                "pickles it itself and never loads pickled bytes from elsewhere)."
            )
        import joblib

        # zlib level 3: a Random Forest or k-NN file 6-10x smaller for a few tenths of a
        # second (bench/README.md, "Jobs, runs and baselines").
        with path.open("wb") as model_file:
            joblib.dump(estimator, model_file, compress=BASELINE_COMPRESSION)

    # Reading ------------------------------------------------------------------------------

    def list_runs(self, owner: str | None = None) -> pd.DataFrame:
        """Return one row per readable run, newest first.

        Never raises for a damaged database: it returns the rows it could read (possibly
        none); `problems()` says what went wrong.

        Args:
            owner: Only this owner's runs when given; every run when None.

        Returns:
            A DataFrame with columns `LIST_COLUMNS`: id, created (UTC timestamps), name, kind,
            summary, parameters, epochs, train_seconds, predict_seconds, test_accuracy (0-1),
            test_loss, model_size (bytes), status, owner, dataset, has_model (whether the
            model file is present).
        """
        rows, _ = self._read_list_rows(owner)
        frame = pd.DataFrame(rows, columns=LIST_COLUMNS)
        frame["created"] = pd.to_datetime(frame["created"], utc=True)
        for column in ("parameters", "epochs", "model_size"):
            frame[column] = frame[column].astype("Int64")
        for column in ("train_seconds", "predict_seconds", "test_accuracy", "test_loss"):
            frame[column] = frame[column].astype("float64")
        frame["has_model"] = frame["has_model"].astype(bool)
        return frame

    def problems(self) -> list[str]:
        """Return messages about what cannot be read: a damaged database, missing model files.

        Returns:
            Sentences fit to show a user; empty when everything is fine.
        """
        rows, messages = self._read_list_rows(None)
        for row in rows:
            if row["model_file"] and not row["has_model"]:
                messages.append(
                    f"The model file of run {row['name']!r} ({MODELS_FOLDER}/{row['model_file']}) "
                    "is missing; its record and metrics are kept, but its model cannot be "
                    "loaded. Delete the run or restore the file."
                )
        return messages

    def run_numbers(self) -> dict[str, int]:
        """Return each run's number: 1 for the first run saved in this store, then 2, 3, ...

        Runs are named after their configuration, so several share a name; pages show the
        number first ("#7 · 784-128-10 ...", see `core.run_display`). It is the record's
        SQLite rowid, so it stays the same for the run's whole life.

        Returns:
            Run id -> number; empty when the database cannot be read.
        """
        if self._open_error is not None and not self._try_to_open():
            return {}
        try:
            with self._connection() as connection:
                rows = connection.execute("SELECT rowid, id FROM runs").fetchall()
        except sqlite3.DatabaseError:
            return {}
        return {row["id"]: int(row["rowid"]) for row in rows}

    def _read_list_rows(self, owner: str | None) -> tuple[list[dict[str, Any]], list[str]]:
        if self._open_error is not None and not self._try_to_open():
            return [], [self._open_error]
        query = (
            "SELECT id, created, name, kind, summary, parameters, epochs, train_seconds, "
            "predict_seconds, test_accuracy, test_loss, model_size, status, owner, "
            "dataset, model_file FROM runs"
        )
        arguments: tuple = ()
        if owner is not None:
            query += " WHERE owner = ?"
            arguments = (owner,)
        query += " ORDER BY created DESC, rowid DESC"
        rows: list[dict[str, Any]] = []
        messages: list[str] = []
        try:
            with self._connection() as connection:
                for row in connection.execute(query, arguments):
                    record = dict(row)
                    model_file = record["model_file"]
                    record["has_model"] = bool(
                        model_file and (self.models_folder / model_file).is_file()
                    )
                    rows.append(record)
        except sqlite3.DatabaseError as error:
            messages.append(self._damaged_message(error, readable=len(rows)))
        return rows, messages

    def get_run(self, run_id: str) -> Run:
        """Return a stored run with its configuration, history, metrics and confusion matrix.

        Raises:
            RunNotFoundError: If no run has this id.
            DamagedRunStoreError: If the database cannot be read.
        """
        row = self._fetch_row(run_id)
        matrix = None
        if row["confusion_json"]:
            matrix = np.asarray(json.loads(row["confusion_json"]), dtype=np.int64)
        model_path = self.models_folder / row["model_file"] if row["model_file"] else None
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

    def find_run(self, run_id: str) -> Run | None:
        """Return a stored run, or None when it is gone (e.g. pruned by another session).

        A page lists runs, then reads one; between the two another visitor's save may prune
        it. This is `get_run` for that case.

        Raises:
            DamagedRunStoreError: If the database cannot be read.
        """
        try:
            return self.get_run(run_id)
        except RunNotFoundError:
            return None

    def load_model(self, run_id: str) -> Any:
        """Load a run's model: a Keras model (safe mode) or a fitted scikit-learn estimator.

        Raises:
            RunNotFoundError: If no run has this id.
            MissingModelFileError: If the run has no model file, it is missing, or its
                content differs from what was saved.
            RunStoreError: If the file cannot be read as a model.
        """
        run = self.get_run(run_id)
        if run.model_path is None:
            raise MissingModelFileError(f"Run {run.name!r} was saved without a model.")
        if not run.model_path.is_file():
            raise MissingModelFileError(
                f"The model file of run {run.name!r} ({MODELS_FOLDER}/{run.model_path.name}) "
                "is missing. Its metrics are still shown; delete the run or train it again."
            )
        if run.model_sha256 and _sha256(run.model_path) != run.model_sha256:
            raise MissingModelFileError(
                f"The model file of run {run.name!r} was changed after it was saved, so it "
                "is not loaded. Delete the run or train it again."
            )
        try:
            if run.kind == "network":
                import keras

                return keras.saving.load_model(run.model_path, safe_mode=True)
            import joblib

            # Safe only because the file is this store's own (name from the record, digest
            # checked above); never unpickle files from elsewhere.
            return joblib.load(run.model_path)
        except Exception as error:
            raise RunStoreError(
                f"The model of run {run.name!r} could not be loaded: {error}"
            ) from error

    # Changing -----------------------------------------------------------------------------

    def rename_run(self, run_id: str, name: str) -> None:
        """Give a run a new display name.

        Raises:
            RunStoreError: If the name is empty or too long.
            RunNotFoundError: If no run has this id.
        """
        name = self._clean_name(name)
        self._raise_if_damaged()
        try:
            with self._connection() as connection:
                changed = connection.execute(
                    "UPDATE runs SET name = ? WHERE id = ?", (name, run_id)
                ).rowcount
        except sqlite3.DatabaseError as error:
            raise DamagedRunStoreError(self._damaged_message(error)) from error
        if not changed:
            raise RunNotFoundError(f"No run with id {run_id!r}; it may have been deleted.")

    def delete_run(self, run_id: str, missing_ok: bool = False) -> None:
        """Delete a run's record, then its model file (a missing file is fine).

        Args:
            run_id: The run's id.
            missing_ok: Return quietly when the run is gone already (another session may
                have deleted or pruned it).

        Raises:
            RunNotFoundError: If no run has this id (unless `missing_ok`).
        """
        try:
            row = self._fetch_row(run_id)
        except RunNotFoundError:
            if missing_ok:
                return
            raise
        try:
            with self._connection() as connection:
                connection.execute("DELETE FROM runs WHERE id = ?", (run_id,))
        except sqlite3.DatabaseError as error:
            raise DamagedRunStoreError(self._damaged_message(error)) from error
        if row["model_file"]:
            (self.models_folder / row["model_file"]).unlink(missing_ok=True)

    def transfer_owner(self, old_owner: str, new_owner: str) -> int:
        """Give every run of ``old_owner`` to ``new_owner`` (a visitor adopting a session's runs).

        Returns:
            How many runs changed owner.

        Raises:
            DamagedRunStoreError: If the database cannot be written.
        """
        self._raise_if_damaged()
        try:
            with self._connection() as connection:
                cursor = connection.execute(
                    "UPDATE runs SET owner = ? WHERE owner = ?", (new_owner, old_owner)
                )
                return cursor.rowcount
        except sqlite3.DatabaseError as error:
            raise DamagedRunStoreError(self._damaged_message(error)) from error

    # Internals ----------------------------------------------------------------------------

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        """Open a connection for one call: commit on success, roll back on error, close."""
        connection = sqlite3.connect(self.database_path, timeout=30)
        connection.row_factory = sqlite3.Row
        try:
            with connection:
                yield connection
        finally:
            connection.close()

    def _initialise(self) -> None:
        with self._connection() as connection:
            version = connection.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise sqlite3.DatabaseError(
                    f"it was written by a newer MNIST Studio (schema {version}, "
                    f"this one reads {SCHEMA_VERSION})"
                )
            connection.execute("PRAGMA journal_mode=WAL")
            connection.executescript(_SCHEMA)
            connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _try_to_open(self) -> bool:
        """Create or check the database; remember why it failed. Returns True when usable.

        A store that could not be opened tries again on the next call, so moving a damaged
        file aside takes effect without restarting the app.
        """
        try:
            self._initialise()
        except sqlite3.DatabaseError as error:
            self._open_error = self._damaged_message(error)
            return False
        self._open_error = None
        return True

    def _damaged_message(self, error: Exception, readable: int | None = None) -> str:
        read = "" if not readable else f" The first {readable} runs could be read."
        return (
            f"The run store database {self.database_path} cannot be read ({error})."
            f"{read} Move the file aside (MNIST Studio then starts a fresh one) or "
            "restore it from a backup."
        )

    def _raise_if_damaged(self) -> None:
        if self._open_error is not None and not self._try_to_open():
            raise DamagedRunStoreError(self._open_error)

    def _fetch_row(self, run_id: str) -> dict[str, Any]:
        self._raise_if_damaged()
        try:
            with self._connection() as connection:
                row = connection.execute(
                    "SELECT * FROM runs WHERE id = ?", (str(run_id),)
                ).fetchone()
        except sqlite3.DatabaseError as error:
            raise DamagedRunStoreError(self._damaged_message(error)) from error
        if row is None:
            raise RunNotFoundError(f"No run with id {run_id!r}; it may have been deleted.")
        return dict(row)

    @staticmethod
    def _clean_name(name: Any) -> str:
        text = " ".join(str(name or "").split())
        if not text:
            raise RunStoreError("A run needs a name; type at least one character.")
        if len(text) > MAX_NAME_LENGTH:
            raise RunStoreError(
                f"A run's name can have at most {MAX_NAME_LENGTH} characters, got {len(text)}."
            )
        return text

    def _remove_stale_temporary_files(self) -> None:
        """Remove temporary files left by a crash: those of dead processes, or old ones."""
        cutoff = time.time() - STALE_TEMPORARY_SECONDS
        for path in self.models_folder.glob(f".*{TEMPORARY_MARKER}-*"):
            writer = path.name.split(f"{TEMPORARY_MARKER}-")[-1].split("-")[0]
            dead_writer = writer.isdigit() and not _process_alive(int(writer))
            try:
                if dead_writer or path.stat().st_mtime < cutoff:
                    path.unlink()
            except OSError:
                pass


# Journals this process is writing: path -> the open descriptor that holds its lock.
_JOURNAL_DESCRIPTORS: dict[str, int] = {}
_JOURNAL_LOCK = threading.Lock()


def _lock(descriptor: int, blocking: bool) -> bool:
    """Take an exclusive ``flock`` on an open file; False if another holder has it.

    ``flock`` locks belong to the open file, not the process, so a second open of the same
    journal in this process does not get the lock either; the lock ends with the process.
    """
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
    except BlockingIOError:
        return False
    return True


def _same_file(descriptor: int, path: Path) -> bool:
    """True when `path` still names the file open as `descriptor`."""
    try:
        return os.path.samestat(os.fstat(descriptor), path.stat())
    except OSError:
        return False


def _process_alive(pid: int) -> bool:
    """Return True if a process with this id exists (on this machine)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
