"""Bring a run store's database to this version's schema with Alembic, or refuse it.

`upgrade` runs when a store opens, in one exclusive transaction, so two processes starting
at once upgrade once. Three cases:

- an empty database: every revision runs;
- a SQLite store written before Alembic (``PRAGMA user_version`` 1 or 2, no
  ``alembic_version`` table): brought to schema 2 as the old code did, stamped ``0002``,
  then upgraded, so nothing it holds is lost;
- a database at a revision this version does not know (written by a newer MNIST Studio):
  refused with `NewerSchemaError`, untouched.

On SQLite, ``user_version`` is then set to `SQLITE_USER_VERSION`, so the versions before
Alembic (which refuse any ``user_version`` above 2) refuse the upgraded file instead of
writing to it.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from core.runs.engine import Database
from core.runs.errors import RunStoreError

MIGRATIONS = Path(__file__).with_name("migrations")
# The revision a pre-Alembic store at user_version 2 is, and the user_version set after.
LEGACY_REVISION = "0002"
LEGACY_USER_VERSION = 2
SQLITE_USER_VERSION = 3
# Columns schema 2 added to schema 1's ``runs`` table.
_SCHEMA_2_COLUMNS = {"address": "TEXT", "owner_number": "INTEGER"}


class NewerSchemaError(RunStoreError):
    """The database was written by a newer MNIST Studio; it is left as it is."""


def head_revision() -> str:
    """The newest revision this version's migrations know."""
    return str(_scripts().get_current_head())


def upgrade(database: Database) -> None:
    """Create or upgrade the schema in place (see the module's docstring).

    Raises:
        NewerSchemaError: If the database is at a revision this version does not know.
        sqlalchemy.exc.DBAPIError: If the database cannot be read or written.
    """
    from alembic import command  # About 0.1 s: only when a store opens.
    from alembic.runtime.migration import MigrationContext

    with database.transaction(exclusive=True) as connection:
        current = MigrationContext.configure(connection).get_current_revision()
        if current is None and database.is_sqlite:
            current = _adopt_legacy_sqlite(connection)
        scripts = _scripts()
        known = {script.revision for script in scripts.walk_revisions()}
        if current is not None and current not in known:
            raise NewerSchemaError(
                f"The run store database {database.display_url} was written by a newer "
                f"MNIST Studio (schema revision {current}; this version knows up to "
                f"{scripts.get_current_head()}). It is left untouched: upgrade MNIST Studio "
                "to use it, or point runs_dir or database_url elsewhere."
            )
        if current != scripts.get_current_head():
            config = _config()
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
        if database.is_sqlite:
            connection.exec_driver_sql(f"PRAGMA user_version = {SQLITE_USER_VERSION}")


def _adopt_legacy_sqlite(connection: Connection) -> str | None:
    """Bring a SQLite store from before Alembic to schema 2 and stamp it; None if new.

    Raises:
        NewerSchemaError: If its ``user_version`` is above 2 without Alembic's table (a
            newer version's file that lost its revision: not ours to change).
    """
    from alembic.runtime.migration import MigrationContext

    version = connection.exec_driver_sql("PRAGMA user_version").scalar_one()
    tables = set(sa.inspect(connection).get_table_names())
    if "runs" not in tables:
        return None
    if version > LEGACY_USER_VERSION:
        raise NewerSchemaError(
            f"The run store database says schema {version} but has no revision table, so "
            "this MNIST Studio does not know how it was written; it is left untouched."
        )
    present = {column["name"] for column in sa.inspect(connection).get_columns("runs")}
    for column, column_type in _SCHEMA_2_COLUMNS.items():
        if column not in present:
            connection.exec_driver_sql(f"ALTER TABLE runs ADD COLUMN {column} {column_type}")
    connection.exec_driver_sql(
        "UPDATE runs SET owner_number = (SELECT COUNT(*) FROM runs AS earlier "
        "WHERE earlier.owner IS runs.owner AND earlier.rowid <= runs.rowid) "
        "WHERE owner_number IS NULL"
    )
    for statement in (
        "CREATE TABLE IF NOT EXISTS saves (address TEXT, owner TEXT, created TEXT NOT NULL)",
        "CREATE INDEX IF NOT EXISTS saves_created ON saves (created)",
        "CREATE TABLE IF NOT EXISTS store_secrets (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
        "CREATE INDEX IF NOT EXISTS runs_owner ON runs (owner)",
        "CREATE INDEX IF NOT EXISTS runs_address ON runs (address)",
    ):
        connection.exec_driver_sql(statement)
    MigrationContext.configure(connection).stamp(_scripts(), LEGACY_REVISION)
    return LEGACY_REVISION


def _config():
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def _scripts():
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_config())
