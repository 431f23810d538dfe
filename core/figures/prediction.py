"""A bar chart of a model's class probabilities for one image (Draw and Evaluate pages)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from core.data import resolve_class_names

TOP_COLOR = "#d62728"
OTHER_COLOR = "#9aa5b1"
TRUE_LABEL_COLOR = "#2ca02c"


def probability_bars(
    probabilities: Sequence[float] | np.ndarray,
    class_names: Sequence[str] | None = None,
    true_label: int | None = None,
) -> go.Figure:
    """Return a bar chart of class probabilities with the top prediction highlighted.

    Args:
        probabilities: One probability per class, e.g. a softmax output of shape (10,).
        class_names: Names shown under the bars; the class indices ("0".."9") by default.
        true_label: Index of the correct class, if known; its bar gets a green outline and
            the title says whether the prediction is right.

    Returns:
        A plotly figure with one bar per class. The top class is drawn in red and its
        probability printed on the bar; the title shows the prediction and the sum of the
        probabilities (1.000 for a softmax output).

    Raises:
        ValueError: If the probabilities are not a non-empty 1-D list of finite numbers in
            [0, 1], or if `class_names` or `true_label` do not match their number.
    """
    values = np.asarray(probabilities, dtype=np.float64)
    if values.ndim == 2 and values.shape[0] == 1:
        values = values[0]
    if values.ndim != 1 or values.size == 0:
        raise ValueError(
            f"Expected one probability per class (a 1-D array), got shape {values.shape}."
        )
    if not np.all(np.isfinite(values)) or values.min() < 0 or values.max() > 1 + 1e-6:
        raise ValueError("Probabilities must be finite numbers between 0 and 1.")
    num_classes = values.size
    names = list(resolve_class_names(class_names, num_classes))
    if true_label is not None and not 0 <= int(true_label) < num_classes:
        raise ValueError(f"true_label must be between 0 and {num_classes - 1}, got {true_label}.")

    top = int(np.argmax(values))
    colors = [TOP_COLOR if index == top else OTHER_COLOR for index in range(num_classes)]
    line_widths = [0] * num_classes
    if true_label is not None:
        line_widths[int(true_label)] = 3
    text = [f"{value:.1%}" if index == top else "" for index, value in enumerate(values)]

    title = f"Prediction: {names[top]} ({values[top]:.1%})"
    if true_label is not None:
        verdict = "correct" if top == int(true_label) else f"true label {names[int(true_label)]}"
        title += f" · {verdict}"
    title += f" · sum of probabilities = {values.sum():.3f}"

    figure = go.Figure(
        go.Bar(
            x=names,
            y=values,
            marker={
                "color": colors,
                "line": {"color": TRUE_LABEL_COLOR, "width": line_widths},
            },
            text=text,
            textposition="outside",
            cliponaxis=False,
            hovertemplate="class %{x}: %{y:.4f}<extra></extra>",
        )
    )
    figure.update_layout(
        title={"text": title, "font": {"size": 14}},
        xaxis={"title": "class", "type": "category"},
        yaxis={"title": "probability", "range": [0, 1.08], "tickformat": ".0%"},
        height=300,
        margin={"l": 50, "r": 20, "t": 50, "b": 40},
        showlegend=False,
    )
    return figure
