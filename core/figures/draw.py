"""Figures of the Draw page: occlusion saliency maps over the 28x28 input."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.inspection.saliency import Saliency

# Blue: pushed toward the class; red: pushed away from it.
SALIENCY_SCALE = [[0.0, "#b2182b"], [0.5, "#f7f7f7"], [1.0, "#2166ac"]]


def saliency_maps(saliency: Saliency, digit: np.ndarray, class_names=None) -> go.Figure:
    """Return one heat map per explained class, with the drawing's ink outlined.

    Args:
        saliency: From `core.inspection.saliency.occlusion_saliency`.
        digit: The (28, 28) input that was explained.
        class_names: Names of the classes; their indices by default.

    Returns:
        A plotly figure with one square heat map per class, on a shared colour scale
        centred at 0.
    """
    names = class_names or [str(c) for c in range(len(saliency.probabilities))]
    titles = [
        f"{'Prediction' if i == 0 else 'Runner-up'}: {names[c]} ({saliency.probabilities[c]:.0%})"
        for i, c in enumerate(saliency.classes)
    ]
    figure = make_subplots(1, len(saliency.classes), subplot_titles=titles,
                           horizontal_spacing=0.06)  # fmt: skip
    limit = float(np.abs(saliency.maps).max()) or 1.0
    for index, values in enumerate(saliency.maps, start=1):
        figure.add_trace(
            go.Heatmap(
                z=values[::-1], zmin=-limit, zmax=limit, colorscale=SALIENCY_SCALE,
                showscale=index == 1, colorbar={"title": "push", "thickness": 10, "len": 0.8},
                hovertemplate="row %{y}, column %{x}: %{z:.3f}<extra></extra>",
            ),
            1, index,
        )  # fmt: skip
        figure.add_trace(
            go.Contour(
                z=np.asarray(digit)[::-1], contours={"start": 100, "end": 100, "size": 1,
                "coloring": "none"}, line={"color": "#333", "width": 1}, showscale=False,
                showlegend=False, hoverinfo="skip",
            ),
            1, index,
        )  # fmt: skip
        figure.update_xaxes(visible=False, scaleanchor=f"y{'' if index == 1 else index}",
                            row=1, col=index)  # fmt: skip
        figure.update_yaxes(visible=False, row=1, col=index)
    # The outlines are unnamed traces: plotly listed them as "trace 1", "trace 3" in a legend
    # drawn over the colour bar's title. The colour bar says all there is to say.
    figure.update_layout(height=260, margin={"l": 4, "r": 4, "t": 30, "b": 4}, showlegend=False)
    return figure
