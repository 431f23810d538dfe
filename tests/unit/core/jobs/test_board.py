"""Jobs visible to every process: two job managers on one database act as two app processes.

Each "process" has its own heartbeat (its own process id) and `JobBoard`; the jobs table
they share is on SQLite and on a real PostgreSQL server (`database_url`).
"""

import threading

import numpy as np
import pytest
import sqlalchemy as sa
from sqlalchemy import event

from core.jobs import JobCaps, JobLimitError, JobManager
from core.jobs.board import DEAD_PROCESS_MESSAGE, JobBoard, progress_snapshot
from core.runs.engine import Database, checked_url
from core.runs.heartbeats import HUNG_SECONDS, ProcessHeartbeat
from core.runs.schema import jobs, processes
from testkit.jobs import gated_job


def reporting_job(gate, value, reported):
    """A job that reports once, says so (its report is written by then), then waits."""

    def run(report, stop_event):
        report(phase="started", value=value)
        reported.set()
        gate.wait(30)
        return value

    return run


@pytest.fixture
def database(database_url, tmp_path):
    opened = Database(checked_url(database_url, tmp_path))
    yield opened
    opened.dispose()


@pytest.fixture
def gate():
    event = threading.Event()
    yield event
    event.set()


@pytest.fixture
def start_process(database, gate):
    """Start an app "process" on the shared database: a job manager with its own heartbeat."""
    started = []

    def start(max_concurrent=2, beat_seconds=0.2, **board_options):
        heartbeat = ProcessHeartbeat(database, beat_seconds=beat_seconds)
        manager = JobManager(
            max_concurrent=max_concurrent,
            board=JobBoard(database, heartbeat, **board_options),
        )
        started.append((manager, heartbeat))
        return manager

    yield start
    gate.set()
    for manager, heartbeat in started:
        manager.shutdown(wait=True, timeout=10)
        heartbeat.stop()


def test_a_job_of_one_process_is_read_with_its_state_and_progress_in_another(start_process, gate):
    first, second = start_process(), start_process()
    reported = threading.Event()
    job = first.submit("784-128-10", reporting_job(gate, 7, reported), owner="alice", kind="train")
    first.submit("someone else's", gated_job(gate, 8), owner="bob")
    assert reported.wait(10)

    [seen] = second.jobs_elsewhere("alice")
    assert (seen.id, seen.name, seen.kind, seen.state) == (job.id, "784-128-10", "train", "running")
    assert seen.progress == {"phase": "started", "value": 7}
    assert seen.process == first.board.process_id != second.board.process_id
    assert not seen.local and not seen.done and not seen.stop_requested
    assert second.jobs(owner="alice") == []  # Its own jobs: none.
    # The process that runs it sees its own row as local, and lists it among its own jobs.
    assert [snapshot.local for snapshot in first.board.jobs("alice")] == [True]
    assert first.jobs_elsewhere("alice") == []

    gate.set()
    assert first.wait(job.id, timeout=10).state == "finished"
    [ended] = second.jobs_elsewhere("alice")
    assert (ended.state, ended.done, ended.message) == ("finished", True, None)


def test_a_failed_job_and_a_queued_one_read_the_same_elsewhere(start_process, gate):
    first, second = start_process(max_concurrent=1), start_process()

    def broken(report, stop_event):
        gate.wait(10)
        raise ValueError("The data set has no images of class 3.")

    failing = first.submit("broken", broken, owner="alice")
    waiting = first.submit("waiting", gated_job(gate, 1), owner="alice")
    states = {job.id: job.state for job in second.jobs_elsewhere("alice")}
    assert states == {failing.id: "running", waiting.id: "queued"}

    gate.set()
    first.wait(failing.id, timeout=10)
    first.wait(waiting.id, timeout=10)
    by_id = {job.id: job for job in second.jobs_elsewhere("alice")}
    assert by_id[failing.id].state == "failed"
    assert by_id[failing.id].message == "The data set has no images of class 3."
    assert by_id[waiting.id].state == "finished"


def test_caps_count_the_jobs_of_every_process(start_process, gate):
    first, second = start_process(max_concurrent=1), start_process(max_concurrent=1)
    caps = JobCaps(max_per_owner=2, max_per_address=3, max_queue=1)
    first.submit("alice 1", gated_job(gate, 1), owner="alice", address="203.0.113.7", caps=caps)
    second.submit("alice 2", gated_job(gate, 2), owner="alice", address="203.0.113.7", caps=caps)
    with pytest.raises(JobLimitError, match="You already have 2 jobs running or waiting"):
        second.submit("alice 3", gated_job(gate, 3), owner="alice", caps=caps)
    # Both slots are taken: carol's job waits in the first process's queue.
    first.submit("carol", gated_job(gate, 4), owner="carol", address="203.0.113.7", caps=caps)
    with pytest.raises(JobLimitError, match="network address already has 3 jobs"):
        second.submit("dave", gated_job(gate, 5), owner="dave", address="203.0.113.7", caps=caps)
    with pytest.raises(JobLimitError, match="The queue is full: 1 job of all visitors"):
        second.submit("erin", gated_job(gate, 6), owner="erin", address="198.51.100.1", caps=caps)
    assert (first.queued_count, second.queued_count) == (1, 0)

    # A job that ends, in either process, frees its place everywhere.
    first.jobs(owner="alice")[0].stop()
    first.wait(first.jobs(owner="alice")[0].id, timeout=10)
    second.submit("alice 3", gated_job(gate, 3), owner="alice", caps=caps)


def test_two_processes_admitting_at_once_cannot_pass_a_cap_together(start_process, gate):
    managers = [start_process(), start_process()]
    caps = JobCaps(max_per_owner=6)
    refused = []
    start = threading.Barrier(12)

    def submit(number):
        start.wait()
        try:
            managers[number % 2].submit(
                f"tab job {number}", gated_job(gate, number), owner="alice", caps=caps
            )
        except JobLimitError:
            refused.append(number)

    threads = [threading.Thread(target=submit, args=(number,)) for number in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    active = [len(manager.active_jobs(owner="alice")) for manager in managers]
    assert sum(active) == 6 and len(refused) == 6
    assert len([job for job in managers[0].board.jobs("alice") if not job.done]) == 6


def test_a_stop_pressed_in_another_process_stops_the_job(start_process, gate):
    first, second = start_process(), start_process()
    job = first.submit("endless", gated_job(gate, "done"), owner="alice")

    assert second.stop(job.id, owner="mallory") is False  # Not theirs: nothing happens.
    assert not job.stop_requested
    assert second.stop(job.id, owner="alice") is True
    [asked] = second.jobs_elsewhere("alice")
    # The request is on the board; the first process may have stopped the job already (its
    # heartbeat can come between the press and this read).
    assert asked.stop_requested and asked.state in {"running", "stopped"}

    # The first process reads the request on its next heartbeat and stops the job.
    assert first.wait(job.id, timeout=10).state == "stopped"
    assert job.result == "stopped done"
    [stopped] = second.jobs_elsewhere("alice")
    assert stopped.state == "stopped"
    assert second.stop(job.id, owner="alice") is False  # Already over.


def test_the_jobs_of_a_dead_process_are_failed_once_and_stop_counting(
    start_process, database, gate
):
    crashed = start_process(max_concurrent=1, beat_seconds=3600)
    first, second = start_process(), start_process()
    caps = JobCaps(max_per_owner=2)
    running = crashed.submit("running", gated_job(gate, 1), owner="alice", caps=caps)
    queued = crashed.submit("queued", gated_job(gate, 2), owner="alice", caps=caps)
    with pytest.raises(JobLimitError, match="You already have 2 jobs"):
        first.submit("third", gated_job(gate, 3), owner="alice", caps=caps)

    # The crashed process (alive here, but hung) last beat longer ago than a starved one
    # could (its beat thread never beats again).
    with database.transaction() as connection:
        connection.execute(
            processes.update()
            .where(processes.c.id == crashed.board.process_id)
            .values(heartbeat=processes.c.heartbeat - HUNG_SECONDS - 60)
        )
    ended = []
    start = threading.Barrier(2)

    def notice(manager):
        start.wait()
        ended.append(manager.board.end_jobs_of_dead_processes())

    threads = [threading.Thread(target=notice, args=(manager,)) for manager in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(ended) == [0, 2]  # Both jobs marked once, by one of the two processes.
    snapshots = {job.id: job for job in second.jobs_elsewhere("alice")}
    for job in (running, queued):
        assert snapshots[job.id].state == "failed"
        assert snapshots[job.id].message == DEAD_PROCESS_MESSAGE
    # They no longer count: alice may start two jobs again.
    first.submit("third", gated_job(gate, 3), owner="alice", caps=caps)
    second.submit("fourth", gated_job(gate, 4), owner="alice", caps=caps)

    # Whatever the crashed process still writes does not bring its rows back.
    gate.set()
    crashed.wait(running.id, timeout=10)
    states = {job.id: job.state for job in first.board.jobs("alice")}
    assert (states[running.id], states[queued.id]) == ("failed", "failed")


def test_a_reader_marks_a_dead_process_s_job_when_no_one_admits(start_process, database, gate):
    crashed, reader = start_process(beat_seconds=3600), start_process()
    job = crashed.submit("orphan", gated_job(gate, 1), owner="alice")
    crashed.board.heartbeat.stop()  # Its row is gone: a process that shut down.
    [seen] = reader.jobs_elsewhere("alice")
    assert (seen.id, seen.state, seen.message) == (job.id, "failed", DEAD_PROCESS_MESSAGE)


def test_progress_is_written_at_the_eye_s_rate_not_per_batch(start_process, database, gate):
    now = [100.0]
    writer = start_process(clock=lambda: now[0])
    reader = start_process()
    first_burst, second_burst, go_on = threading.Event(), threading.Event(), threading.Event()

    def chatty(report, stop_event):
        for batch in range(100):
            report(batch=batch, loss=1 / (batch + 1), batch_points=[(batch, 0.5)] * 50)
        first_burst.set()
        go_on.wait(10)
        for batch in range(100, 200):
            report(batch=batch)
        second_burst.set()
        gate.wait(10)
        return "done"

    progress_writes = []

    def count(connection, cursor, statement, parameters, context, executemany):
        changed = statement.split("WHERE")[0]
        if changed.startswith("UPDATE jobs") and "progress_json" in changed:
            progress_writes.append("state" in changed)

    event.listen(database.engine, "before_cursor_execute", count)
    try:
        job = writer.submit("chatty", chatty, owner="alice")
        assert first_burst.wait(10)
        assert progress_writes.count(False) == 1  # 100 reports, one write: the first.
        [seen] = reader.jobs_elsewhere("alice")
        assert seen.progress == {"batch": 0, "loss": 1.0}  # Scalars only: no curve points.

        now[0] += 1.0  # A second later, the next report is written.
        go_on.set()
        assert second_burst.wait(10)
        assert progress_writes.count(False) == 2
        assert reader.jobs_elsewhere("alice")[0].progress["batch"] == 100

        gate.set()
        writer.wait(job.id, timeout=10)
        # The last figures arrive with the job's end, in the same write as its state.
        [ended] = reader.jobs_elsewhere("alice")
        assert (ended.state, ended.progress["batch"]) == ("finished", 199)
        assert progress_writes.count(False) == 2
    finally:
        event.remove(database.engine, "before_cursor_execute", count)


def test_a_progress_snapshot_keeps_a_few_bounded_scalars():
    snapshot = progress_snapshot(
        {
            "epoch": np.int64(3),
            "loss": np.float32(0.25),
            "accuracy": float("nan"),
            "phase": "x" * 1000,
            "stopped": True,
            "eta": None,
            "batch_points": [(1, 2.0)] * 1000,
            "config": {"epochs": 3},
        }
    )
    assert snapshot == (
        '{"epoch": 3, "loss": 0.25, "accuracy": null, "phase": "' + "x" * 200 + '", '
        '"stopped": true, "eta": null}'
    )
    assert len(progress_snapshot({f"figure {n}": n for n in range(100)})) < 4000


def test_without_a_reachable_database_jobs_run_and_are_capped_in_their_process(tmp_path, gate):
    unreachable = Database(f"sqlite:///{tmp_path / 'missing' / 'runs.sqlite'}")
    manager = JobManager(max_concurrent=2, board=JobBoard(unreachable))
    try:
        caps = JobCaps(max_per_owner=1)
        job = manager.submit("alone", gated_job(gate, 1), owner="alice", caps=caps)
        with pytest.raises(JobLimitError, match="You already have 1 job"):
            manager.submit("again", gated_job(gate, 2), owner="alice", caps=caps)
        assert manager.jobs_elsewhere("alice") == []
        assert manager.stop("unknown", owner="alice") is False
        gate.set()
        assert manager.wait(job.id, timeout=10).state == "finished"
    finally:
        manager.shutdown(wait=True, timeout=10)


def test_rows_name_the_address_by_the_run_store_s_keyed_hash(start_process, database, gate):
    manager = start_process()
    manager.submit("mine", gated_job(gate, 1), owner="alice", address="203.0.113.7")
    with database.transaction() as connection:
        stored = connection.execute(sa.select(jobs.c.address)).scalar_one()
    assert stored.startswith("a:") and "203.0.113.7" not in stored
