"""The run store: runs kept across restarts, as SQLite records and model files in one folder.

`RunStore` (`core.runs.store`) is the one entry point. The modules it composes each do one
job and read alone:

    errors       the exceptions: ValueErrors with a sentence a user can act on
    records      the `Run` record and the SQLite table: schema, argument checks, queries
    model_files  model files written atomically with a SHA-256 digest, loaded only unchanged
    journal      the crash journal: runs in progress, recorded as interrupted after a crash
    pruning      `PruneQuota` and `runs_to_prune`: which runs to delete to stay within caps

This package re-exports what callers of `RunStore` need; import anything else from its module.
"""

from core.runs.errors import (
    DamagedRunStoreError,
    MissingModelFileError,
    RunNotFoundError,
    RunStoreError,
    RunStoreFullError,
)
from core.runs.pruning import PruneQuota
from core.runs.records import LIST_COLUMNS, Run
from core.runs.store import RunStore

__all__ = [
    "LIST_COLUMNS",
    "DamagedRunStoreError",
    "MissingModelFileError",
    "PruneQuota",
    "Run",
    "RunNotFoundError",
    "RunStore",
    "RunStoreError",
    "RunStoreFullError",
]
