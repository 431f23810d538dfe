"""The tables the queries are written against (core.runs.schema) are those the migrations make.

Checked on both backends, for a new database and for a store upgraded from before Alembic
(tests/fixtures/store_52cfdf8), with SQLAlchemy's inspector: the same tables, and in each the
same column names, primary key, nullable columns and index names.
"""

import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa

from core.runs import RunStore
from core.runs.schema import metadata

FIXTURE = Path(__file__).resolve().parents[3] / "fixtures" / "store_52cfdf8" / "runs_dir"


def _described(inspector, table: str) -> dict:
    columns = inspector.get_columns(table)
    return {
        "columns": sorted(column["name"] for column in columns),
        "primary key": sorted(inspector.get_pk_constraint(table)["constrained_columns"]),
        "nullable": sorted(column["name"] for column in columns if column["nullable"]),
        "indexes": sorted(index["name"] for index in inspector.get_indexes(table)),
    }


def _declared(table: sa.Table) -> dict:
    return {
        "columns": sorted(column.name for column in table.columns),
        "primary key": sorted(column.name for column in table.primary_key),
        # SQLite reports a text primary key as nullable; the schema never stores a null there.
        "nullable": sorted(column.name for column in table.columns if column.nullable),
        "indexes": sorted(str(index.name) for index in table.indexes),
    }


def _migrated_tables(url: str) -> dict[str, dict]:
    engine = sa.create_engine(url)
    try:
        inspector = sa.inspect(engine)
        names = set(inspector.get_table_names()) - {"alembic_version"}
        described = {name: _described(inspector, name) for name in sorted(names)}
    finally:
        engine.dispose()
    return described


def _comparable(described: dict, dialect: str) -> dict:
    if dialect == "sqlite":  # See `_declared`: SQLite allows nulls in a non-integer key.
        described = {**described, "nullable": [
            name for name in described["nullable"] if name not in described["primary key"]
        ]}  # fmt: skip
    return described


def test_the_declared_tables_are_those_the_migrations_create(tmp_path, database_url):
    store = RunStore(tmp_path / "runs_dir", database_url=database_url)
    assert store.problems() == []
    dialect = store.database.dialect
    migrated = _migrated_tables(store.database.url)
    assert sorted(migrated) == sorted(metadata.tables)
    for name, table in metadata.tables.items():
        assert _comparable(migrated[name], dialect) == _declared(table), name


@pytest.mark.parametrize("source", ["52cfdf8"])
def test_a_store_upgraded_from_before_alembic_has_the_declared_tables(tmp_path, source):
    folder = tmp_path / "runs_dir"
    shutil.copytree(FIXTURE, folder)
    store = RunStore(folder)
    assert store.problems() == []
    migrated = _migrated_tables(store.database.url)
    assert sorted(migrated) == sorted(metadata.tables)
    for name, table in metadata.tables.items():
        assert _comparable(migrated[name], "sqlite") == _declared(table), name
