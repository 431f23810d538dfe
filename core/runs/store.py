"""`RunStore`: every finished, stopped or interrupted run, kept across app restarts.

Where a run lives depends on the ``database_url`` (`core.runs.engine`)::

                            unset: SQLite (make run)      postgresql+psycopg://...
    its record              folder/runs.sqlite            the server       core.runs.database
    a network's model       folder/models/<id>.keras      model_blobs      core.runs.model_files
    a baseline's estimator  folder/models/<id>.joblib     model_blobs      / core.runs.model_blobs
    a run being trained     runs_in_progress (a table)    the same         core.runs.in_progress

With PostgreSQL the folder holds only a disposable cache of loaded models, so a new process on
an empty disk sees every run.

`RunStore` composes those modules and keeps the order that makes a crash harmless: a run's
model file is written (atomically) before its record is committed, so a record never lacks
its file; a run in progress has a row naming its (beating) process, so after a crash it is
kept as ``"interrupted"`` by whichever process notices first;
after each save, runs beyond the store's quota are deleted (`core.runs.capacity` applies
`core.runs.pruning`). Its reading methods are `core.runs.reading.RunReader`. It holds no
SQL, file format or lock of its own. Never point it at a folder from someone else: see
`core.runs.model_files` on why a baseline's file is loaded only when its digest matches.

Streamlit is not imported and Keras is imported only when a network's model is saved or
loaded.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy.exc import DBAPIError

from core.runs.capacity import check_room, runs_over_quota
from core.runs.database import RunRecords
from core.runs.engine import Database, checked_url
from core.runs.errors import DamagedRunStoreError, RunNotFoundError, RunStoreError
from core.runs.heartbeats import heartbeat_for
from core.runs.in_progress import PeriodicRecovery, RunInProgress, RunsInProgress
from core.runs.model_blobs import ModelBlobs
from core.runs.model_files import ModelFiles, model_file_name
from core.runs.pruning import PruneQuota
from core.runs.reading import MODEL_CACHE_FOLDER, MODELS_FOLDER, KeptReads, RunReader
from core.runs.records import RunStatus, new_run_id, record_fields

DATABASE_NAME = "runs.sqlite"
# Where earlier versions journalled runs in progress (`core.runs.journal`), read once.
JOURNAL_FOLDER = "in_progress"


class RunStore(RunReader):
    """Keeps runs (records in SQLite, model files beside them) under one folder.

    Opening never raises for a damaged database: the problem is kept in `problems()` and
    `list_runs` returns whatever is readable (possibly nothing), so a page can show a warning
    instead of crashing. Saving to a damaged store raises `DamagedRunStoreError`.

    A training in progress is a row of the database naming the process that trains it (see
    `begin_run`); if that process dies before the run is saved, the first store to notice
    (when it opens, then every few heartbeats, in any process) records it as an
    ``"interrupted"`` run, so it is shown rather than lost.

    Args:
        folder: The store's folder; created if missing (e.g. ``core.settings.runs_dir()``).
        max_runs: Keep at most this many runs; older ones are pruned after each save (None:
            no limit). Used by the public-demo profile to bound the disk.
        max_age_days: Prune runs older than this after each save (None: no limit).
        max_runs_per_owner: Keep at most this many runs of each owner (None: no limit).
        max_bytes: Keep the model files of all runs within this many bytes (None: no limit).
        max_bytes_per_owner: Keep each owner's model files within this many bytes, though
            an owner's newest run is always kept (None: no limit).
        protected_runs_per_owner: Each owner's newest runs that the store-wide caps never
            take (None: none).
        protected_runs_per_address: At most this many protected runs per network address
            (None: no bound).
        max_saves_per_address_per_day: Runs one network address may save in 24 hours
            (None: any).
        database_url: A PostgreSQL URL (`core.runs.engine.checked_url`); None for the
            SQLite file ``runs.sqlite`` in ``folder``.
        max_model_bytes: The largest model file kept; a larger one is refused before
            anything is stored (None: any size).

    Pruning is fair between visitors: an owner over a quota loses their own oldest runs,
    and the store-wide caps take the oldest unprotected run of the network address (or
    owner) that saved the most lately, so a flood from many cookies never deletes another
    visitor's newest runs (see `core.runs.pruning`). Each run records the address it was
    saved from as a keyed hash (`RunRecords.address_key`), never the address.

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
        protected_runs_per_owner: int | None = None,
        protected_runs_per_address: int | None = None,
        max_saves_per_address_per_day: int | None = None,
        database_url: str | None = None,
        max_model_bytes: int | None = None,
    ) -> None:
        self.folder = Path(folder)
        self.database_path = self.folder / DATABASE_NAME
        self.models_folder = self.folder / MODELS_FOLDER
        self.journal_folder = self.folder / JOURNAL_FOLDER
        self.quota = PruneQuota(
            max_runs=max_runs,
            max_age_days=max_age_days,
            max_runs_per_owner=max_runs_per_owner,
            max_bytes=max_bytes,
            max_bytes_per_owner=max_bytes_per_owner,
            protected_runs_per_owner=protected_runs_per_owner,
            protected_runs_per_address=protected_runs_per_address,
            max_saves_per_address_per_day=max_saves_per_address_per_day,
        )
        try:
            self.models_folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise RunStoreError(
                f"Cannot create the run store folder {self.folder}: {error.strerror}. "
                "Choose another folder with the runs_dir setting."
            ) from error
        self.database = Database(checked_url(database_url, self.folder))
        self._records = RunRecords(self.database)
        self._kept = KeptReads()
        # SQLite: model files beside it; PostgreSQL: in the database, so no disk matters.
        self._model_files: ModelFiles | ModelBlobs = (
            ModelFiles(self.models_folder, max_model_bytes)
            if self.database.is_sqlite
            else ModelBlobs(self.database, self.folder / MODEL_CACHE_FOLDER, max_model_bytes)
        )
        self._in_progress = RunsInProgress(self._records, heartbeat_for(self.database, start=False))
        self._journals_recovered = False
        self._model_files.remove_stale_temporary_files()
        if self._records.open_error is None:
            self.recover_interrupted()
        heartbeat = self._in_progress.heartbeat
        heartbeat.on_beat(PeriodicRecovery(heartbeat, self.recover_interrupted))

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
        status: str = RunStatus.FINISHED,
        owner: str | None = None,
        parameters: int | None = None,
        dataset: str | None = "MNIST",
        summary: str | None = None,
        epochs: int | None = None,
        address: str | None = None,
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
            address: The network address (or IPv6 /64) it was saved from, for the caps per
                address (`core.visitors.identity.address_for_limits`); recorded only as a keyed
                hash.

        Returns:
            The new run's id.

        Raises:
            RunStoreFullError: If the store keeps no more runs from this owner or address
                now (see `check_room`); nothing is stored then.
            RunStoreError: If an argument is invalid, the store is damaged or the model
                cannot be written (nothing is stored then).
        """
        fields = record_fields(
            kind, name, config, history, metrics, timings, confusion_matrix,
            status=status, owner=owner, parameters=parameters, dataset=dataset,
            summary=summary, epochs=epochs,
        )  # fmt: skip
        self._records.raise_if_damaged()
        self.check_room(owner, address)
        run_id = new_run_id()
        model_file, model_size, model_sha256 = None, None, None
        if model is not None:
            model_file = model_file_name(run_id, kind)
            model_size, model_sha256 = self._model_files.write(model_file, kind, model)
        try:
            # The quota check and the insert as one step, whichever processes save at once.
            with self._records.exclusive():
                self.check_room(owner, address)
                self._insert(
                    run_id, fields, model_file, model_size, model_sha256,
                    self._records.address_key(address),
                )  # fmt: skip
        except DBAPIError as error:
            self._model_files.remove(model_file)
            raise RunStoreError(
                f"Could not save run {name!r}. {self._records.damaged_message(error)}"
            ) from error
        except RunStoreError:
            self._model_files.remove(model_file)
            raise
        if self.quota.limits_anything:
            self.prune(**vars(self.quota))
        return run_id

    def check_room(self, owner: str | None, address: str | None = None) -> None:
        """Raise unless a new run of ``owner`` from ``address`` would be kept now.

        The Train and Compare pages call it before submitting a job, so a visitor hears at
        once rather than after the work; `save_run` calls it again. A run is refused when
        its address (or, without one, its owner) saved ``max_saves_per_address_per_day``
        runs in the last 24 hours, or when keeping it within ``max_runs`` would need another
        visitor's protected runs (see `core.runs.pruning`): the store never deletes those to
        make room.

        Args:
            owner: Who would save the run.
            address: The network address it would be saved from, or None.

        Raises:
            RunStoreFullError: With a sentence saying why and when to try again.
            DamagedRunStoreError: If the database cannot be read.
        """
        check_room(self._records, self.quota, owner, address)

    def prune(
        self,
        max_runs: int | None = None,
        max_age_days: float | None = None,
        max_runs_per_owner: int | None = None,
        max_bytes: int | None = None,
        max_bytes_per_owner: int | None = None,
        protected_runs_per_owner: int | None = None,
        protected_runs_per_address: int | None = None,
        max_saves_per_address_per_day: int | None = None,
    ) -> list[str]:
        """Delete runs beyond the given caps, fairly between visitors (see `runs_to_prune`).

        Args:
            max_runs: How many runs to keep in all (None: any number).
            max_age_days: The oldest age to keep, in days (None: any age).
            max_runs_per_owner: How many runs to keep per owner (None: any number).
            max_bytes: Model-file bytes to keep in all (None: any amount).
            max_bytes_per_owner: Model-file bytes to keep per owner (None: any amount).
            protected_runs_per_owner: Each owner's newest runs the store-wide caps never
                take (None: none).
            protected_runs_per_address: At most this many protected runs per network
                address (None: no bound).
            max_saves_per_address_per_day: Not used by pruning (see `check_room`).

        Returns:
            The ids of the deleted runs.
        """
        quota = PruneQuota(
            max_runs, max_age_days, max_runs_per_owner, max_bytes, max_bytes_per_owner,
            protected_runs_per_owner, protected_runs_per_address, max_saves_per_address_per_day,
        )  # fmt: skip
        # Which runs go, and their records, as one step (another process may be pruning
        # too); their model files after the commit, so a record never lacks its file.
        with self._records.exclusive():
            doomed = sorted(runs_over_quota(self._records, quota))
            files = []
            for run_id in doomed:
                try:
                    files.append(self._records.fetch(run_id)["model_file"])
                except RunNotFoundError:
                    continue
                self._records.delete(run_id)
        for model_file in files:
            self._model_files.remove(model_file)
        return doomed

    # Runs in progress ---------------------------------------------------------------------

    def begin_run(
        self,
        kind: str,
        name: str,
        config: dict[str, Any],
        owner: str | None = None,
        dataset: str | None = "MNIST",
    ) -> str:
        """Note that a run has started, so a crash before `save_run` is not lost.

        The run is a row owned by this process, which beats from now on (see
        `core.runs.in_progress`).

        Args:
            kind: ``"network"`` or ``"baseline"``.
            name: The run's display name.
            config: The configuration as a plain dict.
            owner: Who trains it.
            dataset: The dataset's name.

        Returns:
            A handle to pass to `end_run` once the run is saved (or has failed).

        Raises:
            RunStoreError: If the run could not be recorded as interrupted (its kind, name or
                configuration is invalid): checked now rather than after a crash.
            DamagedRunStoreError: If the database cannot be written.
        """
        record_fields(
            kind, name, config, None, {}, {}, None, status=RunStatus.INTERRUPTED, owner=owner,
            parameters=None, dataset=dataset, summary=None, epochs=None,
        )  # fmt: skip
        return self._in_progress.begin(kind, name, config, owner, dataset)

    def end_run(self, handle: str) -> None:
        """Forget a run noted by `begin_run` (it was saved, or failed); never raises."""
        self._in_progress.end(handle)

    def runs_in_progress(self) -> list[RunInProgress]:
        """Every run being trained now, by any process using this store, oldest first.

        Raises:
            DamagedRunStoreError: If the database cannot be read.
        """
        return self._in_progress.in_progress()

    def recover_interrupted(self) -> list[str]:
        """Record runs whose process died mid-training as ``"interrupted"``, each once.

        Runs still training in a live process, this one included, are left alone (see
        `core.runs.in_progress` on how a dead process is told from a live one, and
        `core.runs.heartbeats`). The first call that reaches the database also records the
        journal files an earlier version left in ``in_progress/``.

        An interrupted run is kept even when the store is full or its owner's address has
        saved its daily number of runs (`check_room` is not asked): it was admitted when it
        started, it has no model file, and there are at most as many as trainings ran at
        once. The store's pruning then applies to it as to any saved run.

        Returns:
            The ids of the interrupted runs recorded (none when the database is away).
        """
        if not self._records.usable():
            return []
        recovered = []
        if not self._journals_recovered:
            try:
                recovered += self._in_progress.recover_journals(
                    self.journal_folder, self._save_interrupted
                )
                self._journals_recovered = True
            except DamagedRunStoreError:
                pass  # Tried again at the next call.
        recovered += self._in_progress.recover(self._save_interrupted)
        if recovered and self.quota.limits_anything:
            # After the claims are committed: a file pruning removes never comes back.
            self.prune(**vars(self.quota))
        return recovered

    def _save_interrupted(self, run: RunInProgress) -> str:
        """Save a run whose process died as an interrupted run: no model, no metrics."""
        fields = record_fields(
            run.kind, run.name, run.config, None, {}, {"started": run.started}, None,
            status=RunStatus.INTERRUPTED, owner=run.owner, parameters=None, dataset=run.dataset,
            summary=None, epochs=None,
        )  # fmt: skip
        run_id = new_run_id()
        self._insert(run_id, fields)
        return run_id

    def _insert(
        self,
        run_id: str,
        fields: dict[str, Any],
        model_file: str | None = None,
        model_size: int | None = None,
        model_sha256: str | None = None,
        address_key: str | None = None,
    ) -> None:
        """Commit a run's record: its checked fields, now, its model file's columns."""
        self._records.insert(
            {
                "id": run_id,
                "created": datetime.now(UTC).isoformat(timespec="seconds"),
                **fields,
                "model_file": model_file,
                "model_size": model_size,
                "model_sha256": model_sha256,
                "address": address_key,
            }
        )

    # Changing -----------------------------------------------------------------------------

    def rename_run(self, run_id: str, name: str) -> None:
        """Give a run a new display name.

        Raises:
            RunStoreError: If the name is empty or too long.
            RunNotFoundError: If no run has this id.
        """
        self._records.rename(run_id, name)

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
            row = self._records.fetch(run_id)
        except RunNotFoundError:
            if missing_ok:
                return
            raise
        self._records.delete(run_id)
        self._model_files.remove(row["model_file"])

    def transfer_owner(self, old_owner: str, new_owner: str) -> int:
        """Give every run of ``old_owner`` to ``new_owner`` (a visitor adopting a session's runs).

        Returns:
            How many runs changed owner.

        Raises:
            DamagedRunStoreError: If the database cannot be written.
        """
        return self._records.transfer_owner(old_owner, new_owner)
