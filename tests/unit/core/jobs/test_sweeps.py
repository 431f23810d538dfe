"""Sweeps: the grid's configurations, its size limit, its time estimate, and a real run."""

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from core.jobs.manager import JobManager
from core.jobs.sweeps import (
    EarlyStop,
    SuccessiveHalving,
    SweepGrid,
    SweepTooLargeError,
    estimate_seconds,
    measured_flops_per_second,
    sweep_configs,
    sweep_jobs,
)
from core.jobs.tasks import make_training_job
from core.nn import ASSUMED_FLOPS_PER_SECOND, TrainingConfig, throughput, training_images
from core.nn.architecture import training_flops_per_sample
from core.runs import RunStore

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
    assert training_images(TrainingConfig(validation_fraction=0.1)) == 54_000
    assert training_images(TrainingConfig(split="article", validation_fraction=0.0)) == 45_000
    assert training_images(TrainingConfig(train_size=2_000)) == 2_000


def test_two_by_two_sweep_creates_four_runs_with_their_configurations(tmp_path, mnist):
    store = RunStore(tmp_path)
    grid = SweepGrid(neurons=(16, 32), layers=(1,), epochs=(1,), learning_rates=(0.01, 0.001))
    configs = sweep_configs(BASE, grid)
    manager = JobManager(max_concurrent=2)
    jobs = [
        manager.submit(c.summary(10), make_training_job(c, mnist, store), kind="sweep")
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
    # Arithmetic at exactly 10 GFLOP/s, plus each step's fixed cost.
    steps = 2 * 54_000 / 128
    seconds = 2.0 + steps * throughput.STEP_OVERHEAD_SECONDS + flops * 54_000 * 2 / 10e9
    runs = [
        {"config": config, "train_seconds": seconds, "epochs": 2},
        {"config": config, "train_seconds": float("nan"), "epochs": pd.NA},  # interrupted
        {"config": config, "train_seconds": None, "epochs": None},
        {"config": {"epochs": "junk"}, "train_seconds": 50.0, "epochs": 3},
    ]
    assert measured_flops_per_second(runs) == pytest.approx(10e9)
    assert measured_flops_per_second(runs[1:]) == ASSUMED_FLOPS_PER_SECOND


# --- Early stopping (successive halving) --------------------------------------------------


def test_rungs_follow_ray_tunes_asha_spacing():
    assert SuccessiveHalving(max_epochs=2).rungs == (1,)
    assert SuccessiveHalving(max_epochs=3).rungs == (3, 1)
    assert SuccessiveHalving(max_epochs=20).rungs == (9, 3, 1)
    assert SuccessiveHalving(max_epochs=20, reduction_factor=2).rungs == (16, 8, 4, 2, 1)


def test_a_member_below_the_best_third_of_those_before_it_stops_with_the_reason():
    rule = SuccessiveHalving(max_epochs=10)
    assert rule.report("first", epoch=1, value=0.90) is None  # nobody to compare with
    stop = rule.report("hopeless", epoch=1, value=0.11)
    assert stop == EarlyStop(1, "val_accuracy", 0.11, 0.90, 3.0)
    assert stop.reason == (
        "Stopped early after 1 epoch: validation accuracy 11.0% was below the best 1/3 at "
        "that point (90.0%)."
    )
    # The cut-off is the 2/3 quantile of the figures recorded so far: 0.11 + 2/3 * 0.79.
    assert rule.cutoff(1) == pytest.approx(0.11 + 2 / 3 * (0.90 - 0.11))
    assert rule.report("good", epoch=1, value=0.70) is None
    assert rule.report("middling", epoch=1, value=0.65).cutoff == pytest.approx(0.7 + 0.2 / 3)
    # A member judged at a rung is judged again only at the next one (3 epochs).
    assert rule.report("good", epoch=2, value=0.10) is None
    assert rule.report("first", epoch=3, value=0.95) is None
    assert rule.report("good", epoch=3, value=0.80).reason.startswith(
        "Stopped early after 3 epochs: validation accuracy 80.0% was below"
    )
    assert rule.report("later", epoch=1, value=None) is None


def test_a_members_last_epoch_is_recorded_but_never_stops_it():
    rule = SuccessiveHalving(max_epochs=3, metric="accuracy")
    short = rule.watcher("short", epochs=1)
    assert rule.watcher("first", epochs=3)({"epoch": 1, "accuracy": 0.9}) is None
    assert short({"epoch": 1, "accuracy": 0.2}) is None  # done anyway
    assert rule.cutoff(1) == pytest.approx(0.2 + 2 / 3 * 0.7)  # but it counts for others
    reason = rule.watcher("third", epochs=3)({"epoch": 1, "accuracy": 0.3, "val_accuracy": None})
    assert reason.startswith("Stopped early after 1 epoch: training accuracy 30.0% was below")


def test_the_rule_decides_as_ray_tunes_asha_scheduler():
    """The same stream of epoch results, in a random asynchronous order, gets the same calls."""
    pytest.importorskip("ray.tune", reason="requirements-ray.txt is not installed")
    from ray.tune.schedulers import ASHAScheduler, TrialScheduler

    random = np.random.default_rng(16)
    max_epochs = 12
    scheduler = ASHAScheduler(metric="val_accuracy", mode="max", max_t=max_epochs,
                              grace_period=1, reduction_factor=3)  # fmt: skip
    rule = SuccessiveHalving(max_epochs=max_epochs)
    members = [SimpleNamespace(trial_id=f"m{index}") for index in range(14)]
    for member in members:
        scheduler.on_trial_add(None, member)
    epoch = dict.fromkeys(range(len(members)), 0)
    strength = random.uniform(0.1, 0.95, len(members))
    decisions = 0
    while epoch:
        index = int(random.choice(list(epoch)))
        epoch[index] += 1
        value = float(np.clip(strength[index] + random.normal(0, 0.05), 0, 1))
        ray_stops = (
            scheduler.on_trial_result(
                None, members[index], {"training_iteration": epoch[index], "val_accuracy": value}
            )
            == TrialScheduler.STOP
        )
        our_stop = rule.report(members[index].trial_id, epoch[index], value)
        assert ray_stops == (our_stop is not None), (index, epoch[index], value)
        decisions += our_stop is not None
        if our_stop is not None or epoch[index] == max_epochs - 1:
            del epoch[index]
    assert decisions >= 5


def test_with_early_stopping_members_start_in_a_shuffled_order(tmp_path, mnist):
    """Grid order puts the lowest learning rates first; judged first, they would go on."""
    grid = SweepGrid(neurons=(32,), layers=(1,), epochs=(2,),
                     learning_rates=(1e-5, 1e-4, 1e-3, 1e-2, 1e-1))  # fmt: skip
    configs = sweep_configs(BASE, grid)
    store = RunStore(tmp_path)
    in_order = [name for name, _ in sweep_jobs(configs, mnist, store)]
    assert in_order == [f"Sweep: {config.summary(mnist.num_classes)}" for config in configs]
    shuffled = [name for name, _ in sweep_jobs(configs, mnist, store, early_stopping=True)]
    assert shuffled != in_order and sorted(shuffled) == sorted(in_order)
    again = [name for name, _ in sweep_jobs(configs, mnist, store, early_stopping=True)]
    assert again == shuffled  # the same sweep starts in the same order


def test_a_three_class_sweep_names_its_members_with_three_outputs(tmp_path):
    three_classes = SimpleNamespace(num_classes=3)
    configs = sweep_configs(BASE, SweepGrid(neurons=(16,), layers=(1,), epochs=(1,),
                                            learning_rates=(0.01,)))  # fmt: skip
    names = [name for name, _ in sweep_jobs(configs, three_classes, RunStore(tmp_path))]
    assert names == ["Sweep: 784-16-3 relu, adam 0.01, 1 ep, 500 images"]
