"""The crash journals of earlier versions: JSON files under ``in_progress/``, read once.

Up to issue 22 a run in progress was a JSON file in the run store's ``in_progress/`` folder
(kind, name, configuration, owner, dataset, start), on which its writer held an exclusive
``flock`` until the run ended or the process died. Runs in progress are now rows of the
database (`core.runs.in_progress`) and no journal is written any more; `recover_journals`
reads the ones an earlier version left, so a run that was training when it stopped is still
kept as "interrupted" after the upgrade.

The lock, not the process id written in the file, tells a live writer from a dead one: a
journal whose lock can be taken belongs to a dead process (the operating system dropped the
lock), so a journal of an earlier version still running on the same folder is left alone.
POSIX only (``fcntl.flock``).
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.runs.errors import DamagedRunStoreError

# Earlier versions wrote a journal under this suffix, then renamed it to ``.json``.
PARTIAL_SUFFIX = ".partial"
# A half-written journal (no lock, never renamed) older than this is removed.
STALE_PARTIAL_SECONDS = 60


def recover_journals(folder: Path, record: Callable[[dict[str, Any]], str]) -> list[str]:
    """Record and remove the journals of dead writers in ``folder``.

    Journals whose writer still holds its lock are left alone. Half-written journals of
    dead writers older than `STALE_PARTIAL_SECONDS` are removed.

    Args:
        folder: The ``in_progress`` folder of a run store (a missing folder has none).
        record: Called with a dead writer's journal (the dict the earlier version wrote:
            kind, name, config, owner, dataset, pid, started); returns the id of the run
            it recorded. A journal it cannot record (it raises `OSError`, `ValueError`,
            `KeyError` or `TypeError`) is removed all the same: it holds nothing saved.

    Returns:
        The ids `record` returned, in the journals' file-name order.

    Raises:
        DamagedRunStoreError: If `record` raised it (the database is away): that journal
            and the later ones stay for another try.
    """
    if not folder.is_dir():
        return []
    recovered = []
    for path in sorted(folder.glob("*.json")):
        try:
            descriptor = os.open(path, os.O_RDONLY)
        except OSError:
            continue  # Recovered by another process meanwhile.
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
    _remove_stale_partial_files(folder)
    return recovered


def _remove_stale_partial_files(folder: Path) -> None:
    """Remove half-written journals of dead processes (unlocked and a minute old)."""
    cutoff = time.time() - STALE_PARTIAL_SECONDS
    for path in folder.glob(f"*{PARTIAL_SUFFIX}"):
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
    except DamagedRunStoreError:
        raise  # The database is away, not the journal: it stays for another try.
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
