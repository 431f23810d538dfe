"""Reading a run store: the table of runs, one run, its model, and what cannot be read.

`RunReader` is the reading half of `core.runs.store.RunStore`, which sets up what it reads
(the database's records and the model files) and adds saving, pruning and changing runs.
Use `RunStore`; this half stands apart so that each reads alone.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd

from core.runs.database import RunRecords
from core.runs.errors import RunNotFoundError, RunStoreError
from core.runs.model_blobs import ModelBlobs
from core.runs.model_files import ModelFiles
from core.runs.records import Run, list_frame, run_from_row

MODELS_FOLDER = "models"
# With PostgreSQL: local copies of the models kept in the database (disposable).
MODEL_CACHE_FOLDER = "model_cache"
# Run lists and numbers kept (per owner) until the store changes; the oldest go first.
MAX_KEPT_READS = 256


class KeptReads:
    """Reads of a run store kept until its change marker differs (per process, thread-safe).

    Every page run lists the visitor's runs; with nothing saved, renamed or deleted since,
    the last list is used again instead of reading every record (and which models exist).
    """

    def __init__(self, limit: int = MAX_KEPT_READS) -> None:
        self._lock = threading.Lock()
        self._limit = limit
        self._reads: OrderedDict[Any, tuple[Any, Any]] = OrderedDict()

    def get(self, key: Any, marker: Any) -> Any | None:
        """The value kept for `key` while the store's marker was `marker`, or None."""
        if marker is None:
            return None
        with self._lock:
            kept = self._reads.get(key)
            if kept is None or kept[0] != marker:
                return None
            self._reads.move_to_end(key)
            return kept[1]

    def put(self, key: Any, marker: Any, value: Any) -> None:
        """Keep `value` for `key` until the marker differs from `marker`."""
        if marker is None:
            return
        with self._lock:
            self._reads[key] = (marker, value)
            self._reads.move_to_end(key)
            while len(self._reads) > self._limit:
                self._reads.popitem(last=False)


class RunReader:
    """The reading methods of `RunStore`: runs as a table, one run, a run's model.

    Attributes:
        models_folder: Where the model files are (SQLite); with PostgreSQL they are in the
            database (`core.runs.model_blobs`).
    """

    models_folder: Path
    _records: RunRecords
    _model_files: ModelFiles | ModelBlobs
    _kept: KeptReads

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
            model is kept: its file on disk, or its chunks in the database), split and
            seed (of its configuration: which images it was tested on, see
            `core.data.held_out`).
        """
        rows, _ = self._read_list_rows(owner)
        return list_frame(rows)

    def unavailable(self) -> str | None:
        """Return why runs can be neither read nor saved now (a sentence), or None.

        Cheap while the database works (no query); while it does not, each call tries to
        open it again, so a database server that comes back is used at once.
        """
        return None if self._records.usable() else self._records.open_error

    def problems(self) -> list[str]:
        """Return messages about what cannot be read: a damaged database, missing models.

        Returns:
            Sentences fit to show a user; empty when everything is fine.
        """
        rows, messages = self._read_list_rows(None)
        for row in rows:
            # A model whose lookup failed (None) is not called missing: the message says why.
            if row["model_file"] and row["has_model"] is False:
                messages.append(
                    f"The model file of run {row['name']!r} "
                    f"({self._model_files.location(row['model_file'])}) is missing; its record "
                    "and metrics are kept, but its model cannot be loaded. Delete the run or "
                    "restore the file."
                )
        return messages

    def run_numbers(self, owner: str | None = None) -> dict[str, int]:
        """Return each run's number, which stays the same for the run's whole life.

        Runs are named after their configuration, so several share a name; pages show the
        number first ("#7 · 784-128-10 ...", see `core.runs.display`).

        Args:
            owner: With an owner (a page that shows only its visitor's runs), their runs
                numbered 1, 2, ... among their own, so a number tells nothing about other
                visitors' runs; without, every run numbered across the store (its SQLite
                rowid: 1 for the first run saved, then 2, 3, ...).

        Returns:
            Run id -> number; empty when the database cannot be read.
        """
        marker = self._change_marker()
        kept = self._kept.get(("numbers", owner), marker)
        if kept is not None:
            return dict(kept)
        numbers = self._records.numbers(owner)
        if numbers:  # Empty may be a failed read: read again next time.
            self._kept.put(("numbers", owner), marker, numbers)
        return dict(numbers)

    def _change_marker(self) -> tuple | None:
        """What changes when a run or a model file changes (`RunRecords.change_marker`, and
        the models folder's time and inode on SQLite); None: read again."""
        marker = self._records.change_marker()
        if marker is None or not isinstance(self._model_files, ModelFiles):
            return marker
        try:
            status = os.stat(self.models_folder)
        except OSError:
            return (*marker, None)
        return (*marker, status.st_ino, status.st_mtime_ns)

    def _read_list_rows(self, owner: str | None) -> tuple[list[dict[str, Any]], list[str]]:
        """The records of `list_runs`, each with has_model, and messages on what failed.

        has_model is None for every row when the models could not be looked up. Kept until
        the store changes (`KeptReads`), unless something could not be read.
        """
        marker = self._change_marker()
        kept = self._kept.get(("list", owner), marker)
        if kept is not None:
            return [dict(row) for row in kept], []
        rows, messages = self._read_list_rows_now(owner)
        if not messages:
            self._kept.put(("list", owner), marker, [dict(row) for row in rows])
        return rows, messages

    def _read_list_rows_now(self, owner: str | None) -> tuple[list[dict[str, Any]], list[str]]:
        """`_read_list_rows`, read from the database and the models now."""
        rows, messages = self._records.list_rows(owner)
        present: set[str] | None
        try:
            present = self._model_files.existing(row["model_file"] for row in rows)
        except RunStoreError as error:
            present = None
            if not messages:  # The records' own failure says it already.
                messages.append(str(error))
        for row in rows:
            row["has_model"] = None if present is None else row["model_file"] in present
        return rows, messages

    def get_run(self, run_id: str) -> Run:
        """Return a stored run with its configuration, history, metrics and confusion matrix.

        Raises:
            RunNotFoundError: If no run has this id.
            DamagedRunStoreError: If the database cannot be read.
        """
        marker = self._change_marker()
        kept = self._kept.get(("run", run_id), marker)
        if kept is not None:
            return kept
        run = self._read_run(run_id)
        self._kept.put(("run", run_id), marker, run)
        return run

    def _read_run(self, run_id: str) -> Run:
        """`get_run`, read from the database now."""
        row = self._records.fetch(run_id)
        run = run_from_row(row, self.models_folder)
        if isinstance(self._model_files, ModelBlobs) and row["model_file"]:
            # Kept in the database: its path is the local copy `model_file` makes.
            run = replace(
                run,
                model_path=self._model_files.cache_path(row["model_file"], row["model_sha256"]),
                model_stored=self._model_files.exists(row["model_file"]),
            )
        return run

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
        row = self._records.fetch(run_id)
        return self._model_files.load(
            row["kind"], row["model_file"], row["model_sha256"], row["name"]
        )

    def model_file(self, run_id: str) -> Path:
        """Return a local file of a run's model, checked unchanged (e.g. for a download).

        On SQLite it is the store's own file; with PostgreSQL, a copy fetched from the
        database into the local cache (`core.runs.model_blobs`).

        Raises:
            RunNotFoundError: If no run has this id.
            MissingModelFileError: If the run has no model, it is missing, or its content
                differs from what was saved.
            RunStoreError: If the database cannot be read.
        """
        row = self._records.fetch(run_id)
        return self._model_files.local_copy(row["model_file"], row["model_sha256"], row["name"])
