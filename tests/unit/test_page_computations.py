"""What the pages compute, in core: the run filter, the sweep's plan and table, the most
frequent mistake, an image's held-out position, crop boxes and a job's progress bar."""

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from core.data.crop import MIN_CROP_SHARE, box_shares, shown_size
from core.data.links import held_out_position
from core.inspection.confusion import most_confused_cell
from core.jobs.progress_text import progress_fraction
from core.jobs.sweep_plan import plan_sweep, sweep_seconds
from core.jobs.sweep_table import SWEEP_TABLE_COLUMNS, sweep_results
from core.jobs.sweeps import estimate_seconds, measured_flops_per_second
from core.nn.config import PRESETS, TrainingConfig
from core.runs.filters import filter_runs
from core.settings import Limits
from core.text import figure_text

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


def test_the_most_confused_cell_is_the_largest_mistake_never_the_diagonal():
    matrix = np.array([[50, 2, 1], [0, 40, 7], [9, 3, 60]])
    assert most_confused_cell(matrix) == (2, 0)
    assert matrix[2, 0] == 9  # the matrix itself is left as it was
    # Ties go to the first cell, and without any mistake it is (0, 1).
    assert most_confused_cell(np.array([[5, 3], [3, 5]])) == (0, 1)
    assert most_confused_cell(np.diag([4, 4, 4])) == (0, 1)


def test_a_linked_image_has_a_held_out_position_only_in_the_held_out_file_set():
    source_indices = np.array([12, 7, 30, 7])
    assert held_out_position("train", source_indices, "train", 30) == 2
    assert held_out_position("train", source_indices, "train", 7) == 1
    assert held_out_position("train", source_indices, "train", 8) is None
    assert held_out_position("train", source_indices, "test", 30) is None
    assert held_out_position("test", np.arange(10_000), "test", 9_999) == 9_999


def test_a_picture_is_shown_with_its_longer_side_at_the_display_side():
    assert shown_size(600, 800, 280) == (280, 210)
    assert shown_size(800, 600, 280) == (210, 280)
    assert shown_size(1, 5000, 280) == (280, 1)  # never thinner than a pixel


def test_a_crop_box_becomes_shares_of_the_shown_picture():
    box = {"left": 28, "top": 21, "width": 140, "height": 105, "scaleX": 1, "scaleY": 1}
    assert box_shares(box, 280, 210) == pytest.approx((0.1, 0.1, 0.6, 0.6))
    # A box resized in the canvas keeps its width and height and gets scale factors.
    resized = {"left": 0, "top": 0, "width": 100, "height": 50, "scaleX": 2, "scaleY": 3}
    assert box_shares(resized, 280, 210) == pytest.approx((0.0, 0.0, 150 / 210, 200 / 280))
    # A box past the edge is clipped; a click-sized box is no crop.
    assert box_shares({"left": 200, "top": -10, "width": 200, "height": 100}, 280, 210) == (
        pytest.approx((0.0, 200 / 280, 90 / 210, 1.0))
    )
    assert box_shares({"left": 10, "top": 10, "width": 280 * MIN_CROP_SHARE / 2, "height": 50},
                      280, 210) is None  # fmt: skip


def test_progress_fraction_is_clipped_to_zero_and_one():
    assert progress_fraction({}) == 0.0
    assert progress_fraction({"fraction": None}) == 0.0
    assert progress_fraction({"fraction": 0.25}) == 0.25
    assert progress_fraction({"fraction": 1.5}) == 1.0
    assert progress_fraction({"fraction": -0.1}) == 0.0


def test_figure_text_escapes_html_but_leaves_quotes():
    assert figure_text('<a href="x">run</a> & co') == '&lt;a href="x"&gt;run&lt;/a&gt; &amp; co'
    assert figure_text("one\ntwo", max_len=5) == "one …"


def _member(run_id, hidden_layers, accuracy, seconds=2.0, epochs=2):
    config = TrainingConfig(hidden_layers=hidden_layers, epochs=epochs, learning_rate=0.003)
    result = SimpleNamespace(config=config, test_accuracy=accuracy, train_seconds=seconds)
    return SimpleNamespace(result=SimpleNamespace(result=result, run_id=run_id))


def test_the_sweep_table_lists_finished_members_best_first():
    jobs = [
        _member("r1", (64,), 0.91),
        None,  # a job the manager forgot
        SimpleNamespace(result=None),  # still running
        _member("r2", (128, 128), 0.95, seconds=3.5),
        _member("r3", (), 0.88),
    ]
    reasons = {"r3": "Stopped early after 1 epoch"}
    table = sweep_results(jobs, {"r1": 4, "r2": 5}, reasons.get)
    assert list(table.columns) == SWEEP_TABLE_COLUMNS
    assert list(table["run"].fillna(-1)) == [5, 4, -1]
    assert list(table["neurons"]) == [128, 64, 0]
    assert list(table["layers"]) == [2, 1, 0]
    assert list(table["test_accuracy"]) == [0.95, 0.91, 0.88]
    assert list(table["train_seconds"]) == [3.5, 2.0, 2.0]
    assert list(table["stopped_early"]) == ["", "", "Stopped early after 1 epoch"]
    assert table.iloc[0]["config"].hidden_layers == (128, 128)
    assert sweep_results([None, SimpleNamespace(result=None)], {}, reasons.get).empty


def test_a_sweep_plan_combines_the_grid_and_checks_every_member_against_the_caps():
    base = PRESETS["Quick look"]
    configs = plan_sweep(base, ([64, 128], [1, 2], [2], [0.001]), Limits(), 60_000, 10)
    assert [config.hidden_layers for config in configs] == [(64,), (128,), (64, 64), (128, 128)]
    assert {config.epochs for config in configs} == {2}
    assert all(config.batch_size == base.batch_size for config in configs)
    with pytest.raises(ValueError, match="at least one value for epochs"):
        plan_sweep(base, ([64], [1], [], [0.001]), Limits(), 60_000, 10)
    with pytest.raises(ValueError):
        plan_sweep(base, ([64, 128], [1, 2], [2], [0.001]), Limits(max_sweep_size=3), 60_000, 10)


def test_a_sweep_takes_as_long_as_the_stored_network_runs_measured():
    configs = plan_sweep(PRESETS["Quick look"], ([64], [1], [2], [0.001]), Limits(), 60_000, 10)
    measured = PRESETS["Quick look"]
    runs = pd.DataFrame(
        {
            "id": ["net", "base", "gone"],
            "kind": ["network", "baseline", "network"],
            "train_seconds": [40.0, 1.0, 30.0],
            "epochs": [2, 0, 2],
        }
    )
    stored = {"net": SimpleNamespace(config=measured.to_dict())}
    store = SimpleNamespace(find_run=stored.get)
    expected_speed = measured_flops_per_second(
        [{"config": measured.to_dict(), "kind": "network", "train_seconds": 40.0, "epochs": 2}]
    )
    assert sweep_seconds(configs, runs, store) == estimate_seconds(configs, expected_speed)
    assert sweep_seconds(configs, runs.iloc[1:2], store) == estimate_seconds(
        configs, measured_flops_per_second([])
    )
