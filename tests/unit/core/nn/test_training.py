"""Tests of core.nn.training: a short real training, progress events, Stop, seeding."""

import pickle
import threading
from dataclasses import replace

import numpy as np
import pytest

from core.data.datasets import load_default_dataset
from core.nn.config import TrainingConfig
from core.nn.training import (
    MAX_STEPS_PER_EXECUTION,
    PROGRESS_KEYS,
    choose_steps_per_execution,
    train_model,
)
from core.runs.comparison import comparison_note


@pytest.fixture(scope="module")
def dataset():
    return load_default_dataset()


def test_short_training_on_2000_images_learns(dataset):
    config = TrainingConfig(hidden_layers=(128,), train_size=2_000, epochs=4, seed=1)
    events = []
    result = train_model(config, dataset, on_progress=events.append)

    assert result.test_accuracy > 0.80
    assert not result.stopped
    assert (result.num_train, result.num_val, result.num_test) == (2_000, 6_000, 10_000)
    assert len(result.history["loss"]) == 4
    assert len(result.history["val_accuracy"]) == 4
    assert result.history["loss"][-1] < result.history["loss"][0]
    assert result.confusion_matrix.shape == (10, 10)
    assert result.confusion_matrix.sum() == 10_000
    # The confusion matrix's diagonal is the accuracy.
    assert np.trace(result.confusion_matrix) / 10_000 == pytest.approx(result.test_accuracy)
    assert result.parameters == 101_770
    assert result.epochs_trained == 4.0

    kinds = [event["kind"] for event in events]
    assert kinds[0] == "start"
    assert kinds.count("epoch") == 4
    assert kinds[-2:] == ["evaluating", "done"]
    for event in events:
        assert set(PROGRESS_KEYS) <= set(event)
    fractions = [event["fraction"] for event in events]
    assert fractions == sorted(fractions)
    assert fractions[-1] == 1.0
    epoch_events = [event for event in events if event["kind"] == "epoch"]
    assert [event["epoch"] for event in epoch_events] == [1, 2, 3, 4]
    assert epoch_events[-1]["val_accuracy"] == pytest.approx(result.history["val_accuracy"][-1])
    assert epoch_events[-1]["samples_per_second"] > 0
    assert events[-1]["test_accuracy"] == result.test_accuracy


def test_adam_betas_reach_the_optimizer_and_change_the_training(dataset):
    # The Convolutional preset's optimizer settings on 2,000 images: Adam with betas 0.7/0.9
    # takes other steps than with Keras's 0.9/0.999, and both still learn.
    base = TrainingConfig(
        hidden_layers=(64,),
        learning_rate=0.01,
        schedule="one_cycle",
        train_size=2_000,
        epochs=1,
        batch_size=64,
        seed=2,
    )
    default = train_model(base, dataset)
    short = train_model(replace(base, adam_beta_1=0.7, adam_beta_2=0.9), dataset)
    assert short.history["loss"][0] != default.history["loss"][0]
    assert short.config.adam_beta_1 == 0.7
    assert short.test_accuracy > 0.8 and default.test_accuracy > 0.8


def test_stop_ends_early_and_keeps_a_usable_model(dataset):
    config = TrainingConfig(
        hidden_layers=(128,), train_size=20_000, batch_size=32, epochs=50, validation_fraction=0
    )
    stop_event = threading.Event()
    events = []

    def on_progress(event):
        events.append(event)
        # Stop lands where it is asked for: after some 2,000 images, so the model has learnt.
        if event["kind"] == "batch" and event["batch"] >= 60:
            stop_event.set()

    result = train_model(config, dataset, on_progress=on_progress, stop_event=stop_event)

    assert result.stopped
    # Stopped inside the first epoch: no finished epoch, a fraction of one trained.
    assert 0 < result.epochs_trained < 1
    assert result.history["loss"] == []
    assert max(event["fraction"] for event in events) < 0.02
    # The partly trained model is kept and works.
    assert result.test_accuracy > 0.6
    probabilities = result.model.predict(dataset.test_images[:5], verbose=0)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_stop_before_start_returns_the_untrained_model(dataset):
    stop_event = threading.Event()
    stop_event.set()
    config = TrainingConfig(train_size=500, epochs=3)
    result = train_model(config, dataset, stop_event=stop_event)
    assert result.stopped
    assert result.epochs_trained == 0
    assert result.test_accuracy < 0.5


def test_same_config_and_seed_give_the_same_result(dataset):
    config = TrainingConfig(hidden_layers=(32,), train_size=1_000, epochs=2, dropout=0.2, seed=5)
    first = train_model(config, dataset)
    second = train_model(config, dataset)
    assert first.history == second.history
    assert first.test_accuracy == second.test_accuracy
    np.testing.assert_array_equal(first.confusion_matrix, second.confusion_matrix)
    other = train_model(TrainingConfig(**{**config.to_dict(), "seed": 6}), dataset)
    assert other.history["loss"] != first.history["loss"]


def test_the_same_seed_gives_the_same_run_when_trainings_run_at_once(dataset):
    """A class trains the same preset at the same moment: everyone gets the same numbers."""
    import threading

    configs = [
        TrainingConfig(hidden_layers=(32,), train_size=1_000, epochs=2, dropout=0.2, seed=seed)
        for seed in (5, 5, 7)
    ]
    alone = {config.seed: train_model(config, dataset).history for config in configs}

    def train(index: int, histories: list) -> None:
        histories[index] = train_model(configs[index], dataset).history

    for _ in range(2):
        histories = [None] * len(configs)
        threads = [
            threading.Thread(target=train, args=(index, histories)) for index in range(len(configs))
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert histories == [alone[config.seed] for config in configs]


def test_too_large_training_size_is_a_value_error(dataset):
    config = TrainingConfig(train_size=60_000, validation_fraction=0.1)
    with pytest.raises(ValueError, match="training size"):
        train_model(config, dataset)


def test_steps_per_execution_stays_in_bounds():
    small = TrainingConfig(hidden_layers=(16,), batch_size=32)
    huge = TrainingConfig(hidden_layers=(2048,) * 8, batch_size=60_000)
    assert choose_steps_per_execution(small, 60_000) == MAX_STEPS_PER_EXECUTION
    assert choose_steps_per_execution(small, 100) == 4  # never more than the batches
    assert choose_steps_per_execution(huge, 60_000) == 1


def test_comparison_note_names_changes_accuracy_and_speed():
    before = TrainingConfig(hidden_layers=(128,))
    after = TrainingConfig(hidden_layers=(256,))
    note = comparison_note(before, 0.975, 10.0, after, 0.979, 18.0)
    assert note == "more neurons, +0.4 points, 1.8x slower"
    note = comparison_note(
        after, 0.98, 9.0, TrainingConfig(hidden_layers=(256,), seed=2), 0.97, 4.5
    )
    assert note == "another seed, -1.0 points, 2.0x faster"
    # Optimizers by their label, not their raw id ("plain_sgd").
    plain = TrainingConfig(hidden_layers=(256,), optimizer="plain_sgd", learning_rate=0.001)
    assert comparison_note(after, 0.98, 9.0, plain, 0.9, 9.0).startswith("plain sgd optimizer, ")
    assert comparison_note(after, 0.98, 9.0, after, 0.98, 9.1) == (
        "same settings, +0.0 points, about as fast"
    )
    short = TrainingConfig(hidden_layers=(256,), adam_beta_1=0.7, adam_beta_2=0.9)
    assert comparison_note(after, 0.98, 9.0, short, 0.981, 9.0).startswith(
        "Adam betas 0.7/0.9, +0.1 points"
    )


def test_live_curve_stays_bounded_and_spans_the_whole_run_evenly():
    from core.jobs.tasks import LiveCurve

    curve = LiveCurve(limit=100)
    for step in range(10_000):
        curve.add({"epochs_trained": step / 100, "loss": 1.0, "accuracy": 0.5, "batch": step})
        points = curve.points()
        assert len(points) <= 100
        # The newest point is always shown, and the curve still starts at the first one.
        assert points[-1]["epochs_trained"] == step / 100
        assert points[0]["epochs_trained"] == 0.0
    epochs = np.array([point["epochs_trained"] for point in curve.points()])
    assert len(epochs) >= 50
    gaps = np.diff(epochs)
    assert (gaps > 0).all()
    # Evenly spaced: no stretch of the run is sparser than the rest (the last gap may be short).
    assert gaps[:-1].max() == pytest.approx(gaps[:-1].min())
    assert gaps.max() <= 2 * epochs[-1] / (len(epochs) - 1)


def test_training_job_reports_a_thinned_live_curve(dataset, tmp_path, monkeypatch):
    import core.jobs.tasks
    import core.nn.training
    from core.jobs.tasks import make_training_job
    from core.runs import RunStore

    # A report after every chunk of batches, and a tiny cap, so a short run thins its curve.
    monkeypatch.setattr(core.nn.training, "PROGRESS_EVENTS_PER_SECOND", 1e9)
    monkeypatch.setattr(core.jobs.tasks, "MAX_BATCH_POINTS", 4)
    config = TrainingConfig(
        hidden_layers=(16,), train_size=1_000, batch_size=4, epochs=3, validation_fraction=0.0
    )
    reports = []
    store = RunStore(tmp_path / "runs")
    job = make_training_job(config, dataset, store)
    outcome = job(lambda **progress: reports.append(progress), threading.Event())

    curves = [report["batch_points"] for report in reports if "batch_points" in report]
    assert len(curves) > 4  # more batch reports than the cap: the curve was thinned
    assert all(len(curve) <= 4 for curve in curves)
    assert curves[-1][0]["epochs_trained"] == curves[0][0]["epochs_trained"]
    assert curves[-1][-1]["epochs_trained"] > 2
    assert outcome.run_id is not None
    # The stored run keeps the result's timings under the names the store has always used.
    stored = store.get_run(outcome.run_id)
    assert stored.timings["train_seconds"] == outcome.result.train_seconds
    assert stored.timings["predict_seconds"] == outcome.result.predict_seconds
    # The outcome is plain and picklable (Ray sends results between processes).
    copy = pickle.loads(pickle.dumps(outcome))
    assert (copy.run_id, copy.note, copy.result.test_accuracy) == (
        outcome.run_id,
        outcome.note,
        outcome.result.test_accuracy,
    )
    np.testing.assert_array_equal(copy.result.confusion_matrix, outcome.result.confusion_matrix)


@pytest.mark.parametrize("stop_in_epoch", [1, 2])
def test_stop_lands_where_it_was_asked_and_says_so(dataset, stop_in_epoch):
    # 4,000 images in batches of 32: 125 batches an epoch, run in chunks of several.
    config = TrainingConfig(
        hidden_layers=(128,), train_size=4_000, batch_size=32, epochs=50, validation_fraction=0
    )
    assert choose_steps_per_execution(config, 4_000) > 1
    stop_event = threading.Event()
    asked_at = []

    def on_progress(event):
        if event["kind"] == "batch" and event["epoch"] >= stop_in_epoch and not asked_at:
            asked_at.append(event)
            stop_event.set()

    result = train_model(config, dataset, on_progress=on_progress, stop_event=stop_event)

    event = asked_at[0]
    assert result.stopped
    assert result.batches_per_epoch == 125
    # Exactly where the stop was asked for, not a chunk or an epoch later.
    assert result.epochs_trained == event["epochs_trained"]
    done = result.epochs_completed + result.batches_into_epoch / result.batches_per_epoch
    assert done == pytest.approx(event["epochs_trained"])
    if event["batch"] < event["batches"]:
        assert (result.epochs_completed, result.batches_into_epoch) == (
            event["epoch"] - 1,
            event["batch"],
        )
        assert result.stopped_after == (
            f"{event['epoch'] - 1} epoch{'s' if event['epoch'] != 2 else ''} and "
            f"{event['batch']} of 125 batches of epoch {event['epoch']}"
        )
    # Only finished epochs are points on the curves.
    assert len(result.history["loss"]) == result.epochs_completed


def test_a_run_without_validation_scores_its_test_images_each_epoch(dataset):
    """The article's preset keeps no validation images: its test curve shows the gap."""
    config = TrainingConfig(
        hidden_layers=(32,), split="article", validation_fraction=0.0, train_size=1_000, epochs=3
    )
    events = []
    result = train_model(config, dataset, on_progress=events.append)
    assert result.num_test == 15_000
    assert result.history["val_accuracy"] == []
    assert len(result.history["test_accuracy"]) == len(result.history["test_loss"]) == 3
    # The last epoch's test figures are the final evaluation's (the same model, same images).
    assert result.history["test_accuracy"][-1] == pytest.approx(result.test_accuracy, abs=1e-6)
    assert result.history["test_loss"][-1] == pytest.approx(result.test_loss, rel=1e-4)
    epoch_events = [event for event in events if event["kind"] == "epoch"]
    assert [event["test_accuracy"] for event in epoch_events] == result.history["test_accuracy"]
    # Real figures, one per epoch, that follow the learning.
    assert result.history["test_accuracy"][-1] > result.history["test_accuracy"][0] > 0.1
    # A run with a validation set is not scored on its test images until the end.
    validated = train_model(
        TrainingConfig(hidden_layers=(32,), train_size=1_000, epochs=1), dataset
    )
    assert "test_accuracy" not in validated.history
    assert len(validated.history["val_accuracy"]) == 1
    # Asked for, a validated run is scored on its test images too.
    both = train_model(
        TrainingConfig(hidden_layers=(32,), train_size=1_000, epochs=1),
        dataset,
        score_test_each_epoch=True,
    )
    assert both.history["test_accuracy"][-1] == pytest.approx(both.test_accuracy, abs=1e-6)


def test_stored_runs_are_named_after_what_was_trained_and_reruns_are_numbered(dataset, tmp_path):
    from dataclasses import replace

    from core.jobs.tasks import save_training_result
    from core.runs import RunStore

    config = TrainingConfig(
        hidden_layers=(16,), optimizer="plain_sgd", learning_rate=0.05, train_size=500, epochs=2
    )
    result = train_model(config, dataset)
    store = RunStore(tmp_path / "runs")
    first = store.get_run(save_training_result(store, result, dataset, owner="alice"))
    again = store.get_run(save_training_result(store, result, dataset, owner="alice"))
    other = store.get_run(save_training_result(store, result, dataset, owner="bob"))
    name = "784-16-10 relu, plain sgd 0.05, 2 ep, 500 images · seed 0"
    assert (first.name, again.name, other.name) == (name, f"{name} (2)", name)
    # Where everyone sees every run (no demo profile), names are unique among all of them:
    # before, two browsers' reruns both read "... seed 0" on Compare.
    shared = store.get_run(save_training_result(store, result, dataset, "carol", names_shared=True))
    assert shared.name == f"{name} (3)"
    # A stopped run's name and summary say how many epochs it trained, not the plan.
    stopped = replace(result, stopped=True, history={**result.history, "loss": [0.9]})
    run = store.get_run(save_training_result(store, stopped, dataset, owner="alice"))
    assert run.name == "784-16-10 relu, plain sgd 0.05, 1 of 2 ep, stopped, 500 images · seed 0"
    assert run.summary == "784-16-10 relu, plain sgd 0.05, 1 of 2 ep, stopped, 500 images"
