"""Sweeps: the grid's configurations, its size limit, its time estimate, and a real run."""

import pandas as pd
import pytest

from core.config import TrainingConfig
from core.jobs import JobManager
from core.model import training_flops_per_sample
from core.runs import RunStore
from core.sweeps import (
    DEFAULT_FLOPS_PER_SECOND,
    SweepGrid,
    SweepTooLargeError,
    estimate_seconds,
    measured_flops_per_second,
    sweep_configs,
    training_samples,
)
from core.tasks import make_training_job

BASE = TrainingConfig(hidden_layers=(128,), epochs=1, train_size=500, validation_fraction=0.1)


def test_grid_combines_every_value_with_the_base_settings():
    grid = SweepGrid(neurons=(32, 64), layers=(1, 2), epochs=(1,), learning_rates=(0.01,))
    configs = sweep_configs(BASE, grid)
    assert [config.hidden_layers for config in configs] == [(32,), (64,), (32, 32), (64, 64)]
    assert {config.learning_rate for config in configs} == {0.01}
    assert all(
        config.train_size == 500 and config.batch_size == BASE.batch_size for config in configs
    )


def test_zero_layers_collapse_into_one_configuration():
    grid = SweepGrid(neurons=(32, 64, 128), layers=(0, 1), epochs=(1,), learning_rates=(0.001,))
    assert grid.size == 4
    assert sweep_configs(BASE, grid)[0].hidden_layers == ()


def test_oversized_grid_is_refused_with_its_size():
    grid = SweepGrid(neurons=(16, 32, 64, 128, 256), layers=(1, 2, 3), epochs=(1, 2),
                     learning_rates=(0.001,))  # fmt: skip
    with pytest.raises(SweepTooLargeError, match="30 configurations; the limit is 24"):
        sweep_configs(BASE, grid, max_size=24)


def test_empty_choice_is_refused():
    with pytest.raises(ValueError, match="at least one value for learning rates"):
        SweepGrid(neurons=(32,), layers=(1,), epochs=(1,), learning_rates=())


def test_estimate_grows_with_epochs_and_neurons():
    small = estimate_seconds([TrainingConfig(hidden_layers=(32,), epochs=1)])
    more_epochs = estimate_seconds([TrainingConfig(hidden_layers=(32,), epochs=4)])
    wider = estimate_seconds([TrainingConfig(hidden_layers=(1024,), epochs=1)])
    assert small < more_epochs and small < wider


def test_training_samples_follow_split_fraction_and_subset():
    assert training_samples(TrainingConfig(validation_fraction=0.1)) == 54_000
    assert training_samples(TrainingConfig(split="article", validation_fraction=0.0)) == 45_000
    assert training_samples(TrainingConfig(train_size=2_000)) == 2_000


def test_two_by_two_sweep_creates_four_runs_with_their_configurations(tmp_path, mnist):
    store = RunStore(tmp_path)
    grid = SweepGrid(neurons=(16, 32), layers=(1,), epochs=(1,), learning_rates=(0.01, 0.001))
    configs = sweep_configs(BASE, grid)
    manager = JobManager(max_concurrent=2)
    jobs = [
        manager.submit(c.summary(), make_training_job(c, mnist, store), kind="sweep")
        for c in configs
    ]
    for job in jobs:
        manager.wait(job.id, timeout=300)
    assert [job.state for job in jobs] == ["finished"] * 4
    runs = store.list_runs()
    assert len(runs) == 4
    stored = {(tuple(store.get_run(run_id).config["hidden_layers"]),
               store.get_run(run_id).config["learning_rate"]) for run_id in runs["id"]}  # fmt: skip
    assert stored == {((16,), 0.01), ((16,), 0.001), ((32,), 0.01), ((32,), 0.001)}
    assert runs["test_accuracy"].between(0, 1).all() and (runs["status"] == "finished").all()
    manager.shutdown()


def test_throughput_is_measured_from_runs_and_skips_ones_without_figures():
    config = TrainingConfig(hidden_layers=(128,), epochs=2).to_dict()
    flops = training_flops_per_sample(TrainingConfig(hidden_layers=(128,), epochs=2))
    seconds = 2.0 + flops * 54_000 * 2 / 10e9  # a run at exactly 10 GFLOP/s
    runs = [
        {"config": config, "train_seconds": seconds, "epochs": 2},
        {"config": config, "train_seconds": float("nan"), "epochs": pd.NA},  # interrupted
        {"config": config, "train_seconds": None, "epochs": None},
        {"config": {"epochs": "junk"}, "train_seconds": 50.0, "epochs": 3},
    ]
    assert measured_flops_per_second(runs) == pytest.approx(10e9)
    assert measured_flops_per_second(runs[1:]) == DEFAULT_FLOPS_PER_SECOND
