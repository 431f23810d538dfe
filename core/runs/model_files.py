"""A run store's model files: written atomically with a SHA-256 digest, loaded only unchanged.

Owns the ``models/`` folder of a run store: ``<id>.keras`` files saved by Keras and
``<id>.joblib`` files (a classical baseline's estimator) saved by joblib. A file is written
under a temporary name in the same folder, flushed to disk and renamed with ``os.replace``, so
a crash never leaves a half-written model under a run's name; temporary files left by a crash
are removed by `ModelFiles.remove_stale_temporary_files`. It keeps no records: the caller
(`core.runs.store`) stores each file's name, size and digest, and commits the record only
after the file is in place. A store may cap a model's size (``max_model_bytes``): a larger
model is refused before its file takes its name. The writers and the checked loader are
shared with `core.runs.model_blobs`, which keeps the same files in the database instead.

Security: Keras models are loaded with ``safe_mode=True``. Baseline estimators are stored
with joblib (pickle), which can run code when loaded, so `ModelFiles.load` only unpickles a
file whose SHA-256 matches the digest recorded when this store wrote it, under the name its
record gives. Never point a run store at a folder from someone else, and never use it to
import models from outside (the Compare page's import takes a ``.keras`` file and loads it
with ``safe_mode=True`` instead). Keras and joblib are imported only when a model is saved
or loaded.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.runs.errors import MissingModelFileError, RunStoreError

MODEL_SUFFIXES = {"network": ".keras", "baseline": ".joblib"}
BASELINE_COMPRESSION = 3
TEMPORARY_MARKER = ".partial"
STALE_TEMPORARY_SECONDS = 3600


def model_file_name(run_id: str, kind: str) -> str:
    """The name of a run's model file: its id and its kind's suffix (``.keras``, ``.joblib``)."""
    return run_id + MODEL_SUFFIXES[kind]


class ModelFiles:
    """The model files in one folder.

    Args:
        folder: The folder (created by the caller), e.g. ``<run store>/models``.
        max_model_bytes: The largest model file kept; a larger one is refused before it
            is stored (None: any size).
    """

    def __init__(self, folder: Path, max_model_bytes: int | None = None) -> None:
        self.folder = folder
        self.max_model_bytes = max_model_bytes

    def exists(self, file_name: str | None) -> bool:
        """True when a file of this name is present (False for None: no model)."""
        return bool(file_name and (self.folder / file_name).is_file())

    def write(self, file_name: str, kind: str, model: Any) -> tuple[int, str]:
        """Write a model to a temporary file, flush it to disk and give it its name.

        Args:
            file_name: The final name (see `model_file_name`).
            kind: ``"network"`` or ``"baseline"``.
            model: For ``"network"``: a Keras model (saved with ``model.save``), the bytes
                of a ``.keras`` file, or a function that writes them to a binary file
                object. For ``"baseline"``: the fitted estimator (saved with joblib).

        Returns:
            The file's size in bytes and its SHA-256 (hex).

        Raises:
            RunStoreError: If the model is of the wrong type, larger than `max_model_bytes`
                or cannot be written (no file is left behind then).
        """
        written = write_temporary_model(self.folder, file_name, kind, model, self.max_model_bytes)
        try:
            os.replace(written.path, self.folder / file_name)
            _fsync_folder(self.folder)
        except OSError as error:
            written.path.unlink(missing_ok=True)
            raise RunStoreError(f"Could not write the model file: {error}") from error
        return written.size, written.sha256

    def existing(self, file_names: Iterable[str | None]) -> set[str]:
        """Return which of these files are present (one look at the folder for all)."""
        wanted = {name for name in file_names if name}
        if not wanted:
            return set()
        try:
            present = {entry.name for entry in os.scandir(self.folder) if entry.is_file()}
        except OSError:
            return set()
        return wanted & present

    def location(self, file_name: str) -> str:
        """Where a model is kept, as a message names it: ``models/<name>``."""
        return f"{self.folder.name}/{file_name}"

    def local_copy(self, file_name: str | None, sha256: str | None, run_name: str) -> Path:
        """Return a run's model file after checking it is present and unchanged.

        Args:
            file_name: The file's name, as the run's record gives it; None when it has none.
            sha256: The digest recorded when it was written (None: not checked).
            run_name: The run's display name, for messages.

        Raises:
            MissingModelFileError: If there is no model file, it is missing, or its content
                differs from what was saved.
        """
        if not file_name:
            raise MissingModelFileError(f"Run {run_name!r} was saved without a model.")
        path = self.folder / file_name
        if not path.is_file():
            raise MissingModelFileError(
                f"The model file of run {run_name!r} ({self.location(file_name)}) "
                "is missing. Its metrics are still shown; delete the run or train it again."
            )
        if sha256 and sha256_of(path) != sha256:
            raise changed_model_error(run_name)
        return path

    def load(self, kind: str, file_name: str | None, sha256: str | None, run_name: str) -> Any:
        """Load a model file after checking it is present and unchanged (`local_copy`).

        Args:
            kind: ``"network"`` (loaded by Keras in safe mode) or ``"baseline"`` (joblib).
            file_name: The file's name, as the run's record gives it; None when it has none.
            sha256: The digest recorded when it was written (None: not checked).
            run_name: The run's display name, for messages.

        Returns:
            A Keras model or a fitted scikit-learn estimator.

        Raises:
            MissingModelFileError: If there is no model file, it is missing, or its content
                differs from what was saved.
            RunStoreError: If the file cannot be read as a model.
        """
        return load_model_file(kind, self.local_copy(file_name, sha256, run_name), run_name)

    def remove(self, file_name: str | None) -> None:
        """Delete a model file; a missing one (or None) is fine."""
        if file_name:
            (self.folder / file_name).unlink(missing_ok=True)

    def remove_stale_temporary_files(self) -> None:
        """Remove temporary files left by a crash: those of dead processes, or old ones.

        A temporary file's name carries its writer's process id; files of a live writer
        (this process included) are kept unless they are older than an hour.
        """
        remove_stale_temporary_files(self.folder)


@dataclass(frozen=True)
class WrittenModel:
    """A model written to a temporary file by `write_temporary_model`."""

    path: Path
    size: int
    sha256: str


def write_temporary_model(
    folder: Path, file_name: str, kind: str, model: Any, max_bytes: int | None = None
) -> WrittenModel:
    """Write a model to a temporary file in ``folder``, flushed to disk, sized and digested.

    Args:
        folder: Where the temporary file goes (the final file's folder, for a rename).
        file_name: The final name (see `model_file_name`); its suffix is kept.
        kind: ``"network"`` or ``"baseline"``.
        model: What `ModelFiles.write` takes.
        max_bytes: The largest model kept (None: any size).

    Returns:
        The temporary file, its size in bytes and its SHA-256 (hex).

    Raises:
        RunStoreError: If the model is of the wrong type, larger than ``max_bytes`` or
            cannot be written (no file is left behind then).
    """
    final_path = folder / file_name
    # Keras insists on the .keras suffix, so the marker goes before it.
    temporary_path = folder / (
        f".{final_path.stem}{TEMPORARY_MARKER}-{os.getpid()}-{secrets.token_hex(4)}"
        f"{final_path.suffix}"
    )
    try:
        if kind == "network":
            _write_network(model, temporary_path)
        else:
            _write_baseline(model, temporary_path)
        size = temporary_path.stat().st_size
        if max_bytes is not None and size > max_bytes:
            raise RunStoreError(
                f"The model is {size_text(size)}, more than the {size_text(max_bytes)} this "
                "store keeps per model (the max_model_bytes limit), so the run was not "
                "stored. Train a smaller model: fewer or narrower layers, or, for a "
                "baseline, fewer training images."
            )
        with temporary_path.open("rb") as written:
            os.fsync(written.fileno())
        digest = sha256_of(temporary_path)
    except RunStoreError:
        temporary_path.unlink(missing_ok=True)
        raise
    except Exception as error:
        temporary_path.unlink(missing_ok=True)
        raise RunStoreError(f"Could not write the model file: {error}") from error
    return WrittenModel(temporary_path, size, digest)


def size_text(size: int) -> str:
    """A size in bytes as a message says it: ``"120.3 MB"`` (10^6 bytes), or ``"2,000 bytes"``."""
    return f"{size / 1e6:,.1f} MB" if size >= 1_000_000 else f"{size:,} bytes"


def changed_model_error(run_name: str) -> MissingModelFileError:
    """The error for a model whose bytes differ from the digest recorded when it was saved."""
    return MissingModelFileError(
        f"The model file of run {run_name!r} was changed after it was saved, so it "
        "is not loaded. Delete the run or train it again."
    )


def load_model_file(kind: str, path: Path, run_name: str) -> Any:
    """Load a model file this store wrote and checked (`ModelFiles.local_copy`).

    Keras models load in safe mode; a baseline's joblib file is unpickled, which is safe
    only because the caller checked its digest against the store's own record.

    Raises:
        RunStoreError: If the file cannot be read as a model.
    """
    try:
        if kind == "network":
            import keras  # TensorFlow: seconds to import, so only when needed.

            return keras.saving.load_model(path, safe_mode=True)
        import joblib  # About 0.1 s to import: only for a baseline's file.

        # Safe only because the file is this store's own (name from the record, digest
        # checked by the caller); never unpickle files from elsewhere.
        return joblib.load(path)
    except Exception as error:
        raise RunStoreError(
            f"The model of run {run_name!r} could not be loaded: {error}"
        ) from error


def remove_stale_temporary_files(folder: Path) -> None:
    """Remove the temporary model files in ``folder`` of dead writers, or older than an hour."""
    cutoff = time.time() - STALE_TEMPORARY_SECONDS
    for path in folder.glob(f".*{TEMPORARY_MARKER}-*"):
        writer = path.name.split(f"{TEMPORARY_MARKER}-")[-1].split("-")[0]
        dead_writer = writer.isdigit() and not _process_alive(int(writer))
        try:
            if dead_writer or path.stat().st_mtime < cutoff:
                path.unlink()
        except OSError:
            pass


def sha256_of(path: Path) -> str:
    """Return the SHA-256 of a file's content (hex), read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as model_file:
        for block in iter(lambda: model_file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


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


def _write_baseline(estimator: Any, path: Path) -> None:
    if isinstance(estimator, (bytes, bytearray, memoryview, str)) or not hasattr(
        estimator, "predict"
    ):
        raise RunStoreError(
            "A baseline run's model must be a fitted scikit-learn estimator (the store "
            "pickles it itself and never loads pickled bytes from elsewhere)."
        )
    import joblib  # About 0.1 s to import: only for a baseline's file.

    # zlib level 3: a Random Forest or k-NN file 6-10x smaller for a few tenths of a
    # second (bench/README.md, "Jobs, runs and baselines").
    with path.open("wb") as model_file:
        joblib.dump(estimator, model_file, compress=BASELINE_COMPRESSION)


def _fsync_folder(folder: Path) -> None:
    """Flush a folder's entries to disk so a rename survives a power cut (POSIX only)."""
    if os.name != "posix":
        return
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


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
