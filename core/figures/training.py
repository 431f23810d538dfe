"""Figures of the Train page: live loss and accuracy curves (training against validation
or the held-out test images)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import plotly.graph_objects as go

TRAIN_COLOR = "#1f77b4"
VALIDATION_COLOR = "#ff7f0e"
TEST_COLOR = "#2ca02c"
# Metric key -> panel title. Each metric gets its own figure, so on a phone the two stack
# at full width instead of sharing 390 px.
METRICS = {"loss": "Loss", "accuracy": "Accuracy"}
MAX_SMOOTHING = 0.99
# Candidate tick mantissas for a log axis, coarsest first.
LOG_MANTISSAS = ((1,), (1, 2, 5), (1, 2, 3, 4, 5, 6, 7, 8, 9))
MIN_LOG_TICKS = 3
# Room above and below the data on a log axis, in decades.
LOG_PADDING = 0.05
# A linear loss axis stops at this many times the highest loss after the first epoch when
# the first batches went higher (with raw pixels the first loss is about 40, the rest
# below 1), so the part of the curve that matters is not a flat line along the bottom.
LOSS_CLIP_RATIO = 3.0


def smooth(values: Sequence[float], weight: float) -> list[float]:
    """Smooth a curve with TensorBoard's debiased exponential moving average.

    Args:
        values: The raw figures, in order.
        weight: 0 (no smoothing) to 0.99 (very smooth): the share of the running average
            kept at each step.

    Returns:
        The smoothed figures, as many as `values`. The debiasing keeps the first points
        from being pulled towards 0.

    Raises:
        ValueError: If `weight` is outside 0 to 0.99.
    """
    if not 0.0 <= weight <= MAX_SMOOTHING:
        raise ValueError(f"Smoothing must be between 0 and {MAX_SMOOTHING}, not {weight}.")
    smoothed: list[float] = []
    average = 0.0
    for count, value in enumerate(values, start=1):
        average = average * weight + (1.0 - weight) * float(value)
        smoothed.append(average / (1.0 - weight**count))
    return smoothed


def log_axis(low: float, high: float) -> dict:
    """Return plotly axis settings for a log axis from `low` to `high` with readable ticks.

    Ticks are 1-2-5 (or finer) multiples of powers of ten, labelled in full ("20", "0.05"),
    so an axis never reads "…9, 10, 2" as plotly's own minor labels do.

    Args:
        low: The smallest positive figure to show.
        high: The largest figure to show.

    Returns:
        Keyword arguments for `update_yaxes` (type, range, tickvals, ticktext).

    Raises:
        ValueError: If `low` is not positive or `high` is below `low`.
    """
    if not (low > 0 and high >= low):
        raise ValueError("A log axis needs positive figures.")
    bottom, top = math.log10(low) - LOG_PADDING, math.log10(high) + LOG_PADDING
    first, last = math.floor(bottom), math.ceil(top)
    for mantissas in LOG_MANTISSAS:
        candidates = sorted(
            float(f"{mantissa}e{power}")
            for power in range(first - 1, last + 2)
            for mantissa in mantissas
        )
        ticks = [value for value in candidates if bottom <= math.log10(value) <= top]
        if len(ticks) >= MIN_LOG_TICKS:
            break
    if len(ticks) < 2:
        # A narrow range: widen the axis to the nearest finest ticks around it.
        below = max(value for value in candidates if value <= low)
        above = min(value for value in candidates if value >= high)
        ticks = [value for value in candidates if below <= value <= above]
        bottom, top = math.log10(below) - LOG_PADDING, math.log10(above) + LOG_PADDING
    return {
        "type": "log",
        "range": [bottom, top],
        "tickvals": ticks,
        "ticktext": [f"{value:g}" for value in ticks],
    }


def accuracy_range(values: Sequence[float]) -> list[float]:
    """Return the accuracy axis range: never below 0% nor above 100%, zoomed to the data."""
    lowest = min(values, default=0.0)
    return [max(0.0, math.floor((lowest - 0.02) * 20) / 20), 1.005]


def loss_range(points: Sequence[tuple[float, float]]) -> tuple[list[float], float] | None:
    """Return a linear loss axis that leaves out the first batches' spike, or None.

    The figures after the first epoch (or, before it ends, in the second half of what has
    been trained) decide the axis: when the earlier ones are more than `LOSS_CLIP_RATIO`
    times higher, the axis stops there and they are left above its top.

    Args:
        points: ``(epochs trained, loss)`` pairs of every line drawn.

    Returns:
        ``([0, top], highest loss left out)``, or None when every figure fits.
    """
    if not points:
        return None
    latest = max(x for x, _ in points)
    # Strictly after the first epoch: its own record averages the first batches in.
    settled = [y for x, y in points if x > min(1.0, latest / 2)]
    highest = max(y for _, y in points)
    if not settled or highest <= LOSS_CLIP_RATIO * max(settled):
        return None
    return [0.0, LOSS_CLIP_RATIO * max(settled)], highest


def metric_figure(
    metric: str,
    epoch_records: Sequence[dict],
    batch_points: Sequence[dict] = (),
    epochs: int | None = None,
    *,
    log_y: bool = False,
    smoothing: float = 0.0,
) -> go.Figure:
    """Draw one metric (loss or accuracy) against epochs, as it grows during training.

    Args:
        metric: ``"loss"`` or ``"accuracy"``.
        epoch_records: One dict per finished epoch with ``epoch`` (1-based), ``loss``,
            ``accuracy`` and, when there is a validation set, ``val_loss`` and
            ``val_accuracy``; when the test images were scored each epoch, ``test_loss``
            and ``test_accuracy`` (None or missing otherwise).
        batch_points: Running training figures inside epochs: dicts with
            ``epochs_trained`` (e.g. 2.4), ``loss`` and ``accuracy``; drawn as a thin line.
        epochs: The planned number of epochs, to fix the x axis while training runs.
        log_y: Draw the y axis on a log scale (for the loss, whose first figures can be
            a hundred times the last).
        smoothing: 0 to 0.99: smooth the per-batch line with an exponential moving average
            (the raw line stays, fainter), as TensorBoard does.

    Returns:
        A figure with training (blue), validation (orange) and held-out test (green)
        curves. Accuracy is drawn in percent on an axis that stays within 0-100%; a linear
        loss axis leaves out the first batches' spike (`loss_range`) and says so.

    Raises:
        ValueError: For an unknown metric or a smoothing outside 0 to 0.99.
    """
    if metric not in METRICS:
        raise ValueError(f"Unknown metric {metric!r}; choose one of {', '.join(METRICS)}.")
    figure = go.Figure()
    shown: list[float] = []
    shown_points: list[tuple[float, float]] = []
    points = [p for p in batch_points if p.get(metric) is not None]
    if log_y:
        points = [p for p in points if p[metric] > 0]
    if points:
        x = [p["epochs_trained"] for p in points]
        y = [float(p[metric]) for p in points]
        shown += y
        shown_points += list(zip(x, y, strict=True))
        figure.add_trace(
            go.Scatter(
                x=x,
                y=y,
                # A line needs two points; the first report of a quick run may be alone.
                mode="lines" if len(points) > 1 else "markers",
                name="training (per batch)",
                line={"color": TRAIN_COLOR, "width": 1},
                opacity=0.45 if smoothing == 0 else 0.2,
            )
        )
        if smoothing > 0:
            figure.add_trace(
                go.Scatter(
                    x=x,
                    y=smooth(y, smoothing),
                    mode="lines",
                    name="training (per batch, smoothed)",
                    line={"color": TRAIN_COLOR, "width": 1.5},
                    opacity=0.7,
                )
            )
    for key, name, colour in (
        (metric, "training", TRAIN_COLOR),
        (f"val_{metric}", "validation", VALIDATION_COLOR),
        (f"test_{metric}", "test (held-out images)", TEST_COLOR),
    ):
        records = [r for r in epoch_records if r.get(key) is not None]
        if log_y:
            records = [r for r in records if r[key] > 0]
        if not records:
            continue
        shown += [float(r[key]) for r in records]
        shown_points += [(float(r["epoch"]), float(r[key])) for r in records]
        figure.add_trace(
            go.Scatter(
                x=[r["epoch"] for r in records],
                y=[r[key] for r in records],
                mode="lines+markers",
                name=name,
                line={"color": colour},
            )
        )
    if not shown:
        figure.add_annotation(
            text="The curve appears after the first batches",
            showarrow=False,
            x=0.5,
            y=0.5,
            xref="paper",
            yref="paper",
            font={"color": "#6b7280"},
        )
    if metric == "accuracy":
        figure.update_yaxes(tickformat=".0%", range=accuracy_range(shown))
    elif log_y and shown:
        figure.update_yaxes(**log_axis(min(shown), max(shown)))
    elif not shown:
        figure.update_yaxes(range=[0, 1])
    elif metric == "loss" and (clipped := loss_range(shown_points)) is not None:
        axis, highest = clipped
        figure.update_yaxes(range=axis)
        figure.add_annotation(
            text=f"First batches: up to {highest:.3g}, above the top (log scale shows all)",
            showarrow=False,
            x=1,
            y=1,
            xref="paper",
            yref="paper",
            xanchor="right",
            yanchor="bottom",
            font={"color": "#6b7280", "size": 11},
        )
    figure.update_xaxes(title_text="Epoch")
    if epochs:
        figure.update_xaxes(range=[0, max(epochs, 1) + 0.05])
    figure.update_layout(
        # The title sits on the left, clear of the chart toolbar on the right.
        title={"text": METRICS[metric], "x": 0, "xanchor": "left", "y": 0.97},
        height=320,
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
        legend={"orientation": "h", "y": -0.3},
        showlegend=True,
        uirevision=f"training-{metric}",
    )
    return figure
