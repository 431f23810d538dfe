"""Text from a shared link or a run name is shown as text: no links, no fetched images."""

from urllib.parse import urlparse

import pytest

from core.runs import RunStore
from testkit.browser import wait_for_app
from testkit.harness import page_errors

pytestmark = pytest.mark.browser

INJECTED = (
    "**[Your session expired - log in again](https://evil.example/login)** "
    "![t](https://evil.example/pixel.png)"
)
ATTACK_LINK = (
    "/train?epochs=x%60%20**[Your%20session%20expired%20-%20log%20in%20again]"
    "(https://evil.example/login)**%20![t](https://evil.example/pixel.png)%20%60"
)
WORD_JOINER = "\u2060"
# Plotly renders a subset of HTML in legends and hover labels: this would be a working link.
HTML_NAME = '<a href="https://evil.example/legend">click</a> <b>bold</b>'


def watch_evil_requests(page) -> list[str]:
    """Refuse, and record, every request the page makes to evil.example."""
    requested: list[str] = []

    def refuse(route):
        requested.append(route.request.url)
        route.abort()

    page.route(lambda url: (urlparse(url).hostname or "").endswith("evil.example"), refuse)
    return requested


def assert_nothing_evil_rendered(page, requested) -> None:
    assert page.locator('a[href*="evil.example"]').count() == 0
    # SVG links (Plotly's) carry the address in xlink:href.
    assert page.locator('[*|href*="evil.example"]').count() == 0
    assert page.locator('img[src*="evil.example"]').count() == 0
    assert requested == []


def visible_text(locator) -> str:
    return locator.inner_text().replace(WORD_JOINER, "")


@pytest.mark.parametrize("width", [1400, 390])
def test_a_shared_link_cannot_put_a_link_or_an_image_on_the_train_page(
    streamlit_server, page, output_dir, width
):
    page.set_viewport_size({"width": width, "height": 1400})
    requested = watch_evil_requests(page)
    page.goto(streamlit_server + ATTACK_LINK)
    wait_for_app(page)
    assert page_errors(page) == []
    warning = page.locator('[data-testid="stAlertContentWarning"]').filter(
        has_text="not understood"
    )
    warning.wait_for()
    text = visible_text(warning)
    # The value is named literally, markdown and all.
    assert f"epochs=x` {INJECTED} `" in text
    page.wait_for_timeout(500)  # Give an image time to be requested, were there one.
    assert_nothing_evil_rendered(page, requested)
    page.screenshot(path=str(output_dir / f"injection-train-{width}.png"), full_page=True)


@pytest.fixture
def evil_run(private_runs_dir):
    import keras

    model = keras.Sequential(
        [
            keras.Input((28, 28)),
            keras.layers.Flatten(),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    store = RunStore(private_runs_dir)
    run_ids = [
        store.save_run(
            "network", name, {"hidden_layers": [], "epochs": 2}, {"loss": [1.0, 0.5]},
            {"test_accuracy": 0.5, "test_loss": 1.0}, {"train_seconds": 1.0}, model=model,
        )
        for name in (HTML_NAME, INJECTED)  # The newest, INJECTED, is the one in focus.
    ]  # fmt: skip
    yield run_ids
    for run_id in run_ids:
        store.delete_run(run_id, missing_ok=True)


def test_a_run_name_is_shown_as_text_in_messages_and_the_sidebar(
    private_server, evil_run, page, output_dir
):
    """On a server of its own: the newest run must be this test's, not one that another
    test's job stored meanwhile."""
    streamlit_server = private_server
    requested = watch_evil_requests(page)
    page.goto(f"{streamlit_server}/compare")
    wait_for_app(page)
    page.locator('[data-testid="stSelectbox"]').filter(has_text="Run").first.wait_for()
    # The newest run is the one in focus; make it the current model.
    page.get_by_role("button", name="Use as current model").click()
    wait_for_app(page)
    success = page.locator('[data-testid="stAlertContentSuccess"]')
    success.wait_for()
    assert f"{INJECTED} is now the current model." in visible_text(success)
    page.get_by_role("button", name="Delete…").click()
    wait_for_app(page)
    # The rerun draws the sidebar with the new current model.
    assert INJECTED in visible_text(page.locator('[data-testid="stSidebar"]'))
    warning = page.locator('[data-testid="stAlertContentWarning"]').filter(has_text="for good")
    assert f"Delete {INJECTED} and its model file for good?" in visible_text(warning)
    # Both runs' curves are drawn.
    page.locator(".js-plotly-plot .legendtext").first.wait_for()
    legends = page.locator(".js-plotly-plot .legendtext").all_text_contents()
    # Each under its number and its name cut short, the markup written out as text.
    assert any(text.startswith("#") and HTML_NAME[:38] in text for text in legends), legends
    page.wait_for_timeout(500)
    assert_nothing_evil_rendered(page, requested)
    assert page_errors(page) == []
    page.screenshot(path=str(output_dir / "injection-compare.png"), full_page=True)
