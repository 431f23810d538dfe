"""Evaluate: where the model is right, where it is wrong, and a look inside the network."""

import numpy as np
import streamlit as st

import core.data as data
import ui
from core import figures
from core.data.datasets import IMAGE_SHAPE, Dataset
from core.data.links import held_out_position
from core.figures.explore import pixel_heatmap
from core.figures.prediction import probability_bars
from core.inspection.confusion import most_confused_cell
from core.nn.evaluation import (
    Evaluation,
    cell_indices,
    evaluate,
    misclassified,
    predict_images,
)
from core.nn.internals import first_layer_weights, layer_activations
from core.nn.model_files import evaluation_batch_size
from core.runs.evaluation_plan import (
    check_class_count,
    compared_images,
    config_setting,
    split_and_seed,
)
from core.text import plain

GALLERY_SIZE = 40
GALLERY_COLUMNS = 10
MAX_WEIGHT_TILES = 64
ANY = "Any"

# Widget keys.
KEY_NORMALIZE = "evaluate_normalize"
KEY_TRUE = "evaluate_true"
KEY_PREDICTED = "evaluate_predicted"
KEY_CONFUSION = "evaluate_confusion"
KEY_CELL_GALLERY = "evaluate_cell_gallery"
KEY_IMAGE = "evaluate_image_index"
KEY_MISTAKE_TRUE = "evaluate_mistake_true"
KEY_MISTAKE_PREDICTED = "evaluate_mistake_predicted"
KEY_MISTAKE_GALLERY = "evaluate_mistake_gallery"
KEY_COMPARE_WITH = "evaluate_compare_with"
KEY_COMPARE_MODE = "evaluate_compare_mode"
KEY_CELL_FOR = "evaluate_cell_model"  # the model whose evaluation chose the default cell
KEY_LINKED_IMAGE = "evaluate_linked_image"  # (file set, index) of a link outside the held-out set


# --- Models and their evaluations (cached) ---------------------------------------------------


@st.cache_resource(show_spinner=False, max_entries=8, hash_funcs=ui.DATASET_HASH)
def held_out_set(dataset: Dataset, split: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The test images a run was not trained on (`datasets.held_out_set`, kept per split)."""
    return data.held_out_set(dataset, split, seed)


@st.cache_resource(show_spinner=False, max_entries=8, hash_funcs=ui.DATASET_HASH)
def held_out_sources(dataset: Dataset, split: str, seed: int) -> tuple[str, np.ndarray]:
    """Which file set the held-out images come from, and each one's index there."""
    return data.held_out_sources(dataset, split, seed)


@st.cache_resource(
    show_spinner="Evaluating the model on the test images…",
    max_entries=16,
    hash_funcs=ui.DATASET_HASH,
)
def cached_evaluation(model_key: str, dataset: Dataset, split: str, seed: int, _model):
    """Evaluate a model once per (model, data set, split); every widget reuses the result."""
    images, labels = held_out_set(dataset, split, seed)
    batch_size = evaluation_batch_size(_model)
    return evaluate(_model, images, labels, class_names=dataset.class_names, batch_size=batch_size)


def evaluation_of(picked: ui.PickedModel, dataset: Dataset):
    """Return (evaluation, held-out images, split, seed, key) of a picked model.

    The key names this evaluation (model, data set, split) for remembered figures.
    """
    model, config = picked.model, picked.config
    split, seed = split_and_seed(config)
    check_class_count(model, dataset.num_classes)
    evaluation = cached_evaluation(picked.cache_key, dataset, split, seed, model)
    evaluation_key = f"{picked.cache_key}|{dataset.fingerprint}|{split}|{seed}"
    images = held_out_set(dataset, split, seed)[0]
    return evaluation, images, split, seed, evaluation_key


def image_use_of(config, dataset: Dataset, image_set: str, index: int) -> str | None:
    """What the picked model's training did with one image of the files, or None if unknown."""
    if config is None:
        return None
    train_size = config_setting(config, "train_size", None)
    return data.image_use(
        dataset, image_set, index,
        split=config_setting(config, "split", "official"),
        seed=int(config_setting(config, "seed", 0)),
        validation_fraction=float(config_setting(config, "validation_fraction", 0.0)),
        train_size=None if train_size is None else int(train_size),
    )  # fmt: skip


# What the model's training did with a linked image -> how the page marks its prediction.
IMAGE_USE_MARKS = {
    data.TRAINED_ON: (
        "seen in training",
        "The model learned from this very image, so a right answer here says less than one on "
        "the held-out images: it may simply remember it.",
    ),
    data.VALIDATED_ON: (
        "used for validation",
        "The model never trained on it, but it was among the images that checked each epoch.",
    ),
    data.NOT_USED: (
        "never seen",
        "The model's training left this image out, so this is a fair test of it.",
    ),
    None: (
        "maybe seen in training",
        "This model came without its training settings, so it may have trained on this image.",
    ),
}


def linked_image_ui(picked: ui.PickedModel, dataset: Dataset, evaluation_key: str) -> None:
    """An image linked from Explore that the model is not measured on: predict it anyway."""
    image_set, index = st.session_state[KEY_LINKED_IMAGE]
    images = dataset.train_images if image_set == "train" else dataset.test_images
    labels = dataset.train_labels if image_set == "train" else dataset.test_labels
    try:
        use = image_use_of(picked.config, dataset, image_set, index)
    except ValueError:
        st.session_state.pop(KEY_LINKED_IMAGE, None)
        return
    mark, explanation = IMAGE_USE_MARKS.get(use, IMAGE_USE_MARKS[None])
    names = ui.class_names_for(dataset.num_classes)
    true_label = int(labels[index])

    def build():
        probabilities = predict_images(picked.model, images[index : index + 1])[0]
        image_figure = pixel_heatmap(images[index], title=f"True label {names[true_label]}")
        image_figure.update_layout(height=300)
        return image_figure, probability_bars(probabilities, names, true_label)

    with st.container(border=True, key="evaluate_linked"):
        st.subheader(f"Image {index:,} of the {ui.IMAGE_LINK_SETS[image_set]}: {mark}")
        st.caption(explanation)
        image_figure, bars_figure = ui.remembered_figure(
            (evaluation_key, "linked", image_set, index), build
        )
        image_column, bars_column = st.columns([2, 3])
        image_column.plotly_chart(
            image_figure, key="evaluate_linked_image_chart", config={"displayModeBar": False}
        )
        bars_column.plotly_chart(
            bars_figure, key="evaluate_linked_probabilities", config={"displayModeBar": False}
        )
        if st.button("Close", key="evaluate_linked_close"):
            st.session_state.pop(KEY_LINKED_IMAGE, None)
            st.rerun()


# --- Widgets ---------------------------------------------------------------------------------


def pick_cell(evaluation: Evaluation, option: str) -> tuple[int, int]:
    """The true/predicted selectboxes (the fallback to clicking a confusion-matrix cell)."""
    classes = list(range(evaluation.num_classes))
    if st.session_state.get(KEY_CELL_FOR) != option or KEY_TRUE not in st.session_state:
        # Start at the most frequent mistake.
        true_start, predicted_start = most_confused_cell(evaluation.confusion_matrix)
        st.session_state[KEY_TRUE] = true_start
        st.session_state[KEY_PREDICTED] = predicted_start
        st.session_state[KEY_CELL_FOR] = option
    name = evaluation.class_names.__getitem__
    left, right = st.columns(2)
    true_label = left.selectbox("True class", classes, key=KEY_TRUE, format_func=name)
    predicted_label = right.selectbox(
        "Predicted class", classes, key=KEY_PREDICTED, format_func=name
    )
    return true_label, predicted_label


def on_cell_click() -> None:
    """Copy a clicked confusion-matrix cell into the true/predicted selectboxes."""
    points = st.session_state[KEY_CONFUSION].selection.points
    if points:
        true_label, predicted_label = points[0]["customdata"][:2]
        st.session_state[KEY_TRUE] = int(true_label)
        st.session_state[KEY_PREDICTED] = int(predicted_label)


def on_gallery_click(gallery_key: str) -> None:
    """Show a clicked gallery image in the per-digit probabilities section."""
    points = st.session_state[gallery_key].selection.points
    if points:
        st.session_state[KEY_IMAGE] = int(points[0]["customdata"])


def on_random_image(count: int) -> None:
    st.session_state[KEY_IMAGE] = int(np.random.default_rng().integers(count))


def gallery_figure(evaluation: Evaluation, images: np.ndarray, indices: np.ndarray):
    """The gallery of up to GALLERY_SIZE images, captioned with prediction and probability."""
    shown = indices[:GALLERY_SIZE]
    names = evaluation.class_names
    # Short enough to fit under a thumbnail on a phone (about 36 px wide).
    captions = [
        f"{names[evaluation.predictions[index]]}: {evaluation.confidences[index]:.0%}"
        for index in shown
    ]
    hover = [
        f"held-out image {index:,}: true {names[evaluation.labels[index]]}, predicted "
        f"{names[evaluation.predictions[index]]} ({evaluation.confidences[index]:.1%})"
        for index in shown
    ]
    return figures.image_grid_figure(
        images[shown], captions=captions, customdata=shown.tolist(), hover=hover,
        columns=GALLERY_COLUMNS,
    )  # fmt: skip


def image_figures(evaluation: Evaluation, images: np.ndarray, index: int):
    """The pixel heat map of one test image and the bar chart of its probabilities."""
    names = evaluation.class_names
    true_label = int(evaluation.labels[index])
    image_figure = pixel_heatmap(images[index], title=f"True label {names[true_label]}")
    image_figure.update_layout(height=340)
    return image_figure, probability_bars(evaluation.probabilities[index], names, true_label)


def gallery(
    evaluation: Evaluation, images: np.ndarray, indices: np.ndarray, key: str, figure_key: tuple
) -> None:
    """Show up to GALLERY_SIZE images with their predicted class and its probability."""
    if len(indices) == 0:
        st.info("No images here.")
        return
    shown = indices[:GALLERY_SIZE]
    figure = ui.remembered_figure(figure_key, lambda: gallery_figure(evaluation, images, indices))
    st.plotly_chart(
        figure, key=key, on_select=lambda: on_gallery_click(key), selection_mode="points",
        config={"displayModeBar": False},
    )  # fmt: skip
    more = f"the first {len(shown)} of {len(indices):,}" if len(indices) > len(shown) else "all"
    st.caption(
        f"Showing {more} images, most confident first; each caption is the predicted class "
        "and its probability. Click an image to see all its probabilities below."
    )


# --- Page sections ---------------------------------------------------------------------------


def no_current_model_ui(choices: dict[str, ui.ModelChoice]) -> None:
    """Without a current model: say which model the page shows, or stop when there is none."""
    # Name what the picker below shows: its remembered choice, else its first option (a
    # training in another tab adds a newer run first, but the picker keeps its choice).
    remembered = st.session_state.get("evaluate_model")
    first = choices.get(remembered) if isinstance(remembered, str) else None
    if first is None:
        first = next(iter(choices.values()), None)
    st.info(
        "No model trained in this session yet. Train one on the Train page"
        + (
            f"; until then this page shows {plain(first.label)} (pick another below)."
            if first is not None
            else "."
        )
    )
    st.page_link(ui.page_path("train"), label="Go to Train", icon=":material/model_training:")
    if not choices:
        st.stop()


def image_link_ui(dataset: Dataset, source_set: str, source_indices: np.ndarray) -> None:
    """Follow an image link from Explore: to its held-out position, or to a linked image."""
    link = ui.take_image_link(
        {"train": len(dataset.train_images), "test": len(dataset.test_images)}
    )
    if link is None:
        return
    linked_set, linked_index = link
    position = held_out_position(source_set, source_indices, linked_set, linked_index)
    source_name = ui.IMAGE_LINK_SETS[source_set]
    st.session_state.pop(KEY_LINKED_IMAGE, None)
    if position is not None:
        st.session_state[KEY_IMAGE] = position
        st.info(
            f"Image {linked_index:,} of the {source_name} is held-out image "
            f"{position:,}: see it under **Per-digit probabilities** below."
        )
    else:
        st.session_state[KEY_LINKED_IMAGE] = link
        st.info(
            f"Image {linked_index:,} of the {ui.IMAGE_LINK_SETS[linked_set]} is not among the "
            f"images this model is measured on (they come from the {source_name}). Here is "
            "its prediction anyway."
        )


def headline_ui(evaluation: Evaluation, split: str, dataset: Dataset) -> None:
    """Headline metrics and the per-digit report."""
    st.header("How good is it?")
    held_out = (
        f"the {evaluation.num_examples:,} images the article holds out of the training file"
        if split == "article"
        else f"the test file's {evaluation.num_examples:,} images"
    )
    st.caption(
        f"Measured on {held_out} of '{plain(dataset.name)}', which the model never trained on."
    )
    accuracy_column, loss_column, mistakes_column = st.columns(3)
    accuracy_column.metric("Accuracy", f"{evaluation.accuracy:.2%}")
    loss_column.metric("Loss (cross-entropy)", f"{evaluation.loss:.4f}")
    mistakes_column.metric("Misclassified", f"{evaluation.num_mistakes:,}")
    st.subheader("Precision, recall and F1 per digit")
    with st.expander("What precision, recall and F1 mean"):
        st.markdown(
            "**Precision**: of the images predicted as this digit, the share that really are. "
            "**Recall**: of the images of this digit, the share found. **F1** is their harmonic "
            "mean; **support** is how many test images have this label."
        )
    st.dataframe(
        evaluation.report,
        key="evaluate_report",
        height="content",
        column_config={
            "_index": st.column_config.TextColumn("digit", width=100),
            **{
                column: st.column_config.NumberColumn(column, format="%.3f")
                for column in ("precision", "recall", "f1-score")
            },
        },
    )


def confusion_ui(
    evaluation: Evaluation, images: np.ndarray, option: str, evaluation_key: str
) -> np.ndarray:
    """The confusion matrix and the gallery of one cell; returns that cell's image positions."""
    names = evaluation.class_names
    st.header("Which digits does it confuse?")
    st.caption(
        "Row = true digit, column = predicted digit; the diagonal holds the correct predictions. "
        "Click a cell (or choose the pair below) to see its images."
    )
    matrix_column, picker_column = st.columns([3, 2])
    with picker_column:
        normalize = st.toggle("Shares per true digit", key=KEY_NORMALIZE)
        true_label, predicted_label = pick_cell(evaluation, option)
        st.caption(
            "A cell's count divided by its row total is the share of that digit sent to that "
            "prediction; the diagonal shares are the per-digit recall."
        )
    with matrix_column:
        confusion_figure = ui.remembered_figure(
            (evaluation_key, "confusion", normalize, true_label, predicted_label),
            lambda: figures.confusion_matrix_figure(
                evaluation.confusion_matrix, names, normalize=normalize,
                selected=(true_label, predicted_label),
            ),
        )  # fmt: skip
        st.plotly_chart(
            confusion_figure,
            key=KEY_CONFUSION, on_select=on_cell_click, selection_mode="points",
            config={"displayModeBar": False},
        )  # fmt: skip
    cell = cell_indices(evaluation, true_label, predicted_label)
    verdict = "correct" if true_label == predicted_label else "mistakes"
    st.subheader(
        f"True {names[true_label]}, predicted {names[predicted_label]}: "
        f"{len(cell):,} images ({verdict})"
    )
    gallery(
        evaluation, images, cell, KEY_CELL_GALLERY,
        (evaluation_key, "cell", true_label, predicted_label),
    )  # fmt: skip
    return cell


def probabilities_ui(
    evaluation: Evaluation,
    images: np.ndarray,
    cell: np.ndarray,
    evaluation_key: str,
    source_set: str,
    source_indices: np.ndarray,
) -> int:
    """One held-out image's probabilities, with a link to it in Explore; returns its position."""
    st.header("Per-digit probabilities")
    st.caption(
        "The last layer is a softmax: it turns the network's scores into ten probabilities that "
        "add up to 1. The prediction is the largest one."
    )
    if KEY_IMAGE not in st.session_state or st.session_state[KEY_IMAGE] >= evaluation.num_examples:
        st.session_state[KEY_IMAGE] = int(cell[0]) if len(cell) else 0
    pick_column, random_column, hint_column = st.columns([2, 2, 3], vertical_alignment="bottom")
    index = pick_column.number_input(
        f"Held-out image (0 to {evaluation.num_examples - 1:,})",
        min_value=0, max_value=evaluation.num_examples - 1, step=1, key=KEY_IMAGE,
        help="Its position among the images this model is measured on, not Explore's index.",
    )  # fmt: skip
    random_column.button(
        "Random image", key="evaluate_random", icon=":material/casino:",
        on_click=on_random_image, args=(evaluation.num_examples,),
    )  # fmt: skip
    hint_column.caption("Or click any image in a gallery on this page.")
    image_column, bars_column = st.columns([2, 3])
    image_figure, bars_figure = ui.remembered_figure(
        (evaluation_key, "image", index), lambda: image_figures(evaluation, images, index)
    )
    image_column.plotly_chart(image_figure, key="evaluate_image", config={"displayModeBar": False})
    source_index = int(source_indices[index])
    image_column.page_link(
        ui.page_path("explore"),
        label=f"Image {source_index:,} of the {ui.IMAGE_LINK_SETS[source_set]} in Explore",
        query_params=ui.image_link(source_set, source_index),
        icon=":material/grid_view:",
    )
    bars_column.plotly_chart(
        bars_figure, key="evaluate_probabilities", config={"displayModeBar": False}
    )
    return index


def mistakes_ui(evaluation: Evaluation, images: np.ndarray, evaluation_key: str) -> None:
    """Every mistake, filtered by true and predicted class."""
    names = evaluation.class_names
    st.header("All mistakes")
    class_choices: list[str | int] = [ANY, *range(evaluation.num_classes)]

    def label_of(value: str | int) -> str:
        return value if isinstance(value, str) else names[value]

    filter_true, filter_predicted = st.columns(2)
    mistake_true = filter_true.selectbox(
        "True digit", class_choices, key=KEY_MISTAKE_TRUE, format_func=label_of
    )
    mistake_predicted = filter_predicted.selectbox(
        "Predicted digit", class_choices, key=KEY_MISTAKE_PREDICTED, format_func=label_of
    )
    mistakes = misclassified(
        evaluation,
        true_label=None if isinstance(mistake_true, str) else mistake_true,
        predicted_label=None if isinstance(mistake_predicted, str) else mistake_predicted,
    )
    st.caption(f"{len(mistakes):,} misclassified images match.")
    gallery(
        evaluation, images, mistakes, KEY_MISTAKE_GALLERY,
        (evaluation_key, "mistakes", mistake_true, mistake_predicted),
    )  # fmt: skip


def inside_ui(
    model, evaluation: Evaluation, images: np.ndarray, index: int, evaluation_key: str
) -> None:
    """Inside the network: the first layer's weights and every layer's activations."""
    st.header("Inside the network")
    st.subheader("First-layer weights")
    try:
        weights = first_layer_weights(model)
    except ValueError as error:
        st.info(f"Not available for this model: {plain(error, 300)}")
    else:
        is_dense = weights.shape[1:] == IMAGE_SHAPE
        shown = (
            f" (the first {MAX_WEIGHT_TILES} of {len(weights)})"
            if len(weights) > MAX_WEIGHT_TILES
            else ""
        )
        st.caption(
            (
                f"Each tile is one neuron of the first hidden layer{shown}: its weight for every "
                "pixel. Blue pixels push the neuron up when inked, red ones push it down, so a "
                "tile shows the stroke pattern the neuron looks for."
            )
            if is_dense
            else f"Each tile is one 3x3 filter of the first convolution layer{shown}."
        )
        st.plotly_chart(
            ui.remembered_figure(
                (evaluation_key, "weights"),
                lambda: figures.weight_tiles_figure(weights, max_tiles=MAX_WEIGHT_TILES),
            ),
            key="evaluate_weights", config={"displayModeBar": False},
        )  # fmt: skip
    st.subheader(f"Activations for held-out image {index:,}")
    st.caption(
        "What every neuron of each layer outputs for the image above; bright cells light up. "
        "The last strip is the softmax output, the probabilities of the chart above."
    )
    try:
        activations_figure = ui.remembered_figure(
            (evaluation_key, "activations", index),
            lambda: figures.activation_strips_figure(
                layer_activations(model, images[index]), output_names=evaluation.class_names
            ),
        )
    except ValueError as error:
        st.info(f"Not available for this model: {plain(error, 300)}")
    else:
        st.plotly_chart(
            activations_figure, key="evaluate_activations", config={"displayModeBar": False}
        )


def comparison_choice_ui(choices: dict[str, ui.ModelChoice], option: str) -> tuple[str, str]:
    """The model to compare with and how; returns its option key and the comparison mode."""
    st.header("Compare with another model")
    others = [key for key in choices if key != option]
    if not others:
        st.info("Train or store a second model to compare confusion matrices.")
        st.stop()
    compare_column, mode_column = st.columns([3, 2])
    other = compare_column.selectbox(
        "Compare with", others, key=KEY_COMPARE_WITH, format_func=lambda key: choices[key].label
    )
    mode = mode_column.radio(
        "Show",
        list(figures.COMPARISON_MODES),
        format_func=lambda key: figures.COMPARISON_MODES[key].label,
        key=KEY_COMPARE_MODE,
        horizontal=True,
    )
    return other, mode


def comparison_ui(
    picked: ui.PickedModel,
    choices: dict[str, ui.ModelChoice],
    dataset: Dataset,
    evaluation: Evaluation,
    tested: tuple[str, int, str],
) -> None:
    """This model's confusion matrix against another's, on images neither trained on."""
    split, seed, evaluation_key = tested
    other, mode = comparison_choice_ui(choices, picked.choice)
    sizes = (len(dataset.train_images), len(dataset.test_images))
    try:
        other_picked = ui.load_model_choice(other)
        other_evaluation, _, other_split, other_seed, other_key = evaluation_of(
            other_picked, dataset
        )
        images = compared_images((split, seed), (other_split, other_seed), dataset.name)
        compared, compared_key = evaluation, evaluation_key
        if images.rescored is not None:
            # Different images: score both on images that neither trained on.
            shared_split, shared_seed = images.rescored
            compared_key = f"{evaluation_key}|{shared_split}"
            compared = cached_evaluation(
                picked.cache_key, dataset, shared_split, shared_seed, picked.model
            )
            other_key = f"{other_key}|{shared_split}"
            other_evaluation = cached_evaluation(
                other_picked.cache_key, dataset, shared_split, shared_seed, other_picked.model
            )
        run_names = (choices[picked.choice].short_label, choices[other].short_label)
        comparison = ui.remembered_figure(
            (compared_key, "comparison", other_key, mode, run_names),
            lambda: figures.confusion_comparison_figure(
                compared.confusion_matrix, other_evaluation.confusion_matrix,
                mode=mode, class_names=evaluation.class_names, run_names=run_names,
            ),
        )  # fmt: skip
    except ValueError as error:
        st.error(f"Cannot compare: {plain(error, 300)}")
        st.stop()
    if images.like_for_like:
        st.caption(
            f"Accuracy {compared.accuracy:.2%} vs {other_evaluation.accuracy:.2%}, both measured "
            f"on the same images ({images.own.describe(sizes)}): a like-for-like comparison."
        )
    else:
        st.warning(
            f"Not like for like on their own test images: this model was tested on the "
            f"{images.own.describe(sizes)}, the other on the {images.other.describe(sizes)}. "
            f"So here both are scored on the {images.shared.describe(sizes)}, which neither "
            "trained on: "
            f"accuracy {compared.accuracy:.2%} vs {other_evaluation.accuracy:.2%}.",
            icon=":material/balance:",
        )
    st.plotly_chart(comparison, key="evaluate_comparison", config={"displayModeBar": False})


# --- Page ------------------------------------------------------------------------------------

st.title("Evaluate")
st.caption(
    "How well does a trained network do on digits it never saw during training, which ones "
    "does it confuse, and what has it learned inside?"
)
dataset = ui.current_dataset()
choices = ui.model_choices()
if ui.CURRENT_CHOICE not in choices:
    no_current_model_ui(choices)
picked = ui.model_picker("evaluate", choices)
try:
    evaluation, images, split, seed, evaluation_key = evaluation_of(picked, dataset)
except ValueError as error:
    st.error(f"This model cannot be evaluated: {plain(error, 300)}")
    st.stop()
source_set, source_indices = held_out_sources(dataset, split, seed)
image_link_ui(dataset, source_set, source_indices)
if st.session_state.get(KEY_LINKED_IMAGE) is not None:
    linked_image_ui(picked, dataset, evaluation_key)
headline_ui(evaluation, split, dataset)
cell = confusion_ui(evaluation, images, picked.choice, evaluation_key)
index = probabilities_ui(evaluation, images, cell, evaluation_key, source_set, source_indices)
mistakes_ui(evaluation, images, evaluation_key)
inside_ui(picked.model, evaluation, images, index, evaluation_key)
comparison_ui(picked, choices, dataset, evaluation, (split, seed, evaluation_key))
