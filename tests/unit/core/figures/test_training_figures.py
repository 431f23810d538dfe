"""The Train page's figures and progress label: curves, axes, smoothing, like-for-like notes."""

import math

import pytest

from core.figures.training import accuracy_range, log_axis, metric_figure, smooth
from core.jobs.progress_text import progress_text
from core.nn.config import TrainingConfig
from core.runs.comparison import comparison_note

RECORDS = [
    {"epoch": 1, "loss": 0.5, "accuracy": 0.85, "val_loss": 0.4, "val_accuracy": 0.88},
    {"epoch": 2, "loss": 0.3, "accuracy": 0.91, "val_loss": 0.35, "val_accuracy": 0.9},
]
POINTS = [{"epochs_trained": 0.5, "loss": 0.9, "accuracy": 0.7}]


def test_each_metric_has_its_own_figure_with_training_and_validation():
    loss = metric_figure("loss", RECORDS, POINTS, epochs=5)
    assert [trace.name for trace in loss.data] == [
        "training (per batch)",
        "training",
        "validation",
    ]
    assert list(loss.data[2].y) == [0.4, 0.35]
    assert list(loss.layout.xaxis.range) == [0, 5.05]
    # The title is on the left, away from the chart toolbar on the right.
    assert loss.layout.title.text == "Loss" and loss.layout.title.x == 0
    accuracy = metric_figure("accuracy", RECORDS, POINTS, epochs=5)
    assert list(accuracy.data[2].y) == [0.88, 0.9]
    no_validation = [{"epoch": 1, "loss": 0.5, "accuracy": 0.85, "val_loss": None}]
    assert [trace.name for trace in metric_figure("loss", no_validation).data] == ["training"]
    with pytest.raises(ValueError, match="Unknown metric"):
        metric_figure("speed", RECORDS)


def test_accuracy_axis_stays_within_0_and_100_percent():
    # A run stopped before its first epoch: no epoch records, a few batch figures.
    stopped = metric_figure("accuracy", [], [{"epochs_trained": 0.1, "accuracy": 0.74}], 20)
    low, high = stopped.layout.yaxis.range
    assert 0 <= low < 0.74 and high <= 1.01
    assert stopped.layout.yaxis.tickformat == ".0%"
    # Nothing at all yet: an empty 0-100% axis and a sentence instead of a blank chart.
    empty = metric_figure("accuracy", [], [], 20)
    assert list(empty.layout.yaxis.range) == [0.0, 1.005]
    assert "first batches" in empty.layout.annotations[0].text
    assert accuracy_range([0.97, 0.99]) == [0.95, 1.005]
    assert accuracy_range([0.01]) == [0.0, 1.005]


def test_smoothing_is_a_debiased_moving_average():
    assert smooth([1.0, 2.0, 3.0], 0.0) == [1.0, 2.0, 3.0]
    smoothed = smooth([4.0, 0.0], 0.5)
    assert smoothed[0] == pytest.approx(4.0)  # debiased: the first point is not pulled to 0
    assert smoothed[1] == pytest.approx((0.5 * 2.0) / 0.75)
    with pytest.raises(ValueError, match="between 0 and 0.99"):
        smooth([1.0], 1.0)
    figure = metric_figure("loss", [], [*POINTS, {**POINTS[0], "loss": 0.1}], smoothing=0.6)
    assert [trace.name for trace in figure.data] == [
        "training (per batch)",
        "training (per batch, smoothed)",
    ]


def test_log_axis_labels_every_tick_in_full():
    axis = log_axis(0.05, 40.0)
    assert axis["type"] == "log"
    assert axis["ticktext"] == ["0.1", "1", "10"]
    assert axis["range"] == pytest.approx([math.log10(0.05) - 0.05, math.log10(40) + 0.05])
    one_decade = log_axis(0.15, 1.2)
    assert one_decade["ticktext"] == ["0.2", "0.5", "1"]
    # A narrow range gets finer ticks, and the axis is widened to the nearest two.
    narrow = log_axis(0.31, 0.38)
    assert narrow["tickvals"] == [0.3, 0.4]
    assert narrow["ticktext"] == ["0.3", "0.4"]
    figure = metric_figure("loss", RECORDS, [{"epochs_trained": 0.1, "loss": 40.0}], log_y=True)
    assert figure.layout.yaxis.type == "log"
    assert "20" in figure.layout.yaxis.ticktext
    with pytest.raises(ValueError):
        log_axis(0.0, 1.0)


def test_progress_label_moves_with_the_bar():
    # A report sent at the end of epoch 2 of 5 (batch 0 in the event) sits at 40%.
    assert progress_text({"fraction": 0.4, "epochs": 5, "batches": 469, "batch": 0}) == (
        "40% · epoch 2 of 5 · batch 469 of 469"
    )
    assert progress_text({"fraction": 0.5, "epochs": 2, "batches": 10}) == (
        "50% · epoch 1 of 2 · batch 10 of 10"
    )
    assert progress_text({"fraction": 0.55, "epochs": 2, "batches": 10}) == (
        "55% · epoch 2 of 2 · batch 1 of 10"
    )
    assert progress_text({}).startswith("Preparing")
    assert progress_text({"phase": "evaluating", "fraction": 1.0}).startswith("Measuring")


def test_comparison_note_says_when_the_test_images_differ():
    official = TrainingConfig(hidden_layers=(128,))
    article = TrainingConfig(hidden_layers=(128,), split="article")
    note = comparison_note(official, 0.978, 10.0, article, 0.955, 10.0)
    assert (
        note == "article split, accuracies not comparable (tested on other images), about as fast"
    )
    # The article split draws its test images with the seed.
    reseeded = TrainingConfig(hidden_layers=(128,), split="article", seed=5)
    assert "not comparable" in comparison_note(article, 0.95, 9.0, reseeded, 0.96, 9.0)
    # The official test set is the same whatever the seed.
    assert comparison_note(
        official, 0.97, 9.0, TrainingConfig(hidden_layers=(128,), seed=5), 0.98, 9.0
    ).endswith("+1.0 points, about as fast")


def test_the_test_curve_is_drawn_beside_training():
    """Without a validation set (the article's preset) the held-out test curve shows the gap."""
    records = [
        {"epoch": 1, "loss": 0.4, "accuracy": 0.9, "test_loss": 0.3, "test_accuracy": 0.93},
        {"epoch": 2, "loss": 0.1, "accuracy": 0.98, "test_loss": 0.25, "test_accuracy": 0.95},
    ]
    for metric, expected in (("loss", [0.3, 0.25]), ("accuracy", [0.93, 0.95])):
        figure = metric_figure(metric, records, epochs=2)
        test = [trace for trace in figure.data if trace.name == "test (held-out images)"]
        assert len(test) == 1 and list(test[0].y) == expected


def test_the_loss_axis_leaves_out_the_first_batches_spike():
    """With raw pixels the first loss is about 40 and the rest below 1: keep the rest readable."""
    points = [
        {"epochs_trained": 0.01, "loss": 40.0},
        {"epochs_trained": 0.5, "loss": 1.2},
        {"epochs_trained": 1.5, "loss": 0.6},
    ]
    records = [{"epoch": 1, "loss": 0.8, "test_loss": 0.7}, {"epoch": 2, "loss": 0.5}]
    figure = metric_figure("loss", records, points, epochs=20)
    low, high = figure.layout.yaxis.range
    assert low == 0 and high == pytest.approx(3 * 0.6)  # after epoch 1: 0.6 and 0.5
    assert "up to 40" in figure.layout.annotations[0].text
    # Before the first epoch ends, the second half of what was trained decides.
    early = metric_figure("loss", [], points[:2], epochs=20)
    assert early.layout.yaxis.range[1] == pytest.approx(3 * 1.2)
    # A curve without a spike keeps plotly's own axis; the log scale shows everything.
    assert metric_figure("loss", RECORDS, POINTS, epochs=5).layout.yaxis.range is None
    assert metric_figure("loss", records, points, epochs=20, log_y=True).layout.yaxis.type == "log"
