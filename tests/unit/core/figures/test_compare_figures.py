"""Figures of the Compare page and the probability bars' colours."""

import math

import pandas as pd
import pytest

from core.figures.compare import (
    CurveRun,
    log_ticks,
    overlaid_curves,
    sweep_parallel_coordinates,
    tradeoff_scatter,
)
from core.figures.prediction import (
    CORRECT_COLOR,
    OTHER_COLOR,
    PREDICTED_COLOR,
    WRONG_COLOR,
    probability_bars,
)


def test_runs_with_one_label_get_their_own_lines_colours_and_a_legend():
    history = {"loss": [0.9, 0.5], "val_loss": []}
    figure = overlaid_curves(
        {
            "run-a": CurveRun("#1 · 784-128-10", history, "#111111"),
            "run-b": CurveRun("#2 · 784-128-10", {"loss": [0.8], "val_loss": [0.7]}, "#222222"),
        },
        "loss",
    )
    groups = [trace.legendgroup for trace in figure.data]
    assert groups == ["run-a", "run-b", "run-b"]
    assert [trace.line.color for trace in figure.data] == ["#111111", "#222222", "#222222"]
    assert list(figure.data[0].x) == [1, 2]
    assert figure.layout.showlegend is True
    assert figure.data[2].line.dash == "dash"


def test_log_ticks_write_out_every_label():
    values, labels = log_ticks(3, 40)
    assert values == [2, 5, 10, 20, 50]
    assert labels == ["2", "5", "10", "20", "50"]
    values, labels = log_ticks(20_000, 150_000)
    assert labels == ["20k", "50k", "100k", "200k"]
    with pytest.raises(ValueError, match="0 < low"):
        log_ticks(0, 10)


def test_tradeoff_scatter_colours_points_by_run_and_labels_them():
    runs = pd.DataFrame(
        {
            "id": ["a", "b", "c"],
            "kind": ["network", "network", "baseline"],
            "summary": ["s", "s", "rf"],
            "label": ["#1 · s", "#2 · s", "#3 · rf"],
            "colour": ["#111111", "#222222", "#333333"],
            "train_seconds": [3.0, 30.0, 8.0],
            "test_accuracy": [0.9, 0.95, 0.92],
        }
    )
    figure = tradeoff_scatter(runs, "train_seconds")
    points = {trace.name: trace for trace in figure.data if trace.x[0] is not None}
    assert list(points["network"].marker.color) == ["#111111", "#222222"]
    assert list(points["network"].text) == ["#1 · s", "#2 · s"]
    axis = figure.layout.xaxis
    assert axis.type == "log"
    assert list(axis.ticktext) == [f"{value:g}" for value in axis.tickvals]


def test_sweep_axes_leave_out_single_valued_settings_and_use_a_log_learning_rate():
    results = pd.DataFrame(
        {
            "neurons": [64, 64, 128, 128],
            "layers": [1, 1, 1, 1],
            "epochs": [2, 2, 2, 2],
            "learning_rate": [0.001, 0.01, 0.001, 0.01],
            "test_accuracy": [0.9, 0.92, 0.91, 0.93],
        }
    )
    dimensions = sweep_parallel_coordinates(results).data[0].dimensions
    assert [dimension.label for dimension in dimensions] == [
        "Neurons",
        "Learning rate",
        "Test accuracy",
    ]
    rate = dimensions[1]
    assert list(rate.ticktext) == ["0.001", "0.01"]
    assert rate.range[0] < rate.range[1]
    assert list(rate.values) == pytest.approx([math.log10(value) for value in (1e-3, 1e-2) * 2])


def test_probability_bars_are_green_when_right_red_when_wrong_blue_without_a_label():
    right = probability_bars([0.1, 0.9], true_label=1).data[0].marker.color
    assert list(right) == [OTHER_COLOR, CORRECT_COLOR]
    wrong = probability_bars([0.1, 0.2, 0.7], true_label=1).data[0].marker.color
    assert list(wrong) == [OTHER_COLOR, CORRECT_COLOR, WRONG_COLOR]
    unknown = probability_bars([0.1, 0.9]).data[0].marker.color
    assert list(unknown) == [OTHER_COLOR, PREDICTED_COLOR]
    legend = {trace.name for trace in probability_bars([0.1, 0.2, 0.7], true_label=1).data[1:]}
    assert legend == {"true label", "wrong prediction"}
    assert probability_bars([0.1, 0.9], true_label=1).data[1].name == "correct prediction"


@pytest.mark.parametrize(("epochs", "step"), [(2, 1), (10, 1), (20, 2), (200, 20)])
def test_the_epoch_axis_has_whole_epochs_only(epochs, step):
    # A two-epoch run's axis read "0 1 1 2 2": integer labels on half-epoch ticks.
    history = {"loss": [1.0 / (epoch + 1) for epoch in range(epochs)], "val_loss": []}
    figure = overlaid_curves({"run": CurveRun("#1", history, "#111111")}, "loss")
    assert figure.layout.xaxis.dtick == step
    assert figure.layout.xaxis.tick0 == 0
