"""Figures of the Compare page: overlaid training curves, trade-off scatters, sweep results."""

from __future__ import annotations

import math

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

CURVE_METRICS = {"loss": "Loss", "accuracy": "Accuracy"}
SCATTER_AXES = {
    "train_seconds": "Training time (s)",
    "parameters": "Parameters",
}
COLORS = px.colors.qualitative.Plotly


def overlaid_curves(histories: dict[str, dict[str, list]], metric: str = "loss") -> go.Figure:
    """Overlay several runs' training (solid) and validation (dashed) curves of one metric.

    Args:
        histories: Run label -> Keras-style history (``{"loss": [...], "val_loss": [...]}``).
        metric: ``"loss"`` or ``"accuracy"``.

    Returns:
        A line chart with epochs on the x axis.
    """
    if metric not in CURVE_METRICS:
        raise ValueError(f"The metric must be one of {sorted(CURVE_METRICS)}, not {metric!r}.")
    figure = go.Figure()
    for index, (label, history) in enumerate(histories.items()):
        color = COLORS[index % len(COLORS)]
        for key, dash, suffix in ((metric, "solid", "train"), (f"val_{metric}", "dash", "val")):
            values = history.get(key) or []
            if not values:
                continue
            figure.add_trace(
                go.Scatter(
                    x=list(range(1, len(values) + 1)),
                    y=values,
                    mode="lines+markers",
                    name=f"{label} ({suffix})",
                    legendgroup=label,
                    line={"color": color, "dash": dash},
                )
            )
    figure.update_layout(
        xaxis_title="Epoch",
        yaxis_title=CURVE_METRICS[metric],
        height=360,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        legend={"orientation": "h", "y": -0.25},
    )
    if metric == "accuracy":
        figure.update_yaxes(tickformat=".0%")
    return figure


def tradeoff_scatter(runs: pd.DataFrame, x: str = "train_seconds") -> go.Figure:
    """Plot test accuracy against training time or parameter count, one point per run.

    Args:
        runs: The run store's table (columns name, kind, summary, test_accuracy, and `x`).
        x: ``"train_seconds"`` or ``"parameters"``.

    Returns:
        A scatter plot, log-scaled on x, coloured by run kind, with the run name on hover.
    """
    if x not in SCATTER_AXES:
        raise ValueError(f"The x axis must be one of {sorted(SCATTER_AXES)}, not {x!r}.")
    data = runs.dropna(subset=[x, "test_accuracy"]).copy()
    data = data[data[x].astype(float) > 0]
    data[x] = data[x].astype(float)
    figure = px.scatter(
        data,
        x=x,
        y="test_accuracy",
        color="kind",
        hover_name="name",
        hover_data={"summary": True, "kind": False},
        log_x=True,
        labels={x: SCATTER_AXES[x], "test_accuracy": "Test accuracy", "kind": "Kind"},
    )
    figure.update_traces(marker={"size": 12, "line": {"width": 1, "color": "white"}})
    lowest = float(data["test_accuracy"].min()) if len(data) else 0.0
    figure.update_yaxes(tickformat=".1%", range=[max(0.0, lowest - 0.05), 1.005])
    figure.update_layout(height=360, margin={"l": 10, "r": 10, "t": 30, "b": 10})
    return figure


def sweep_parallel_coordinates(results: pd.DataFrame) -> go.Figure:
    """Show a sweep's settings and accuracies as parallel coordinates.

    Args:
        results: One row per run with columns neurons, layers, epochs, learning_rate and
            test_accuracy (0-1).

    Returns:
        A parallel-coordinates figure coloured by test accuracy.
    """
    data = results.dropna(subset=["test_accuracy"])
    accuracy = data["test_accuracy"].astype(float)
    dimensions = [
        {"label": "Neurons", "values": data["neurons"]},
        {"label": "Layers", "values": data["layers"]},
        {"label": "Epochs", "values": data["epochs"]},
        {
            "label": "log10 learning rate",
            "values": [math.log10(rate) for rate in data["learning_rate"]],
        },
        {"label": "Test accuracy", "values": accuracy},
    ]
    figure = go.Figure(
        go.Parcoords(
            line={"color": accuracy, "colorscale": "Viridis", "showscale": True},
            dimensions=dimensions,
        )
    )
    figure.update_layout(height=380, margin={"l": 60, "r": 40, "t": 50, "b": 20})
    return figure
