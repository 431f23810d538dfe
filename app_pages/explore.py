"""Explore: browse the digits, look at one image's pixels, read the data's facts, load your own."""

import math

import numpy as np
import streamlit as st

import core.data as data_lib
import ui
from core import settings
from core.figures import explore as figures
from core.text import plain

GRID_COLUMNS = 10
GRID_ROWS = 4
PER_PAGE = GRID_COLUMNS * GRID_ROWS
THUMBNAIL_WIDTH = 64
ARTICLE_INDEX = 999
ALL_LABELS = "All labels"

# Display label -> (images attribute, labels attribute) of the Dataset.
IMAGE_SETS = {
    "Training set": ("train_images", "train_labels"),
    "Test set": ("test_images", "test_labels"),
}

# The upload widgets' keys, and what each file is (the order they are shown in).
KEY_IMAGES = "explore_upload_images"
KEY_LABELS = "explore_upload_labels"
KEY_TEST_IMAGES = "explore_upload_test_images"
KEY_TEST_LABELS = "explore_upload_test_labels"
UPLOADS = {
    KEY_IMAGES: "Training images (idx3)",
    KEY_LABELS: "Training labels (idx1)",
    KEY_TEST_IMAGES: "Test images (idx3, optional)",
    KEY_TEST_LABELS: "Test labels (idx1, optional)",
}
KEY_UPLOAD_MESSAGE = "explore_upload_message"
# Fashion-MNIST's train-images-idx3-ubyte.gz, the largest file of the example named above.
FASHION_MNIST_TRAIN_IMAGES_BYTES = 26_421_880


@st.cache_data(show_spinner=False, max_entries=8, hash_funcs=ui.DATASET_HASH)
def dataset_tables(dataset: data_lib.Dataset):
    """Class counts of both sets and the mean training image of each class (cached)."""
    train_counts = data_lib.class_counts(dataset.train_labels, dataset.num_classes)
    test_counts = data_lib.class_counts(dataset.test_labels, dataset.num_classes)
    means = data_lib.mean_images(dataset.train_images, dataset.train_labels, dataset.num_classes)
    return train_counts, test_counts, means


def use_uploaded_files() -> None:
    """Button callback: make the uploaded pair the session's dataset, or keep the old one."""
    # Named one by one: dataset_from_idx_files takes them in this order.
    images = st.session_state.get(KEY_IMAGES)
    labels = st.session_state.get(KEY_LABELS)
    test_images = st.session_state.get(KEY_TEST_IMAGES)
    test_labels = st.session_state.get(KEY_TEST_LABELS)
    files = (images, labels, test_images, test_labels)
    # A file the server released to free memory stays in the widget as a nameless placeholder.
    if any(file is not None and not hasattr(file, "name") for file in files):
        st.session_state[KEY_UPLOAD_MESSAGE] = ("info", ui.FILES_RELEASED)
        return
    if images is None or labels is None:
        # Streamlit gives None for a listed file the memory budget released: say so.
        released = ui.uploads_released(ui.memory_owner())
        message = ui.FILES_RELEASED if released else "Upload an images and a labels file."
        st.session_state[KEY_UPLOAD_MESSAGE] = ("info", message)
        return
    limits = settings.limits()
    try:
        dataset = data_lib.dataset_from_idx_files(
            images,
            labels,
            test_images,
            test_labels,
            # Never the default data set's name: a class ranks runs on that one only.
            name=images.name
            if images.name != ui.default_dataset().name
            else f"{images.name} (uploaded)",
            max_file_bytes=limits.max_upload_mb * data_lib.MEGABYTE,
            max_images=limits.max_upload_images,
        )
        ui.set_session_dataset(dataset)  # Held in the server's memory budget.
    except ValueError as error:
        st.session_state[KEY_UPLOAD_MESSAGE] = ("error", f"Not loaded: {plain(error, 300)}")
        return
    st.session_state[KEY_UPLOAD_MESSAGE] = (
        "success",
        f"Now exploring '{plain(dataset.name)}': {len(dataset.train_images):,} training and "
        f"{len(dataset.test_images):,} test images.",
    )


def use_default_dataset() -> None:
    """Button callback: go back to the configured dataset."""
    ui.set_session_dataset(None)
    st.session_state[KEY_UPLOAD_MESSAGE] = ("success", "Back to the default dataset.")


def clamp_state(key: str, lowest: int, highest: int, default: int) -> None:
    """Keep a number widget's remembered value inside its current range."""
    value = st.session_state.get(key, default)
    st.session_state[key] = min(max(value, lowest), highest)


def browse_ui(dataset, images: np.ndarray, labels: np.ndarray, set_name: str) -> None:
    """A page of thumbnails of one file set, optionally of one label."""
    filter_column, page_column, _ = st.columns([2, 1, 3])
    label_choice = filter_column.selectbox(
        "Show label", [ALL_LABELS, *dataset.class_names], key="explore_label_filter"
    )
    label = None if label_choice == ALL_LABELS else dataset.class_names.index(label_choice)
    indices = data_lib.filter_indices(labels, label)
    if len(indices) == 0:
        st.info(f"The {set_name.lower()} has no images labelled {label_choice}.")
    else:
        page_count = math.ceil(len(indices) / PER_PAGE)
        clamp_state("explore_page", 1, page_count, 1)
        page = page_column.number_input(
            f"Page (of {page_count:,})", min_value=1, max_value=page_count, key="explore_page"
        )
        shown = indices[(page - 1) * PER_PAGE : page * PER_PAGE]
        st.image(
            [figures.ink_on_paper(images[index]) for index in shown],
            caption=[f"#{index} · {dataset.class_names[labels[index]]}" for index in shown],
            width=THUMBNAIL_WIDTH,
        )
        which = "all labels" if label is None else f"label {label_choice}"
        first = (page - 1) * PER_PAGE + 1
        st.caption(
            f"Images {first:,}–{first + len(shown) - 1:,} of {len(indices):,} ({which}) in the "
            f"{set_name.lower()}; each caption is the image's index and its label. Drawn as "
            "ink on paper, like the heat maps: the files store 0 for the paper, 255 for ink."
        )


def image_ui(dataset, images: np.ndarray, labels: np.ndarray, set_name: str) -> None:
    """One image's pixels, its label and the label one-hot, with a link to Evaluate."""
    clamp_state("explore_index", 0, len(images) - 1, min(ARTICLE_INDEX, len(images) - 1))
    index = st.number_input(
        f"Image index (0 to {len(images) - 1:,})",
        min_value=0,
        max_value=len(images) - 1,
        key="explore_index",
        help="Index 999 of the MNIST training set is the 6 the tutorial looks at.",
    )
    label_index = int(labels[index])
    pixels_column, label_column = st.columns([3, 2])
    with pixels_column:
        st.plotly_chart(
            figures.pixel_heatmap(images[index]),
            key="explore_pixels",
            config={"displayModeBar": False},
        )
        st.caption(
            "Each cell is one pixel: 0 is white paper, 255 full ink. Hover to read a value. "
            "Networks learn best from small inputs, so the Train page usually divides these "
            "by 255 to get values from 0 to 1."
        )
    with label_column:
        st.metric("Label", dataset.class_names[label_index])
        st.page_link(
            ui.page_path("evaluate"),
            label="What the model predicts for it",
            query_params=ui.image_link("train" if set_name == "Training set" else "test", index),
            icon=":material/analytics:",
        )
        vector = data_lib.one_hot(labels[index : index + 1], dataset.num_classes)[0]
        st.plotly_chart(
            figures.one_hot_figure(vector, dataset.class_names),
            key="explore_one_hot",
            config={"displayModeBar": False},
        )
        st.code(f"labels_np_onehot[{index}]\n{vector.astype(int).tolist()}", language="python")
        st.caption(
            "One-hot: the label as a vector with a 1 at the class's position and 0 elsewhere. "
            "The network's last layer outputs one probability per class, and training "
            "compares those with this vector."
        )


def facts_ui(dataset) -> None:
    """The data set's sizes, its files' headers, its classes and their mean images."""
    train_counts, test_counts, means = dataset_tables(dataset)
    columns = st.columns(4)
    columns[0].metric("Training images", f"{len(dataset.train_images):,}")
    columns[1].metric("Test images", f"{len(dataset.test_images):,}")
    columns[2].metric("Classes", dataset.num_classes)
    columns[3].metric("Image size", "28×28")

    st.subheader("The files")
    st.dataframe(
        data_lib.header_table(dataset.headers),
        hide_index=True,
        key="explore_headers",
        column_config={
            "count": st.column_config.NumberColumn(format="localized"),
            "bytes": st.column_config.NumberColumn("bytes unpacked", format="localized"),
        },
    )
    with st.expander("What is the IDX format?"):
        st.markdown(
            "IDX is the simple binary format MNIST ships in. A file starts with a **magic "
            "number**: two zero bytes, a type code (0x08 = unsigned bytes) and the number of "
            "dimensions (3 for images, 1 for labels). Then comes the size of each dimension "
            "(count, rows, columns), then the values themselves, one byte each. Every file "
            "is checked: wrong magic numbers, cut-off or over-long files are refused."
        )

    distribution_column, means_column = st.columns(2)
    with distribution_column:
        st.subheader("Images per class")
        st.plotly_chart(
            figures.class_distribution(train_counts, test_counts, dataset.class_names),
            key="explore_distribution",
        )
        st.caption("Roughly balanced classes mean accuracy is a fair summary of the model.")
    with means_column:
        st.subheader("Mean image per class")
        st.plotly_chart(
            figures.mean_images_figure(means, dataset.class_names),
            key="explore_means",
            config={"displayModeBar": False},
        )
        st.caption("The average of every training image with that label: where the ink usually is.")


def upload_ui() -> None:
    """The visitor's own IDX files: upload them, use them, or go back to the default."""
    st.markdown(
        "Load your own IDX files (for example Fashion-MNIST): an images file and a labels "
        "file, gzipped or not. Without a test pair, a sixth of the images is held out for "
        "testing. The files only live in this browser session."
    )
    upload_limits = settings.limits()
    images_cap = (
        ""
        if upload_limits.max_upload_images is None
        else f" and {upload_limits.max_upload_images:,} images in all"
    )
    st.caption(
        f"This app takes files of up to {upload_limits.max_upload_mb} MB each{images_cap}."
        + (
            " Fashion-MNIST's training images file (26 MB) is too big for it: run the app on "
            "your own computer (`make run`) to load it."
            if upload_limits.max_upload_mb * data_lib.MEGABYTE < FASHION_MNIST_TRAIN_IMAGES_BYTES
            else ""
        )
    )
    upload_columns = st.columns(2)
    for position, (key, description) in enumerate(UPLOADS.items()):
        upload_columns[position % 2].file_uploader(
            description, key=key, max_upload_size=upload_limits.max_upload_mb
        )
    button_column, reset_column, _ = st.columns([1, 1.4, 1.6])
    button_column.button(
        "Use these files", key="explore_upload_use", type="primary", on_click=use_uploaded_files
    )
    if st.session_state.get(ui.KEY_DATASET) is not None:
        reset_column.button(
            "Back to the default dataset", key="explore_upload_reset", on_click=use_default_dataset
        )
    message = st.session_state.get(KEY_UPLOAD_MESSAGE)
    if message is not None:
        kind, text = message
        {"error": st.error, "info": st.info, "success": st.success}[kind](text)


st.title("Explore the data")
dataset = ui.current_dataset()
st.caption(
    f"**{plain(dataset.name)}**: {len(dataset.train_images):,} training and "
    f"{len(dataset.test_images):,} test images of 28×28 grey pixels, "
    f"{dataset.num_classes} classes."
)

# A link from Evaluate (?set=train&image=41234) opens that image in the One image tab.
link = ui.take_image_link({"train": len(dataset.train_images), "test": len(dataset.test_images)})
if link is not None:
    st.session_state["explore_set"] = "Training set" if link[0] == "train" else "Test set"
    st.session_state["explore_index"] = link[1]
set_name = st.radio("Images from", list(IMAGE_SETS), horizontal=True, key="explore_set")
images = getattr(dataset, IMAGE_SETS[set_name][0])
labels = getattr(dataset, IMAGE_SETS[set_name][1])

browse_tab, image_tab, facts_tab, upload_tab = st.tabs(
    ["Browse", "One image", "Dataset facts", "Your own files"],
    default="One image" if link is not None else None,
)
with browse_tab:
    browse_ui(dataset, images, labels, set_name)
with image_tab:
    image_ui(dataset, images, labels, set_name)
with facts_tab:
    facts_ui(dataset)
with upload_tab:
    upload_ui()

# Streamlit keeps this script's globals after the run (its callbacks and cached function point
# to them): drop the data set's arrays, so that one the memory budget released is freed even
# if this session never runs again.
del dataset, images, labels
