"""Drive MNIST Studio in a real Chromium (Playwright): wait for a run, open and press Train.

Shared by the browser tests (tests/browser/) and the README's screenshots. A page here is a
Playwright page on a server started by `testkit.harness.start_streamlit` (or the test
session's `streamlit_server`); nothing in this module starts one.
"""

from __future__ import annotations

import os
from pathlib import Path

from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from core.nn.config import TrainingConfig
from testkit.harness import page_errors

PROGRESS = '[data-testid="stMain"] [data-testid="stProgress"] [role="progressbar"]'
PROGRESS_STARTED = (
    f"() => Number(document.querySelector('{PROGRESS}')?.getAttribute('aria-valuenow')) > 0"
)
# Tall enough that a screenshot of the Train page shows the controls and the live view together.
TALL_VIEWPORT = {"width": 1400, "height": 2200}


def wait_for_app(page, timeout: float = 60_000) -> None:
    """Wait until the Streamlit app has rendered and its script has finished running."""
    page.wait_for_selector(
        '[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=timeout
    )
    page.wait_for_selector('[data-testid="stMain"]', timeout=timeout)
    page.wait_for_timeout(300)


def readme_picture(page, name: str, scroll_to: str | None = None) -> None:
    """Save the README's picture of a page, when `make screenshots` asks for them.

    `make screenshots` sets MNIST_STUDIO_SCREENSHOT_DIR; otherwise this does nothing. The
    picture is one 1400x1000 screen, scrolled so `scroll_to` (a text on the page) is on top.
    """
    folder = os.environ.get("MNIST_STUDIO_SCREENSHOT_DIR")
    if not folder:
        return
    Path(folder).mkdir(parents=True, exist_ok=True)
    size = page.viewport_size
    page.set_viewport_size({"width": 1400, "height": 1000})
    try:
        if scroll_to is not None:
            target = page.get_by_text(scroll_to, exact=True).first
            target.evaluate("element => element.scrollIntoView({block: 'start'})")
            page.wait_for_timeout(500)  # let plotly redraw at the new size
        page.screenshot(path=str(Path(folder) / f"{name}.png"))
    finally:
        page.set_viewport_size(size)


def new_page(browser):
    """Return (context, page): a fresh 1400x1600 browser context, so its own Streamlit session."""
    context = browser.new_context(viewport={"width": 1400, "height": 1600})
    context.set_default_timeout(30_000)
    return context, context.new_page()


def wait_for_text(page, text: str, timeout: float) -> None:
    """Wait until `text` shows; if it does not, fail with what the main area says instead."""
    try:
        page.get_by_text(text).first.wait_for(timeout=timeout)
    except PlaywrightTimeoutError:
        main = page.inner_text('[data-testid="stMain"]')
        raise AssertionError(
            f"{text!r} did not show in {timeout / 1000:.0f} s; the page says:\n{main[:3000]}"
        ) from None


def open_train_page(
    page, base_url: str, config: TrainingConfig, viewport: dict[str, int] | None = None
) -> None:
    """Open the Train page with `config` in its link and wait for it; no error is shown.

    Args:
        viewport: If given, the page is resized to it first (e.g. `TALL_VIEWPORT`).
    """
    if viewport is not None:
        page.set_viewport_size(viewport)
    query = "&".join(f"{name}={value}" for name, value in config.to_query_params().items())
    page.goto(f"{base_url}/train?{query}")
    wait_for_app(page)
    assert page_errors(page) == []


def press(page, label: str) -> None:
    """Click the first button of the main area whose text contains `label`."""
    page.locator('[data-testid="stMain"] button').filter(has_text=label).first.click()


def press_train(page) -> None:
    press(page, "Train")


def train_to_the_end(page, base_url: str, config: TrainingConfig) -> None:
    """Train `config` from the Train page and wait until it says the training finished."""
    open_train_page(page, base_url, config)
    press_train(page)
    page.get_by_text("Training finished.").wait_for(timeout=120_000)
    assert page_errors(page) == []


def start_and_wait_for_progress(page, base_url: str, config: TrainingConfig) -> None:
    """Start training `config` and wait until its progress bar has moved."""
    open_train_page(page, base_url, config)
    press_train(page)
    page.wait_for_selector(PROGRESS, timeout=60_000)
    page.wait_for_function(PROGRESS_STARTED, timeout=90_000)


def train_then_stop(page, base_url: str, timeout: float = 180_000) -> str:
    """Start a 100-epoch training, press Stop once it makes progress; return the page text."""
    config = TrainingConfig(hidden_layers=(256,), batch_size=32, epochs=100, seed=4)
    open_train_page(page, base_url, config, TALL_VIEWPORT)
    press(page, "Train")
    page.wait_for_selector(PROGRESS, timeout=timeout)
    # Wait for the first chunk of batches (TensorFlow first traces the training step).
    page.wait_for_function(PROGRESS_STARTED, timeout=timeout)
    press(page, "Stop")
    # As generous as the start: under the suite's load a Ray worker's stopped run is scored
    # and stored on a shared core (over 60 s once in CI at load 20+).
    wait_for_text(page, "Stopped after", timeout)
    # The live view's last progress bar goes with the page's next run (under load, a moment
    # after the result shows).
    page.wait_for_function(f"() => !document.querySelector('{PROGRESS}')", timeout=30_000)
    wait_for_app(page)
    main = page.inner_text('[data-testid="stMain"]')
    assert "of 100 epochs" in main
    assert "Test accuracy" in main
    assert page.query_selector(PROGRESS) is None
    assert page_errors(page) == []
    return main
