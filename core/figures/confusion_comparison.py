"""Two runs' confusion matrices compared: side by side, or as a difference."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.data.datasets import resolve_class_names
from core.figures.evaluation import (
    CONFUSION_COLORSCALE,
    DIVERGING_COLORSCALE,
    check_confusion,
    normalize_rows,
)


def _side_by_side(first, second, names, run_names) -> go.Figure:
    rates = [normalize_rows(first), normalize_rows(second)]
    figure = make_subplots(rows=1, cols=2, subplot_titles=list(run_names), horizontal_spacing=0.08)
    for column, (matrix, rate) in enumerate(zip((first, second), rates, strict=True), start=1):
        figure.add_trace(
            go.Heatmap(
                z=rate,
                x=names,
                y=names,
                customdata=matrix,
                text=[[f"{value:.0%}" if value >= 0.005 else "" for value in row] for row in rate],
                texttemplate="%{text}",
                colorscale=CONFUSION_COLORSCALE,
                zmin=0,
                zmax=1,
                showscale=column == 2,
                colorbar={"title": "share", "thickness": 12},
                hovertemplate=(
                    "true %{y}, predicted %{x}<br>%{customdata:,} images (%{z:.1%})<extra></extra>"
                ),
                xgap=1,
                ygap=1,
            ),
            row=1,
            col=column,
        )
    figure.update_xaxes(type="category", title="predicted class")
    figure.update_yaxes(type="category", autorange="reversed")
    figure.update_yaxes(title="true class", row=1, col=1)
    return figure


def _difference(first, second, names, run_names) -> go.Figure:
    difference = normalize_rows(second) - normalize_rows(first)
    limit = float(np.abs(difference).max()) or 1.0
    figure = go.Figure(
        go.Heatmap(
            z=difference,
            x=names,
            y=names,
            text=[
                [f"{value * 100:+.1f}" if abs(value) >= 0.0005 else "" for value in row]
                for row in difference
            ],
            texttemplate="%{text}",
            colorscale=DIVERGING_COLORSCALE,
            zmid=0,
            zmin=-limit,
            zmax=limit,
            colorbar={"title": "points", "thickness": 12},
            hovertemplate=(
                f"true %{{y}}, predicted %{{x}}<br>{run_names[1]} minus {run_names[0]}: "
                "%{z:+.2%}<extra></extra>"
            ),
            xgap=1,
            ygap=1,
        )
    )
    figure.update_layout(
        title=f"{run_names[1]} minus {run_names[0]} (percentage points of each true class)",
        xaxis={"type": "category", "title": "predicted class"},
        yaxis={"type": "category", "title": "true class", "autorange": "reversed"},
    )
    return figure


# Display label -> builder(first, second, class names, run names) of a comparison figure.
@dataclass(frozen=True)
class ComparisonMode:
    """One way to compare two confusion matrices: its display label and its figure builder.

    Attributes:
        label: What the page shows.
        draw: Function ``(first, second, class_names, run_names) -> go.Figure`` of two
            row-normalisable ``(C, C)`` count matrices.
    """

    label: str
    draw: Callable[..., go.Figure]


COMPARISON_MODES: dict[str, ComparisonMode] = {
    "side_by_side": ComparisonMode("Side by side", _side_by_side),
    "difference": ComparisonMode("Difference", _difference),
}


def confusion_comparison_figure(
    first,
    second,
    run_names: Sequence[str] = ("A", "B"),
    mode: str = "side_by_side",
    class_names: Sequence[str] | None = None,
) -> go.Figure:
    """Compare two runs' confusion matrices, as shares of each true class.

    Rows are normalised first, so runs evaluated on test sets of different sizes compare
    fairly. In "difference" mode a blue cell means the second run sends more images there
    than the first: on the diagonal that is better, off it worse.

    Args:
        first: ``(C, C)`` counts of the first run.
        second: ``(C, C)`` counts of the second run.
        run_names: Names of the two runs, shown in titles and hover.
        mode: A key of `COMPARISON_MODES`.
        class_names: Axis labels.

    Returns:
        The comparison figure.

    Raises:
        ValueError: If the matrices differ in shape, or the mode is unknown.
    """
    first, second = check_confusion(first), check_confusion(second)
    if first.shape != second.shape:
        raise ValueError(
            f"The two runs have different numbers of classes ({first.shape[0]} and "
            f"{second.shape[0]}), so their confusion matrices cannot be compared."
        )
    if mode not in COMPARISON_MODES:
        raise ValueError(
            f"Unknown comparison mode {mode!r}; choose one of: {', '.join(COMPARISON_MODES)}."
        )
    if len(run_names) != 2:
        raise ValueError("Give exactly two run names.")
    names = list(resolve_class_names(class_names, first.shape[0]))
    draw = COMPARISON_MODES[mode].draw
    figure = draw(first, second, names, [str(name) for name in run_names])
    figure.update_layout(
        height=460, margin={"l": 60, "r": 20, "t": 60, "b": 50}, plot_bgcolor="white"
    )
    return figure
