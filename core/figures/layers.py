"""Figures of what a network's layers hold: first-layer weights and activations."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.figures.evaluation import (
    DIVERGING_COLORSCALE,
)
from core.figures.tiling import TILE_GAP, tile_images

ACTIVATION_COLORSCALE = "Viridis"
MAX_WEIGHT_TILES = 64


def weight_tiles_figure(weights, max_tiles: int = MAX_WEIGHT_TILES, columns: int = 8) -> go.Figure:
    """Return one small image per neuron (or filter) of the first learned layer.

    Args:
        weights: ``(units, height, width)``, e.g. ``(128, 28, 28)`` from
            `core.nn.internals.first_layer_weights`.
        max_tiles: Show at most this many units (the first ones).
        columns: Tiles per row.

    Returns:
        A heat map with a diverging colour scale symmetric around 0 (red: negative,
        blue: positive weight); hovering shows the unit number, pixel and weight.

    Raises:
        ValueError: If the weights are not a non-empty stack of 2-D tiles.
    """
    weights = np.asarray(weights, dtype=np.float64)
    if weights.ndim != 3 or weights.shape[0] == 0:
        raise ValueError(f"Expected weights of shape (units, height, width); got {weights.shape}.")
    if max_tiles < 1:
        raise ValueError(f"max_tiles must be at least 1; got {max_tiles}.")
    shown = weights[:max_tiles]
    count, height, width = shown.shape
    columns = max(1, min(columns, count))
    grid = tile_images(shown, columns, gap=TILE_GAP)
    units = tile_images(
        np.broadcast_to(np.arange(count)[:, None, None], shown.shape), columns, gap=TILE_GAP
    )
    limit = float(np.nanmax(np.abs(shown))) or 1.0
    rows = -(-count // columns)
    customdata = np.where(np.isnan(units), -1, units).astype(np.int16)
    figure = go.Figure(
        go.Heatmap(
            z=grid.astype(np.float32),
            customdata=customdata,
            colorscale=DIVERGING_COLORSCALE,
            zmid=0,
            zmin=-limit,
            zmax=limit,
            # A short bar under the tiles: beside them it took a phone screen's width.
            colorbar={
                "title": {"text": "weight", "side": "right"},
                "orientation": "h",
                "thickness": 10,
                "len": 0.5,
                "x": 0.5,
                "y": -0.02,
                "yanchor": "top",
            },
            hovertemplate="unit %{customdata}<br>weight %{z:.3f}<extra></extra>",
        )
    )
    hidden = {"visible": False, "showgrid": False, "zeroline": False}
    tile_pixels = 70 if height >= 10 else 40
    figure.update_layout(
        xaxis={**hidden, "constrain": "domain"},
        yaxis={**hidden, "autorange": "reversed", "scaleanchor": "x"},
        height=rows * tile_pixels + 70,
        margin={"l": 0, "r": 0, "t": 10, "b": 50},
        plot_bgcolor="white",
    )
    return figure


def activation_strips_figure(
    activations: Sequence[tuple[str, np.ndarray]],
    output_names: Sequence[str] | None = None,
) -> go.Figure:
    """Return one horizontal strip per layer, a cell per neuron coloured by its activation.

    Args:
        activations: ``(layer name, 1-D activations)`` pairs, e.g. from
            `core.nn.internals.layer_activations`.
        output_names: Optional class names used as the last strip's labels.

    Returns:
        A figure with one row per layer; each row has its own colour range, since layers
        differ in scale (the output layer holds probabilities).

    Raises:
        ValueError: If there are no layers or a layer's activations are not 1-D.
    """
    if not activations:
        raise ValueError("There are no layer activations to show.")
    rows = len(activations)
    # Fixed pixel sizes, so a strip's tick labels never run into the next strip's title.
    strip_pixels, gap_pixels = 50, 60
    plot_pixels = rows * strip_pixels + (rows - 1) * gap_pixels
    figure = make_subplots(
        rows=rows,
        cols=1,
        subplot_titles=[f"{name} ({len(values)})" for name, values in activations],
        vertical_spacing=gap_pixels / plot_pixels if rows > 1 else 0.0,
    )
    for row, (name, values) in enumerate(activations, start=1):
        values = np.asarray(values, dtype=np.float64)
        if values.ndim != 1 or values.size == 0:
            raise ValueError(f"The activations of layer {name} must be a non-empty 1-D array.")
        is_last = row == len(activations)
        labels = (
            list(output_names)
            if is_last and output_names is not None and len(output_names) == values.size
            else [str(index) for index in range(values.size)]
        )
        figure.add_trace(
            go.Heatmap(
                z=[np.round(values, 4)],
                x=labels,
                colorscale=ACTIVATION_COLORSCALE,
                showscale=False,
                xgap=1 if values.size <= 128 else 0,
                hovertemplate=f"{name}<br>unit %{{x}}: %{{z:.3f}}<extra></extra>",
            ),
            row=row,
            col=1,
        )
        figure.update_yaxes(visible=False, row=row, col=1)
        figure.update_xaxes(
            type="category", showticklabels=values.size <= 32, tickfont={"size": 10},
            row=row, col=1,
        )  # fmt: skip
    figure.update_layout(
        height=plot_pixels + 30 + 30,
        margin={"l": 10, "r": 10, "t": 30, "b": 30},
        showlegend=False,
    )
    return figure
