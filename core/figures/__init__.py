"""Plotly figure builders: plain arrays in, `plotly.graph_objects.Figure` out.

    evaluation            a model's predictions: the confusion matrix, image galleries
    confusion_comparison  two runs' confusion matrices, side by side or as a difference
    layers                what a network's layers hold: first-layer weights, activations
    prediction            one prediction's probability bars
    draw                  saliency maps of a drawn digit
    explore               the data: pixel heat maps, one-hot labels, class counts, mean images
    training              live and finished training curves
    compare               runs compared: overlaid curves, accuracy against time, sweeps
    tiling                images laid out in a grid (no Plotly)

This package re-exports the figure builders pages use.
"""

from core.figures.compare import (
    overlaid_curves,
    sweep_parallel_coordinates,
    tradeoff_scatter,
)
from core.figures.confusion_comparison import COMPARISON_MODES, confusion_comparison_figure
from core.figures.draw import saliency_maps
from core.figures.evaluation import confusion_matrix_figure, image_grid_figure, normalize_rows
from core.figures.explore import (
    class_distribution,
    mean_images_figure,
    one_hot_figure,
    pixel_heatmap,
)
from core.figures.layers import activation_strips_figure, weight_tiles_figure
from core.figures.prediction import probability_bars
from core.figures.tiling import tile_images
from core.figures.training import metric_figure

__all__ = [
    "COMPARISON_MODES",
    "activation_strips_figure",
    "class_distribution",
    "confusion_comparison_figure",
    "confusion_matrix_figure",
    "image_grid_figure",
    "mean_images_figure",
    "metric_figure",
    "normalize_rows",
    "one_hot_figure",
    "overlaid_curves",
    "pixel_heatmap",
    "probability_bars",
    "saliency_maps",
    "sweep_parallel_coordinates",
    "tile_images",
    "tradeoff_scatter",
    "weight_tiles_figure",
]
