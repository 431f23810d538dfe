"""Every page renders in a real Chromium without an error box, and gets a screenshot."""

import pytest

import ui
from testkit.browser import readme_picture, wait_for_app
from testkit.harness import page_errors, start_streamlit, stop_streamlit

pytestmark = pytest.mark.browser

# Where the README's picture of a page starts, when not at the top.
README_SCROLL = {"evaluate": "Which digits does it confuse?"}


def _url(base: str, spec: ui.PageSpec) -> str:
    return f"{base}/" if spec.default else f"{base}/{ui.url_path(spec)}"


@pytest.mark.parametrize("spec", ui.PAGES, ids=lambda spec: spec.path)
def test_page_renders_without_errors(streamlit_server, page, output_dir, spec):
    page.goto(_url(streamlit_server, spec))
    wait_for_app(page)
    assert page_errors(page) == []
    assert "Traceback" not in page.inner_text('[data-testid="stMain"]')
    heading = page.locator('[data-testid="stMain"] h1').first
    assert heading.inner_text().strip()
    # The app's own navigation (titles from ui.PAGES), not file names.
    navigation = page.inner_text('[data-testid="stSidebarNav"]')
    assert all(other.title in navigation for other in ui.PAGES)
    name = ui.url_path(spec)
    page.screenshot(path=str(output_dir / f"page-{name}.png"), full_page=True)
    # The README's pictures (`make screenshots`); Train's is taken with a finished training
    # in tests/browser/test_train_browser.py.
    if name != "train":
        readme_picture(page, name, scroll_to=README_SCROLL.get(name))


def test_a_deep_link_to_a_fresh_server_gets_the_app_navigation(browser, tmp_path):
    """The first visit after a start may be a shared link to a page, not the home page."""
    process, base_url, _ = start_streamlit(tmp_path)
    try:
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.goto(f"{base_url}/train")
        wait_for_app(page)
        navigation = page.inner_text('[data-testid="stSidebarNav"]')
        assert "Explore the data" in navigation and "Draw a digit" in navigation
        assert page.locator('[data-testid="stMain"] h1').first.inner_text().startswith("Train")
        assert page_errors(page) == []
        context.close()
    finally:
        stop_streamlit(process)
