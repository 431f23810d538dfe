"""Figures of the Explore page: pixel heat maps, one-hot vectors, class counts, mean images."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from core.figures.tiling import tile_images

# Dark digits on white, like ink on paper; the same scale for every image figure.
INK_SCALE = "Greys"
# The thin frame around thumbnails, so white paper stays visible on a white page.
FRAME_GREY = 215
TRAIN_COLOR = "#4f46e5"
TEST_COLOR = "#f59e0b"


def pixel_heatmap(image: np.ndarray, title: str | None = None) -> go.Figure:
    """Return a heat map of one image's pixel values; hovering shows row, column and value.

    Args:
        image: A ``(rows, columns)`` array of pixel values 0-255.
        title: An optional figure title.

    Returns:
        The figure, with row 0 at the top and square pixels.

    Raises:
        ValueError: The image is not 2-dimensional.
    """
    image = np.asarray(image)
    if image.ndim != 2:
        raise ValueError(f"A pixel heat map needs one 2-D image, not an array of {image.shape}.")
    figure = go.Figure(
        go.Heatmap(
            z=image,
            zmin=0,
            zmax=255,
            colorscale=INK_SCALE,
            colorbar={"title": {"text": "value"}, "thickness": 12},
            hovertemplate="row %{y}, column %{x}<br>value %{z}<extra></extra>",
            xgap=1,
            ygap=1,
        )
    )
    figure.update_yaxes(autorange="reversed", scaleanchor="x", constrain="domain", title="row")
    figure.update_xaxes(constrain="domain", title="column", side="top")
    figure.update_layout(
        title=title,
        height=460,
        margin={"l": 40, "r": 10, "t": 60 if title else 40, "b": 10},
        plot_bgcolor="#e5e7eb",
    )
    return figure


def one_hot_figure(vector: np.ndarray, class_names: Sequence[str]) -> go.Figure:
    """Return a one-row heat map of a one-hot label vector, each cell labelled with its value.

    Args:
        vector: The ``(num_classes,)`` one-hot vector.
        class_names: One name per class, shown under the cells.

    Returns:
        The figure.
    """
    vector = np.asarray(vector, dtype=np.float32).reshape(1, -1)
    if vector.shape[1] != len(class_names):
        raise ValueError(
            f"The vector has {vector.shape[1]} entries but there are {len(class_names)} classes."
        )
    figure = go.Figure(
        go.Heatmap(
            z=vector,
            x=[str(name) for name in class_names],
            y=["one-hot"],
            zmin=0,
            zmax=1,
            colorscale=[[0, "#f4f5fb"], [1, TRAIN_COLOR]],
            showscale=False,
            text=[[f"{value:g}" for value in vector[0]]],
            texttemplate="%{text}",
            hovertemplate="class %{x}: %{z:g}<extra></extra>",
            xgap=2,
        )
    )
    figure.update_xaxes(type="category", title="class", side="bottom")
    figure.update_yaxes(visible=False)
    figure.update_layout(height=130, margin={"l": 10, "r": 10, "t": 10, "b": 40})
    return figure


def class_distribution(
    train_counts: np.ndarray, test_counts: np.ndarray, class_names: Sequence[str]
) -> go.Figure:
    """Return grouped bars of how many training and test images each class has.

    Args:
        train_counts: ``(num_classes,)`` image counts of the training set.
        test_counts: ``(num_classes,)`` image counts of the test set.
        class_names: One name per class.

    Returns:
        The figure.
    """
    names = [str(name) for name in class_names]
    figure = go.Figure(
        [
            go.Bar(name="training", x=names, y=np.asarray(train_counts), marker_color=TRAIN_COLOR),
            go.Bar(name="test", x=names, y=np.asarray(test_counts), marker_color=TEST_COLOR),
        ]
    )
    figure.update_traces(hovertemplate="class %{x}: %{y:,} images")
    figure.update_xaxes(type="category", title="class")
    figure.update_yaxes(title="images")
    figure.update_layout(
        barmode="group",
        height=340,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        legend={"orientation": "h", "y": 1.12},
    )
    return figure


def mean_images_figure(
    means: np.ndarray, class_names: Sequence[str], columns: int = 5, gap: int = 3
) -> go.Figure:
    """Return a grid of the mean image of each class; hovering shows class and mean value.

    The images are laid out in one heat map (a mosaic with blank gaps, `tile_images`),
    which draws much faster than one subplot per class.

    Args:
        means: ``(num_classes, rows, columns)`` mean images, values 0-255.
        class_names: One name per class, written above its image.
        columns: Images per grid row.
        gap: Blank pixels between images side by side (three times that between rows,
            where the class names go).

    Returns:
        The figure.
    """
    means = np.asarray(means, dtype=np.float32)
    if means.ndim != 3 or len(means) != len(class_names):
        raise ValueError(
            f"Expected one mean image per class ({len(class_names)}), not an array of "
            f"shape {means.shape}."
        )
    count, height, width = means.shape
    columns = max(1, min(columns, count))
    grid_rows = -(-count // columns)
    # Three gaps between rows leave room for each row's class names, above its images.
    row_gap = 3 * gap
    space_above = ((row_gap, 0), (0, 0))
    mosaic = np.pad(
        tile_images(means, columns, gap=gap, row_gap=row_gap), space_above, constant_values=np.nan
    )
    class_of_pixel = np.pad(
        tile_images(
            np.broadcast_to(np.arange(count)[:, None, None], means.shape),
            columns,
            gap=gap,
            fill=-1,
            row_gap=row_gap,
        ),
        space_above,
        constant_values=-1,
    ).astype(int)
    labels = np.array([str(name) for name in class_names] + [""], dtype=object)
    names = labels[class_of_pixel]  # -1, a gap, picks the trailing ""
    annotations = []
    for index in range(count):
        row, column = divmod(index, columns)
        top = row * (height + row_gap) + row_gap
        left = column * (width + gap)
        annotations.append(
            {
                "x": left + (width - 1) / 2,
                "y": top - 0.5,
                "text": str(class_names[index]),
                "showarrow": False,
                "yanchor": "bottom",
                "font": {"size": 13},
            }
        )
    figure = go.Figure(
        go.Heatmap(
            z=mosaic,
            customdata=names,
            zmin=0,
            zmax=255,
            colorscale=INK_SCALE,
            showscale=False,
            hoverongaps=False,
            hovertemplate="class %{customdata}<br>mean pixel %{z:.1f}<extra></extra>",
        )
    )
    figure.update_xaxes(visible=False, constrain="domain")
    figure.update_yaxes(visible=False, autorange="reversed", scaleanchor="x", constrain="domain")
    figure.update_layout(
        annotations=annotations,
        height=140 * grid_rows,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        plot_bgcolor="rgba(0,0,0,0)",
    )
    return figure


def ink_on_paper(image: np.ndarray, frame: int = 1) -> np.ndarray:
    """Return an image as dark ink on white paper with a thin grey frame, for thumbnails.

    MNIST stores 0 for the paper and 255 for full ink, which `st.image` would draw white on
    black; the heat maps (`INK_SCALE`) draw 0 as white, so thumbnails are inverted to match.
    The frame keeps a thumbnail's edge visible on a white page.

    Args:
        image: A ``uint8`` image ``(28, 28)`` as stored (0 paper, 255 ink).
        frame: Width of the grey frame in pixels (0 for none).

    Returns:
        A ``uint8`` image ``(28 + 2 * frame, 28 + 2 * frame)``.
    """
    inverted = 255 - np.asarray(image, dtype=np.uint8)
    return np.pad(inverted, frame, constant_values=FRAME_GREY)
