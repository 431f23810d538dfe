"""Tests of the background job manager: cap and queue, progress, stop, cancel, failure."""

import threading

import pytest

from core.jobs.manager import JobManager
from testkit.jobs import gated_job


@pytest.fixture
def manager():
    job_manager = JobManager(max_concurrent=2)
    yield job_manager
    job_manager.shutdown(wait=True, timeout=5)


def test_two_jobs_run_at_once_and_keep_their_own_results(manager):
    both_running = threading.Barrier(2, timeout=5)

    def job(value):
        def run(report, stop_event):
            both_running.wait()  # Fails with BrokenBarrierError unless both run together.
            report(value=value)
            return value * 10

        return run

    first = manager.submit("first", job(1), owner="alice")
    second = manager.submit("second", job(2), owner="bob")
    assert manager.wait(first.id, timeout=5).state == "finished"
    assert manager.wait(second.id, timeout=5).state == "finished"
    assert (first.result, second.result) == (10, 20)
    assert (first.progress, second.progress) == ({"value": 1}, {"value": 2})
    assert [job.name for job in manager.jobs()] == ["second", "first"]
    assert [job.name for job in manager.jobs(owner="alice")] == ["first"]
    assert manager.get(first.id) is first


def test_a_job_over_the_cap_is_queued_then_runs(manager):
    gate = threading.Event()
    first = manager.submit("first", gated_job(gate, 1))
    second = manager.submit("second", gated_job(gate, 2))
    third = manager.submit("third", gated_job(gate, 3))
    fourth = manager.submit("fourth", gated_job(gate, 4))
    assert (first.state, second.state) == ("running", "running")
    assert (third.state, third.queue_position) == ("queued", 1)
    assert (fourth.state, fourth.queue_position) == ("queued", 2)
    assert first.queue_position is None
    assert (manager.running_count, manager.queued_count) == (2, 2)
    assert third.progress == {}

    gate.set()
    for job in (first, second, third, fourth):
        assert manager.wait(job.id, timeout=5).state == "finished"
    assert [job.result for job in (first, second, third, fourth)] == [1, 2, 3, 4]
    assert third.progress == {"phase": "started", "value": 3}
    # The queued jobs waited for a free slot, and that wait is recorded.
    assert third.started_at >= first.started_at
    assert third.queued_seconds >= 0 and third.queued_seconds >= first.queued_seconds


def test_stop_ends_a_running_job_early_and_keeps_its_result(manager):
    never = threading.Event()
    job = manager.submit("endless", gated_job(never, "done"))
    assert job.state == "running"
    job.stop()
    assert manager.wait(job.id, timeout=5).state == "stopped"
    assert job.result == "stopped done"
    assert job.stop_requested and job.error is None


def test_a_queued_job_is_cancelled_without_running(manager):
    gate = threading.Event()
    ran = threading.Event()

    def must_not_run(report, stop_event):
        ran.set()

    running = [manager.submit(f"blocker {i}", gated_job(gate, i)) for i in range(2)]
    queued = manager.submit("queued", must_not_run)
    last = manager.submit("last", gated_job(gate, "last"))
    assert last.queue_position == 2
    queued.stop()
    assert queued.state == "cancelled" and queued.done
    assert queued.queue_position is None
    assert last.queue_position == 1
    gate.set()
    for job in (*running, last):
        assert manager.wait(job.id, timeout=5).state == "finished"
    assert not ran.is_set()
    assert queued.started_at is None


def test_a_failing_job_records_its_error_and_frees_its_slot():
    manager = JobManager(max_concurrent=1)

    def broken(report, stop_event):
        report(step=1)
        raise ValueError("Batch size 0 is too small.")

    failed = manager.submit("broken", broken)
    after = manager.submit("after", lambda report, stop_event: "ok")
    assert manager.wait(failed.id, timeout=5).state == "failed"
    assert failed.error == "Batch size 0 is too small."
    assert "Traceback" in failed.traceback and "ValueError" in failed.traceback
    assert failed.result is None and failed.progress == {"step": 1}
    assert manager.wait(after.id, timeout=5).result == "ok"
    manager.shutdown()


def test_recorded_events_form_a_bounded_history():
    manager = JobManager(history_limit=3)

    def epochs(report, stop_event):
        for epoch in range(1, 6):
            report(batch=10, loss=1.0 / epoch)
            report(epoch=epoch, loss=1.0 / epoch, record=True)

    job = manager.submit("epochs", epochs)
    manager.wait(job.id, timeout=5)
    assert [entry["epoch"] for entry in job.history] == [3, 4, 5]
    assert all("elapsed_seconds" in entry for entry in job.history)
    assert job.progress == {"batch": 10, "loss": 0.2, "epoch": 5}


def test_done_jobs_beyond_the_limit_are_forgotten():
    manager = JobManager(max_concurrent=1, keep_finished=2)
    ids = []
    for number in range(4):
        job = manager.submit(f"job {number}", lambda report, stop_event: None)
        manager.wait(job.id, timeout=5)
        ids.append(job.id)
    assert [job.id for job in manager.jobs()] == [ids[3], ids[2]]
    assert manager.get(ids[0]) is None


def test_wait_times_out_and_shutdown_refuses_new_jobs(manager):
    never = threading.Event()
    job = manager.submit("endless", gated_job(never, 1))
    with pytest.raises(TimeoutError, match="still running"):
        manager.wait(job.id, timeout=0.05)
    manager.shutdown(wait=True, timeout=5)
    assert job.state == "stopped"
    with pytest.raises(RuntimeError, match="shut down"):
        manager.submit("late", gated_job(never, 2))


def test_bad_arguments_raise_value_errors(manager):
    with pytest.raises(ValueError, match="function"):
        manager.submit("no function", None)
    with pytest.raises(ValueError, match="name"):
        manager.submit("  ", lambda report, stop_event: None)
    with pytest.raises(ValueError, match="No job"):
        manager.wait("missing")
    with pytest.raises(ValueError, match="max_concurrent"):
        JobManager(max_concurrent=0)


def test_many_quick_jobs_with_a_time_limit_leave_no_threads_behind():
    # Before the watchdog, every job started a threading.Timer of max_job_seconds that was
    # never cancelled: 300 quick jobs left 300 sleeping threads behind.
    import time

    baseline = threading.active_count()
    manager = JobManager(max_concurrent=4, max_job_seconds=900, keep_finished=100)
    jobs = [manager.submit(f"Quick {number}", lambda report, stop: None) for number in range(60)]
    for job in jobs:
        manager.wait(job.id, timeout=30)
    assert [job.state for job in jobs] == ["finished"] * 60
    deadline = time.monotonic() + 10
    while threading.active_count() > baseline and time.monotonic() < deadline:
        time.sleep(0.05)
    assert threading.active_count() == baseline
    assert manager._deadlines == []
    manager.shutdown()


def test_one_watchdog_applies_the_time_limit_of_every_running_job():
    gate = threading.Event()
    manager = JobManager(max_concurrent=3, max_job_seconds=0.2, stop_grace_seconds=5)
    jobs = [manager.submit(f"Slow {number}", gated_job(gate, number)) for number in range(3)]
    for job in jobs:
        manager.wait(job.id, timeout=30)
    watchdogs = [thread for thread in threading.enumerate() if thread.name == "job-watchdog"]
    assert len(watchdogs) <= 1
    assert [job.state for job in jobs] == ["stopped"] * 3
    assert [job.result for job in jobs] == ["stopped 0", "stopped 1", "stopped 2"]
    assert all("time limit" in job.stop_reason for job in jobs)
    assert not any(thread.name.endswith("-limit") for thread in threading.enumerate())
    manager.shutdown()
