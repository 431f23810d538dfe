"""A store written before issue 22 is upgraded in place; a newer schema is refused, untouched.

tests/fixtures/store_52cfdf8/ was written by the code of commit 52cfdf8 (the last before the
store moved to SQLAlchemy and Alembic) with tests/fixtures/make_store_52cfdf8.py, which also
wrote down what that code read back (expected.json): these tests open a copy with today's
`RunStore` and compare.
"""

import json
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa

from core.runs import RunStore, RunStoreError
from core.runs.current_models import CurrentModelStore
from core.runs.schema_upgrade import SQLITE_USER_VERSION, head_revision

FIXTURE = Path(__file__).resolve().parents[3] / "fixtures" / "store_52cfdf8"
# The same images make_store_52cfdf8.py recorded each model's predictions on.
PROBES = np.random.default_rng(22).integers(0, 256, size=(12, 28, 28), dtype=np.uint8)
NEWER_REVISION = "9999_from_the_future"


@pytest.fixture
def old_store(tmp_path) -> Path:
    """A copy of the store as commit 52cfdf8 left it (its folder)."""
    folder = tmp_path / "runs_dir"
    shutil.copytree(FIXTURE / "runs_dir", folder)
    return folder


@pytest.fixture(scope="module")
def expected() -> dict:
    return json.loads((FIXTURE / "expected.json").read_text())


def test_the_fixture_is_a_store_of_the_version_before_alembic(old_store, expected):
    with sqlite3.connect(old_store / "runs.sqlite") as connection:
        assert connection.execute("PRAGMA user_version").fetchone()[0] == 2
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    connection.close()
    assert "alembic_version" not in tables and "runs" in tables
    assert expected["commit"] == "52cfdf8"
    kinds = {
        (run["kind"], run["status"], run["model_file"] is not None) for run in expected["runs"]
    }
    assert {("network", "finished", True), ("baseline", "finished", True)} <= kinds
    assert {("network", "stopped", True), ("network", "interrupted", False)} <= kinds
    # A deleted run left a gap in the numbers across the store.
    assert sorted(expected["numbers"].values()) == [1, 3, 4, 5, 6, 7, 8, 9]


def test_a_store_written_before_issue_22_is_upgraded_in_place_with_nothing_lost(
    old_store, expected
):
    store = RunStore(old_store)
    assert store.problems() == []
    runs = store.list_runs()
    assert list(runs["id"]) == [run["id"] for run in expected["runs"]]  # Newest first, as before.
    assert store.run_numbers() == expected["numbers"]
    for owner, numbers in expected["owner_numbers"].items():
        assert store.run_numbers(owner=owner) == numbers
    for old in expected["runs"]:
        run = store.get_run(old["id"])
        assert (run.name, run.kind, run.status, run.owner) == (
            old["name"], old["kind"], old["status"], old["owner"],
        )  # fmt: skip
        assert run.created.isoformat() == old["created"]
        assert (run.summary, run.parameters, run.epochs, run.dataset) == (
            old["summary"], old["parameters"], old["epochs"], old["dataset"],
        )  # fmt: skip
        assert run.config == old["config"] and run.metrics == old["metrics"]
        assert run.history == old["history"] and run.timings == old["timings"]
        assert run.model_size == old["model_size"] and run.model_sha256 == old["model_sha256"]
        if old["confusion_matrix"] is None:
            assert run.confusion_matrix is None
        else:
            np.testing.assert_array_equal(run.confusion_matrix, old["confusion_matrix"])
        assert run.has_model == (old["model_file"] is not None)
        if old["predictions"] is not None:
            model = store.load_model(run.id)
            if run.kind == "network":
                predicted = model.predict(PROBES, verbose=0)
            else:
                predicted = model.predict(PROBES.reshape(len(PROBES), -1) / 255)
            np.testing.assert_allclose(predicted, old["predictions"], rtol=1e-5, atol=1e-7)
    # The store's address key is kept: an address still counts as the same one.
    for address, key in expected["address_keys"].items():
        assert store._records.address_key(address) == key
    # Each visitor's current model is still theirs (imported from current_models.sqlite).
    current = CurrentModelStore(store.database, legacy_folder=old_store)
    for visitor, (run_id, label) in expected["current_models"].items():
        record = current.get(visitor)
        assert record is not None and (record.run_id, record.label) == (run_id, label)

    # New runs are numbered after the old ones, across the store and among the owner's.
    new = store.save_run("baseline", "after the upgrade", {}, None, {"test_accuracy": 0.5}, {},
                         owner="alice")  # fmt: skip
    assert store.run_numbers()[new] == max(expected["numbers"].values()) + 1
    assert (
        store.run_numbers(owner="alice")[new]
        == max(expected["owner_numbers"]["alice"].values()) + 1
    )
    # The version before this one refuses a user_version above 2, so it never writes here.
    with sqlite3.connect(old_store / "runs.sqlite") as connection:
        assert connection.execute("PRAGMA user_version").fetchone()[0] == SQLITE_USER_VERSION == 3
        (revision,) = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    connection.close()
    assert revision == head_revision()
    # Opening again changes nothing.
    reopened = RunStore(old_store)
    assert reopened.problems() == [] and len(reopened.list_runs()) == len(expected["runs"]) + 1
    assert reopened.run_numbers() == {**expected["numbers"], new: store.run_numbers()[new]}


def _stamp_newer_revision(folder: Path, database_url: str | None) -> sa.Engine:
    """Make a store, then mark its schema as a revision this version does not know."""
    RunStore(folder, database_url=database_url).save_run(
        "baseline", "kept as it is", {}, None, {"test_accuracy": 0.75}, {}, owner="ann"
    )
    engine = sa.create_engine(database_url or f"sqlite:///{folder / 'runs.sqlite'}")
    with engine.begin() as connection:
        connection.execute(sa.text("UPDATE alembic_version SET version_num = :newer"),
                           {"newer": NEWER_REVISION})  # fmt: skip
    engine.dispose()
    return engine


def _contents(engine: sa.Engine) -> tuple:
    with engine.connect() as connection:
        revision = connection.execute(sa.text("SELECT version_num FROM alembic_version")).all()
        runs = connection.execute(sa.text("SELECT * FROM runs ORDER BY id")).all()
        tables = sorted(sa.inspect(connection).get_table_names())
    engine.dispose()
    return revision, runs, tables


def test_a_database_from_a_newer_version_is_refused_and_left_untouched(tmp_path, database_url):
    folder = tmp_path / "runs_dir"
    engine = _stamp_newer_revision(folder, database_url)
    before = _contents(engine)
    sqlite_bytes = (folder / "runs.sqlite").read_bytes() if database_url is None else None

    store = RunStore(folder, database_url=database_url)
    (problem,) = store.problems()
    assert "newer MNIST Studio" in problem and NEWER_REVISION in problem
    assert store.list_runs().empty
    with pytest.raises(RunStoreError, match="newer MNIST Studio"):
        store.save_run("baseline", "refused", {}, None, {"test_accuracy": 0.5}, {})
    with pytest.raises(RunStoreError, match="newer MNIST Studio"):
        store.rename_run("any", "name")
    store.database.dispose()

    assert _contents(engine) == before
    assert before[0] == [(NEWER_REVISION,)] and [row.name for row in before[1]] == ["kept as it is"]
    if database_url is None:
        assert (folder / "runs.sqlite").read_bytes() == sqlite_bytes
