"""A run store's model files kept in its database, in chunks, so no app disk needs to last.

With PostgreSQL (``database_url`` set) the store's model files live in the ``model_blobs``
table: one row per `CHUNK_BYTES` chunk of a file, all inserted in one transaction, so a
file is there whole or not at all. `ModelBlobs` offers what `core.runs.model_files.ModelFiles`
offers for a folder (`exists`, `existing`, `write`, `local_copy`, `load`, `remove`,
`remove_stale_temporary_files`), so `core.runs.store.RunStore` picks one by backend and does
the rest the same way: the model's chunks are stored before its record is committed.

A model is written with the same writers as a file on disk (a temporary local file, sized
against the cap and digested with SHA-256), then its chunks are inserted. Loading fetches the
chunks into a disposable local cache file named by the digest
(``<runs_dir>/model_cache/<sha256>.keras|.joblib``), checks the digest, then loads exactly as
`ModelFiles` does: Keras in safe mode, joblib only for a digest-checked file of this store.
A new process on a new machine, with an empty ``runs_dir``, therefore loads every model.
Chunks left by a crash between the chunks and the record (no record names them) are removed
once they are an hour old.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError, OperationalError

from core.runs.engine import Database, error_reason
from core.runs.errors import MissingModelFileError, RunStoreError
from core.runs.model_files import (
    STALE_TEMPORARY_SECONDS,
    TEMPORARY_MARKER,
    changed_model_error,
    load_model_file,
    remove_stale_temporary_files,
    sha256_of,
    write_temporary_model,
)
from core.runs.schema import model_blobs, runs

CHUNK_BYTES = 1 << 20
# The local cache of fetched models keeps the most recently used within this many bytes.
MAX_CACHE_BYTES = 512 * 1024**2
# How many file names one query of `ModelBlobs.existing` asks about.
NAMES_PER_QUERY = 500


class ModelBlobs:
    """The model files kept in one database's ``model_blobs`` table.

    Args:
        database: The run store's database (its schema already upgraded).
        cache_folder: A local folder for fetched copies (created if missing); anything in it
            can be deleted at any time.
        max_model_bytes: The largest model kept; a larger one is refused before anything is
            stored (None: any size).

    Raises:
        RunStoreError: If the cache folder cannot be created.
    """

    def __init__(
        self, database: Database, cache_folder: Path, max_model_bytes: int | None = None
    ) -> None:
        self.database = database
        self.cache_folder = cache_folder
        self.max_model_bytes = max_model_bytes
        try:
            self.cache_folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise RunStoreError(
                f"Cannot create the model cache folder {cache_folder}: {error.strerror}. "
                "Choose another folder with the runs_dir setting."
            ) from error

    def exists(self, file_name: str | None) -> bool:
        """True when a model of this name is stored (False for None: no model).

        Raises:
            RunStoreError: If the database cannot be read.
        """
        return bool(file_name) and bool(self.existing([file_name]))

    def existing(self, file_names: Iterable[str | None]) -> set[str]:
        """Return which of these models are stored, in a few queries however many runs.

        Raises:
            RunStoreError: If the database cannot be read.
        """
        wanted = sorted({name for name in file_names if name})
        found: set[str] = set()
        try:
            with self.database.transaction() as connection:
                for start in range(0, len(wanted), NAMES_PER_QUERY):
                    batch = wanted[start : start + NAMES_PER_QUERY]
                    query = sa.select(model_blobs.c.file_name).where(
                        model_blobs.c.chunk == 0, model_blobs.c.file_name.in_(batch)
                    )
                    found.update(connection.execute(query).scalars())
        except DBAPIError as error:
            raise self._database_error("Could not read which models are stored", error) from error
        return found

    def location(self, file_name: str) -> str:
        """Where a model is kept, as a message names it."""
        return f"{file_name} in the database"

    def cache_path(self, file_name: str, sha256: str | None) -> Path:
        """The local copy of a model: named by its digest, with its file's suffix."""
        return self.cache_folder / f"{sha256 or Path(file_name).stem}{Path(file_name).suffix}"

    def write(self, file_name: str, kind: str, model: Any) -> tuple[int, str]:
        """Write a model locally, then store its chunks in one transaction.

        Args:
            file_name: The model's name (see `core.runs.model_files.model_file_name`).
            kind: ``"network"`` or ``"baseline"``.
            model: What `core.runs.model_files.ModelFiles.write` takes.

        Returns:
            The file's size in bytes and its SHA-256 (hex).

        Raises:
            RunStoreError: If the model is of the wrong type, larger than `max_model_bytes`
                or cannot be stored (nothing is stored then).
        """
        written = write_temporary_model(
            self.cache_folder, file_name, kind, model, self.max_model_bytes
        )
        try:
            created = time.time()
            with self.database.transaction() as connection:
                connection.execute(model_blobs.delete().where(model_blobs.c.file_name == file_name))
                with written.path.open("rb") as model_file:
                    for chunk, data in enumerate(iter(lambda: model_file.read(CHUNK_BYTES), b"")):
                        connection.execute(
                            model_blobs.insert().values(
                                file_name=file_name, chunk=chunk, data=data, created=created
                            )
                        )
        except (DBAPIError, OSError) as error:
            written.path.unlink(missing_ok=True)
            raise self._database_error("Could not store the model", error) from error
        # What was just written is the cache's copy: loading it soon fetches nothing.
        self._keep_in_cache(written.path, self.cache_path(file_name, written.sha256))
        return written.size, written.sha256

    def local_copy(self, file_name: str | None, sha256: str | None, run_name: str) -> Path:
        """Return a local file of a stored model: the cache's copy, fetched if needed.

        The copy's digest is checked against ``sha256`` every time it is used.

        Raises:
            MissingModelFileError: If there is no model, it is not in the database, or its
                content differs from what was saved.
            RunStoreError: If the database cannot be read or the copy cannot be written.
        """
        if not file_name:
            raise MissingModelFileError(f"Run {run_name!r} was saved without a model.")
        cached = self.cache_path(file_name, sha256)
        if sha256 and cached.is_file() and sha256_of(cached) == sha256:
            # The database decides whether the run still has its model; the copy saves a fetch.
            if not self.exists(file_name):
                raise self._missing_error(file_name, run_name)
            os.utime(cached)  # Recently used: the cache keeps it longest.
            return cached
        temporary = self.cache_folder / (
            f".{Path(file_name).stem}{TEMPORARY_MARKER}-{os.getpid()}-{secrets.token_hex(4)}"
            f"{cached.suffix}"
        )
        try:
            digest, chunks = self._fetch(file_name, temporary)
        except (DBAPIError, OSError) as error:
            temporary.unlink(missing_ok=True)
            raise self._database_error(
                f"The model of run {run_name!r} could not be read", error
            ) from error
        if chunks == 0:
            temporary.unlink(missing_ok=True)
            raise self._missing_error(file_name, run_name)
        if sha256 and digest != sha256:
            temporary.unlink(missing_ok=True)
            raise changed_model_error(run_name)
        self._keep_in_cache(temporary, cached)
        return cached

    def load(self, kind: str, file_name: str | None, sha256: str | None, run_name: str) -> Any:
        """Load a stored model after checking it is there and unchanged (`local_copy`).

        Returns:
            A Keras model (loaded in safe mode) or a fitted scikit-learn estimator.

        Raises:
            MissingModelFileError: If there is no model, it is not in the database, or its
                content differs from what was saved.
            RunStoreError: If it cannot be read or loaded.
        """
        return load_model_file(kind, self.local_copy(file_name, sha256, run_name), run_name)

    def remove(self, file_name: str | None) -> None:
        """Delete a stored model's chunks; a missing one (or None) is fine.

        Called once the run's record is gone: if the database fails now, the chunks are
        named by no record and `remove_stale_temporary_files` removes them later.
        """
        if not file_name:
            return
        try:
            with self.database.transaction() as connection:
                connection.execute(model_blobs.delete().where(model_blobs.c.file_name == file_name))
        except DBAPIError:
            pass

    def remove_stale_temporary_files(self) -> int:
        """Remove what a crash left: local temporary files, and chunks no record names.

        Chunks are removed only when no run's record names them and they are older than an
        hour, so a save between its chunks and its record (in any process) is never
        disturbed. A database that cannot be reached is left for a later start.

        Returns:
            How many chunks were removed.
        """
        remove_stale_temporary_files(self.cache_folder)
        cutoff = time.time() - STALE_TEMPORARY_SECONDS
        named = sa.exists().where(runs.c.model_file == model_blobs.c.file_name)
        try:
            with self.database.transaction() as connection:
                return connection.execute(
                    model_blobs.delete().where(model_blobs.c.created < cutoff, ~named)
                ).rowcount
        except DBAPIError:
            return 0

    def _database_error(self, what: str, error: Exception) -> RunStoreError:
        """The sentence for a failed query: what failed, why, and what to do."""
        if isinstance(error, OperationalError):
            return RunStoreError(f"{what}. {self.database.unreachable_message(error)}")
        return RunStoreError(f"{what}: {error_reason(error)}.")

    def _missing_error(self, file_name: str, run_name: str) -> MissingModelFileError:
        return MissingModelFileError(
            f"The model of run {run_name!r} ({self.location(file_name)}) is missing. "
            "Its metrics are still shown; delete the run or train it again."
        )

    def _fetch(self, file_name: str, path: Path) -> tuple[str, int]:
        """Write a stored model's chunks, in order, to ``path``; return its digest and chunks."""
        digest = hashlib.sha256()
        chunks = 0
        query = (
            sa.select(model_blobs.c.data)
            .where(model_blobs.c.file_name == file_name)
            .order_by(model_blobs.c.chunk)
        )
        with self.database.transaction() as connection, path.open("wb") as model_file:
            # A few chunks at a time: a large model never sits whole in memory.
            for data in connection.execution_options(yield_per=4).execute(query).scalars():
                digest.update(data)
                model_file.write(data)
                chunks += 1
        return digest.hexdigest(), chunks

    def _keep_in_cache(self, temporary: Path, cached: Path) -> None:
        """Give a checked local file its cache name, then trim the cache to its budget."""
        try:
            os.replace(temporary, cached)
        except OSError:
            temporary.unlink(missing_ok=True)
            return
        _trim_cache(self.cache_folder, keep=cached)


def _trim_cache(folder: Path, keep: Path) -> None:
    """Delete the least recently used cached models beyond `MAX_CACHE_BYTES` (never ``keep``)."""
    try:
        files = [
            (entry.stat().st_mtime, entry.stat().st_size, Path(entry.path))
            for entry in os.scandir(folder)
            if entry.is_file() and not entry.name.startswith(".")
        ]
    except OSError:
        return
    total = sum(size for _, size, _ in files)
    for _, size, path in sorted(files):
        if total <= MAX_CACHE_BYTES:
            break
        if path != keep:
            path.unlink(missing_ok=True)
            total -= size
