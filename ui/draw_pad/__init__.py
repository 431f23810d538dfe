"""The Draw page's own drawing component: a canvas whose prediction follows the pen.

Streamlit custom components v2 (no iframe): `mnist_net.js` (preprocessing and forward pass,
the same as the server's to 1e-4) and `draw_pad.js` (canvas, brush, undo, clear, crop box)
run in the page. The model's file (core/nn/browser_model.py) is granted to this visitor and
fetched by the browser from ``/model-weights/<digest>`` (streamlit_app.py), once per model:
the digest names the content, so the browser keeps it in its cache.
"""

from __future__ import annotations

import base64
import functools
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import streamlit as st
from PIL import Image

from core.data.drawings import (
    MIN_PEN_SPAN,
    checked_box,
    checked_strokes,
    decode_canvas_png,
    is_a_dot,
)
from core.nn.browser_model import BrowserModel, BrowserModelError, export_browser_model
from core.text import plain
from core.visitors.browser_models import browser_model_grants

COMPONENT = "mnist_studio.draw_pad"
CANVAS_SIZE = 280
WEIGHTS_ROUTE = "model-weights"
ASSETS = Path(__file__).parent


@functools.cache
def _assets() -> tuple[str, str]:
    """The component's script (the network first) and stylesheet, read once per process."""
    script = (ASSETS / "mnist_net.js").read_text() + "\n" + (ASSETS / "draw_pad.js").read_text()
    return script, (ASSETS / "draw_pad.css").read_text()


@functools.cache
def _component():
    script, style = _assets()
    return st.components.v2.component(COMPONENT, js=script, css=style, isolate_styles=False)


@dataclass(frozen=True)
class Drawing:
    """What the canvas sent when its last stroke ended."""

    pixels: np.ndarray  # (280, 280, 4) uint8 RGBA
    dot: bool = False  # A tap, not a digit (`core.data.drawings.is_a_dot`).


@st.cache_resource(max_entries=16, show_spinner=False)
def browser_model(key: str, _model) -> BrowserModel | str:
    """The model's file for the page's forward pass, or why it stays on the server.

    Derived from the model alone, so a cleared cache only costs an export (a few ms).
    """
    try:
        return export_browser_model(_model)
    except BrowserModelError as error:
        return f"the page cannot run {error}"
    except (ValueError, TypeError, AttributeError, KeyError) as error:
        return f"the model could not be prepared for the page ({plain(error, 200)})"


def browser_model_for(visitor: str | None, key: str, model) -> tuple[dict | None, str | None]:
    """Grant this visitor the model's file; return (model data for the page, fallback reason)."""
    exported = browser_model(key, model)
    if isinstance(exported, str):
        return None, exported
    if visitor is None:
        return None, "this browser sent no visitor cookie, so the model cannot be sent to it"
    browser_model_grants().grant(visitor, exported.digest, exported.blob)
    return {"url": f"{WEIGHTS_ROUTE}/{exported.digest}", "parameters": exported.parameters}, None


def draw_pad(
    key: str,
    *,
    model: dict | None,
    fallback: str | None,
    classes: list[str],
    brush: int,
) -> Drawing | None | str:
    """Show the canvas; return the last drawing, None when empty, or why it cannot be used."""
    # Streamlit forgets a widget's state on a page that did not show it: the last drawing is
    # kept under its own key, so a visitor who comes back finds it on the canvas and judged.
    last_key = f"{key}_last"
    mounted = key in st.session_state
    sent = st.session_state.get(last_key)
    restore = checked_strokes(sent.get("strokes"), CANVAS_SIZE) if isinstance(sent, dict) else None
    result = _component()(
        key=key,
        data={
            "mode": "draw",
            "size": CANVAS_SIZE,
            "brush": brush,
            "classes": classes,
            "model": model,
            "fallback": fallback,
            "restore": restore or [],
            "minPenSpan": MIN_PEN_SPAN,
        },
        default={"drawing": None},
        on_drawing_change=lambda: None,
        height="content",
    )
    if mounted:
        sent = result.drawing
        st.session_state[last_key] = sent
    if sent is None:
        return None
    if not isinstance(sent, dict):
        return "The drawing arrived in a form the page does not know."
    try:
        pixels = decode_canvas_png(sent.get("png"), CANVAS_SIZE)
    except ValueError as error:
        return str(error)
    return Drawing(pixels, dot=is_a_dot(checked_strokes(sent.get("strokes"), CANVAS_SIZE)))


def picture_url(picture: np.ndarray) -> str:
    """A shown picture as a JPEG data URL (small enough to resend with each page run)."""
    buffer = io.BytesIO()
    Image.fromarray(picture).convert("RGB").save(buffer, format="JPEG", quality=85)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()


def crop_box(key: str, picture: np.ndarray, picture_id: str) -> dict[str, float] | None:
    """Show ``picture`` (at its size) for a dragged crop box; return the box drawn on this
    picture (named by ``picture_id``), or None."""
    height, width = picture.shape[:2]
    result = _component()(
        key=key,
        data={
            "mode": "box",
            "picture": picture_url(picture),
            "picture_id": picture_id,
            "width": width,
            "height": height,
        },
        default={"box": None},
        on_box_change=lambda: None,
        height="content",
    )
    box = result.box
    if not isinstance(box, dict) or box.get("picture_id") != picture_id:
        return None
    return checked_box(box, width, height)


__all__ = ["CANVAS_SIZE", "Drawing", "browser_model_for", "crop_box", "draw_pad"]
