"""Each visitor's current model, remembered on the server so a reload or a new tab keeps it.

The current model is the one the Evaluate and Draw pages use by default. When a training
ends, `after_training` decides whether its model takes that place. Only a stored run can be
remembered (by its run id); a model that is not in the run store (an imported file)
lasts for its browser session only. The records live in the ``current_models`` table of the
run store's database (SQLite or PostgreSQL, so every app process sees the same choice); the
oldest are forgotten beyond `MAX_VISITORS`, so the table stays small however many visitors
come. The small SQLite file that kept them before (``current_models.sqlite`` beside the run
store) is imported once into the table, then renamed ``current_models.sqlite.imported``.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from core.runs.engine import Database
from core.runs.schema import current_models
from core.runs.schema_upgrade import upgrade

# The file earlier versions kept the current models in, and its name once imported.
LEGACY_DATABASE_NAME = "current_models.sqlite"
IMPORTED_SUFFIX = ".imported"
MAX_VISITORS = 10_000
MAX_LABEL_LENGTH = 200


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
    """Remembers one current model (a run id and a label) per visitor, in the run store's database.

    Creating it connects to nothing; the first call brings the schema up to date (as the run
    store does) and, on SQLite, imports an earlier version's ``current_models.sqlite``.

    Args:
        database: The run store's database (`core.runs.store.RunStore.database`).
        max_visitors: How many visitors to remember; the least recently updated are dropped.
        legacy_folder: The run store's folder, where an earlier version's
            ``current_models.sqlite`` may be (SQLite only; None: none to import).

    Every method raises ``sqlalchemy.exc.DBAPIError`` when the database cannot be reached
    or written (the pages then keep the model for the browser session only).
    """

    def __init__(
        self,
        database: Database,
        max_visitors: int = MAX_VISITORS,
        legacy_folder: str | os.PathLike | None = None,
    ) -> None:
        self.database = database
        self.max_visitors = max_visitors
        self.legacy_path = (
            Path(legacy_folder) / LEGACY_DATABASE_NAME
            if legacy_folder is not None and database.is_sqlite
            else None
        )
        self._ready = False

    def get(self, visitor: str) -> CurrentModelRecord | None:
        """Return the visitor's current model, or None if none is remembered."""
        with self._transaction() as connection:
            row = connection.execute(
                sa.select(current_models.c.run_id, current_models.c.label).where(
                    current_models.c.visitor == visitor
                )
            ).one_or_none()
        return None if row is None else CurrentModelRecord(run_id=row[0], label=row[1])

    def set(self, visitor: str, run_id: str, label: str) -> None:
        """Remember a stored run as the visitor's current model.

        Args:
            visitor: The visitor's id.
            run_id: The run's id in the run store.
            label: What the pages call it (cut to `MAX_LABEL_LENGTH` characters).
        """
        with self._transaction(exclusive=True) as connection:
            self._upsert(connection, [(visitor, str(run_id), str(label), time.time())])
            self._forget_beyond_max(connection)

    def forget(self, visitor: str) -> None:
        """Forget the visitor's current model (e.g. it is now one that is not stored)."""
        with self._transaction() as connection:
            connection.execute(current_models.delete().where(current_models.c.visitor == visitor))

    def transfer(self, old_visitor: str, new_visitor: str) -> None:
        """Give ``old_visitor``'s current model to ``new_visitor`` unless it has one already."""
        with self._transaction(exclusive=True) as connection:
            taken = connection.execute(
                sa.select(current_models.c.visitor).where(current_models.c.visitor == new_visitor)
            ).one_or_none()
            if taken is None:
                connection.execute(
                    current_models.update()
                    .where(current_models.c.visitor == old_visitor)
                    .values(visitor=new_visitor)
                )
            connection.execute(
                current_models.delete().where(current_models.c.visitor == old_visitor)
            )

    @contextmanager
    def _transaction(self, exclusive: bool = False) -> Iterator[Connection]:
        """A transaction on a database whose schema is up to date (and legacy file imported)."""
        if not self._ready:
            upgrade(self.database)
            self._import_legacy_file()
            self._ready = True
        with self.database.transaction(exclusive=exclusive) as connection:
            yield connection

    def _upsert(self, connection: Connection, rows: list[tuple[str, str, str, float]]) -> None:
        """Insert or replace records (visitor, run id, label, updated)."""
        insert = sqlite.insert if self.database.is_sqlite else postgresql.insert
        for visitor, run_id, label, updated in rows:
            statement = insert(current_models).values(
                visitor=visitor, run_id=run_id, label=label[:MAX_LABEL_LENGTH], updated=updated
            )
            connection.execute(
                statement.on_conflict_do_update(
                    index_elements=[current_models.c.visitor],
                    set_={
                        "run_id": statement.excluded.run_id,
                        "label": statement.excluded.label,
                        "updated": statement.excluded.updated,
                    },
                )
            )

    def _forget_beyond_max(self, connection: Connection) -> None:
        """Drop the least recently updated records beyond `max_visitors`."""
        kept = (
            sa.select(current_models.c.visitor)
            .order_by(current_models.c.updated.desc())
            .limit(self.max_visitors)
        )
        connection.execute(current_models.delete().where(current_models.c.visitor.not_in(kept)))

    def _import_legacy_file(self) -> None:
        """Import an earlier version's ``current_models.sqlite`` once, then rename it.

        A visitor already in the table keeps the more recently updated of the two records.
        A file that cannot be read is left as it is. The file is renamed (with its WAL
        files) only after the records are committed, so a crash in between imports it
        again, which changes nothing.
        """
        if self.legacy_path is None or not self.legacy_path.is_file():
            return
        try:
            legacy = sqlite3.connect(self.legacy_path, timeout=30)
            try:
                rows = legacy.execute(
                    "SELECT visitor, run_id, label, updated FROM current_models"
                ).fetchall()
            finally:
                legacy.close()
        except sqlite3.Error:
            return  # Unreadable now (e.g. locked): left in place for the next start.
        with self.database.transaction(exclusive=True) as connection:
            query = sa.select(current_models.c.visitor, current_models.c.updated)
            existing = {row[0]: row[1] for row in connection.execute(query)}
            newer = [
                (str(visitor), str(run_id), str(label), float(updated))
                for visitor, run_id, label, updated in rows
                if visitor not in existing or existing[visitor] < float(updated)
            ]
            self._upsert(connection, newer)
            self._forget_beyond_max(connection)
        for suffix in ("", "-wal", "-shm"):
            source = self.legacy_path.with_name(self.legacy_path.name + suffix)
            # Missing: another process renamed it first, or there was no WAL file.
            with contextlib.suppress(FileNotFoundError):
                source.rename(source.with_name(self.legacy_path.name + IMPORTED_SUFFIX + suffix))
