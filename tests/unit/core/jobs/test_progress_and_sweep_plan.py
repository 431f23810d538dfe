"""A job's progress bar, and a sweep's plan, time and result table (core.jobs)."""

from types import SimpleNamespace

import pandas as pd
import pytest

from core.data import MNIST_TRAIN_IMAGES
from core.jobs.progress_text import progress_fraction
from core.jobs.sweep_plan import plan_sweep, sweep_seconds
from core.jobs.sweep_table import SWEEP_TABLE_COLUMNS, sweep_results
from core.jobs.sweeps import estimate_seconds, measured_flops_per_second
from core.nn import PRESETS, TrainingConfig
from core.settings import Limits


def test_progress_fraction_is_clipped_to_zero_and_one():
    assert progress_fraction({}) == 0.0
    assert progress_fraction({"fraction": None}) == 0.0
    assert progress_fraction({"fraction": 0.25}) == 0.25
    assert progress_fraction({"fraction": 1.5}) == 1.0
    assert progress_fraction({"fraction": -0.1}) == 0.0


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
    assert sweep_seconds(configs, runs, store, 60_000) == estimate_seconds(configs, expected_speed)
    assert sweep_seconds(configs, runs.iloc[1:2], store, 60_000) == estimate_seconds(
        configs, measured_flops_per_second([])
    )


def test_a_sweep_estimate_counts_the_training_images_of_the_dataset_it_trains_on():
    configs = [TrainingConfig(hidden_layers=(64,), epochs=2)]
    no_runs = pd.DataFrame({"id": [], "kind": [], "train_seconds": [], "epochs": []})
    store = SimpleNamespace(find_run=lambda run_id: None)
    mnist = sweep_seconds(configs, no_runs, store, MNIST_TRAIN_IMAGES)
    small = sweep_seconds(configs, no_runs, store, 6_000)
    assert mnist == estimate_seconds(configs)
    assert small == estimate_seconds(configs, dataset_train_size=6_000)
    assert small < mnist
