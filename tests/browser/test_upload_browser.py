"""Uploading a dataset as big as Fashion-MNIST in a real Chromium, and the demo's smaller cap.

The server-wide cap (`server.maxUploadSize`) is set by streamlit_app.py from the
`max_upload_mb` setting: 100 MB locally, 20 MB in the demo profile.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from playwright.sync_api import expect

from core.data.idx import idx_bytes
from testkit.browser import new_page, wait_for_app
from testkit.harness import page_errors, start_streamlit, stop_streamlit

pytestmark = pytest.mark.browser

FASHION_MNIST_TRAIN_IMAGES_BYTES = 26_421_880
UPLOADED_SIZE = re.compile(r"^\d+(\.\d+)?\s?(B|KB|MB)$")


def test_a_dataset_of_fashion_mnists_size_uploads_locally(
    private_server, page, tmp_path, output_dir
):
    """On a server of its own: on the suite's shared server this test failed three times in
    CI at load 20-30, with both files listed and no outcome after a second press; the likely
    cause (not confirmed) is other tests' sessions filling the memory budget, which releases
    this test's 47 MB upload again and again."""
    streamlit_server = private_server
    rng = np.random.default_rng(1)
    images_path = tmp_path / "train-images-idx3-ubyte.gz"
    labels_path = tmp_path / "train-labels-idx1-ubyte.gz"
    images_path.write_bytes(
        idx_bytes(rng.integers(0, 256, size=(60_000, 28, 28), dtype=np.uint8), compress=True)
    )
    labels_path.write_bytes(idx_bytes((np.arange(60_000) % 10).astype(np.uint8), compress=True))
    assert images_path.stat().st_size > FASHION_MNIST_TRAIN_IMAGES_BYTES

    page.goto(f"{streamlit_server}/explore")
    wait_for_app(page)
    page.get_by_role("tab", name="Your own files").click()
    page.locator('.st-key-explore_upload_images input[type="file"]').set_input_files(
        str(images_path)
    )
    page.locator('.st-key-explore_upload_labels input[type="file"]').set_input_files(
        str(labels_path)
    )
    for key in ("explore_upload_images", "explore_upload_labels"):
        # A file is listed with its size (its long name shortened) and a progress bar that
        # goes away when the upload is complete; then the app reruns with it.
        uploader = page.locator(f".st-key-{key}")
        uploader.get_by_text(UPLOADED_SIZE).wait_for(timeout=120_000)
        uploader.locator('[role="progressbar"]').wait_for(state="detached", timeout=120_000)
    wait_for_app(page)
    # Whatever the outcome, the page says it under the button; on a timeout Playwright's
    # message shows the page's text, so a failure says which outcome it was.
    main = page.locator('[data-testid="stMain"]')
    loaded = re.compile(r"Now exploring|Not loaded")
    page.get_by_role("button", name="Use these files").click()
    press_again = False
    try:
        expect(main).to_contain_text(
            re.compile(r"Now exploring|Not loaded|Upload an images and a labels file|released"),
            timeout=120_000,
        )
        # Under heavy load (1-minute load 15-21, other tests' trainings), Chromium twice sent
        # the press before the uploaders' values: both files listed, the press saw one
        # missing. The page says so and keeps both files; a second press loads them, as a
        # learner's would.
        press_again = not loaded.search(main.inner_text())
    except AssertionError:
        # Seen once in CI at load 30+: two minutes without an outcome and the script idle,
        # the press lost on the way; a learner presses again. A script still running (the
        # files decoding) gets more time instead.
        state = page.locator('[data-testid="stApp"]').get_attribute("data-test-script-state")
        press_again = state == "notRunning"
    if press_again:
        if "released to free memory" in main.inner_text():
            # Other tests' sessions on this shared server took the memory budget, which
            # released the 47 MB file; the page says so, and a learner uploads it again.
            for key, path in (("images", images_path), ("labels", labels_path)):
                uploader = page.locator(f".st-key-explore_upload_{key}")
                uploader.locator('input[type="file"]').set_input_files(str(path))
                uploader.locator('[role="progressbar"]').wait_for(state="detached", timeout=120_000)
            wait_for_app(page)
        page.get_by_role("button", name="Use these files").click()
    try:
        expect(main).to_contain_text(loaded, timeout=180_000)
    except AssertionError:
        text = main.inner_text()  # The message under the button says what happened instead.
        message = text[text.find("Use these") :]
        raise AssertionError(f"Not loaded; the page says: {message}") from None
    text = main.inner_text()
    assert "Now exploring 'train-images-idx3-ubyte.gz'" in text, text[text.find("Use these") :]
    assert "50,000 training and 10,000 test images" in text
    assert page_errors(page) == []
    page.screenshot(path=str(output_dir / "explore-upload-fashion-size.png"), full_page=True)


def test_the_demo_keeps_a_20_mb_cap_for_every_uploader(browser, tmp_path):
    process, base_url, _ = start_streamlit(tmp_path, {"MNIST_STUDIO_DEMO_MODE": "1"})
    context, page = new_page(browser)
    try:
        page.goto(f"{base_url}/explore")
        wait_for_app(page)
        page.get_by_role("tab", name="Your own files").click()
        dropzone = page.locator(".st-key-explore_upload_images")
        # The tab's content is drawn after the click: wait for the uploader's own text.
        expect(dropzone).to_contain_text(re.compile(r"20\s*MB\s*per\s*file"), timeout=60_000)
        assert "up to 20 MB each and 70,000 images in all" in page.inner_text(
            '[data-testid="stMain"]'
        )
        # An uploader that sets no cap of its own gets the server-wide one.
        page.goto(f"{base_url}/compare")
        wait_for_app(page)
        page.get_by_role("tab", name="Import and export").click()
        uploaders = page.locator('[data-testid="stFileUploaderDropzoneInstructions"]')
        uploaders.first.wait_for()
        texts = [text.replace(" ", "") for text in uploaders.all_inner_texts()]
        assert texts and all("20MB" in text for text in texts), texts
    finally:
        context.close()
        stop_streamlit(process)
