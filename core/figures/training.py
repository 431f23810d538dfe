"""Figures of the Train page: live loss and accuracy curves (training against validation)."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots

TRAIN_COLOR = "#1f77b4"
VALIDATION_COLOR = "#ff7f0e"
METRICS = (("loss", "Loss"), ("accuracy", "Accuracy"))


def training_curves(
    epoch_records: Sequence[dict],
    batch_points: Sequence[dict] = (),
    epochs: int | None = None,
) -> go.Figure:
    """Draw loss (left) and accuracy (right) against epochs, as they grow during training.

    Args:
        epoch_records: One dict per finished epoch with ``epoch`` (1-based), ``loss``,
            ``accuracy`` and, when there is a validation set, ``val_loss`` and
            ``val_accuracy`` (None or missing otherwise).
        batch_points: Running training figures inside epochs: dicts with
            ``epochs_trained`` (e.g. 2.4), ``loss`` and ``accuracy``; drawn as a thin line.
        epochs: The planned number of epochs, to fix the x axis while training runs.

    Returns:
        A figure with two panels; each shows training (blue) and validation (orange).
    """
    figure = make_subplots(rows=1, cols=2, subplot_titles=[title for _, title in METRICS])
    for column, (metric, _) in enumerate(METRICS, start=1):
        points = [p for p in batch_points if p.get(metric) is not None]
        if points:
            figure.add_trace(
                go.Scatter(
                    x=[p["epochs_trained"] for p in points],
                    y=[p[metric] for p in points],
                    mode="lines",
                    name="training (running)",
                    legendgroup="running",
                    showlegend=column == 1,
                    line={"color": TRAIN_COLOR, "width": 1},
                    opacity=0.45,
                ),
                row=1,
                col=column,
            )
        for key, name, colour in (
            (metric, "training", TRAIN_COLOR),
            (f"val_{metric}", "validation", VALIDATION_COLOR),
        ):
            records = [r for r in epoch_records if r.get(key) is not None]
            if not records:
                continue
            figure.add_trace(
                go.Scatter(
                    x=[r["epoch"] for r in records],
                    y=[r[key] for r in records],
                    mode="lines+markers",
                    name=name,
                    legendgroup=name,
                    showlegend=column == 1,
                    line={"color": colour},
                ),
                row=1,
                col=column,
            )
    if epochs:
        figure.update_xaxes(range=[0, max(epochs, 1) + 0.05])
    figure.update_xaxes(title_text="Epoch")
    figure.update_yaxes(tickformat=".0%", row=1, col=2)
    figure.update_layout(
        height=340,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        legend={"orientation": "h", "y": -0.25},
        uirevision="training",
    )
    return figure
