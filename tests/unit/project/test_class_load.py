"""The class load generator against a real app process: a few learners, each with its own run."""

from __future__ import annotations

import pytest

from core.nn.config import TrainingConfig
from core.runs.store import RunStore
from testkit.class_load import MAX_LEARNERS, ClassScript, check_loopback, run_class
from testkit.harness import start_streamlit, stop_streamlit
from testkit.rerun_timing import (
    FINISHED_EARLY_FOR_RERUN,
    FINISHED_FRAGMENT_RUN_SUCCESSFULLY,
    RerunTimer,
)

# A training of a second or two: the class script's steps are what is tested here.
TINY = TrainingConfig(hidden_layers=(32,), epochs=1, train_size=2000, validation_fraction=0.1)


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory):
    """One app process in the demo profile; yields (base URL, its run store's folder)."""
    folder = tmp_path_factory.mktemp("class-load")
    process, base_url, _ = start_streamlit(folder, {"MNIST_STUDIO_DEMO_MODE": "1"})
    yield base_url, folder / "runs"
    stop_streamlit(process)


def test_each_learner_trains_its_own_run_sees_its_result_and_draws(demo_server):
    base_url, runs_dir = demo_server
    script = ClassScript(TINY, digits=2, think_seconds=0.2)

    result = run_class([base_url], learners=2, script=script, duration=300, arrival_seconds=1)

    assert not result.stopped_at_deadline
    visitors = [learner.visitor_id for learner in result.learners]
    assert len(set(visitors)) == 2 and None not in visitors
    store = RunStore(runs_dir)
    for learner in result.learners:
        assert (learner.failure, learner.errors) == (None, [])
        assert learner.finished and learner.result_shown
        assert learner.train_to_result is not None
        assert learner.predictions == 2
        assert len(learner.page_seconds) == 5  # Home, Explore, Train, Evaluate, Draw
        assert learner.watch_seconds, "the Train page's timers reran it"
        runs = store.list_runs(owner=learner.visitor_id)
        assert len(runs) == 1
    summary = result.summary()
    assert summary["results_shown"] == 2
    assert summary["rerun_median"] is not None


def test_the_class_stops_by_itself_at_its_deadline(demo_server):
    base_url, _ = demo_server
    # Twenty epochs of all the images cannot end in two seconds.
    script = ClassScript(TrainingConfig(hidden_layers=(32,), epochs=20), think_seconds=0.2)

    result = run_class([base_url], learners=1, script=script, duration=2, arrival_seconds=0)

    assert result.stopped_at_deadline
    assert result.learners[0].failure == "stopped at the deadline"
    assert not result.learners[0].result_shown


@pytest.mark.parametrize(
    ("base_urls", "learners", "duration", "message"),
    [
        (["http://10.1.2.3:8501"], 1, 10, "loopback"),
        (["http://[2001:db8::1]:8501"], 1, 10, "loopback"),
        (["ftp://127.0.0.1:8501"], 1, 10, "http://"),
        (["http://127.0.0.1:8501"], MAX_LEARNERS + 1, 10, f"1 to {MAX_LEARNERS} learners"),
        (["http://127.0.0.1:8501"], 0, 10, "learners"),
        (["http://127.0.0.1:8501"], 1, 10_000, "at most"),
        ([], 1, 10, "at least one server"),
    ],
)
def test_a_class_out_of_bounds_is_refused_before_anything_is_sent(
    base_urls, learners, duration, message
):
    with pytest.raises(ValueError, match=message):
        run_class(base_urls, learners, ClassScript(TINY), duration)


def test_loopback_names_and_addresses_are_accepted():
    for base_url in ("http://127.0.0.1:8501", "http://127.3.4.5", "http://[::1]:8501"):
        check_loopback(base_url)
    check_loopback("http://localhost:8501")


def test_a_rerun_is_timed_to_the_first_run_after_it_that_covers_it():
    timer = RerunTimer()
    timer.sent(0.0, "page")
    timer.run_started(0.1, "run-1", [])
    # Two timers' requests arrive while the full run is busy; one fragment run answers both.
    timer.sent(0.5, "watch", "fragment-a")
    timer.sent(0.6, "watch", "fragment-b")
    assert timer.run_finished(0.7, "run-1", FINISHED_EARLY_FOR_RERUN) == []
    timer.run_started(0.8, "run-2", [])
    timer.fragment_drawn("fragment-a")
    timer.fragment_drawn("fragment-b")
    assert [r.seconds for r in timer.run_finished(1.0, "run-2", 0)] == [1.0, 0.5, 0.4]
    timer.sent(2.0, "watch", "fragment-a")
    timer.sent(2.1, "watch", "fragment-b")
    timer.run_started(2.2, "run-3", ["fragment-a"])
    answered = timer.run_finished(2.5, "run-3", FINISHED_FRAGMENT_RUN_SUCCESSFULLY)
    assert [(r.fragment_id, round(r.seconds, 3)) for r in answered] == [("fragment-a", 0.5)]
    assert timer.unanswered == 1
    # Sent while the page's request waited: listed apart, as "behind" it.
    assert len(timer.seconds("watch", behind=True)) == 2
    assert timer.seconds("watch") == [0.5] and timer.seconds("page") == [1.0]
    # A page change removes fragment-b: its timer's last request is dropped by the server,
    # so the next full run (which draws only fragment-c) does not answer it.
    timer.sent(3.0, "page")
    timer.run_started(3.1, "run-4", [])
    timer.fragment_drawn("fragment-c")
    assert [r.kind for r in timer.run_finished(4.0, "run-4", 0)] == ["page"]
    assert (timer.dropped, timer.unanswered) == (1, 0)
