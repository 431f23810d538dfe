"""Read the plotly figures an AppTest run drew, by widget key."""

from __future__ import annotations

import base64
import json

import numpy as np


def chart(app, key):
    """The plotly figure (as a dict) of the chart with this widget key."""
    for element in app.get("plotly_chart"):
        if element.proto.id and key in element.proto.id:
            return json.loads(element.proto.spec)
    raise AssertionError(f"no chart with key {key}")


def values(data):
    """A plotly JSON array as NumPy (plotly 6 sends NumPy arrays base64-encoded)."""
    if isinstance(data, dict) and "bdata" in data:
        array = np.frombuffer(base64.b64decode(data["bdata"]), dtype=data["dtype"])
        shape = [int(size) for size in str(data.get("shape", array.size)).split(",")]
        return array.reshape(shape)
    return np.asarray(data)
