"""The run store: runs kept across restarts, in a SQLite file or on a shared PostgreSQL server.

`RunStore` (`core.runs.store`) is the one entry point. The modules it composes each do one
job and read alone:

    errors        the exceptions: ValueErrors with a sentence a user can act on
    records       the `Run` record and its `RunStatus`: checks on a new run's fields
    engine        the database: one SQLAlchemy engine (SQLite or PostgreSQL), exclusive changes
    schema        its tables; schema_upgrade and migrations (Alembic) make and upgrade them
    heartbeats    which app processes are alive, each beating in the database
    database      the records of runs and the saves log: the queries
    model_files   model files written atomically with a SHA-256 digest, loaded only unchanged
    model_blobs   with PostgreSQL, the model files kept in the database in chunks instead
    in_progress   runs being trained, each with its process: kept as interrupted after a crash
    journal       the crash journals of earlier versions, read once
    pruning       `PruneQuota` and `runs_to_prune`: which runs to delete to stay within caps
    capacity      the quota applied to the database: room for a new run, runs to prune
    reading       `RunReader`, the reading half of `RunStore`: runs as a table, one run, a model

Beside the store, for the pages:

    display         run names, numbers, colours and tables as pages show them
    comparison      what changed since a visitor's previous run, in a sentence
    current_models  each visitor's current model, kept across restarts
    csv_export      tables as CSV that a spreadsheet cannot run as formulas

This package re-exports what pages and other packages use; import anything else from its
module.
"""

from core.runs.comparison import comparison_note
from core.runs.csv_export import csv_bytes
from core.runs.current_models import ADOPT, KEEP_BETTER, NO_EPOCH, CurrentModelStore, after_training
from core.runs.display import (
    display_name,
    epochs_text,
    held_out_labels,
    history_table,
    run_colour,
    short_name,
    training_run_name,
    unique_name,
    with_display_columns,
)
from core.runs.errors import (
    DamagedRunStoreError,
    MissingModelFileError,
    RunNotFoundError,
    RunStoreError,
    RunStoreFullError,
)
from core.runs.pruning import PruneQuota
from core.runs.records import LIST_COLUMNS, Run, RunStatus
from core.runs.store import RunStore

__all__ = [
    "ADOPT",
    "KEEP_BETTER",
    "LIST_COLUMNS",
    "NO_EPOCH",
    "CurrentModelStore",
    "DamagedRunStoreError",
    "MissingModelFileError",
    "PruneQuota",
    "Run",
    "RunNotFoundError",
    "RunStatus",
    "RunStore",
    "RunStoreError",
    "RunStoreFullError",
    "after_training",
    "comparison_note",
    "csv_bytes",
    "display_name",
    "epochs_text",
    "held_out_labels",
    "history_table",
    "run_colour",
    "short_name",
    "training_run_name",
    "unique_name",
    "with_display_columns",
]
