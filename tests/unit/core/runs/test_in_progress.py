"""Tests of runs in progress: a run whose process died is kept as "interrupted", exactly once.

Every test runs on SQLite and on PostgreSQL (`database_url`). A dead process is a real one
(killed, or a process id that is gone), or a row of ``processes`` written as another host or
an older process with this one's pid would have left it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import OperationalError

from core.runs import DamagedRunStoreError, RunStore, RunStoreFullError
from core.runs.heartbeats import HOST, PROCESS_STARTED, heartbeat_for
from core.runs.schema import processes, runs_in_progress
from testkit.jobs import PROJECT_ROOT, RUN_WRITER, kill, start_run_writer


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def add_process(store, process_id, host=HOST, pid=None, started=None, heartbeat=None) -> None:
    """Write a row of ``processes`` as the process it describes would have."""
    now = time.time()
    with store.database.transaction() as connection:
        connection.execute(
            processes.insert().values(
                id=process_id, host=host, pid=os.getpid() if pid is None else pid,
                started=PROCESS_STARTED if started is None else started,
                heartbeat=now if heartbeat is None else heartbeat,
            )
        )  # fmt: skip


def add_run_in_progress(store, process_id, name="784-128-10", owner="visitor") -> None:
    """Write a run in progress of ``process_id``, as its `begin_run` would have."""
    with store.database.transaction() as connection:
        connection.execute(
            runs_in_progress.insert().values(
                id=f"{process_id}-{name}", process=process_id, kind="network", name=name,
                config_json=json.dumps({"epochs": 5}), owner=owner, dataset="MNIST",
                started="2026-12-03T18:00:00+00:00",
            )
        )  # fmt: skip


def process_ids(store) -> set[str]:
    with store.database.transaction() as connection:
        return set(connection.execute(sa.select(processes.c.id)).scalars())


def test_a_run_whose_process_died_is_recorded_as_interrupted_once(tmp_path, database_url):
    writer = start_run_writer(tmp_path / "writer", database_url)
    # With PostgreSQL every store below has its own, empty folder: only the database is shared.
    folder = tmp_path / "writer" if database_url is None else tmp_path / "reader"
    try:
        # Still training in another (live) process: opening the store leaves it alone.
        store = RunStore(folder, database_url=database_url)
        assert store.list_runs().empty
        (training,) = store.runs_in_progress()
        assert training.process.startswith(f"{HOST}:{writer.pid}:")
        assert (training.name, training.owner, training.config) == (
            "784-128-10", "visitor", {"epochs": 20},
        )  # fmt: skip
        assert store.recover_interrupted() == []
    finally:
        kill(writer)

    reopened = RunStore(folder, database_url=database_url)
    runs = reopened.list_runs()
    assert list(runs["status"]) == ["interrupted"]
    assert list(runs["name"]) == ["784-128-10"] and list(runs["owner"]) == ["visitor"]
    assert not runs["has_model"].any()
    assert reopened.get_run(runs["id"][0]).config == {"epochs": 20}
    assert reopened.get_run(runs["id"][0]).timings["started"] == training.started
    assert reopened.runs_in_progress() == []
    assert training.process not in process_ids(reopened)

    # Once: neither the first store, a third one nor a later look records it again.
    assert store.recover_interrupted() == []
    third = RunStore(tmp_path / "third" if database_url else folder, database_url=database_url)
    assert third.recover_interrupted() == []
    assert len(third.list_runs()) == 1


def test_a_run_in_progress_in_this_process_is_left_alone_until_it_ends(tmp_path, database_url):
    store = RunStore(tmp_path, database_url=database_url)
    handle = store.begin_run("network", "784-128-10", {"epochs": 20}, owner="visitor")
    assert RunStore(tmp_path, database_url=database_url).list_runs().empty
    assert store.recover_interrupted() == []
    assert [run.id for run in store.runs_in_progress()] == [handle]
    assert heartbeat_for(store.database, start=False).beating
    store.save_run("network", "784-128-10", {}, {"loss": [1.0]}, {"test_accuracy": 0.9}, {})
    store.end_run(handle)
    assert store.runs_in_progress() == []
    assert list(RunStore(tmp_path, database_url=database_url).list_runs()["status"]) == ["finished"]
    # No journal file is written any more.
    assert not (tmp_path / "in_progress").exists()


def test_a_process_whose_pid_a_newer_process_has_is_dead(tmp_path, database_url):
    # In a container the server is PID 1 before and after a restart: the row names a pid
    # that is alive again (here: this test's own), but that process started later.
    store = RunStore(tmp_path, database_url=database_url)
    add_process(store, f"{HOST}:{os.getpid()}:older", started=PROCESS_STARTED - 3600)
    add_run_in_progress(store, f"{HOST}:{os.getpid()}:older", name="older server's run")
    # A process with the same pid that started when this one did is this one: alive.
    add_process(store, f"{HOST}:{os.getpid()}:same", started=PROCESS_STARTED)
    add_run_in_progress(store, f"{HOST}:{os.getpid()}:same", name="live run")
    # A pid that is gone: dead at once, however fresh its heartbeat.
    add_process(store, f"{HOST}:gone", pid=dead_pid())
    add_run_in_progress(store, f"{HOST}:gone", name="gone process's run")

    recovered = store.recover_interrupted()
    assert len(recovered) == 2
    runs = store.list_runs()
    assert sorted(runs["name"]) == ["gone process's run", "older server's run"]
    assert set(runs["status"]) == {"interrupted"}
    assert [run.name for run in store.runs_in_progress()] == ["live run"]
    assert process_ids(store) == {f"{HOST}:{os.getpid()}:same"}


def test_a_process_on_another_host_is_dead_once_its_heartbeat_is_stale(
    tmp_path, database_url, monkeypatch
):
    store = RunStore(tmp_path, database_url=database_url)
    monkeypatch.setattr(heartbeat_for(store.database, start=False), "stale_seconds", 3.0)
    # Its pid means nothing here (pid 1 is alive on this host): only its heartbeat tells.
    add_process(store, "elsewhere:1:abcd", host="elsewhere", pid=1)
    add_run_in_progress(store, "elsewhere:1:abcd")
    assert store.recover_interrupted() == []
    assert len(store.runs_in_progress()) == 1

    with store.database.transaction() as connection:
        connection.execute(processes.update().values(heartbeat=time.time() - 4.0))
    assert len(store.recover_interrupted()) == 1
    assert list(store.list_runs()["status"]) == ["interrupted"]
    assert store.runs_in_progress() == [] and process_ids(store) == set()


def test_a_starved_process_on_this_host_keeps_its_run_until_it_counts_as_hung(
    tmp_path, database_url, caplog
):
    """A live pid here whose beat is late is starved (CI at load 20-30 held a server's beat
    back and another process recorded its training as interrupted while it ran)."""
    store = RunStore(tmp_path, database_url=database_url)
    heartbeat = heartbeat_for(store.database, start=False)
    # A process with a live pid (this one's) and its start, another id: alive, not beating.
    live = f"{HOST}:{os.getpid()}:starved"
    add_process(store, live, heartbeat=time.time() - heartbeat.stale_seconds - 10)
    add_run_in_progress(store, live, name="starved process's run")
    assert store.recover_interrupted() == []
    assert [run.name for run in store.runs_in_progress()] == ["starved process's run"]

    with store.database.transaction() as connection:
        connection.execute(
            processes.update().values(heartbeat=time.time() - heartbeat.hung_seconds - 10)
        )
    assert len(store.recover_interrupted()) == 1
    assert list(store.list_runs()["status"]) == ["interrupted"]
    assert store.runs_in_progress() == []
    # The log says which run and why its process counts as dead.
    (message,) = [r.getMessage() for r in caplog.records if "recorded as interrupted" in r.message]
    assert message.startswith(f"Run starved process's run of process {live} is recorded")
    assert f"pid {os.getpid()} lives but has not beaten for 13" in message


def test_a_run_whose_process_row_is_gone_is_recovered(tmp_path, database_url):
    # A process that stopped cleanly, or was forgotten as dead, has no row left.
    store = RunStore(tmp_path, database_url=database_url)
    add_run_in_progress(store, "elsewhere:7:gone")
    assert len(store.recover_interrupted()) == 1
    assert store.runs_in_progress() == []


def test_stores_racing_to_recover_record_each_run_once(tmp_path, database_url):
    stores = [RunStore(tmp_path, database_url=database_url) for _ in range(4)]
    dead = f"{HOST}:dead"
    add_process(stores[0], dead, pid=dead_pid())
    for index in range(3):
        add_run_in_progress(stores[0], dead, name=f"run {index}")
    barrier = threading.Barrier(len(stores))
    recovered: list[list[str]] = [[] for _ in stores]

    def recover(index: int) -> None:
        barrier.wait()
        recovered[index] = stores[index].recover_interrupted()

    threads = [threading.Thread(target=recover, args=(index,)) for index in range(len(stores))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    ids = [run_id for found in recovered for run_id in found]
    assert len(ids) == 3
    runs = stores[0].list_runs()
    assert sorted(runs["id"]) == sorted(ids)
    assert sorted(runs["name"]) == ["run 0", "run 1", "run 2"]
    assert stores[0].runs_in_progress() == [] and dead not in process_ids(stores[0])


def test_an_interrupted_run_is_kept_when_its_owner_may_save_no_more(tmp_path, database_url):
    store = RunStore(tmp_path, max_saves_per_address_per_day=1, database_url=database_url)
    store.save_run("network", "finished", {}, None, {"test_accuracy": 0.9}, {}, owner="visitor")
    with pytest.raises(RunStoreFullError):
        store.check_room("visitor")
    # It was admitted when it started and has no model: it is kept, not dropped nor retried.
    add_process(store, f"{HOST}:dead", pid=dead_pid())
    add_run_in_progress(store, f"{HOST}:dead", owner="visitor")
    assert len(store.recover_interrupted()) == 1
    assert sorted(store.list_runs()["status"]) == ["finished", "interrupted"]
    assert store.runs_in_progress() == []
    assert store.recover_interrupted() == []


def test_a_run_that_cannot_be_recorded_is_dropped_with_an_error_in_the_log(
    tmp_path, database_url, caplog
):
    store = RunStore(tmp_path, database_url=database_url)
    add_process(store, f"{HOST}:dead", pid=dead_pid())
    add_run_in_progress(store, f"{HOST}:dead", name="   ")  # no name: not a valid run
    add_run_in_progress(store, f"{HOST}:dead", name="fine")
    assert len(store.recover_interrupted()) == 1
    assert list(store.list_runs()["name"]) == ["fine"]
    assert store.runs_in_progress() == []
    assert "cannot be kept as interrupted and is dropped" in caplog.text


def test_the_database_going_away_keeps_runs_in_progress_for_later(
    tmp_path, database_url, monkeypatch
):
    store = RunStore(tmp_path, database_url=database_url)
    handle = store.begin_run("network", "mine", {"epochs": 2}, owner="visitor")
    add_process(store, f"{HOST}:dead", pid=dead_pid())
    add_run_in_progress(store, f"{HOST}:dead", name="dead process's run")

    away = OperationalError("SELECT 1", {}, Exception("server closed the connection"))
    original = type(store.database).transaction

    def unreachable(database, exclusive=False):
        raise away

    monkeypatch.setattr(type(store.database), "transaction", unreachable)
    store.end_run(handle)  # never raises: deleted once the database is back
    assert store.recover_interrupted() == []
    with pytest.raises(DamagedRunStoreError):
        store.begin_run("network", "another", {}, owner="visitor")

    monkeypatch.setattr(type(store.database), "transaction", original)
    assert len(store.recover_interrupted()) == 1
    assert list(store.list_runs()["name"]) == ["dead process's run"]
    assert store.runs_in_progress() == []


def test_an_invalid_run_is_refused_when_it_begins(tmp_path, database_url):
    store = RunStore(tmp_path, database_url=database_url)
    with pytest.raises(ValueError, match="kind"):
        store.begin_run("forest", "x", {})
    assert store.runs_in_progress() == []


def _write_legacy_journal(folder: Path, name: str, pid: int) -> Path:
    """A journal as the versions before issue 22 wrote it (`in_progress/<hex>.json`)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name.replace(' ', '')}.json"
    entry = {
        "kind": "network", "name": name, "config": {"epochs": 7}, "owner": "visitor",
        "dataset": "MNIST", "pid": pid, "started": "2026-12-01T10:00:00+00:00",
    }  # fmt: skip
    path.write_text(json.dumps(entry))
    return path


def test_journals_of_an_earlier_version_are_recovered_once(tmp_path, database_url):
    import fcntl

    journals = tmp_path / "in_progress"
    _write_legacy_journal(journals, "dead run", dead_pid())
    held = _write_legacy_journal(journals, "live run", os.getpid())
    with held.open("rb") as writer:  # An earlier version, still running, holds its lock.
        fcntl.flock(writer.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        store = RunStore(tmp_path, database_url=database_url)
        runs = store.list_runs()
        assert list(runs["name"]) == ["dead run"] and list(runs["status"]) == ["interrupted"]
        assert store.get_run(runs["id"][0]).config == {"epochs": 7}
        assert [path.name for path in journals.iterdir()] == [held.name]
    # Its writer is gone now: the next store to open records it; the empty folder goes.
    again = RunStore(tmp_path, database_url=database_url)
    assert sorted(again.list_runs()["name"]) == ["dead run", "live run"]
    assert not journals.exists()
    assert len(RunStore(tmp_path, database_url=database_url).list_runs()) == 2


def test_the_journal_reader_drops_unreadable_and_half_written_files_of_dead_writers(tmp_path):
    import fcntl

    from core.runs.journal import PARTIAL_SUFFIX, STALE_PARTIAL_SECONDS, recover_journals

    (tmp_path / "garbled.json").write_text("{not json")
    (tmp_path / "readable.json").write_text(json.dumps({"kind": "network", "name": "n"}))
    old = time.time() - STALE_PARTIAL_SECONDS - 10
    stale, fresh, held = (tmp_path / f"{name}{PARTIAL_SUFFIX}" for name in "abc")
    for path in (stale, fresh, held):
        path.write_text('{"kind": ')
    os.utime(stale, (old, old))
    os.utime(held, (old, old))
    calls = []

    def record(journal):
        calls.append(journal)
        return f"run-{len(calls)}"

    with held.open("rb") as writer:  # A live writer still holds its lock.
        fcntl.flock(writer.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert recover_journals(tmp_path, record) == ["run-1"]
    assert calls == [{"kind": "network", "name": "n"}]
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted([fresh.name, held.name])


def test_a_store_that_is_no_longer_used_leaves_the_heartbeat(tmp_path, database_url):
    import gc

    store = RunStore(tmp_path, database_url=database_url)
    heartbeat = heartbeat_for(store.database, start=False)
    watchers = len(heartbeat._callbacks)
    del store
    gc.collect()
    for callback in list(heartbeat._callbacks):
        for _ in range(callback.every_beats):
            callback()
    assert len(heartbeat._callbacks) == watchers - 1


def test_a_beating_store_records_a_run_of_a_process_that_dies_later(
    tmp_path, database_url, monkeypatch
):
    # No restart and no call: the heartbeat of a process with a run in progress looks for
    # dead processes' runs every few beats (here beats of 50 ms instead of 2 s).
    store = RunStore(tmp_path, database_url=database_url)
    monkeypatch.setattr(heartbeat_for(store.database, start=False), "beat_seconds", 0.05)
    handle = store.begin_run("network", "mine", {"epochs": 2}, owner="visitor")
    add_process(store, f"{HOST}:dead", pid=dead_pid())
    add_run_in_progress(store, f"{HOST}:dead", name="dead process's run")
    deadline = time.monotonic() + 30
    while len(store.runs_in_progress()) > 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [run.name for run in store.runs_in_progress()] == ["mine"]
    assert list(store.list_runs()["name"]) == ["dead process's run"]
    store.end_run(handle)


def test_a_process_that_exits_removes_its_row_and_leaves_its_runs_to_be_recovered(
    tmp_path, database_url
):
    from core.runs.engine import Database, checked_url

    script = RUN_WRITER.replace("time.sleep(600)", "")  # begins a run, then exits normally
    subprocess.run(
        [sys.executable, "-c", script, str(tmp_path), database_url or "", "784-128-10", "v"],
        cwd=PROJECT_ROOT, check=True, capture_output=True,
    )  # fmt: skip
    database = Database(checked_url(database_url, tmp_path))
    with database.transaction() as connection:
        assert connection.execute(sa.select(processes.c.id)).all() == []
        assert len(connection.execute(sa.select(runs_in_progress.c.id)).all()) == 1
    database.dispose()
    runs = RunStore(tmp_path, database_url=database_url).list_runs()
    assert list(runs["status"]) == ["interrupted"]


def test_a_run_in_progress_adopted_by_a_visitor_is_recovered_as_theirs(tmp_path, database_url):
    store = RunStore(tmp_path / "store", database_url=database_url)
    add_process(store, "gone:1:dead", pid=dead_pid())
    add_run_in_progress(store, "gone:1:dead", owner="tab session")
    assert store.transfer_owner("tab session", "browser cookie") == 0  # No saved run yet.
    store.recover_interrupted()
    runs = store.list_runs()
    assert list(runs["owner"]) == ["browser cookie"]
    assert list(runs["status"]) == ["interrupted"]
