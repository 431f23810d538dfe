"""Each visitor's current model (core.runs.current_models): when a training's model becomes
current, and how it is remembered in the run store's database on both backends."""

import sqlite3

import pytest

from core.runs import RunStore
from core.runs.current_models import (
    ADOPT,
    IMPORTED_SUFFIX,
    KEEP_BETTER,
    LEGACY_DATABASE_NAME,
    NO_EPOCH,
    CurrentModelStore,
    after_training,
)


@pytest.fixture
def database(tmp_path, database_url):
    """The run store's database, SQLite or PostgreSQL (the current models live there)."""
    return RunStore(tmp_path / "runs", database_url=database_url).database


def test_a_stopped_run_never_silently_replaces_a_better_current_model():
    """The issue: stopped after 9 epochs at 93.75%, it replaced a current model of 95.58%."""
    assert after_training(True, 9, 0.9375, 0.9558) == KEEP_BETTER
    # As good or better, or nothing to compare with: the learner sees the new one.
    assert after_training(True, 9, 0.9558, 0.9558) == ADOPT
    assert after_training(True, 9, 0.97, 0.9558) == ADOPT
    assert after_training(True, 9, 0.9375, None) == ADOPT


def test_a_finished_run_becomes_current_even_when_it_scores_lower():
    """A learner who trains a model to the end wants to see it (the page offers the old back)."""
    assert after_training(False, 20, 0.9375, 0.9558) == ADOPT


def test_a_run_without_one_whole_epoch_never_becomes_current():
    assert after_training(True, 0, 0.5, None) == NO_EPOCH


def test_the_current_model_is_remembered_per_visitor(database):
    store = CurrentModelStore(database)
    assert store.get("alice") is None
    store.set("alice", "run-1", "784-128-10 (97.8%)")
    store.set("bob", "run-2", "bob's")
    assert store.get("alice").run_id == "run-1"
    assert CurrentModelStore(database).get("alice").label == "784-128-10 (97.8%)"  # restart
    store.set("alice", "run-3", "newer")
    assert store.get("alice").run_id == "run-3"
    store.forget("alice")
    assert store.get("alice") is None
    assert store.get("bob").run_id == "run-2"


def test_another_process_with_an_empty_disk_sees_the_same_current_model(tmp_path, postgres_server):
    url = postgres_server.new_database()
    CurrentModelStore(RunStore(tmp_path / "one", database_url=url).database).set(
        "alice", "run-1", "mine"
    )
    other = CurrentModelStore(RunStore(tmp_path / "two", database_url=url).database)
    assert other.get("alice").label == "mine"


def test_a_label_is_cut_to_its_maximum_length(database):
    from core.runs.current_models import MAX_LABEL_LENGTH

    store = CurrentModelStore(database)
    store.set("alice", "run-1", "x" * (MAX_LABEL_LENGTH + 50))
    assert store.get("alice").label == "x" * MAX_LABEL_LENGTH


def test_the_store_forgets_the_least_recently_updated_visitors(database):
    store = CurrentModelStore(database, max_visitors=3)
    for number in range(5):
        store.set(f"visitor {number}", f"run {number}", "label")
    assert [store.get(f"visitor {number}") is not None for number in range(5)] == [
        False, False, True, True, True,
    ]  # fmt: skip


def test_a_transfer_hands_a_sessions_model_to_the_cookies_id_unless_it_has_one(database):
    models = CurrentModelStore(database)
    models.set("tab", "run-1", "mine")
    models.transfer("tab", "browser")
    assert models.get("browser").run_id == "run-1" and models.get("tab") is None
    # The cookie's id keeps its own model; the session's is dropped.
    models.set("other tab", "run-2", "older choice")
    models.transfer("other tab", "browser")
    assert models.get("browser").run_id == "run-1" and models.get("other tab") is None


def _legacy_file(folder, rows):
    """A current_models.sqlite as the version before the shared store wrote it."""
    folder.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(folder / LEGACY_DATABASE_NAME)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.executescript(
        "CREATE TABLE current_models (visitor TEXT PRIMARY KEY, run_id TEXT NOT NULL, "
        "label TEXT NOT NULL, updated REAL NOT NULL);"
        "CREATE INDEX current_models_updated ON current_models (updated);"
    )
    with connection:
        connection.executemany("INSERT INTO current_models VALUES (?, ?, ?, ?)", rows)
    connection.close()


def test_an_earlier_versions_file_is_imported_once_and_set_aside(tmp_path):
    folder = tmp_path / "runs"
    _legacy_file(folder, [("alice", "run-1", "alice's", 100.0), ("bob", "run-2", "bob's", 200.0)])
    database = RunStore(folder).database
    # A choice made in the table meanwhile is newer than the file's: it stays.
    CurrentModelStore(database).set("bob", "run-9", "bob's newer")

    store = CurrentModelStore(database, legacy_folder=folder)
    assert store.get("alice").run_id == "run-1" and store.get("alice").label == "alice's"
    assert store.get("bob").run_id == "run-9"
    assert not (folder / LEGACY_DATABASE_NAME).exists()
    assert (folder / (LEGACY_DATABASE_NAME + IMPORTED_SUFFIX)).is_file()

    # Once: a later start finds nothing to import, and a forgotten model stays forgotten.
    store.forget("alice")
    assert CurrentModelStore(database, legacy_folder=folder).get("alice") is None


def test_an_unreadable_legacy_file_is_left_in_place(tmp_path):
    folder = tmp_path / "runs"
    folder.mkdir()
    (folder / LEGACY_DATABASE_NAME).write_bytes(b"not a database at all" * 100)
    store = CurrentModelStore(RunStore(folder).database, legacy_folder=folder)
    assert store.get("alice") is None
    assert (folder / LEGACY_DATABASE_NAME).is_file()
