"""In a real Chromium, the Explore page looks up training image 999 and shows the 6."""

import pytest

import ui
from testkit.browser import wait_for_app
from testkit.harness import page_errors

pytestmark = pytest.mark.browser


def test_index_999_shows_the_six_from_the_article(streamlit_server, page, output_dir):
    # Arrive the way a visitor does: the Home page, then the navigation.
    explore = next(spec for spec in ui.PAGES if ui.url_path(spec) == "explore")
    page.goto(streamlit_server)
    wait_for_app(page)
    page.get_by_test_id("stSidebarNav").get_by_text(explore.title).click()
    page.wait_for_url(f"**/{ui.url_path(explore)}")
    wait_for_app(page)
    page.get_by_role("tab", name="One image").click()
    index_box = page.get_by_role("spinbutton", name="Image index (0 to 59,999)")
    index_box.fill("7")
    index_box.press("Enter")
    label = page.locator('[data-testid="stMetricValue"]').first
    label.filter(has_text="3").wait_for()  # training image 7 is a 3

    index_box.fill("999")
    index_box.press("Enter")
    label.filter(has_text="6").wait_for()
    wait_for_app(page)
    assert label.inner_text().strip() == "6"
    assert "[0, 0, 0, 0, 0, 0, 1, 0, 0, 0]" in page.locator('[data-testid="stCode"]').inner_text()
    # The pixel heat map is drawn (plotly renders its heat map into an SVG image).
    assert page.locator(".js-plotly-plot .heatmaplayer image").count() >= 1
    assert page_errors(page) == []
    page.screenshot(path=str(output_dir / "explore-index-999.png"), full_page=True)
