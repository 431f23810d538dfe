"""Links between Explore and Evaluate for one image (``?set=train&image=123``)."""

from __future__ import annotations

import streamlit as st

# Query-parameter value -> which file set an image index counts in.
IMAGE_LINK_SETS = {"train": "training file", "test": "test file"}
MAX_IMAGE_INDEX_DIGITS = 7


def image_link(image_set: str, index: int) -> dict[str, str]:
    """Return the query parameters that open image `index` of `image_set` on another page.

    Args:
        image_set: ``"train"`` or ``"test"``: the file set the index counts in.
        index: The image's index in that file set (as Explore numbers it).
    """
    if image_set not in IMAGE_LINK_SETS:
        raise ValueError(f"image_set must be one of {sorted(IMAGE_LINK_SETS)}, not {image_set!r}.")
    return {"set": image_set, "image": str(int(index))}


def take_image_link(count_of: dict[str, int]) -> tuple[str, int] | None:
    """Read and remove an image link (``?set=train&image=123``) from the page's URL.

    The parameters come from a link anyone may have edited: anything but a known set and a
    whole number within that set's size is ignored. They are removed once read, so the page's
    own widgets decide from then on.

    Args:
        count_of: Number of images in each set, e.g. ``{"train": 60000, "test": 10000}``.

    Returns:
        ``(set, index)``, or None when the URL holds no usable link.
    """
    image_set = st.query_params.get("set")
    image = st.query_params.get("image")
    if image is None:
        return None
    for name in ("set", "image"):
        if name in st.query_params:
            del st.query_params[name]
    image = str(image)[: MAX_IMAGE_INDEX_DIGITS + 1]
    if image_set not in count_of or not image.isdigit() or len(image) > MAX_IMAGE_INDEX_DIGITS:
        return None
    index = int(image)
    return (image_set, index) if index < count_of[image_set] else None
