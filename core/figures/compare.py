"""Figures of the Compare page: overlaid training curves, trade-off scatters, sweep results.

Runs are keyed by id, never by name (several runs share a name), and each run keeps the
colour `core.runs.display.run_colour` gives its number on every chart.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd
import plotly.graph_objects as go

from core.runs.display import history_table, run_colour

CURVE_METRICS = {"loss": "Loss", "accuracy": "Accuracy"}
SCATTER_AXES = {
    "train_seconds": "Training time (s)",
    "parameters": "Parameters",
}
KIND_SYMBOLS = {"network": "circle", "baseline": "diamond"}
# Sweep settings: results column -> axis label. Settings with one value get no axis.
SWEEP_SETTINGS = {
    "neurons": "Neurons",
    "layers": "Hidden layers",
    "epochs": "Epochs",
    "learning_rate": "Learning rate",
}
LEGEND_BELOW = {"orientation": "h", "yanchor": "top", "y": -0.22, "x": 0, "font": {"size": 11}}


@dataclass(frozen=True)
class CurveRun:
    """One run's curves as the overlay draws them.

    Attributes:
        label: Its short name in the legend, e.g. ``"#7 · 784-128-10 relu…"``.
        history: Keras-style history (``{"loss": [...], "val_loss": [...]}``).
        colour: Its colour on every chart (see `core.runs.display.run_colour`).
    """

    label: str
    history: Mapping[str, list] = field(default_factory=dict)
    colour: str = field(default_factory=lambda: run_colour(None))


def overlaid_curves(runs: Mapping[str, CurveRun], metric: str = "loss") -> go.Figure:
    """Overlay several runs' training (solid) and validation (dashed) curves of one metric.

    Args:
        runs: Run id -> `CurveRun`. Runs with the same label still get their own lines.
        metric: ``"loss"`` or ``"accuracy"``.

    Returns:
        A line chart with epochs (from 1) on the x axis and a legend below it naming every
        line; the lines of one run share its colour and legend group (its id).

    Raises:
        ValueError: If the metric is unknown.
    """
    if metric not in CURVE_METRICS:
        raise ValueError(f"The metric must be one of {sorted(CURVE_METRICS)}, not {metric!r}.")
    figure = go.Figure()
    for run_id, run in runs.items():
        table = history_table(run.history)
        for key, dash, suffix in ((metric, "solid", "train"), (f"val_{metric}", "dash", "val")):
            if key not in table:
                continue
            values = table[key].dropna()
            figure.add_trace(
                go.Scatter(
                    x=list(values.index),
                    y=list(values),
                    mode="lines+markers",
                    name=f"{run.label} ({suffix})",
                    legendgroup=run_id,
                    line={"color": run.colour, "dash": dash},
                    marker={"size": 6},
                    hovertemplate=f"{run.label} ({suffix})<br>epoch %{{x}}: %{{y:.4f}}"
                    "<extra></extra>",
                )
            )
    figure.update_layout(
        title={"text": CURVE_METRICS[metric], "font": {"size": 15}},
        # Whole epochs only: with a format alone, a short run's axis reads "0 1 1 2 2".
        xaxis={
            "title": "Epoch",
            "tickformat": "d",
            "rangemode": "tozero",
            "tick0": 0,
            "dtick": epoch_tick_step(figure),
        },
        yaxis_title=CURVE_METRICS[metric],
        height=420,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        legend=LEGEND_BELOW,
        showlegend=True,
    )
    if metric == "accuracy":
        figure.update_yaxes(tickformat=".0%")
    return figure


def epoch_tick_step(figure: go.Figure, most_ticks: int = 10) -> int:
    """Return the step between epoch ticks: a whole number giving at most `most_ticks` ticks."""
    last = max((max(trace.x, default=0) for trace in figure.data), default=0)
    return max(1, math.ceil(last / most_ticks))


def log_ticks(low: float, high: float) -> tuple[list[float], list[str]]:
    """Return tick values 1, 2, 5, 10, 20, 50, ... covering ``[low, high]`` and their labels.

    Plotly labels a log axis's in-between ticks with their first digit only ("…9, 10, 2"
    for 20); these labels are written out ("20", "5k").

    Args:
        low: The smallest value shown (> 0).
        high: The largest value shown (>= low).

    Returns:
        ``(values, labels)``, at least two ticks.

    Raises:
        ValueError: If `low` is not positive or `high` is below `low`.
    """
    if not low > 0 or high < low:
        raise ValueError(f"A log axis needs 0 < low <= high; got {low} and {high}.")
    values = []
    for exponent in range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1):
        for mantissa in (1, 2, 5):
            value = mantissa * 10.0**exponent
            if low / 1.5 <= value <= high * 1.5:
                values.append(value)
    if len(values) < 2:
        values = [10.0 ** math.floor(math.log10(low)), 10.0 ** math.ceil(math.log10(high) + 1e-9)]
    return values, [_short_number(value) for value in values]


def _short_number(value: float) -> str:
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= size:
            return f"{value / size:g}{suffix}"
    return f"{value:g}"


def tradeoff_scatter(runs: pd.DataFrame, x: str = "train_seconds") -> go.Figure:
    """Plot test accuracy against training time or parameter count, one point per run.

    Args:
        runs: The run store's table with `core.runs.display.with_display_columns` columns
            (id, kind, summary, test_accuracy, label, colour, and `x`).
        x: ``"train_seconds"`` or ``"parameters"``.

    Returns:
        A scatter plot, log-scaled on x, each point in its run's colour, shaped by kind,
        with the run's label on hover.

    Raises:
        ValueError: If the x axis is unknown.
    """
    if x not in SCATTER_AXES:
        raise ValueError(f"The x axis must be one of {sorted(SCATTER_AXES)}, not {x!r}.")
    data = runs.dropna(subset=[x, "test_accuracy"]).copy()
    data[x] = data[x].astype(float)
    data = data[data[x] > 0]
    figure = go.Figure()
    for kind, group in data.groupby("kind", sort=True):
        figure.add_trace(
            go.Scatter(
                x=group[x],
                y=group["test_accuracy"].astype(float),
                mode="markers",
                name=str(kind),
                legendgroup=str(kind),
                showlegend=False,
                customdata=group["id"],
                text=group["label"],
                marker={
                    "size": 12,
                    "color": list(group["colour"]),
                    "symbol": KIND_SYMBOLS.get(str(kind), "square"),
                    "line": {"width": 1, "color": "white"},
                },
                hovertemplate=(
                    f"%{{text}}<br>{SCATTER_AXES[x]}: %{{x:,.4~g}}"
                    "<br>test accuracy %{y:.2%}<extra></extra>"
                ),
            )
        )
        # The legend names the shape of each kind; the colours belong to the runs.
        figure.add_trace(
            go.Scatter(
                x=[None], y=[None], mode="markers", name=str(kind), legendgroup=str(kind),
                marker={"size": 10, "color": "#777777",
                        "symbol": KIND_SYMBOLS.get(str(kind), "square")},
            )
        )  # fmt: skip
    lowest = float(data["test_accuracy"].min()) if len(data) else 0.0
    figure.update_yaxes(
        title="Test accuracy", tickformat=".1%", range=[max(0.0, lowest - 0.05), 1.005]
    )
    figure.update_xaxes(title=SCATTER_AXES[x], type="log")
    if len(data):
        values, labels = log_ticks(float(data[x].min()), float(data[x].max()))
        figure.update_xaxes(tickmode="array", tickvals=values, ticktext=labels)
    figure.update_layout(
        height=380,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        legend={**LEGEND_BELOW, "title": {"text": "Kind "}},
        showlegend=True,
    )
    return figure


def _learning_rate_axis(rates: Sequence[float]) -> dict:
    """A parallel-coordinates axis of learning rates on a log scale, labelled in rates."""
    distinct = sorted({float(rate) for rate in rates})
    return {
        "label": SWEEP_SETTINGS["learning_rate"],
        "values": [math.log10(rate) for rate in rates],
        "tickvals": [math.log10(rate) for rate in distinct],
        "ticktext": [f"{rate:g}" for rate in distinct],
        "range": [math.log10(distinct[0]), math.log10(distinct[-1])],
    }


def sweep_parallel_coordinates(results: pd.DataFrame) -> go.Figure:
    """Show a sweep's settings and accuracies as parallel coordinates, one line per run.

    Only settings that take more than one value get an axis. The learning rate's axis is
    logarithmic, small rates at the bottom like every other axis. Plotly cannot show a hover
    on these lines, so the page shows the same rows as a table beside it.

    Args:
        results: One row per run with columns neurons, layers, epochs, learning_rate and
            test_accuracy (0-1).

    Returns:
        A parallel-coordinates figure coloured by test accuracy.
    """
    data = results.dropna(subset=["test_accuracy"])
    accuracy = data["test_accuracy"].astype(float)
    dimensions = []
    for column, label in SWEEP_SETTINGS.items():
        values = list(data[column])
        distinct = sorted(set(values))
        if len(distinct) < 2:
            continue
        if column == "learning_rate":
            dimensions.append(_learning_rate_axis(values))
        else:
            dimensions.append(
                {"label": label, "values": values, "tickvals": distinct, "ticktext": distinct}
            )
    dimensions.append({"label": "Test accuracy", "values": accuracy, "tickformat": ".1%"})
    figure = go.Figure(
        go.Parcoords(
            line={
                "color": accuracy,
                "colorscale": "Viridis",
                "showscale": True,
                "colorbar": {"title": "accuracy", "tickformat": ".1%", "thickness": 12},
            },
            dimensions=dimensions,
            labelangle=0,
        )
    )
    figure.update_layout(height=380, margin={"l": 60, "r": 40, "t": 60, "b": 20})
    return figure
