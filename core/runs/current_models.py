"""Each visitor's current model, remembered on the server so a reload or a new tab keeps it.

The current model is the one the Evaluate and Draw pages use by default. When a training
ends, `after_training` decides whether its model takes that place. Only a stored run can be
remembered (by its run id); a model that is not in the run store (an imported file)
lasts for its browser session only. The records live in a small SQLite file next to the run
store; the oldest are forgotten beyond `MAX_VISITORS`, so the file stays small however many
visitors come.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

DATABASE_NAME = "current_models.sqlite"
MAX_VISITORS = 10_000
MAX_LABEL_LENGTH = 200

_SCHEMA = """
CREATE TABLE IF NOT EXISTS current_models (
    visitor TEXT PRIMARY KEY,
    run_id TEXT NOT NULL,
    label TEXT NOT NULL,
    updated REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS current_models_updated ON current_models (updated);
"""


# What `after_training` decides for a training's model.
ADOPT = "adopt"
KEEP_BETTER = "keep_better"
NO_EPOCH = "no_epoch"


def after_training(
    stopped: bool,
    epochs_completed: int,
    test_accuracy: float,
    current_accuracy: float | None,
) -> str:
    """Decide whether a training's model becomes the visitor's current model.

    A learner who trains a model wants to see it, so a finished training becomes current
    even when it scores lower (the page says so and offers the previous one back). A
    training the learner stopped is a partial model: it becomes current only when it does
    at least as well as the current model, so pressing Stop never silently swaps a better
    model for a worse one. A training stopped before its first epoch ended never does.

    Args:
        stopped: Whether Stop ended the training early.
        epochs_completed: Whole epochs it finished.
        test_accuracy: Its accuracy on its test images (0 to 1).
        current_accuracy: The current model's test accuracy, or None when there is no
            current model or its accuracy is not known.

    Returns:
        `ADOPT` (make it current), `KEEP_BETTER` (keep the current model, which scores
        higher) or `NO_EPOCH` (keep the current model: not one whole epoch was trained).
    """
    if epochs_completed < 1:
        return NO_EPOCH
    if stopped and current_accuracy is not None and test_accuracy < current_accuracy:
        return KEEP_BETTER
    return ADOPT


@dataclass(frozen=True)
class CurrentModelRecord:
    """Which stored run is a visitor's current model, and the label the pages show."""

    run_id: str
    label: str


class CurrentModelStore:
    """Remembers one current model (a run id and a label) per visitor.

    Args:
        folder: The folder of the run store; the file is created there.
        max_visitors: How many visitors to remember; the least recently updated are dropped.

    Raises:
        OSError: If the folder cannot be created.
    """

    def __init__(self, folder: str | os.PathLike, max_visitors: int = MAX_VISITORS) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.database_path = self.folder / DATABASE_NAME
        self.max_visitors = max_visitors
        with self._connection() as connection:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.executescript(_SCHEMA)

    def get(self, visitor: str) -> CurrentModelRecord | None:
        """Return the visitor's current model, or None if none is remembered."""
        with self._connection() as connection:
            row = connection.execute(
                "SELECT run_id, label FROM current_models WHERE visitor = ?", (visitor,)
            ).fetchone()
        return None if row is None else CurrentModelRecord(run_id=row[0], label=row[1])

    def set(self, visitor: str, run_id: str, label: str) -> None:
        """Remember a stored run as the visitor's current model.

        Args:
            visitor: The visitor's id.
            run_id: The run's id in the run store.
            label: What the pages call it (cut to `MAX_LABEL_LENGTH` characters).
        """
        with self._connection() as connection:
            connection.execute(
                "INSERT OR REPLACE INTO current_models VALUES (?, ?, ?, ?)",
                (visitor, str(run_id), str(label)[:MAX_LABEL_LENGTH], time.time()),
            )
            connection.execute(
                "DELETE FROM current_models WHERE visitor NOT IN (SELECT visitor FROM "
                "current_models ORDER BY updated DESC LIMIT ?)",
                (self.max_visitors,),
            )

    def forget(self, visitor: str) -> None:
        """Forget the visitor's current model (e.g. it is now one that is not stored)."""
        with self._connection() as connection:
            connection.execute("DELETE FROM current_models WHERE visitor = ?", (visitor,))

    def transfer(self, old_visitor: str, new_visitor: str) -> None:
        """Give ``old_visitor``'s current model to ``new_visitor`` unless it has one already."""
        with self._connection() as connection:
            connection.execute(
                "UPDATE OR IGNORE current_models SET visitor = ? WHERE visitor = ?",
                (new_visitor, old_visitor),
            )
            connection.execute("DELETE FROM current_models WHERE visitor = ?", (old_visitor,))

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        connection = sqlite3.connect(self.database_path, timeout=30)
        try:
            with connection:
                yield connection
        finally:
            connection.close()
