"""The Draw page's canvas: streamlit-drawable-canvas re-registered with a toolbar that never
covers the canvas and a shorter wait before a freehand drawing is sent."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import streamlit as st
from streamlit_drawable_canvas import st_canvas

# streamlit-drawable-canvas 0.13 parks its invisible toolbar (opacity 0) at `top: -1rem`, so
# until the pointer has hovered the canvas for 0.1 s the toolbar's 141x46 px box covers the
# canvas's top-right corner (its top 30 px) and takes the first pointer-down: a stroke started
# there was lost, and a tap could press an invisible button. The component is re-registered
# under its own name with the same script and stylesheet plus these rules: the toolbar always
# sits entirely above the canvas and ignores the pointer while it is invisible.
CANVAS_COMPONENT = "streamlit-drawable-canvas.streamlit_drawable_canvas"
CANVAS_TOOLBAR_CSS = """
.dc-toolbar { top: auto !important; bottom: 100% !important; padding-bottom: 0.25rem !important;
  pointer-events: none; }
.dc-root:hover > .dc-toolbar, .dc-toolbar:focus-within, .dc-toolbar[data-pinned=true] {
  pointer-events: auto; }
"""
# The component also waits 200 ms after a stroke before it sends the drawing (a debounce in
# its script), two thirds of the page's 300 ms budget from stroke end to prediction. Its
# script is loaded through a small loader that lowers that wait to `CANVAS_SEND_DELAY_MS` for
# freehand drawing; if the installed version's script does not contain the expected line, or
# the patched copy cannot load, the component's own script is used unchanged.
CANVAS_SEND_DELAY_MS = 20
CANVAS_DEBOUNCE_LINE = "Bc = 200,"
CANVAS_LOADER_JS = """
const source = new URL("_stcore/bidi-components/%(component)s/%(script)s", document.baseURI);
let fast = null;
function loadFast() {
  fast = fast || fetch(source).then((response) => {
    if (!response.ok) throw new Error(`Failed to load ${source}`);
    return response.text();
  }).then((text) => {
    const patched = text.replace(%(line)s, %(replacement)s);
    return import(URL.createObjectURL(new Blob([patched], {type: "text/javascript"})));
  }).catch(() => import(source.href));
  return fast;
}
export default async function (component) {
  // Only freehand drawing sends sooner; a crop box keeps the component's own wait, so a box
  // is not sent half-dragged.
  const freehand = component.data && component.data.drawingMode === "freedraw";
  const canvas = await (freehand ? loadFast() : import(source.href));
  return canvas.default(component);
}
"""


@functools.cache
def canvas_script() -> str:
    """The canvas component's script: the loader above, or its own file as a fallback.

    Read once per process: the page runs again on every stroke.
    """
    folder = Path(st_canvas.__code__.co_filename).parent / "frontend" / "build"
    scripts = sorted(folder.glob("index-*.js"))
    if len(scripts) != 1 or scripts[0].read_text().count(CANVAS_DEBOUNCE_LINE) != 1:
        return "index-*.js"
    return CANVAS_LOADER_JS % {
        "component": CANVAS_COMPONENT,
        "script": scripts[0].name,
        "line": json.dumps(CANVAS_DEBOUNCE_LINE),
        "replacement": json.dumps(f"Bc = {CANVAS_SEND_DELAY_MS},"),
    }


def register_canvas() -> None:
    """Register the component under `CANVAS_COMPONENT` (the Draw page does on every run)."""
    st.components.v2.component(
        CANVAS_COMPONENT,
        html=f'<div class="canvas-root"></div><style>{CANVAS_TOOLBAR_CSS}</style>',
        css="index-*.css",
        js=canvas_script(),
        isolate_styles=True,
    )


__all__ = ["CANVAS_COMPONENT", "register_canvas", "st_canvas"]
