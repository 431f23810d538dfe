"""Draw: draw or upload a digit and see what a model predicts, and what the model sees."""

from __future__ import annotations

import html
from concurrent.futures import Future

import numpy as np
import streamlit as st
from PIL import Image

import ui
from core.data.crop import box_shares, shown_size
from core.data.drawings import DOT_MESSAGE
from core.data.image_files import load_uploaded_image
from core.data.photo import INK_CHOICES, PATH_SCAN, clean_photo
from core.data.preprocess import BlankDrawingError, predict_probabilities, preprocess_digit
from core.figures.draw import saliency_maps
from core.figures.prediction import probability_bars
from core.inspection import novelty
from core.inspection.saliency import occlusion_saliency
from core.text import plain
from ui.background import start_in_thread
from ui.draw_pad import Drawing, browser_model_for, crop_box, draw_pad
from ui.identity import browser_visitor_id

PREVIEW_SIZE = 168  # The 28x28 input shown 6x larger, each pixel a crisp square.
DEFAULT_BRUSH = 18
VERDICT_DOT = "dot"  # The canvas got a tap, not a digit (`core.data.drawings.is_a_dot`).
KEY_UPLOAD_PICTURE = "draw_upload_picture"
CROP_DISPLAY_SIDE = 280
STEP_IMAGE_WIDTH = 84
NEIGHBOUR_WIDTH = 56
VERDICT_HEIGHT = 64
INPUT_DRAW = "Draw on the canvas"
INPUT_UPLOAD = "Upload a picture"
UPLOAD_TYPES = ["png", "jpg", "jpeg", "gif", "bmp", "webp", "tif", "tiff"]


HELP = """
**Drawings.** MNIST digits were scaled so their longer side fits a **20x20** box and placed in
a **28x28** frame with their **centre of mass** in the middle. A drawing on a big canvas is
thin, off-centre and too large, so it gets the same treatment; otherwise the model would be
shown something it never saw while training.

**Photos.** A phone photo has uneven light, notebook lines and specks. The page estimates the
paper's brightness (a grey closing wider than the strokes) and divides it out, thresholds
with Otsu's method (scikit-image), removes thin straight lines longer than 30% of the picture,
keeps the largest piece of ink and the pieces near it, then does the drawing steps. On 300
photo-like notebook digits made from MNIST test digits (ruled, squared and plain paper, shadow,
slight rotation and perspective, JPEG) the shipped model reads **99.0%** right this way and
**17.0%** with the drawing steps alone (`bench/bench_photo.py`). A clean scan (evenly lit
paper, no ruled lines) skips the clean-up: the drawing steps keep its thin strokes whole.

**"Not sure" and "not a digit".** A softmax always sums to 1, so the model names a digit even
for a scribble. "Not sure": the top probability after *temperature scaling* (one number fitted
so that the probabilities match how often the model is right on held-out digits) is lower than
for 98% of drawn digits. "Does not look like a digit" combines four measures of how unusual a
drawing is: its distance to the nearest training image in the layer before the softmax, its
Mahalanobis distance there to the nearest digit class, the share of its (slightly blurred)
pixels that the training digits' 40 main components (PCA) cannot rebuild, and the number of
holes in its ink. Each value becomes the share of held-out drawn digits at least as unusual,
and the minus logarithms of the four shares are added (Fisher's method); a drawing is flagged
when the sum is higher than for 98.5% of held-out drawn training digits. The measure was
chosen by measuring (`bench/bench_novelty.py`, shipped model): it flags **1.5%** of 2,000 drawn
MNIST test digits and **82.8%** of 400 drawn non-digits kept out of the choice (letters in the
Liberation fonts, scribbles, circles, boxes; 87.3% without letters such as O, l, S or Z that
are written like digits). Alone, at the same share of digits, the maximum probability flags
33% of the non-digits, the entropy 34%, the energy 32%, the nearest-image distance 47%, the
Mahalanobis distance 55%, the PCA rebuild error 36%. For a freshly trained Recommended
network (784-256-10) the same measure flags 1.2% of the digits and 71.2% of the non-digits.

**While you draw.** The model's weights come to this page once (the browser keeps them) and
the network runs here on every movement of the pen, at most once per screen frame, with the
same preparation of the picture as the server's; so the digit and the bars follow the pen.
When a stroke ends the drawing goes to the server, which gives the verdict above the canvas, the
explanation and the neighbours. The page's numbers match the server's to 0.0001 (tested on
200 drawings in Chromium). A model the page cannot run (a layer or activation it does not
know, or more than 4 million parameters) is predicted on the server after each stroke, and
the line under the canvas says so.

**Why this digit?** Each 4x4 patch of the input is blanked in turn and the change of each
class's probability is measured (occlusion). The nearest training images are found in the
layer before the softmax (the pixels for a network without hidden layers).
"""


def model_ui():
    """Let the person pick a model; return (model, cache key), or stop the page."""
    choices = ui.model_choices()
    if not choices:
        st.info("No model yet: train one on the Train page (the default model is missing).")
        st.stop()
    picked = ui.model_picker("draw", choices, prefer_default=True)
    st.caption(picked.caption)
    return picked.model, picked.cache_key


@st.cache_resource(max_entries=4, show_spinner=False)
def reference(key: str, _model) -> Future:
    """Start building the model's training embeddings and thresholds, once per model.

    The build takes seconds, so it runs in a thread from the moment the model is chosen; a
    bounded cache keeps the last few models' references. The shipped model's is read from
    the file saved beside it (`ui.default_model_reference`), so it is ready at once.
    """
    if key == ui.DEFAULT_CHOICE:  # The shipped model's reference ships beside it.
        saved = ui.default_model_reference()
        if saved is not None:
            ready: Future = Future()
            ready.set_result(saved)
            return ready
    dataset = ui.default_dataset()
    return start_in_thread(
        lambda: novelty.reference_for(_model, dataset.train_images, dataset.train_labels),
        name=f"draw-reference-{key}",
    )


def canvas_ui(model, model_data: dict | None, fallback: str | None) -> Drawing | None | str:
    """Show the drawing canvas (brush, undo and clear are its own); return its last drawing."""
    return draw_pad(
        "draw_pad",
        model=model_data,
        fallback=fallback,
        classes=list(ui.class_names_for(model.output_shape[-1])),
        brush=DEFAULT_BRUSH,
    )


def verdict_html(digit: str, confidence: float | None, verdict: str | None) -> str:
    """The big prediction line shown right above the canvas (fixed height, no layout jump)."""
    if verdict is None:
        words, colour = "Draw a digit: the prediction appears here.", "#6b7280"
    elif verdict == VERDICT_DOT:
        words, colour = "A dot is not a digit: draw a whole one.", "#b45309"
    elif verdict == novelty.VERDICT_NOT_A_DIGIT:
        words, colour = "This does not look like a digit.", "#b45309"
    elif verdict == novelty.VERDICT_NOT_SURE:
        words, colour = f"Not sure: {confidence:.0%}, it could be another digit.", "#b45309"
    else:
        words, colour = f"{confidence:.0%} sure.", "#15803d"
    return (
        f'<div class="draw-verdict" style="height:{VERDICT_HEIGHT}px;display:flex;'
        f'align-items:center;gap:0.75rem">'
        f'<span data-testid="draw-predicted-digit" style="font-size:3rem;font-weight:700;'
        f'line-height:1">{html.escape(digit)}</span>'
        f'<span style="color:{colour};font-weight:600">{html.escape(words)}</span></div>'
    )


def judge_digit(model, key: str, digit: np.ndarray):
    """Probabilities and verdict for one 28x28 digit; (None, None) when it cannot predict."""
    try:
        probabilities = predict_probabilities(model, digit)
    except (ValueError, TypeError, AttributeError) as error:
        st.error(f"This model cannot predict a 28x28 digit: {plain(error, 300)}")
        return None, None
    future = reference(key, model)
    if not future.done():
        st.caption(
            'The check for "not sure" and "not a digit" is still being prepared for this '
            "model (a few seconds, once per model); it applies from the next stroke."
        )
        return probabilities, None
    if (failure := future.exception()) is not None:
        reason = str(failure) or type(failure).__name__
        st.warning(
            'The check for "not sure" and "not a digit" could not be prepared for this model, '
            f"so the prediction is shown without it: {plain(reason, 300)}"
        )
        return probabilities, None
    try:
        judgement = novelty.judge(model, future.result(), digit)
    except (ValueError, TypeError, AttributeError) as error:
        st.warning(f"The model's certainty cannot be judged: {plain(error, 300)}")
        judgement = None
    return probabilities, judgement


def show_prediction(slot, probabilities, judgement) -> None:
    """Fill the slot above the picture with the big predicted digit and the verdict."""
    top = int(np.argmax(probabilities))
    name = ui.class_names_for(len(probabilities))[top]
    if judgement is None:
        slot.html(verdict_html(name, float(probabilities[top]), novelty.VERDICT_DIGIT))
        return
    shown = "?" if judgement.verdict == novelty.VERDICT_NOT_A_DIGIT else name
    slot.html(verdict_html(shown, judgement.confidence, judgement.verdict))


def model_view_ui(digit, probabilities, judgement, bars: bool = True) -> None:
    """The 28x28 input, the probability bars and the verdict's numbers."""
    preview = Image.fromarray(digit.astype(np.uint8)).resize(
        (PREVIEW_SIZE, PREVIEW_SIZE), Image.Resampling.NEAREST
    )
    preview_column, prediction_column = st.columns(2)
    preview_column.image(preview, caption="28x28 pixels, 0-255, as in MNIST")
    top = int(np.argmax(probabilities))
    names = ui.class_names_for(len(probabilities))
    prediction_column.metric(
        "Predicted digit", names[top], help="The class with the highest probability."
    )
    prediction_column.markdown(f"Confidence: **{probabilities[top]:.1%}**")
    if judgement is not None:
        words = novelty.judgement_words(judgement)
        prediction_column.caption(words.summary)
        with st.expander("How unusual is it?", key="draw_measures"):
            st.caption("\n".join(f"- {line}" for line in words.details))
    if bars:
        st.plotly_chart(probability_bars(probabilities, names), key="draw_probabilities")


def explanation_ui(model, digit, judgement) -> None:
    """Saliency for the prediction and runner-up, and the nearest training images."""
    if not st.toggle("Why this digit?", key="draw_explain"):
        return
    saliency = occlusion_saliency(model.predict_on_batch, digit)
    names = ui.class_names_for(len(saliency.probabilities))
    st.plotly_chart(saliency_maps(saliency, digit, names), key="draw_saliency")
    st.caption(
        "Each 4x4 patch of the input was blanked in turn: blue pixels pushed the model toward "
        "the class (blanking them lowered its probability), red ones pushed away from it."
    )
    if judgement is None:
        return
    dataset = ui.default_dataset()
    st.markdown("**The 8 nearest training images** (in the layer before the softmax)")
    st.container(key="draw_neighbours").image(
        [255 - dataset.train_images[index] for index in judgement.neighbour_indices],
        caption=[
            f"{dataset.class_names[label]} · {distance:.2f}"
            for label, distance in zip(
                judgement.neighbour_labels, judgement.neighbour_distances, strict=True
            )
        ],
        width=NEIGHBOUR_WIDTH,
    )


def result_ui(model, key, digit, slot, bars: bool = True) -> None:
    """Predict, judge and explain one preprocessed digit (the bars unless the page shows them)."""
    probabilities, judgement = judge_digit(model, key, digit)
    if probabilities is None:
        return
    show_prediction(slot, probabilities, judgement)
    model_view_ui(digit, probabilities, judgement, bars)
    explanation_ui(model, digit, judgement)


@st.fragment
def drawing_area(model, key: str) -> None:
    """The canvas and everything that follows a stroke: only this part reruns per stroke."""
    slot = st.empty()
    slot.html(verdict_html("", None, None))
    drawing_column, result_column = st.columns(2, gap="large")
    with drawing_column:
        model_data, fallback = browser_model_for(browser_visitor_id(), key, model)
        drawing = canvas_ui(model, model_data, fallback)
    with result_column:
        st.markdown("**What the model sees**")
        if isinstance(drawing, str):
            st.error(f"This drawing cannot be used: {plain(drawing, 300)}")
            return
        try:
            digit = preprocess_digit(drawing.pixels) if drawing is not None else None
        except BlankDrawingError:
            digit = None
        except ValueError as error:
            st.error(f"This drawing cannot be used: {plain(error, 300)}")
            return
        if digit is None:
            st.info("Draw a digit on the canvas.")
            return
        if drawing is not None and drawing.dot:
            slot.html(verdict_html("", None, VERDICT_DOT))
            st.info(DOT_MESSAGE)
            return
        # With the model in the page its bars follow the pen above the canvas already.
        result_ui(model, key, digit, slot, bars=model_data is None)


def crop_ui(pixels: np.ndarray, file_id: str) -> tuple[float, float, float, float] | None:
    """Let the visitor drag a box over the picture; return it as shares, or None."""
    height, width = pixels.shape[:2]
    shown_width, shown_height = shown_size(height, width, CROP_DISPLAY_SIDE)
    background = np.asarray(
        Image.fromarray(pixels).convert("RGB").resize((shown_width, shown_height))
    )
    st.caption("Drag a box around the digit to crop the picture (draw a new box to change it).")
    # A box belongs to the file it was drawn on: a new picture starts uncropped.
    box = crop_box("draw_crop", background, file_id)
    if box is None:
        return None
    return box_shares(box, shown_width, shown_height)


def steps_ui(steps) -> None:
    """Show each cleaning step's image small, so a learner sees what it did."""
    paper = "dark ink on light paper" if steps.dark_ink else "light ink on dark"
    if steps.path == PATH_SCAN:
        st.caption(
            f"Read as a clean scan, {paper}: the paper is evenly lit and has no lines, so the "
            "drawing steps alone make the 28x28 input (they keep thin strokes whole)."
        )
        captions = ["1 grayscale, cropped", "2 28x28 input"]
        pictures = [steps.pictures()[0], steps.pictures()[-1]]
    else:
        st.caption(f"Read as a photo, {paper}: light and lines are cleaned up first.")
        captions = ["1 grayscale, cropped", "2 lighting divided out", "3 threshold (Otsu)",
                    "4 lines removed", "5 digit pieces kept", "6 28x28 input"]  # fmt: skip
        pictures = steps.pictures()
    # The 28x28 input, each pixel a crisp 3x3 square, like the larger preview.
    pictures[-1] = np.kron(pictures[-1], np.ones((3, 3), dtype=np.uint8))
    st.image(pictures, caption=captions, width=STEP_IMAGE_WIDTH, output_format="PNG")


def held_upload_picture(upload) -> np.ndarray | str:
    """The uploaded picture, decoded (and shrunk) once per file; or why it cannot be read.

    The page reruns on every crop and click; the decoded picture (at most
    `MAX_DECODED_SIDE` pixels a side, uint8) is held in the server's memory budget
    (`ui.memory_budget`) under the session and the file's id, one file at a time, so a rerun
    never decodes the file again. When the budget released it for other visitors, the file
    is decoded again.

    Args:
        upload: The file uploader's value, or None to drop the held picture.

    Returns:
        The uint8 picture, or the sentence saying why the file cannot be used.
    """
    budget, owner = ui.memory_budget(), ui.memory_owner()
    if upload is None:
        budget.release(owner, KEY_UPLOAD_PICTURE)
        return "Upload a picture."
    held = budget.get(owner, KEY_UPLOAD_PICTURE)
    if held is not None and held[0] == upload.file_id:
        return held[1]
    try:
        picture = load_uploaded_image(upload.getvalue())
        budget.hold(owner, KEY_UPLOAD_PICTURE, (upload.file_id, picture), picture.nbytes)
    except ValueError as error:  # unreadable, or over the whole memory budget
        budget.release(owner, KEY_UPLOAD_PICTURE)
        return f"{plain(upload.name)}: {plain(error, 300)}"
    return picture


def upload_area(model, key: str) -> None:
    """Upload a photo, crop it, flip ink and paper, see each step and the prediction."""
    upload = st.file_uploader(
        "A photo or scan of one handwritten digit", type=UPLOAD_TYPES, key="draw_upload"
    )
    if upload is None:
        held_upload_picture(None)
        st.info("Upload a picture.")
        return
    pixels = held_upload_picture(upload)
    if isinstance(pixels, str):
        st.error(pixels)
        return
    slot = st.empty()
    picture_column, result_column = st.columns(2, gap="large")
    with picture_column:
        box = crop_ui(pixels, upload.file_id)
        ink = st.radio("Ink", INK_CHOICES, key="draw_ink", horizontal=True,
                       help="Flip ink and paper when the automatic choice is wrong.")  # fmt: skip
    try:
        steps = clean_photo(pixels, box=box, ink=ink)
    except BlankDrawingError as error:
        result_column.info(str(error))
        return
    except ValueError as error:
        result_column.error(f"This picture cannot be used: {plain(error, 300)}")
        return
    with picture_column:
        steps_ui(steps)
    with result_column:
        st.markdown("**What the model sees**")
        result_ui(model, key, steps.digit, slot)


st.title("Draw a digit")
st.caption(
    "Draw a digit with the mouse or a finger (or upload a photo of one) and see which digit "
    "the model thinks it is, how sure it is, and the 28x28 image it actually looks at."
)

model, key = model_ui()
reference(key, model)
source = st.radio(
    "Input", [INPUT_DRAW, INPUT_UPLOAD], key="draw_input", horizontal=True,
    label_visibility="collapsed",
)  # fmt: skip
if source == INPUT_DRAW:
    held_upload_picture(None)
    drawing_area(model, key)
else:
    upload_area(model, key)

with st.expander("How the page prepares the picture and judges the answer"):
    st.markdown(HELP)
