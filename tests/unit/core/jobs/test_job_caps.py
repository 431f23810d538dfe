"""Caps on jobs: per visitor, per network address and on the whole queue (JobManager.submit)."""

import threading

import pytest

from core.jobs import JobCaps, JobLimitError, JobManager
from testkit.jobs import gated_job


@pytest.fixture
def gate():
    event = threading.Event()
    yield event
    event.set()


@pytest.fixture
def manager(gate):
    job_manager = JobManager(max_concurrent=2)
    yield job_manager
    gate.set()
    job_manager.shutdown(wait=True, timeout=5)


def test_a_visitor_past_the_cap_is_refused_however_many_tabs_submit(manager, gate):
    caps = JobCaps(max_per_owner=3)
    for number in range(3):
        manager.submit(f"job {number}", gated_job(gate, number), owner="alice", caps=caps)
    with pytest.raises(JobLimitError, match="You already have 3 jobs running or waiting"):
        manager.submit("one too many", gated_job(gate, 3), owner="alice", caps=caps)
    # Another visitor is not affected, and a stopped job frees a place.
    manager.submit("bob's", gated_job(gate, 9), owner="bob", caps=caps)
    manager.jobs(owner="alice")[0].stop()
    manager.submit("now it fits", gated_job(gate, 4), owner="alice", caps=caps)
    assert len(manager.active_jobs(owner="alice")) == 3


def test_tabs_submitting_at_the_same_moment_cannot_pass_the_cap_together(manager, gate):
    caps = JobCaps(max_per_owner=6)
    refused = []
    start = threading.Barrier(12)

    def submit(number):
        start.wait()
        try:
            manager.submit(f"tab job {number}", gated_job(gate, number), owner="alice", caps=caps)
        except JobLimitError:
            refused.append(number)

    threads = [threading.Thread(target=submit, args=(number,)) for number in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert len(manager.active_jobs(owner="alice")) == 6
    assert len(refused) == 6


def test_one_address_is_capped_across_visitors_and_no_address_is_not(manager, gate):
    caps = JobCaps(max_per_owner=2, max_per_address=3)
    for visitor in ("a", "b", "c"):
        manager.submit(f"{visitor}'s", gated_job(gate, visitor), owner=visitor,
                       address="203.0.113.7", caps=caps)  # fmt: skip
    with pytest.raises(JobLimitError, match="network address already has 3 jobs"):
        manager.submit("cleared cookies", gated_job(gate, "d"), owner="d",
                       address="203.0.113.7", caps=caps)  # fmt: skip
    manager.submit("elsewhere", gated_job(gate, "e"), owner="e", address="198.51.100.1", caps=caps)
    manager.submit("localhost", gated_job(gate, "f"), owner="f", address=None, caps=caps)


def test_a_full_queue_refuses_with_its_length(manager, gate):
    caps = JobCaps(max_queue=2)
    for number in range(4):  # two run, two wait
        manager.submit(f"job {number}", gated_job(gate, number), owner=f"v{number}", caps=caps)
    assert manager.queued_count == 2
    with pytest.raises(JobLimitError, match="The queue is full: 2 jobs .* waiting for 2 training"):
        manager.submit("fifth", gated_job(gate, 5), owner="v5", caps=caps)
    assert isinstance(JobLimitError("x"), ValueError)


def test_without_caps_nothing_is_refused(manager, gate):
    for number in range(10):
        manager.submit(f"job {number}", gated_job(gate, number), owner="alice")
    assert len(manager.active_jobs(owner="alice")) == 10


def test_transfer_owner_hands_jobs_to_the_new_owner(manager, gate):
    manager.submit("mine", gated_job(gate, 1), owner="tab-id")
    manager.submit("theirs", gated_job(gate, 2), owner="someone")
    assert manager.transfer_owner("tab-id", "browser-id") == 1
    assert [job.name for job in manager.jobs(owner="browser-id")] == ["mine"]
    assert manager.jobs(owner="tab-id") == []


def test_app_processes_on_one_ray_cluster_split_its_cpus():
    from core.jobs import ray_slots

    # One process: the cluster's CPUs, at least the app's own setting.
    assert ray_slots(cpus=2, app_slots=2, app_processes=1) == 2
    assert ray_slots(cpus=16, app_slots=2, app_processes=1) == 16
    assert ray_slots(cpus=1, app_slots=2, app_processes=1) == 2
    # Several: their shares add up to the CPUs (on a 2-core machine two processes ran four
    # jobs on two CPUs, two of them waiting in Ray while their tabs polled), at least one.
    assert ray_slots(cpus=2, app_slots=2, app_processes=2) == 1
    assert ray_slots(cpus=16, app_slots=2, app_processes=3) == 5
    assert ray_slots(cpus=2, app_slots=2, app_processes=4) == 1
