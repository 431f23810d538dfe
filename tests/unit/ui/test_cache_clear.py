"""A client's cache clear (Streamlit's `BackMsg(clear_cache)`) cannot reset caps or jobs.

Streamlit clears `st.cache_resource` for every visitor when any client asks; what enforces
limits or owns running work (the job manager, the Train page's start lock, the stores) is a
process singleton instead (`core.singletons`), and the demo ignores such requests.
"""

import threading
import types

import pytest
import streamlit as st
from streamlit.runtime.app_session import AppSession

import ui
from core.jobs.caps import JobCaps, JobLimitError
from core.singletons import process_singleton
from testkit.jobs import gated_job


def clear_like_a_client() -> None:
    """What `AppSession._handle_clear_cache_request` does for any client that asks."""
    session = types.SimpleNamespace(_session_state=types.SimpleNamespace(clear=lambda: None))
    AppSession._handle_clear_cache_request(session)


def test_submit_clear_submit_again_is_refused_and_the_victim_can_still_stop():
    manager = ui.job_manager()
    lock, store = ui.training_start_lock(), ui.run_store()
    gate = threading.Event()
    caps = JobCaps(max_per_owner=1, max_per_address=1, max_queue=1)
    victim = manager.submit(
        "Victim", gated_job(gate, "done"), owner="visitor-a", address="203.0.113.7", caps=caps
    )
    try:
        clear_like_a_client()
        assert ui.job_manager() is manager
        assert ui.training_start_lock() is lock
        assert ui.run_store() is store
        with pytest.raises(JobLimitError, match="You already have 1 job"):
            ui.job_manager().submit("Again", gated_job(gate, 2), owner="visitor-a", caps=caps)
        with pytest.raises(JobLimitError, match="Your network address already has 1 job"):
            ui.job_manager().submit(
                "Other cookie", gated_job(gate, 3), owner="visitor-b", address="203.0.113.7",
                caps=caps,
            )  # fmt: skip
        # The victim still finds their job and its Stop handle.
        assert [job.id for job in ui.job_manager().active_jobs(owner="visitor-a")] == [victim.id]
        ui.job_manager().get(victim.id).stop()
        assert ui.job_manager().wait(victim.id, timeout=10).state == "stopped"
    finally:
        gate.set()


def test_the_demo_ignores_a_client_cache_clear_and_local_use_honours_it(monkeypatch):
    # Restore Streamlit's own handler after the test.
    monkeypatch.setattr(
        AppSession, "_handle_clear_cache_request", AppSession._handle_clear_cache_request
    )
    ui.ignore_client_cache_clears_in_the_demo()
    ui.ignore_client_cache_clears_in_the_demo()  # idempotent: wrapped once
    calls = []

    @st.cache_resource
    def loaded():
        calls.append(1)
        return len(calls)

    monkeypatch.setenv("MNIST_STUDIO_DEMO_MODE", "1")
    assert loaded() == 1
    clear_like_a_client()
    assert loaded() == 1
    monkeypatch.setenv("MNIST_STUDIO_DEMO_MODE", "0")
    clear_like_a_client()
    assert loaded() == 2


def test_a_process_singleton_is_made_once_even_by_threads_racing():
    made = []
    barrier = threading.Barrier(8)

    def factory():
        made.append(object())
        return made[-1]

    results = []

    def ask():
        barrier.wait()
        results.append(process_singleton(("test", "race"), factory))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(made) == 1
    assert all(result is made[0] for result in results)
