"""Figures of a model's predictions: the confusion matrix and image galleries.

The Evaluate page also draws `core.figures.layers` (weights and activations) and
`core.figures.confusion_comparison` (two runs' confusion matrices).

Every function takes plain arrays and returns a `plotly.graph_objects.Figure`. Figures that
the page lets a person click (the confusion matrix and the image gallery) carry an invisible
scatter trace with one marker per cell or image, because Streamlit reports selections on
scatter points but not on heat maps; each marker's ``customdata`` says what was clicked.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from core.data.datasets import resolve_class_names
from core.figures.tiling import TILE_GAP, tile_images

CONFUSION_COLORSCALE = "Blues"
DIVERGING_COLORSCALE = "RdBu"
# Digits are drawn dark on white, as on paper: 0 (background) is white, 255 (ink) black.
DIGIT_COLORSCALE = [[0.0, "#ffffff"], [1.0, "#111111"]]
SELECTED_COLOR = "#d62728"
CAPTION_COLOR = "#444444"
INVISIBLE = "rgba(0,0,0,0)"
CLICK_MARKER_SIZE = 30


def check_confusion(confusion) -> np.ndarray:
    matrix = np.asarray(confusion)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1] or matrix.shape[0] < 2:
        raise ValueError(
            f"A confusion matrix must be square with at least 2 classes; got {matrix.shape}."
        )
    if np.any(matrix < 0):
        raise ValueError("A confusion matrix holds counts, which cannot be negative.")
    return matrix


def normalize_rows(confusion) -> np.ndarray:
    """Return each row of a confusion matrix divided by its total (0 for empty rows).

    Row ``t`` then says which fraction of the images of true class ``t`` went to each
    predicted class; the diagonal is the per-class recall.
    """
    matrix = check_confusion(confusion).astype(np.float64)
    totals = matrix.sum(axis=1, keepdims=True)
    return np.divide(matrix, totals, out=np.zeros_like(matrix), where=totals > 0)


def cell_click_trace(matrix: np.ndarray, rates: np.ndarray, names: list[str]) -> go.Scatter:
    """An invisible marker on every cell so that a click selects (true, predicted)."""
    num_classes = matrix.shape[0]
    true_grid, predicted_grid = np.meshgrid(
        np.arange(num_classes), np.arange(num_classes), indexing="ij"
    )
    true_flat, predicted_flat = true_grid.ravel(), predicted_grid.ravel()
    customdata = np.column_stack(
        [true_flat, predicted_flat, matrix.ravel(), rates.ravel()]
    ).tolist()
    hover_names = np.column_stack([np.asarray(names)[true_flat], np.asarray(names)[predicted_flat]])
    return go.Scatter(
        x=predicted_flat,
        y=true_flat,
        mode="markers",
        marker={"symbol": "square", "size": CLICK_MARKER_SIZE, "color": INVISIBLE},
        customdata=customdata,
        text=[f"true {true}, predicted {predicted}" for true, predicted in hover_names],
        hovertemplate=(
            "%{text}<br>%{customdata[2]:,} images"
            "<br>%{customdata[3]:.1%} of this true class<extra></extra>"
        ),
        selected={"marker": {"opacity": 1}},
        unselected={"marker": {"opacity": 1}},
        showlegend=False,
        name="cells",
    )


def confusion_matrix_figure(
    confusion,
    class_names: Sequence[str] | None = None,
    normalize: bool = False,
    selected: tuple[int, int] | None = None,
    title: str | None = None,
) -> go.Figure:
    """Return a confusion matrix heat map whose cells can be clicked.

    Args:
        confusion: ``(C, C)`` counts; row = true class, column = predicted class.
        class_names: Axis labels (default "0".."C-1").
        normalize: Colour and label the cells by the fraction of their true class (each
            row sums to 100%) instead of by counts.
        selected: An optional ``(true, predicted)`` cell to outline.
        title: Optional figure title.

    Returns:
        A heat map with the numbers in the cells and a hover giving count and rate. Its
        second trace has one invisible marker per cell with ``customdata = [true,
        predicted, count, rate]``, so a click selects that cell.

    Raises:
        ValueError: If the matrix is not square counts or the names do not match.
    """
    matrix = check_confusion(confusion)
    num_classes = matrix.shape[0]
    names = list(resolve_class_names(class_names, num_classes))
    rates = normalize_rows(matrix)
    values = rates if normalize else matrix
    cell_text = (
        [[f"{rate:.0%}" if rate >= 0.005 else "" for rate in row] for row in rates]
        if normalize
        else [[str(int(count)) for count in row] for row in matrix]
    )
    figure = go.Figure(
        go.Heatmap(
            z=values,
            x=list(range(num_classes)),
            y=list(range(num_classes)),
            text=cell_text,
            texttemplate="%{text}",
            # Small and without thousands separators, so "1124" fits a cell on a phone.
            textfont={"size": 10 if normalize or matrix.max() < 1000 else 9},
            colorscale=CONFUSION_COLORSCALE,
            zmin=0,
            zmax=1 if normalize else max(int(matrix.max()), 1),
            # A thin bar with its title along it leaves the cells the width on a phone.
            colorbar={
                "title": {"text": "share" if normalize else "images", "side": "right"},
                "thickness": 8,
            },
            hoverinfo="skip",
            xgap=1,
            ygap=1,
        )
    )
    figure.add_trace(cell_click_trace(matrix, rates, names))
    if selected is not None:
        true_label, predicted_label = (int(value) for value in selected)
        if 0 <= true_label < num_classes and 0 <= predicted_label < num_classes:
            figure.add_shape(
                type="rect",
                x0=predicted_label - 0.5,
                x1=predicted_label + 0.5,
                y0=true_label - 0.5,
                y1=true_label + 0.5,
                line={"color": SELECTED_COLOR, "width": 3},
            )
    axis = {
        "tickmode": "array",
        "tickvals": list(range(num_classes)),
        "ticktext": names,
        "fixedrange": True,
        "showgrid": False,
        "zeroline": False,
    }
    figure.update_layout(
        title=title,
        xaxis={**axis, "title": "predicted class", "range": [-0.5, num_classes - 0.5]},
        yaxis={**axis, "title": "true class", "range": [num_classes - 0.5, -0.5]},
        height=460,
        margin={"l": 45, "r": 0, "t": 40 if title else 10, "b": 50},
        clickmode="event+select",
        plot_bgcolor="white",
    )
    return figure


def _tile_centres(count: int, columns: int, height: int, width: int, gap: int):
    positions = np.arange(count)
    rows, cols = np.divmod(positions, columns)
    x = cols * (width + gap) + (width - 1) / 2
    y = rows * (height + gap) + (height - 1) / 2
    return x, y


def image_grid_figure(
    images,
    captions: Sequence[str] | None = None,
    customdata: Sequence | None = None,
    columns: int = 8,
    tile_height: int = 80,
    hover: Sequence[str] | None = None,
) -> go.Figure:
    """Return a gallery of 28x28 digits in one figure; clicking a digit selects it.

    Args:
        images: ``(N, 28, 28)`` pixels 0-255.
        captions: Optional short text under each image (e.g. "9 · 98%").
        customdata: Optional value per image (e.g. its index in the test set), returned in
            the selection when the image is clicked; defaults to 0..N-1.
        columns: Images per row.
        tile_height: Height of one row in screen pixels.
        hover: Optional longer hover text per image.

    Returns:
        A figure: one heat map of the tiled images and one invisible marker per image
        (``customdata`` = the given value), with the captions drawn below the images.

    Raises:
        ValueError: If the images are empty or the per-image lists have another length.
    """
    images = np.asarray(images)
    if images.ndim != 3 or images.shape[0] == 0:
        raise ValueError(f"Expected a non-empty stack of images; got shape {images.shape}.")
    count, height, width = images.shape
    for name, values in (("captions", captions), ("customdata", customdata), ("hover", hover)):
        if values is not None and len(values) != count:
            raise ValueError(f"Got {len(values)} {name} for {count} images; give one per image.")
    columns = max(1, min(columns, count))
    rows = -(-count // columns)
    caption_space = 9 if captions is not None else 0
    gap = TILE_GAP + caption_space
    # Gaps are 0 (white, like the digits' background); uint8 keeps the figure small.
    grid = tile_images(images, columns, gap=gap, fill=0).astype(np.uint8)
    # The captions sit in the gap under each row, so the last row needs room as well.
    if caption_space:
        grid = np.vstack([grid, np.zeros((gap, grid.shape[1]), dtype=np.uint8)])
    x, y = _tile_centres(count, columns, height, width, gap)
    if customdata is None:
        customdata = list(range(count))
    figure = go.Figure(
        go.Heatmap(
            z=grid,
            colorscale=DIGIT_COLORSCALE,
            zmin=0,
            zmax=255,
            showscale=False,
            hoverinfo="skip",
        )
    )
    figure.add_trace(
        go.Scatter(
            x=x,
            y=y,
            mode="markers",
            marker={"symbol": "square", "size": max(tile_height - 30, 10), "color": INVISIBLE},
            customdata=list(customdata),
            text=list(hover) if hover is not None else [str(value) for value in customdata],
            hovertemplate="%{text}<extra></extra>",
            selected={"marker": {"opacity": 1}},
            unselected={"marker": {"opacity": 1}},
            showlegend=False,
            name="images",
        )
    )
    if captions is not None:
        figure.add_trace(
            go.Scatter(
                x=x,
                y=y + height / 2 + caption_space / 2,
                mode="text",
                text=list(captions),
                textfont={"size": 9, "color": CAPTION_COLOR},
                # A click selects an image; the captions must not fade with the rest.
                selected={"textfont": {"color": CAPTION_COLOR}},
                unselected={"textfont": {"color": CAPTION_COLOR}},
                hoverinfo="skip",
                showlegend=False,
                name="captions",
            )
        )
    hidden = {"visible": False, "showgrid": False, "zeroline": False, "fixedrange": True}
    figure.update_layout(
        xaxis={**hidden, "range": [-0.5, grid.shape[1] - 0.5]},
        yaxis={**hidden, "range": [grid.shape[0] - 0.5, -0.5]},
        height=rows * tile_height + 10,
        margin={"l": 0, "r": 0, "t": 5, "b": 5},
        plot_bgcolor="white",
        clickmode="event+select",
    )
    return figure
