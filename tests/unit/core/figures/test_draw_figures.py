"""The Draw page's figures: nothing on them that the learner cannot read."""

from __future__ import annotations

import numpy as np

from core.figures.draw import saliency_maps
from core.inspection.saliency import Saliency


def test_saliency_maps_show_no_legend_over_the_colour_bar():
    """Plotly listed the unnamed outlines as "trace 1", "trace 3" over the colour bar."""
    digit = np.zeros((28, 28), dtype=np.float32)
    digit[6:22, 10:14] = 255.0
    maps = np.zeros((2, 28, 28), dtype=np.float32)
    maps[0, 6:22, 10:14] = 0.2
    saliency = Saliency(classes=(1, 7), maps=maps, probabilities=np.full(10, 0.1))
    figure = saliency_maps(saliency, digit)
    assert figure.layout.showlegend is False
    assert all(trace.showlegend is False for trace in figure.data if trace.type == "contour")
    # One colour bar, titled, for both maps.
    assert [trace.showscale for trace in figure.data if trace.type == "heatmap"] == [True, False]
    assert figure.data[0].colorbar.title.text == "push"
