"""Every page renders in a real Chromium without an error box, and gets a screenshot."""

import pytest

import ui
from tests.conftest import page_errors, wait_for_app

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("spec", ui.PAGES, ids=lambda spec: spec.path)
def test_page_renders_without_errors(streamlit_server, page, output_dir, spec):
    page.goto(f"{streamlit_server}/{'' if spec.default else ui.url_path(spec)}")
    wait_for_app(page)
    assert page_errors(page) == []
    assert "Traceback" not in page.inner_text('[data-testid="stMain"]')
    heading = page.locator('[data-testid="stMain"] h1').first
    assert heading.inner_text().strip()
    page.screenshot(path=str(output_dir / f"page-{ui.url_path(spec)}.png"), full_page=True)
