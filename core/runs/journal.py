"""The crash journal: one small file per run in progress, so a run whose process dies is kept.

Owns a run store's ``in_progress/`` folder. `RunJournal.begin` writes a JSON file naming the
run (kind, name, configuration, owner, dataset) and holds an exclusive ``flock`` on it until
`RunJournal.end` or until this process dies, when the operating system drops the lock.
`RunJournal.recover` hands each journal whose lock it can take (its writer is dead) to a
function that records it, then removes the file. The lock, not the process id written in the
file, tells a live writer from a dead one, so a restarted server that has its predecessor's
process id (PID 1 in a container) still recovers its predecessor's runs.

It stores no runs: `RunStore.recover_interrupted` (`core.runs.store`) passes the function that
saves each one as an ``"interrupted"`` run. POSIX only (``fcntl.flock``).
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.runs.model_files import TEMPORARY_MARKER
from core.runs.records import to_json

# A half-written journal (no lock, never renamed) older than this is removed.
STALE_PARTIAL_SECONDS = 60

# Journals this process is writing: path -> the open descriptor that holds its lock.
_JOURNAL_DESCRIPTORS: dict[str, int] = {}
_JOURNAL_LOCK = threading.Lock()


class RunJournal:
    """The journals of the runs in progress in one folder.

    Args:
        folder: The folder (created by the caller), e.g. ``<run store>/in_progress``.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def begin(
        self,
        kind: str,
        name: str,
        config: dict[str, Any],
        owner: str | None = None,
        dataset: str | None = "MNIST",
    ) -> Path:
        """Write a locked journal for a run that has started.

        Args:
            kind: ``"network"`` or ``"baseline"``.
            name: The run's display name.
            config: The configuration as a plain dict.
            owner: Who trains it.
            dataset: The dataset's name.

        Returns:
            The journal file; pass it to `end` once the run is saved (or has failed).
        """
        entry = {
            "kind": kind,
            "name": name,
            "config": config,
            "owner": owner,
            "dataset": dataset,
            "pid": os.getpid(),
            "started": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        path = self.folder / f"{secrets.token_hex(8)}.json"
        temporary = path.with_suffix(TEMPORARY_MARKER)
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            # The lock is taken before the journal gets its name, so no reader ever sees
            # it unlocked while this process lives; it moves with the file on rename.
            _lock(descriptor)
            os.write(descriptor, to_json(entry).encode())
            os.replace(temporary, path)
        except BaseException:
            os.close(descriptor)
            temporary.unlink(missing_ok=True)
            raise
        with _JOURNAL_LOCK:
            _JOURNAL_DESCRIPTORS[str(path)] = descriptor
        return path

    def end(self, journal: Path) -> None:
        """Remove a journal written by `begin` and release its lock."""
        Path(journal).unlink(missing_ok=True)
        with _JOURNAL_LOCK:
            descriptor = _JOURNAL_DESCRIPTORS.pop(str(journal), None)
        if descriptor is not None:
            os.close(descriptor)

    def recover(self, record: Callable[[dict[str, Any]], str]) -> list[str]:
        """Record and remove the journals of dead writers.

        A live process holds a lock (``flock``) on each journal it wrote until `end`; the
        operating system drops it when the process dies. So a journal whose lock can be
        taken belongs to a dead process, even when a new process has the same id. Journals
        of live processes, this one included, are left alone.

        Args:
            record: Called with a dead writer's journal (the dict `begin` wrote); returns the
                id of the run it recorded. A journal it cannot record (it raises `OSError`,
                `ValueError`, `KeyError` or `TypeError`) is removed all the same: it holds
                nothing that was saved.

        Returns:
            The ids `record` returned, in the journals' file-name order.
        """
        recovered = []
        for path in sorted(self.folder.glob("*.json")):
            try:
                descriptor = os.open(path, os.O_RDONLY)
            except OSError:
                continue  # Ended or recovered meanwhile.
            try:
                if not _lock(descriptor):
                    continue  # Its writer is alive.
                if not _same_file(descriptor, path):
                    continue  # Recovered and removed by another process meanwhile.
                run_id = _record_one(path, record)
                path.unlink(missing_ok=True)
            finally:
                os.close(descriptor)
            if run_id:
                recovered.append(run_id)
        self._remove_stale_partial_files()
        return recovered

    def _remove_stale_partial_files(self) -> None:
        """Remove half-written journals of dead processes (unlocked and a minute old)."""
        cutoff = time.time() - STALE_PARTIAL_SECONDS
        for path in self.folder.glob(f"*{TEMPORARY_MARKER}"):
            try:
                descriptor = os.open(path, os.O_RDONLY)
            except OSError:
                continue
            try:
                if _lock(descriptor) and path.stat().st_mtime < cutoff:
                    path.unlink(missing_ok=True)
            except OSError:
                pass
            finally:
                os.close(descriptor)


def _record_one(path: Path, record: Callable[[dict[str, Any]], str]) -> str | None:
    """Read a dead writer's journal and record it; None if it cannot be."""
    try:
        return record(json.loads(path.read_text()))
    except (OSError, ValueError, KeyError, TypeError):
        # An unreadable journal cannot be recovered; dropping it loses nothing saved.
        return None


def _lock(descriptor: int) -> bool:
    """Take an exclusive ``flock`` on an open file without waiting; False if another has it.

    ``flock`` locks belong to the open file, not the process, so a second open of the same
    journal in this process does not get the lock either; the lock ends with the process.
    """
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _same_file(descriptor: int, path: Path) -> bool:
    """True when `path` still names the file open as `descriptor`."""
    try:
        return os.path.samestat(os.fstat(descriptor), path.stat())
    except OSError:
        return False
