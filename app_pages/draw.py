"""Draw: draw or upload a digit and see what a model predicts, and what the model sees."""

from __future__ import annotations

import numpy as np
import streamlit as st
from PIL import Image
from streamlit_drawable_canvas import st_canvas

import ui
from core.figures.prediction import probability_bars
from core.preprocess import (
    BlankDrawingError,
    load_uploaded_image,
    predict_probabilities,
    preprocess_digit,
)

CANVAS_SIZE = 280
PREVIEW_SIZE = 168  # The 28x28 input shown 6x larger, each pixel a crisp square.
DEFAULT_BRUSH = 18
# The canvas's toolbar (undo, redo, reset) sits in this space above the canvas.
CANVAS_TOOLBAR_SPACE = 44
KEY_CANVAS_VERSION = "draw_canvas_version"
KEY_LOADED_RUN = "draw_loaded_run"
INPUT_DRAW = "Draw on the canvas"
INPUT_UPLOAD = "Upload a picture"
UPLOAD_TYPES = ["png", "jpg", "jpeg", "gif", "bmp", "webp", "tif", "tiff"]


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
st.components.v2.component(
    CANVAS_COMPONENT,
    html=f'<div class="canvas-root"></div><style>{CANVAS_TOOLBAR_CSS}</style>',
    css="index-*.css",
    js="index-*.js",
    isolate_styles=True,
)


def model_choices() -> dict[str, tuple[str, str | None]]:
    """Return display label -> (source, run id) for every model that can predict."""
    choices: dict[str, tuple[str, str | None]] = {}
    current = ui.current_model()
    if current is not None:
        choices[f"Your current model: {current.label}"] = ("current", None)
    try:
        default = ui.default_model()
    except (OSError, ValueError, TypeError) as error:
        default = None
        st.warning(f"The shipped default model could not be loaded: {error}")
    if default is not None:
        choices["Default model (ships with MNIST Studio)"] = ("default", None)
    for run in ui.stored_networks().itertuples():
        accuracy = "" if np.isnan(run.test_accuracy) else f", {run.test_accuracy:.1%}"
        label = f"Stored run: {run.name} ({run.summary}{accuracy})"
        if label in choices:
            label += f" [{run.id}]"
        choices[label] = ("run", run.id)
    return choices


def load_chosen_model(source: str, run_id: str | None):
    """Return (model, caption) for a choice; a stored run is loaded once per session."""
    if source == "current":
        current = ui.current_model()
        return current.model, f"Trained in this session: {current.label}."
    if source == "default":
        model, metadata = ui.default_model()
        caption = (
            f"{metadata.get('summary', 'small CNN')}; test accuracy "
            f"{metadata.get('test_accuracy', float('nan')):.2%}, on MNIST digits re-drawn on a "
            f"canvas {metadata.get('drawn_test_accuracy', float('nan')):.2%}."
        )
        return model, caption
    loaded = st.session_state.get(KEY_LOADED_RUN)
    if loaded is None or loaded[0] != run_id:
        with st.spinner("Loading the stored model…"):
            loaded = (run_id, ui.run_store().load_model(run_id))
        st.session_state[KEY_LOADED_RUN] = loaded
    return loaded[1], f"Stored run {run_id}."


def model_ui():
    """Let the person pick a model; return it, or stop the page when there is none."""
    choices = model_choices()
    if not choices:
        st.info("No model yet: train one on the Train page (the default model is missing).")
        st.stop()
    label = st.selectbox("Model", list(choices), key="draw_model")
    try:
        model, caption = load_chosen_model(*choices[label])
    except (OSError, ValueError) as error:
        st.error(f"This model cannot be used: {error}")
        st.stop()
    st.caption(caption)
    return model


def clear_canvas() -> None:
    """Give the canvas a new key, which mounts an empty one."""
    st.session_state[KEY_CANVAS_VERSION] = st.session_state.get(KEY_CANVAS_VERSION, 0) + 1


def canvas_ui():
    """Show the drawing canvas with its brush and clear controls; return its RGBA array."""
    # Room for the canvas's own toolbar, which floats just above it.
    st.space(CANVAS_TOOLBAR_SPACE)
    result = st_canvas(
        stroke_width=st.session_state.get("draw_brush", DEFAULT_BRUSH),
        stroke_color="#FFFFFF",
        background_color="#000000",
        update_streamlit=True,
        height=CANVAS_SIZE,
        width=CANVAS_SIZE,
        drawing_mode="freedraw",
        return_image_data=True,
        key=f"draw_canvas_{st.session_state.get(KEY_CANVAS_VERSION, 0)}",
    )
    controls = st.columns([3, 2], vertical_alignment="bottom")
    controls[0].slider("Brush width", 6, 40, DEFAULT_BRUSH, key="draw_brush")
    controls[1].button("Clear", key="draw_clear", on_click=clear_canvas, icon=":material/delete:")
    return result.image_data


def upload_ui():
    """Show the uploader; return the picture as an array, or None."""
    upload = st.file_uploader(
        "A photo or scan of one handwritten digit", type=UPLOAD_TYPES, key="draw_upload"
    )
    if upload is None:
        return None
    try:
        pixels = load_uploaded_image(upload.getvalue())
    except ValueError as error:
        st.error(f"{upload.name}: {error}")
        return None
    st.image(pixels, caption=upload.name, width=CANVAS_SIZE)
    return pixels


st.title("Draw a digit")
st.caption(
    "Draw a digit with the mouse (or upload a picture of one) and see which digit the model "
    "thinks it is, and the 28x28 image it actually looks at."
)

model = model_ui()
source = st.radio(
    "Input", [INPUT_DRAW, INPUT_UPLOAD], key="draw_input", horizontal=True,
    label_visibility="collapsed",
)  # fmt: skip
drawing_column, input_column = st.columns(2, gap="large")

with drawing_column:
    picture = canvas_ui() if source == INPUT_DRAW else upload_ui()

with input_column:
    st.markdown("**What the model sees**")
    digit = None
    if picture is None:
        st.info("Draw a digit on the canvas." if source == INPUT_DRAW else "Upload a picture.")
    else:
        try:
            digit = preprocess_digit(picture)
        except BlankDrawingError:
            st.info("Draw a digit: the canvas is (almost) empty.")
        except ValueError as error:
            st.error(f"This picture cannot be used: {error}")
    if digit is not None:
        preview_column, prediction_column = st.columns(2)
        preview = Image.fromarray(digit.astype(np.uint8)).resize(
            (PREVIEW_SIZE, PREVIEW_SIZE), Image.Resampling.NEAREST
        )
        preview_column.image(preview, caption="28x28 pixels, 0-255, as in MNIST")
    with st.expander("Why resize and centre the drawing?"):
        st.markdown(
            "MNIST digits were scaled so their longer side fits a **20x20** box and then "
            "placed in a **28x28** frame with their **centre of mass** in the middle. "
            "A drawing on a big canvas is thin, off-centre and too large, so it gets the "
            "same treatment; otherwise the model would be shown something it never saw "
            "while training."
        )
    if digit is None:
        st.stop()
    try:
        probabilities = predict_probabilities(model, digit)
    except (ValueError, TypeError, AttributeError) as error:
        st.error(f"This model cannot predict a 28x28 digit: {error}")
        st.stop()
    top = int(np.argmax(probabilities))
    prediction_column.metric(
        "Predicted digit", str(top), help="The class with the highest probability."
    )
    prediction_column.markdown(f"Confidence: **{probabilities[top]:.1%}**")

st.plotly_chart(probability_bars(probabilities), key="draw_probabilities")
st.caption(
    "The last layer is a softmax: it turns the network's scores into 10 probabilities that "
    "add up to 1. The highest one is the prediction; a low maximum means the model is unsure."
)
