"""A visitor's training that another app process runs shows on Train and in the sidebar, with a
Stop that reaches that process (on SQLite and on PostgreSQL)."""

import threading

import pytest

import ui
from core.jobs import JobManager
from core.jobs.board import JobBoard
from core.runs.heartbeats import ProcessHeartbeat
from testkit.harness import app_test

PAGE = "app_pages/train.py"


@pytest.fixture
def other_process(store_on):
    """A second app process on the run store's database: its own heartbeat and job manager."""
    heartbeat = ProcessHeartbeat(ui.run_store().database, beat_seconds=0.2)
    manager = JobManager(board=JobBoard(ui.run_store().database, heartbeat))
    yield manager
    manager.shutdown(wait=True, timeout=10)
    heartbeat.stop()


def half_trained(reported: threading.Event):
    """A training job halfway through epoch 2 of 2, until it is stopped."""

    def run(report, stop_event):
        report(epochs=2, batches=10, fraction=0.75, loss=0.4321, elapsed=30.0, eta=10.0)
        reported.set()
        stop_event.wait(30)
        return "stopped"

    return run


def test_a_training_in_another_process_shows_with_its_progress_and_stops_from_here(other_process):
    app = app_test(PAGE).run()
    visitor = app.session_state[ui.KEY_SESSION_ID]
    reported = threading.Event()
    job = other_process.submit("784-32-10 relu", half_trained(reported), owner=visitor)
    assert reported.wait(10)

    app.run()
    assert not app.exception
    captions = [caption.value for caption in app.caption] + [
        caption.value for caption in app.sidebar.caption
    ]
    assert any("another server process" in caption for caption in captions)
    assert any("784-32-10 relu" in text.value for text in app.markdown)
    assert [bar.value for bar in app.get("progress")][:1] == [75]
    assert app.button(key="train_start").disabled  # One training at a time, wherever it runs.
    assert "0.432" in [metric.value for metric in app.metric]

    app.button(key="train_stop").click().run()
    assert not app.exception
    assert other_process.wait(job.id, timeout=10).state == "stopped"
    app.run()
    assert not app.button(key="train_start").disabled
    assert any("stopped" in element.value for element in app.info)
