"""Model files on both backends: files beside SQLite, chunks in PostgreSQL (model_blobs)."""

import time

import numpy as np
import pytest
import sqlalchemy as sa

from core.runs import MissingModelFileError, RunStore, RunStoreError
from core.runs.model_blobs import CHUNK_BYTES, NAMES_PER_QUERY, ModelBlobs
from core.runs.model_files import STALE_TEMPORARY_SECONDS
from core.runs.schema import model_blobs
from tests.unit.core.runs.test_runs import tiny_keras_model


def fitted_baseline():
    from sklearn.naive_bayes import GaussianNB

    features = np.random.default_rng(0).random((200, 784))
    return GaussianNB().fit(features, np.arange(200) % 10), features


def save(store, name, kind="network", model=None, owner=None):
    return store.save_run(
        kind, name, {}, None, {"test_accuracy": 0.9}, {}, model=model, owner=owner
    )


def stored_chunks(store, file_name=None):
    """The (file name, chunk) pairs in the database's model_blobs table."""
    query = sa.select(model_blobs.c.file_name, model_blobs.c.chunk)
    if file_name is not None:
        query = query.where(model_blobs.c.file_name == file_name)
    with store.database.transaction() as connection:
        return sorted(tuple(row) for row in connection.execute(query))


def model_file_name(store, run_id):
    with store.database.transaction() as connection:
        return connection.execute(
            sa.text("SELECT model_file FROM runs WHERE id = :id"), {"id": run_id}
        ).scalar_one()


@pytest.fixture
def store(tmp_path, database_url):
    return RunStore(tmp_path / "store", database_url=database_url)


def test_each_backend_keeps_models_where_it_should(store, database_url):
    run_id = save(store, "bytes", model=b"k" * (2 * CHUNK_BYTES + 10))
    file_name = model_file_name(store, run_id)
    if database_url is None:
        # SQLite: unchanged, a file in models/ and nothing in the table.
        assert (store.models_folder / file_name).stat().st_size == 2 * CHUNK_BYTES + 10
        assert stored_chunks(store) == []
    else:
        assert stored_chunks(store) == [(file_name, 0), (file_name, 1), (file_name, 2)]
        assert list(store.models_folder.iterdir()) == []
    run = store.get_run(run_id)
    assert run.has_model and run.model_size == 2 * CHUNK_BYTES + 10
    assert store.model_file(run_id).read_bytes() == b"k" * (2 * CHUNK_BYTES + 10)


def test_a_keras_model_round_trips(store):
    model = tiny_keras_model()
    run_id = save(store, "network", model=model)
    images = np.random.default_rng(1).integers(0, 256, (5, 28, 28)).astype("uint8")
    loaded = store.load_model(run_id)
    np.testing.assert_allclose(loaded.predict(images, verbose=0), model.predict(images, verbose=0))
    row = store.list_runs().iloc[0]
    assert row["has_model"] and row["model_size"] == store.model_file(run_id).stat().st_size


def test_a_baseline_round_trips_and_an_altered_one_is_never_unpickled(store, database_url):
    estimator, features = fitted_baseline()
    run_id = save(store, "baseline", kind="baseline", model=estimator)
    np.testing.assert_array_equal(
        store.load_model(run_id).predict(features), estimator.predict(features)
    )
    file_name = model_file_name(store, run_id)
    if database_url is None:
        path = store.models_folder / file_name
        path.write_bytes(path.read_bytes() + b"\x00")
    else:
        # A damaged local copy is only a cache: fetched again, and the model still loads.
        cached = store.model_file(run_id)
        cached.write_bytes(b"not the model")
        np.testing.assert_array_equal(
            store.load_model(run_id).predict(features), estimator.predict(features)
        )
        # Altered in the database itself: refused, whatever the cache held.
        with store.database.transaction() as connection:
            connection.execute(
                model_blobs.update()
                .where(model_blobs.c.file_name == file_name, model_blobs.c.chunk == 0)
                .values(data=b"\x80\x04 altered")
            )
        cached.unlink()
    with pytest.raises(MissingModelFileError, match="changed after it was saved"):
        store.load_model(run_id)


def test_a_model_above_the_cap_is_refused_before_anything_is_stored(tmp_path, database_url):
    store = RunStore(tmp_path / "store", database_url=database_url, max_model_bytes=5_000)
    with pytest.raises(RunStoreError) as refusal:
        save(store, "too big", model=b"k" * 6_000)
    assert "6,000 bytes" in str(refusal.value) and "5,000 bytes" in str(refusal.value)
    assert "max_model_bytes" in str(refusal.value)
    assert store.list_runs().empty
    assert stored_chunks(store) == []
    assert list(store.models_folder.iterdir()) == []
    assert not [path for path in store.folder.rglob("*.partial-*") if path.is_file()]
    # At the cap, it is kept.
    run_id = save(store, "just fits", model=b"k" * 5_000)
    assert store.get_run(run_id).has_model


def test_a_missing_model_is_reported_on_both_backends(store, database_url):
    kept = save(store, "kept", model=b"kept")
    lost = save(store, "lost model", model=b"lost")
    file_name = model_file_name(store, lost)
    if database_url is None:
        (store.models_folder / file_name).unlink()
    else:
        with store.database.transaction() as connection:
            connection.execute(model_blobs.delete().where(model_blobs.c.file_name == file_name))
    table = store.list_runs().set_index("id")
    assert table.loc[kept, "has_model"] and not table.loc[lost, "has_model"]
    assert store.get_run(kept).has_model and not store.get_run(lost).has_model
    (problem,) = store.problems()
    assert "lost model" in problem and "missing" in problem and file_name in problem
    with pytest.raises(MissingModelFileError, match="is missing"):
        store.load_model(lost)


def test_a_new_process_with_an_empty_disk_loads_every_model(tmp_path, postgres_server):
    url = postgres_server.new_database()
    first = RunStore(tmp_path / "machine-1", database_url=url)
    model = tiny_keras_model()
    estimator, features = fitted_baseline()
    network_id = save(first, "network", model=model)
    baseline_id = save(first, "baseline", kind="baseline", model=estimator)

    # Another machine: its own, empty runs_dir; only the database in common.
    second = RunStore(tmp_path / "machine-2", database_url=url)
    assert list((tmp_path / "machine-2" / "model_cache").iterdir()) == []
    assert set(second.list_runs()["id"]) == {network_id, baseline_id}
    assert second.list_runs()["has_model"].all() and second.problems() == []
    images = np.random.default_rng(1).integers(0, 256, (5, 28, 28)).astype("uint8")
    np.testing.assert_allclose(
        second.load_model(network_id).predict(images, verbose=0), model.predict(images, verbose=0)
    )
    np.testing.assert_array_equal(
        second.load_model(baseline_id).predict(features), estimator.predict(features)
    )
    # Deleted on one machine: gone for the other too.
    second.delete_run(network_id)
    assert stored_chunks(first, model_file_name(first, baseline_id)) != []
    assert [name for name, _ in stored_chunks(first)] == [model_file_name(first, baseline_id)]


def test_chunks_no_record_names_are_removed_once_an_hour_old(store, tmp_path):
    blobs = ModelBlobs(store.database, tmp_path / "cache")
    named = save(store, "named", model=b"named")
    named_file = model_file_name(store, named)
    blobs.write("old-orphan.keras", "network", b"left by a crash")
    blobs.write("new-orphan.keras", "network", b"being saved right now")
    if not store.database.is_sqlite:
        blobs.write(named_file, "network", b"named")  # The record's own chunks.
    an_hour_ago = time.time() - STALE_TEMPORARY_SECONDS - 60
    with store.database.transaction() as connection:
        connection.execute(
            model_blobs.update()
            .where(model_blobs.c.file_name.in_(["old-orphan.keras", named_file]))
            .values(created=an_hour_ago)
        )
    assert blobs.remove_stale_temporary_files() == 1
    remaining = {name for name, _ in stored_chunks(store)}
    assert "old-orphan.keras" not in remaining and "new-orphan.keras" in remaining
    assert store.database.is_sqlite or named_file in remaining


def test_existing_looks_up_thousands_of_names_in_a_few_queries(store, tmp_path):
    blobs = ModelBlobs(store.database, tmp_path / "cache")
    stored = [f"run-{index}.keras" for index in (3, NAMES_PER_QUERY + 7, 2 * NAMES_PER_QUERY + 1)]
    for name in stored:
        blobs.write(name, "network", name.encode())
    names = [f"run-{index}.keras" for index in range(3 * NAMES_PER_QUERY)] + [None]
    assert blobs.existing(names) == set(stored)
    assert blobs.exists(stored[0]) and not blobs.exists("run-4.keras") and not blobs.exists(None)
