"""The Compare page's run filter (core.runs.filters)."""

import pandas as pd

from core.runs.filters import filter_runs

RUNS = pd.DataFrame(
    {
        "id": ["a", "b", "c", "d"],
        "name": ["Quick look", "Best dense", "ridge", "My CNN"],
        "summary": ["784-128-10 relu", "784-512-512-10 relu", "ridge C=1", "cnn 32,64"],
        "kind": ["network", "network", "baseline", "network"],
        "status": ["finished", "stopped", "finished", "finished"],
        "tested_on": ["test file", "test file", "test file", "held-out training images"],
    }
)


def test_the_run_filter_matches_name_or_configuration_and_every_chosen_list():
    assert list(filter_runs(RUNS)["id"]) == ["a", "b", "c", "d"]
    assert list(filter_runs(RUNS, text="RELU")["id"]) == ["a", "b"]
    assert list(filter_runs(RUNS, text="cnn")["id"]) == ["d"]  # by name and by summary
    assert list(filter_runs(RUNS, text="C=1")["id"]) == ["c"]  # a literal, not a pattern
    assert list(filter_runs(RUNS, kinds=["network"], statuses=["finished"])["id"]) == ["a", "d"]
    assert list(filter_runs(RUNS, tested_on=["test file"], text="e")["id"]) == ["a", "b", "c"]
    assert filter_runs(RUNS, kinds=["network"], text="ridge").empty
