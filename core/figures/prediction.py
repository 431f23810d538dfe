"""A bar chart of a model's class probabilities for one image (Draw and Evaluate pages)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from core.data.datasets import resolve_class_names

# Green means right and red means wrong, as a learner reads them; blue when the truth is unknown.
WRONG_COLOR = "#d62728"
TOP_COLOR = WRONG_COLOR  # the top class when it is not the true label
CORRECT_COLOR = "#2ca02c"
PREDICTED_COLOR = "#1f77b4"
OTHER_COLOR = "#9aa5b1"
TRUE_LABEL_COLOR = "#1a6e1a"


def probability_bars(
    probabilities: Sequence[float] | np.ndarray,
    class_names: Sequence[str] | None = None,
    true_label: int | None = None,
) -> go.Figure:
    """Return a bar chart of class probabilities with the top prediction highlighted.

    Args:
        probabilities: One probability per class, e.g. a softmax output of shape (10,).
        class_names: Names shown under the bars; the class indices ("0".."9") by default.
        true_label: Index of the correct class, if known; its bar is drawn green with a dark
            outline and the title says whether the prediction is right.

    Returns:
        A plotly figure with one bar per class. The top class has its probability printed
        on the bar and is green when it is the true label, red when it is not, and blue
        when the true label is unknown; a legend below says so. The title shows the
        prediction and the sum of the probabilities (1.000 for a softmax output).

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
    colors = [OTHER_COLOR] * num_classes
    line_widths = [0] * num_classes
    if true_label is None:
        colors[top] = PREDICTED_COLOR
    else:
        colors[top] = CORRECT_COLOR if top == int(true_label) else WRONG_COLOR
        colors[int(true_label)] = CORRECT_COLOR
        line_widths[int(true_label)] = 3
    text = [f"{value:.1%}" if index == top else "" for index, value in enumerate(values)]

    title = f"Prediction: {names[top]} ({values[top]:.1%})"
    if true_label is not None:
        verdict = "correct" if top == int(true_label) else f"true label {names[int(true_label)]}"
        title += f" · {verdict}"
    title += f"<br><sup>sum of probabilities = {values.sum():.3f}</sup>"

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
            showlegend=False,
        )
    )
    # Legend entries for the colours in use (markers without points).
    if true_label is None:
        legend = {PREDICTED_COLOR: "prediction"}
    elif top == int(true_label):
        legend = {CORRECT_COLOR: "correct prediction"}
    else:
        legend = {CORRECT_COLOR: "true label", WRONG_COLOR: "wrong prediction"}
    for color, label in legend.items():
        if color in colors:
            figure.add_trace(
                go.Scatter(
                    x=[None], y=[None], mode="markers", name=label, hoverinfo="skip",
                    marker={"symbol": "square", "size": 12, "color": color},
                )
            )  # fmt: skip
    figure.update_layout(
        title={"text": title, "font": {"size": 14}, "x": 0, "xanchor": "left"},
        xaxis={"title": "class", "type": "category"},
        yaxis={"title": "probability", "range": [0, 1.1], "tickformat": ".0%"},
        height=340,
        margin={"l": 50, "r": 10, "t": 60, "b": 40},
        showlegend=True,
        legend={"orientation": "h", "yanchor": "top", "y": -0.22, "x": 0, "font": {"size": 11}},
    )
    return figure
