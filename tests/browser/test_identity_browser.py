"""A visitor is a browser, not a tab: a reload or a second tab keeps the runs and the model.

In the demo profile each visitor sees only their own runs. The visitor is the browser's
HttpOnly cookie (core/visitors.py): a reload and another tab of the same browser see the same
runs and current model; another browser (a fresh context, with no cookie) sees none of them.
"""

from __future__ import annotations

import pytest

from core.config import TrainingConfig
from core.visitors import COOKIE_NAME
from tests.browser.test_faults_browser import new_page, train_to_the_end
from tests.conftest import page_errors, start_streamlit, stop_streamlit, wait_for_app

pytestmark = pytest.mark.browser

SIDEBAR = '[data-testid="stSidebar"]'
MAIN = '[data-testid="stMain"]'
NO_RUNS = "No stored runs yet"
NO_MODEL = "none yet"


def visit(page, url: str) -> tuple[str, str]:
    """Open a page; return the texts of its main area (with its inputs' values) and sidebar."""
    page.goto(url)
    wait_for_app(page)
    assert page_errors(page) == []
    values = page.locator(f"{MAIN} input").evaluate_all("inputs => inputs.map(i => i.value)")
    return "\n".join([page.inner_text(MAIN), *values]), page.inner_text(SIDEBAR)


def test_a_reload_and_a_second_tab_keep_the_runs_and_the_current_model(browser, tmp_path):
    process, base_url, _ = start_streamlit(tmp_path, {"MNIST_STUDIO_DEMO_MODE": "1"})
    config = TrainingConfig(hidden_layers=(24,), epochs=1, train_size=1_000, seed=5)
    shape = "784-24-10"  # in the run's name and the current model's label
    context, page = new_page(browser)
    stranger_context, stranger = new_page(browser)
    try:
        train_to_the_end(page, base_url, config)

        cookies = {cookie["name"]: cookie for cookie in context.cookies()}
        assert cookies[COOKIE_NAME]["httpOnly"]
        assert cookies[COOKIE_NAME]["sameSite"] == "Lax"
        assert COOKIE_NAME not in page.evaluate("document.cookie")

        page.reload()
        wait_for_app(page)
        main, sidebar = visit(page, f"{base_url}/compare")
        assert NO_RUNS not in main and shape in main
        assert shape in sidebar and NO_MODEL not in sidebar

        second_tab = context.new_page()
        main, sidebar = visit(second_tab, f"{base_url}/compare")
        assert NO_RUNS not in main and shape in main
        assert shape in sidebar and NO_MODEL not in sidebar
        main, _ = visit(second_tab, f"{base_url}/draw")
        assert shape in main  # the Draw page predicts with the same current model

        main, sidebar = visit(stranger, f"{base_url}/compare")
        assert NO_RUNS in main and shape not in main
        assert NO_MODEL in sidebar and shape not in sidebar
    finally:
        context.close()
        stranger_context.close()
        stop_streamlit(process)
