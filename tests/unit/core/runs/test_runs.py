"""Tests of the run store: records and model files that survive reopening.

Every test of the store's behaviour runs on both backends (the `database_url` fixture: the
SQLite file in the store's folder, and a PostgreSQL database); those about the SQLite file
itself (damaged, WAL mode, schema version) or about model files on disk run on SQLite, and
their PostgreSQL counterparts (a server that is down or unreachable, a wrong URL) are here.
"""

import os
import sqlite3
import threading

import numpy as np
import pytest

from core.runs import (
    LIST_COLUMNS,
    DamagedRunStoreError,
    MissingModelFileError,
    RunNotFoundError,
    RunStore,
    RunStoreError,
)
from core.runs.engine import DatabaseUrlError
from core.runs.schema_upgrade import SQLITE_USER_VERSION as SCHEMA_VERSION

CONFIG = {"architecture": "dense", "hidden_layers": [128], "epochs": 3, "scaling": "unit"}
HISTORY = {"loss": [0.5, 0.3, 0.2], "accuracy": np.array([0.85, 0.9, 0.94], dtype=np.float32)}
MATRIX = np.diag([98, 113, 103, 101, 98, 89, 96, 103, 97, 101]).astype(np.int64)


def save_network(store, name="first", model=None, owner=None, status="finished", accuracy=0.94):
    return store.save_run(
        "network", name, CONFIG, HISTORY,
        metrics={"test_accuracy": np.float32(accuracy), "test_loss": 0.21},
        timings={"train_seconds": 4.5, "predict_seconds": 0.25},
        confusion_matrix=MATRIX, model=model, status=status, owner=owner,
        parameters=101_770, summary="784-128-10 relu, adam 0.001, 3 ep",
    )  # fmt: skip


@pytest.fixture
def store(tmp_path, database_url):
    """A fresh run store, on SQLite and on PostgreSQL."""
    opened = RunStore(tmp_path / "store", database_url=database_url)
    yield opened
    opened.database.dispose()


def model_files_on_disk(store) -> list[str]:
    """The names of the files in the store's models folder (none when there is no folder)."""
    folder = store.models_folder
    return sorted(path.name for path in folder.iterdir()) if folder.is_dir() else []


def tiny_keras_model():
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((28, 28)),
        keras.layers.Rescaling(1 / 255),
        keras.layers.Flatten(),
        keras.layers.Dense(8, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])  # fmt: skip
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


def test_save_list_get_rename_delete(store):
    first = save_network(store, "first", owner="alice", accuracy=0.94)
    second = save_network(store, "second", owner="bob", status="stopped", accuracy=0.9)

    table = store.list_runs()
    assert list(table.columns) == LIST_COLUMNS
    assert list(table["id"]) == [second, first]  # Newest first.
    row = table.set_index("id").loc[first]
    assert row["name"] == "first" and row["kind"] == "network" and row["status"] == "finished"
    assert row["parameters"] == 101_770 and row["epochs"] == 3
    assert row["test_accuracy"] == pytest.approx(0.94) and row["test_loss"] == 0.21
    assert row["train_seconds"] == 4.5 and row["summary"].startswith("784-128-10")
    assert not row["has_model"] and row["dataset"] == "MNIST"
    assert list(store.list_runs(owner="bob")["name"]) == ["second"]
    assert store.list_runs(owner="nobody").empty

    run = store.get_run(first)
    assert run.config == CONFIG
    assert run.history["accuracy"] == pytest.approx([0.85, 0.9, 0.94])
    assert run.metrics["test_accuracy"] == pytest.approx(0.94)
    assert run.timings == {"train_seconds": 4.5, "predict_seconds": 0.25}
    np.testing.assert_array_equal(run.confusion_matrix, MATRIX)
    assert run.created.tzinfo is not None and run.model_path is None

    store.rename_run(first, "  wider   network ")
    assert store.get_run(first).name == "wider network"
    with pytest.raises(RunStoreError, match="needs a name"):
        store.rename_run(first, "   ")
    store.delete_run(second)
    assert list(store.list_runs()["id"]) == [first]
    with pytest.raises(RunNotFoundError, match="No run"):
        store.get_run(second)
    with pytest.raises(RunNotFoundError):
        store.rename_run(second, "gone")


def test_runs_survive_reopening(tmp_path, database_url):
    folder = tmp_path / "store"
    run_id = save_network(RunStore(folder, database_url=database_url), "kept")
    reopened = RunStore(folder, database_url=database_url)
    assert list(reopened.list_runs()["name"]) == ["kept"]
    assert reopened.get_run(run_id).metrics["test_loss"] == 0.21
    assert reopened.run_numbers() == {run_id: 1}


def test_the_sqlite_file_is_versioned_and_in_wal_mode(tmp_path):
    folder = tmp_path / "store"
    save_network(RunStore(folder), "kept")
    with sqlite3.connect(folder / "runs.sqlite") as connection:
        assert connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_keras_model_round_trip_and_no_temporary_files(store):
    model = tiny_keras_model()
    images = np.random.default_rng(0).integers(0, 256, size=(16, 28, 28), dtype=np.uint8)
    expected = model.predict(images, verbose=0)

    run_id = save_network(store, "with model", model=model)
    run = store.get_run(run_id)
    assert run.has_model and run.model_size > 0
    if store.database.is_sqlite:
        assert model_files_on_disk(store) == [f"{run_id}.keras"]
        assert run.model_size == run.model_path.stat().st_size

    reloaded = store.load_model(run_id)
    np.testing.assert_allclose(reloaded.predict(images, verbose=0), expected, rtol=1e-6)

    # Bytes of a .keras file are stored as they are.
    keras_file = _keras_file_bytes(model)
    copy_id = save_network(store, "copy", model=keras_file)
    copy = store.get_run(copy_id)
    assert copy.model_size == len(keras_file)
    np.testing.assert_allclose(
        store.load_model(copy_id).predict(images, verbose=0), expected, rtol=1e-6
    )

    store.delete_run(run_id)
    assert list(store.list_runs()["id"]) == [copy_id]
    with pytest.raises(RunNotFoundError):
        store.load_model(run_id)
    if store.database.is_sqlite:
        assert not run.model_path.exists()
        assert model_files_on_disk(store) == [f"{copy_id}.keras"]
        assert copy.model_path.read_bytes() == keras_file


def _keras_file_bytes(model) -> bytes:
    """The model as the bytes of a .keras file."""
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory(prefix="pg-keras-") as folder:
        path = Path(folder) / "model.keras"
        model.save(path)
        return path.read_bytes()


def test_a_failing_model_writer_stores_nothing(store):
    def broken_writer(model_file):
        model_file.write(b"half a model")
        raise OSError("disk full")

    with pytest.raises(RunStoreError, match="disk full"):
        save_network(store, "broken", model=broken_writer)
    assert store.list_runs().empty
    assert model_files_on_disk(store) == []


def test_baseline_estimators_are_stored_and_checked_before_loading(store):
    from sklearn.naive_bayes import GaussianNB

    rng = np.random.default_rng(1)
    features, labels = rng.normal(size=(60, 4)), np.arange(60) % 3
    estimator = GaussianNB().fit(features, labels)
    run_id = store.save_run(
        "baseline", "Naive Bayes", {"baseline": "Gaussian naive Bayes"}, None,
        metrics={"test_accuracy": 0.55}, timings={"train_seconds": 0.1, "predict_seconds": 0.1},
        model=estimator,
    )  # fmt: skip
    row = store.list_runs().iloc[0]
    assert row["kind"] == "baseline" and row["has_model"] and pd_isna(row["test_loss"])
    assert pd_isna(row["epochs"])
    loaded = store.load_model(run_id)
    np.testing.assert_array_equal(loaded.predict(features), estimator.predict(features))

    # Pickled bytes from elsewhere are refused outright.
    with pytest.raises(RunStoreError, match="fitted scikit-learn estimator"):
        store.save_run(
            "baseline", "bytes", {}, None, {"test_accuracy": 0.5}, {}, model=b"pickled elsewhere"
        )
    assert list(store.list_runs()["id"]) == [run_id]
    if store.database.is_sqlite:
        # A file altered after saving is never unpickled.
        path = store.get_run(run_id).model_path
        path.write_bytes(path.read_bytes() + b"\x00")
        with pytest.raises(MissingModelFileError, match="changed after it was saved"):
            store.load_model(run_id)


def test_baseline_files_are_compressed_and_load_the_same(store, mnist):
    from sklearn.neighbors import KNeighborsClassifier

    from core.nn.baselines import pickled_size

    images = mnist.train_images[:2_000].reshape(2_000, -1)
    estimator = KNeighborsClassifier(n_neighbors=3).fit(images, mnist.train_labels[:2_000])
    run_id = store.save_run(
        "baseline", "k-NN", {"baseline": "k-nearest neighbours"}, None,
        metrics={"test_accuracy": 0.9}, timings={}, model=estimator,
    )  # fmt: skip
    stored_bytes = store.get_run(run_id).model_size
    # MNIST is mostly blank pixels: the stored training set shrinks several times.
    assert stored_bytes < pickled_size(estimator) / 3
    test_images = mnist.test_images[:100].reshape(100, -1)
    np.testing.assert_array_equal(
        store.load_model(run_id).predict(test_images), estimator.predict(test_images)
    )


def pd_isna(value):
    import pandas as pd

    return pd.isna(value)


def test_a_missing_model_file_is_reported_without_breaking_the_list(tmp_path):
    store = RunStore(tmp_path / "store")  # Model files on the app's disk: SQLite's way.
    model = tiny_keras_model()
    run_id = save_network(store, "lost model", model=model)
    store.get_run(run_id).model_path.unlink()

    table = store.list_runs()
    assert list(table["name"]) == ["lost model"] and not table["has_model"].iloc[0]
    assert store.get_run(run_id).metrics["test_accuracy"] == pytest.approx(0.94)
    (problem,) = store.problems()
    assert "lost model" in problem and "missing" in problem
    with pytest.raises(MissingModelFileError, match="is missing"):
        store.load_model(run_id)
    store.delete_run(run_id)  # A missing file does not stop the deletion.
    assert store.list_runs().empty and store.problems() == []


@pytest.mark.parametrize("keep_bytes", [50, 3000])
def test_a_truncated_database_gives_a_clear_error_and_no_crash(tmp_path, keep_bytes):
    folder = tmp_path / "store"
    store = RunStore(folder)
    for number in range(30):
        save_network(store, f"run {number}")
    database = folder / "runs.sqlite"
    assert database.stat().st_size > keep_bytes
    with database.open("r+b") as database_file:
        database_file.truncate(keep_bytes)

    for opened in (store, RunStore(folder)):  # Already open, and opened afterwards.
        table = opened.list_runs()
        assert list(table.columns) == LIST_COLUMNS and len(table) < 30
        (problem,) = opened.problems()
        assert "cannot be read" in problem and "runs.sqlite" in problem
    reopened = RunStore(folder)
    with pytest.raises(RunStoreError, match="cannot be read"):
        save_network(reopened, "new")
    with pytest.raises(RunStoreError, match="cannot be read"):
        reopened.get_run("20260101-000000-000000")

    # Moving the damaged file aside gives a fresh, working store without reopening.
    database.rename(folder / "damaged.sqlite")
    for suffix in ("-wal", "-shm"):
        (folder / f"runs.sqlite{suffix}").unlink(missing_ok=True)
    assert reopened.list_runs().empty and reopened.problems() == []
    save_network(reopened, "fresh start")
    assert list(RunStore(folder).list_runs()["name"]) == ["fresh start"]


def _unused_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_postgresql_server_that_cannot_be_reached_gives_a_clear_sentence(tmp_path):
    url = f"postgresql+psycopg://studio:s3cret-word@127.0.0.1:{_unused_port()}/runs"
    store = RunStore(tmp_path / "store", database_url=url)  # Opening never raises.
    table = store.list_runs()
    assert list(table.columns) == LIST_COLUMNS and table.empty
    problem, *others = store.problems()
    assert "cannot be reached" in problem and "check that the server is running" in problem
    assert "studio:***@127.0.0.1" in problem and "s3cret-word" not in problem
    # The model lookup repeats it (for now): every sentence says the same, no password.
    assert all("cannot be reached" in other and "s3cret-word" not in other for other in others)
    assert store.run_numbers() == {}
    with pytest.raises(DamagedRunStoreError, match="cannot be reached") as refused:
        save_network(store, "not saved")
    assert "s3cret-word" not in str(refused.value)
    with pytest.raises(RunStoreError, match="cannot be reached"):
        store.get_run("20260101-000000-000000")


def _set_connections_allowed(postgres_server, database_url: str, allowed: bool) -> None:
    """Let a database be connected to, or take it away (as if its server went down)."""
    import psycopg
    from sqlalchemy.engine import make_url

    name = make_url(database_url).database
    with psycopg.connect(
        f"host=127.0.0.1 port={postgres_server.port} user=postgres dbname=postgres",
        autocommit=True,
    ) as connection:
        connection.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {str(allowed).lower()}')
        if not allowed:
            connection.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (name,),
            )


def test_a_postgresql_database_that_goes_away_fails_saves_and_loses_no_run(
    tmp_path, postgres_server
):
    url = postgres_server.new_database()
    store = RunStore(tmp_path / "store", database_url=url)
    kept = save_network(store, "saved before")
    _set_connections_allowed(postgres_server, url, allowed=False)
    try:
        table = store.list_runs()  # Never raises: the page shows the sentence instead.
        assert list(table.columns) == LIST_COLUMNS and table.empty
        problem, *_ = store.problems()
        assert "cannot be reached" in problem and "Stored runs are safe there" in problem
        with pytest.raises(RunStoreError, match="cannot be reached"):
            save_network(store, "while it is away")
        problem, *_ = RunStore(tmp_path / "other", database_url=url).problems()
        assert "cannot be reached" in problem
    finally:
        _set_connections_allowed(postgres_server, url, allowed=True)
    # Back again: the same store works without reopening, and nothing was lost.
    assert store.problems() == [] and list(store.list_runs()["id"]) == [kept]
    retried = save_network(store, "while it is away")
    assert list(store.list_runs()["id"]) == [retried, kept]
    store.database.dispose()


@pytest.mark.parametrize(
    "url",
    [
        "mysql://studio:s3cret-word@db.example.org/runs",
        "oracle+oracledb://studio:s3cret-word@db.example.org/runs",
        "garbage with s3cret-word in it",
        "postgresql+psycopg://studio:s3cret-word@db.example.org:not-a-port/runs",
    ],
)
def test_a_wrong_database_url_is_refused_with_a_sentence_and_no_password(tmp_path, url):
    with pytest.raises(DatabaseUrlError) as refused:
        RunStore(tmp_path / "store", database_url=url)
    message = str(refused.value)
    assert "database_url setting" in message and "s3cret-word" not in message
    assert message.endswith(".")


def test_threads_can_save_at_the_same_time(store):
    errors = []

    def save(number):
        try:
            save_network(store, f"thread {number}")
        except Exception as error:  # Collected and asserted below.
            errors.append(error)

    threads = [threading.Thread(target=save, args=(number,)) for number in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(store.list_runs()["name"]) == sorted(f"thread {n}" for n in range(8))


def test_bad_arguments_raise_clear_errors(store):
    with pytest.raises(RunStoreError, match="kind"):
        store.save_run("forest", "x", {}, None, {}, {})
    with pytest.raises(RunStoreError, match="status"):
        store.save_run("network", "x", {}, None, {}, {}, status="crashed")
    with pytest.raises(RunStoreError, match="square"):
        store.save_run("network", "x", {}, None, {}, {}, confusion_matrix=np.zeros((2, 3)))
    with pytest.raises(RunStoreError, match="at most"):
        store.save_run("network", "x" * 500, {}, None, {}, {})
    assert store.list_runs().empty


# Runs in progress, crashes and pruning -----------------------------------------------------


def _dead_pid() -> int:
    import subprocess
    import sys

    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_temporary_files_of_a_dead_writer_are_removed_on_open(tmp_path):
    store = RunStore(tmp_path)
    left_over = store.models_folder / f".run{_partial_marker()}-{_dead_pid()}-abcd.keras"
    left_over.write_bytes(b"half a model")
    ours = store.models_folder / f".run{_partial_marker()}-{os.getpid()}-abcd.keras"
    ours.write_bytes(b"being written")
    RunStore(tmp_path)
    assert not left_over.exists()
    assert ours.exists()


def _partial_marker() -> str:
    from core.runs.model_files import TEMPORARY_MARKER

    return TEMPORARY_MARKER


def test_prune_keeps_the_newest_runs_and_their_files(tmp_path, database_url):
    store = RunStore(tmp_path, max_runs=2, database_url=database_url)
    ids = [
        store.save_run("baseline", f"run {index}", {}, None, {"test_accuracy": 0.5}, {})
        for index in range(4)
    ]
    remaining = store.list_runs()
    assert set(remaining["id"]) == set(ids[2:])
    assert store.prune(max_age_days=0) == sorted(ids[2:])
    assert store.list_runs().empty


def _save_owned(store, owner, count, size=0):
    model = b"k" * size if size else None
    return [
        store.save_run("network", f"{owner} {index}", {}, None, {"test_accuracy": 0.9}, {},
                       model=model, owner=owner)
        for index in range(count)
    ]  # fmt: skip


def test_another_visitors_flood_never_deletes_a_visitors_only_run(tmp_path, database_url):
    store = RunStore(tmp_path, max_runs=5, database_url=database_url)
    (victim,) = _save_owned(store, "victim", 1)
    flood = _save_owned(store, "flooder", 5)
    runs = store.list_runs()
    assert victim in set(runs["id"])
    assert len(runs) == 5
    # The flooder lost their own oldest run, and keeps their four newest.
    assert set(runs.loc[runs["owner"] == "flooder", "id"]) == set(flood[1:])


def test_each_visitor_keeps_at_most_their_quota_of_runs(tmp_path, database_url):
    store = RunStore(tmp_path, max_runs_per_owner=3, database_url=database_url)
    alice = _save_owned(store, "alice", 5)
    bob = _save_owned(store, "bob", 2)
    runs = store.list_runs()
    assert set(runs.loc[runs["owner"] == "alice", "id"]) == set(alice[2:])
    assert set(runs.loc[runs["owner"] == "bob", "id"]) == set(bob)


def test_the_store_is_bounded_in_bytes_fairly_between_visitors(tmp_path, database_url):
    store = RunStore(
        tmp_path, max_bytes=10_000, max_bytes_per_owner=6_000, database_url=database_url
    )
    (small,) = _save_owned(store, "small", 1, size=2_000)
    big = _save_owned(store, "big", 4, size=2_500)
    runs = store.list_runs()
    # "big" may hold 6,000 bytes: its two newest runs (5,000); "small" keeps its run.
    assert set(runs["id"]) == {small, *big[2:]}
    assert int(runs["model_size"].sum()) == 7_000
    assert runs["has_model"].all()
    if store.database.is_sqlite:  # Pruned runs took their model files with them.
        assert model_files_on_disk(store) == sorted(f"{run_id}.keras" for run_id in runs["id"])
    # A run too large for the store goes first: its owner holds the most bytes.
    _save_owned(store, "huge", 1, size=9_000)
    assert set(store.list_runs()["id"]) == {small, *big[2:]}


def test_runs_to_prune_takes_the_oldest_runs_of_whoever_holds_most(tmp_path):
    import pandas as pd

    from core.runs.pruning import PruneQuota, runs_to_prune

    rows = [  # Newest first, as list_runs returns them.
        ("r6", "a", 10), ("r5", "a", 10), ("r4", "b", 10), ("r3", "a", 10), ("r2", None, 10),
        ("r1", "b", 10),
    ]  # fmt: skip
    runs = pd.DataFrame(
        {
            "id": [row[0] for row in rows],
            "owner": [row[1] for row in rows],
            "model_size": pd.array([row[2] for row in rows], dtype="Int64"),
            "created": pd.Timestamp.now(tz="UTC"),
        }
    )
    assert runs_to_prune(runs, PruneQuota(max_runs=4)) == ["r3", "r1"]
    assert runs_to_prune(runs, PruneQuota(max_runs_per_owner=1)) == ["r1", "r3", "r5"]
    assert runs_to_prune(runs, PruneQuota(max_bytes=30)) == ["r3", "r1", "r5"]
    assert runs_to_prune(runs, PruneQuota()) == []


def test_runs_to_prune_by_bytes_frees_bytes_and_keeps_each_owners_newest_run():
    import pandas as pd

    from core.runs.pruning import PruneQuota, runs_to_prune

    now = pd.Timestamp.now(tz="UTC")
    rows = [  # Newest first; r1 and r5 have no model file (0 bytes), r1 is 10 days old.
        ("r5", "a", 0, now), ("r4", "a", 40, now), ("r3", "b", 50, now), ("r2", "a", 30, now),
        ("r1", "a", 0, now - pd.Timedelta(days=10)),
    ]  # fmt: skip
    runs = pd.DataFrame(rows, columns=["id", "owner", "model_size", "created"])
    runs["model_size"] = runs["model_size"].astype("Int64")
    # "a" holds 70 bytes: deleting r1 would free nothing, so r2 goes. "b"'s only run stays.
    assert runs_to_prune(runs, PruneQuota(max_bytes_per_owner=45)) == ["r2"]
    assert runs_to_prune(runs, PruneQuota(max_bytes_per_owner=10)) == ["r2", "r4"]
    # Store-wide: "a" holds the most (70), then "b" (50 against 40).
    assert runs_to_prune(runs, PruneQuota(max_bytes=60)) == ["r2", "r3"]
    assert runs_to_prune(runs, PruneQuota(max_age_days=1)) == ["r1"]


def test_a_network_saved_without_a_summary_is_described_with_its_confusion_matrix_classes(
    store,
):
    three = store.save_run("network", "three", CONFIG, None, {}, {}, confusion_matrix=np.eye(3))
    assert store.find_run(three).summary.startswith("784-128-3 relu")
    # Without a confusion matrix nothing says how many classes: MNIST's 10 are assumed.
    unknown = store.save_run("network", "unknown", CONFIG, None, {}, {})
    assert store.find_run(unknown).summary.startswith("784-128-10 relu")
