"""A client's cache clear cannot reset the job caps or take a visitor's Stop button away.

Streamlit clears `st.cache_resource` for every visitor when any client sends a
`BackMsg(clear_cache=True)`. The job manager (caps, queue, Stop handles) and the lock around
starting a training used to live there: after one such message from a raw WebSocket client,
a visitor's running training vanished from their page and they could start another. Now
they are process singletons (`core.singletons`), and the demo ignores the message as well.
"""

from __future__ import annotations

import pytest

from core.nn.config import TrainingConfig
from testkit.browser import PROGRESS, new_page, start_and_wait_for_progress, wait_for_app
from testkit.harness import clear_server_caches, page_errors, start_streamlit, stop_streamlit

pytestmark = pytest.mark.browser

MAIN = '[data-testid="stMain"]'
# Long enough to still run while the page is reloaded twice; it is stopped by the test.
LONG_TRAINING = TrainingConfig(hidden_layers=(256, 256), epochs=30, batch_size=32)


def train_button(page):
    return page.locator(f"{MAIN} button").filter(has_text="Train").first


def stop_button(page):
    return page.locator(f"{MAIN} button").filter(has_text="Stop").first


@pytest.mark.parametrize("demo", ["1", "0"], ids=["demo ignores the clear", "local honours it"])
def test_a_cache_clear_leaves_the_running_job_visible_stoppable_and_capped(browser, tmp_path, demo):
    process, base_url, log_path = start_streamlit(tmp_path, {"MNIST_STUDIO_DEMO_MODE": demo})
    context, page = new_page(browser)
    try:
        start_and_wait_for_progress(page, base_url, LONG_TRAINING)
        clear_server_caches(base_url)

        # The victim reloads: their training is still there, with its bar and Stop button.
        page.reload()
        wait_for_app(page)
        page.wait_for_selector(PROGRESS, timeout=60_000)
        assert stop_button(page).is_visible()
        assert train_button(page).is_disabled()

        # Submitting again from a second tab of the same browser is refused.
        second = context.new_page()
        second.goto(page.url)
        wait_for_app(second)
        assert train_button(second).is_disabled()
        assert "One training at a time" in second.inner_text(MAIN)
        second.close()

        # And the victim can still stop it.
        stop_button(page).click()
        page.get_by_text("Stopped after").wait_for(timeout=90_000)
        assert train_button(page).is_enabled()
        assert page_errors(page) == []
    finally:
        context.close()
        stop_streamlit(process)
    assert "Traceback" not in log_path.read_text()
