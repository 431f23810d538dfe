"""Tests of the classical baselines on real MNIST: accuracy, storage, progress and Stop."""

import threading

import numpy as np
import pytest

from core.data import load_default_dataset, make_splits, scale_images
from core.jobs.manager import JobManager
from core.jobs.tasks import save_baseline_result
from core.nn.baselines import BASELINES, pickled_size, train_baseline
from core.nn.config import TrainingConfig
from core.runs import RunStore

TRAIN_SIZE = 2000
# Accuracy on the 10,000 test images after fitting on 2,000 training images. The measured
# figures are Random Forest 0.92, logistic regression 0.89, k-NN 0.91, naive Bayes 0.59.
MINIMUM_ACCURACY = {
    "Random Forest": 0.85,
    "Logistic regression": 0.85,
    "k-nearest neighbours": 0.87,
    "Gaussian naive Bayes": 0.50,
}


@pytest.fixture(scope="module")
def dataset():
    return load_default_dataset()


@pytest.mark.parametrize("key", list(BASELINES))
def test_each_baseline_trains_predicts_and_is_stored(dataset, key, tmp_path):
    events = []
    result = train_baseline(
        key, dataset, train_size=TRAIN_SIZE, report=lambda **values: events.append(values)
    )
    assert result.key == key and not result.stopped
    assert (result.train_images, result.test_images) == (TRAIN_SIZE, 10_000)
    assert result.test_accuracy > MINIMUM_ACCURACY[key]
    assert result.confusion_matrix.shape == (10, 10)
    assert result.confusion_matrix.sum() == 10_000
    assert np.trace(result.confusion_matrix) / 10_000 == pytest.approx(result.test_accuracy)
    assert result.model_size_bytes == pickled_size(result.estimator) > 1000
    assert result.parameters > 0 and result.train_seconds >= 0 and result.predict_seconds > 0
    assert events[0]["stage"] == "fitting" and events[-1] == {
        "stage": "predicting",
        "done": 10_000,
        "total": 10_000,
        "unit": "test images",
    }

    # The estimator predicts the same images the same way after a trip through the store.
    store = RunStore(tmp_path / "store")
    run_id = save_baseline_result(store, result, owner="tester")
    row = store.list_runs(owner="tester").iloc[0]
    assert (row["id"], row["kind"], row["name"], row["status"]) == (
        run_id,
        "baseline",
        key,
        "finished",
    )
    assert row["test_accuracy"] == pytest.approx(result.test_accuracy)
    assert row["parameters"] == result.parameters and row["has_model"]
    assert row["summary"] == f"{key}, 2,000 images, unit pixels"
    run = store.get_run(run_id)
    assert run.config["baseline"] == key and run.config["train_size"] == TRAIN_SIZE
    np.testing.assert_array_equal(run.confusion_matrix, result.confusion_matrix)
    some_test_images = scale_images(dataset.test_images[:200], "unit", flatten=True)
    np.testing.assert_array_equal(
        store.load_model(run_id).predict(some_test_images),
        result.estimator.predict(some_test_images),
    )


def test_random_forest_grows_in_chunks_and_stop_keeps_the_trees_so_far(dataset):
    stop_event = threading.Event()
    fitted = []

    def report(stage, done, total, unit):
        if stage == "fitting" and unit == "trees":
            fitted.append(done)
            stop_event.set()  # Press Stop as soon as the first chunk is grown.

    result = train_baseline(
        "Random Forest", dataset, train_size=TRAIN_SIZE, report=report, stop_event=stop_event
    )
    assert fitted == [10]
    assert result.stopped and len(result.estimator.estimators_) == 10
    # A Stop during fitting still measures the partial forest on every test image.
    assert result.test_images == 10_000 and result.test_accuracy > 0.8


def test_stop_during_prediction_ends_it_and_measures_what_was_predicted(dataset):
    stop_event = threading.Event()

    def report(stage, done, total, unit):
        if stage == "predicting":
            stop_event.set()

    result = train_baseline(
        "k-nearest neighbours", dataset, train_size=TRAIN_SIZE, report=report, stop_event=stop_event
    )
    assert result.stopped and result.test_images == 1000
    assert result.confusion_matrix.sum() == 1000 and result.test_accuracy > 0.85


def test_a_baseline_job_is_stopped_by_the_job_manager(dataset, tmp_path):
    manager = JobManager(max_concurrent=1)
    first_chunk = threading.Event()
    store = RunStore(tmp_path / "store")

    def run(report, stop_event):
        def watched_report(**values):
            report(**values)
            if values["unit"] == "iterations":
                first_chunk.set()

        result = train_baseline(
            "Logistic regression",
            dataset,
            train_size=TRAIN_SIZE,
            report=watched_report,
            stop_event=stop_event,
        )
        return save_baseline_result(store, result)

    job = manager.submit("Logistic regression", run, kind="baseline")
    assert first_chunk.wait(timeout=120)
    job.stop()
    assert manager.wait(job.id, timeout=120).state == "stopped"
    run_record = store.get_run(job.result)
    assert run_record.status == "stopped" and run_record.kind == "baseline"
    assert job.progress["stage"] == "predicting"
    manager.shutdown()


def test_a_training_config_gives_the_networks_training_images(dataset):
    config = TrainingConfig(
        train_size=600, validation_fraction=0.2, seed=3, scaling="raw", split="article"
    )
    result = train_baseline("Gaussian naive Bayes", dataset, config)
    splits = make_splits(dataset, split="article", validation_fraction=0.2, train_size=600, seed=3)
    assert result.train_images == len(splits.y_train) == 600
    assert result.test_images == len(splits.y_test) == 15_000
    assert result.settings == {
        "split": "article",
        "scaling": "raw",
        "train_size": 600,
        "validation_fraction": 0.2,
        "seed": 3,
    }
    assert result.estimator.theta_.max() > 1  # Fitted on raw 0-255 pixels.


def test_unknown_baseline_and_bad_settings_raise_value_errors(dataset):
    with pytest.raises(ValueError, match="Unknown baseline 'SVM'.*Random Forest"):
        train_baseline("SVM", dataset)
    with pytest.raises(ValueError, match="scaling"):
        train_baseline("Gaussian naive Bayes", dataset, train_size=500, scaling="percent")
