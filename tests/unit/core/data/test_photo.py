"""Photo cleaning: lighting, lines, pieces, crop, ink choice; accuracy on photo-like digits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.data.image_files import load_uploaded_image
from core.data.photo import (
    INK_DARK,
    INK_LIGHT,
    clean_photo,
    crop_box,
    keep_digit_pieces,
    normalise_lighting,
    remove_lines,
)
from core.data.preprocess import BlankDrawingError, preprocess_digit
from testkit.photo_samples import PAPERS, photo_like_set

DEFAULT_MODEL = Path(__file__).resolve().parents[4] / "models" / "default" / "model.keras"


@pytest.fixture(scope="module")
def model():
    import keras

    return keras.saving.load_model(DEFAULT_MODEL)


def predicted(model, digits: list[np.ndarray]) -> np.ndarray:
    return np.asarray(model.predict_on_batch(np.stack(digits))).argmax(axis=1)


def test_photo_like_digits_are_read_right_after_cleaning_and_mostly_wrong_before(model, mnist):
    samples = photo_like_set(mnist.test_images, mnist.test_labels, count=60, seed=11)
    assert {sample.paper for sample in samples} == set(PAPERS)
    labels = np.array([sample.label for sample in samples])
    pictures = [load_uploaded_image(sample.jpeg) for sample in samples]
    cleaned = predicted(model, [clean_photo(picture).digit for picture in pictures])
    plain = predicted(model, [preprocess_digit(picture) for picture in pictures])
    # bench/bench_photo.py: 99.0% against 17.0% on 300 such pictures.
    assert np.mean(cleaned == labels) >= 0.95
    assert np.mean(plain == labels) <= 0.5


def test_ruled_lines_are_removed_and_a_thick_stroke_crossing_them_stays():
    mask = np.zeros((200, 200), dtype=bool)
    for row in range(20, 200, 30):
        mask[row : row + 2, :] = True
    mask[40:170, 95:105] = True  # A thick vertical stroke (a "1") crossing the lines.
    cleaned = remove_lines(mask)
    assert cleaned[40:170, 95:105].all()
    assert not cleaned[:, :80].any() and not cleaned[:, 120:].any()


def test_a_long_thin_vertical_line_is_removed_too():
    mask = np.zeros((200, 200), dtype=bool)
    mask[:, 30:32] = True
    mask[60:140, 100:140] = True
    cleaned = remove_lines(mask)
    assert not cleaned[:, 30:32].any()
    assert cleaned[60:140, 100:140].all()


def test_pieces_near_the_digit_stay_and_specks_and_edge_pieces_go():
    mask = np.zeros((120, 120), dtype=bool)
    mask[30:90, 50:60] = True  # the digit's main stroke
    mask[30:36, 62:80] = True  # a second piece close to it (the top bar of a 5)
    mask[100:102, 100:102] = True  # a speck
    mask[0:120, 0:4] = True  # the paper's edge, touching the picture's border
    kept = keep_digit_pieces(mask)
    assert kept[30:90, 50:60].all() and kept[30:36, 62:80].all()
    assert not kept[100:102, 100:102].any()
    assert not kept[:, 0:4].any()


def test_a_shadow_is_divided_out_and_does_not_become_ink():
    gray = np.tile(np.linspace(240, 90, 200, dtype=np.float32), (160, 1))  # dark to the right
    gray[60:100, 40:48] *= 0.2  # a dark stroke on the bright side
    strength = normalise_lighting(gray, dark_ink=True)
    assert strength[60:100, 40:48].min() > 150
    assert strength[:, 150:].max() < 40


def test_light_ink_on_dark_paper_is_read_with_the_ink_choice(mnist):
    digit = np.zeros((140, 140), dtype=np.uint8)
    digit[20:120, 20:120] = np.asarray(Image.fromarray(mnist.test_images[0]).resize((100, 100)))
    chalkboard = (40 + digit * 0.8).astype(np.uint8)
    automatic = clean_photo(chalkboard)
    chosen = clean_photo(chalkboard, ink=INK_LIGHT)
    assert not automatic.dark_ink
    np.testing.assert_allclose(automatic.digit, chosen.digit)
    with pytest.raises(BlankDrawingError):
        clean_photo(np.full((140, 140), 40, dtype=np.uint8), ink=INK_DARK)


def test_crop_box_keeps_the_chosen_share_and_refuses_an_empty_box():
    image = np.arange(100 * 200).reshape(100, 200)
    assert crop_box(image, (0.1, 0.25, 0.5, 0.75)).shape == (40, 100)
    assert crop_box(image, None) is image
    with pytest.raises(ValueError, match="crop box"):
        crop_box(image, (0.5, 0.2, 0.5, 0.8))


def test_a_clean_scan_takes_the_scan_path_and_a_photo_the_photo_path(model, mnist):
    from core.data.photo import PATH_PHOTO, PATH_SCAN
    from testkit.photo_samples import clean_scan_set

    scans = clean_scan_set(mnist.test_images, mnist.test_labels, count=12, seed=4)
    photos = photo_like_set(mnist.test_images, mnist.test_labels, count=12, seed=4)
    scan_steps = [clean_photo(load_uploaded_image(sample.jpeg)) for sample in scans]
    photo_steps = [clean_photo(load_uploaded_image(sample.jpeg)) for sample in photos]
    assert [steps.path for steps in scan_steps] == [PATH_SCAN] * 12
    assert [steps.path for steps in photo_steps] == [PATH_PHOTO] * 12
    # The scan path is the drawing steps on the whole picture.
    for sample, steps in zip(scans, scan_steps, strict=True):
        np.testing.assert_array_equal(
            steps.digit, preprocess_digit(load_uploaded_image(sample.jpeg))
        )
    labels = np.array([sample.label for sample in scans])
    assert np.mean(predicted(model, [steps.digit for steps in scan_steps]) == labels) >= 0.9


def test_a_thin_pen_one_on_a_scanned_page_is_dark_ink_and_keeps_its_stroke():
    """A thin 1 on a page: under 1% of the pixels, it was read as light ink (the whole page
    became "ink"), and the line removal took its long, thin stroke for a ruled line."""
    scan = np.full((700, 900), 248, dtype=np.uint8)
    scan[100:600, 450:455] = 30  # A 1 written with a pen 5 pixels wide, 71% of the height.
    assert np.mean(scan < 128) < 0.01
    steps = clean_photo(scan)
    assert steps.dark_ink
    assert steps.path == "scan"
    rows = np.flatnonzero(steps.digit.max(axis=1) > 64)
    assert rows[-1] - rows[0] + 1 >= 19  # the whole stroke, scaled to the 20-pixel box


def test_evenly_lit_ruled_paper_still_goes_through_the_photo_path():
    paper = np.full((260, 300), 245, dtype=np.uint8)
    paper[20::30, :] = 170  # ruled lines across the page, evenly lit
    paper[60:200, 140:152] = 25  # a thick 1
    steps = clean_photo(paper)
    assert steps.path == "photo"
    assert not steps.without_lines[20::30, :100].any()
