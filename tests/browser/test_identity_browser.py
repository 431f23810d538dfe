"""A visitor is a browser, not a tab: a reload or a second tab keeps the runs and the model.

In the demo profile each visitor sees only their own runs. The visitor is the browser's
HttpOnly cookie (core/visitors/identity.py): a reload and another tab of the same browser see
the same runs and current model; another browser (a fresh context, with no cookie) sees none
of them.
"""

from __future__ import annotations

import urllib.request

import pytest

from core.nn.config import TrainingConfig
from core.nn.model import build_model
from core.runs import RunStore
from core.visitors.identity import COOKIE_NAME
from testkit.browser import new_page, train_to_the_end, wait_for_app
from testkit.harness import page_errors, start_streamlit, stop_streamlit

pytestmark = pytest.mark.browser

SIDEBAR = '[data-testid="stSidebar"]'
MAIN = '[data-testid="stMain"]'
NO_RUNS = "No stored runs yet"
NO_MODEL = "none yet"


def visit(page, url: str) -> tuple[str, str]:
    """Open a page; return the texts of its main area (with its inputs' values) and sidebar."""
    page.goto(url)
    wait_for_app(page)
    # A new session may run its script again at once (it adopts the visitor's id): read the
    # page once two reads a second apart agree, so a first run's leftovers are not read.
    main = page.inner_text(MAIN)
    for _ in range(20):
        page.wait_for_timeout(1000)
        wait_for_app(page)
        again = page.inner_text(MAIN)
        if again == main:
            break
        main = again
    assert page_errors(page) == []
    values = page.locator(f"{MAIN} input").evaluate_all("inputs => inputs.map(i => i.value)")
    return "\n".join([main, *values]), page.inner_text(SIDEBAR)


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


# Cookies a browser sends before ours that the middleware's former parser
# (http.cookies.SimpleCookie) stopped at or cut away, while the app read past them.
ODD_COOKIE_HEADERS = {
    "json": 'prefs={"theme": "dark"}',
    "nameless": "just-a-value",
    "attribute names": "path=/x; expires=Thu, 01 Jan 2099 00:00:00 GMT; secure=1",
    "long header": "; ".join(f"tracker{index}=" + "v" * 80 for index in range(110)),
}


def _page_set_cookie(base_url: str, cookie_header: str | None) -> str | None:
    """GET the app's page with a Cookie header; return the Set-Cookie it answers with."""
    request = urllib.request.Request(f"{base_url}/compare")
    if cookie_header is not None:
        request.add_header("Cookie", cookie_header)
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.headers.get_content_type() == "text/html"
        return response.headers.get("Set-Cookie")


def test_odd_cookies_before_the_id_keep_the_visitor(browser, tmp_path):
    process, base_url, _ = start_streamlit(tmp_path, {"MNIST_STUDIO_DEMO_MODE": "1"})
    try:
        given = _page_set_cookie(base_url, None)
        assert given is not None and given.startswith(f"{COOKIE_NAME}=")
        visitor = given.split(";")[0].split("=", 1)[1]
        for name, before in ODD_COOKIE_HEADERS.items():
            header = f"{before}; {COOKIE_NAME}={visitor}; after=1"
            for _ in range(2):  # the second load is the one that used to lose the visitor
                assert _page_set_cookie(base_url, header) is None, name

        # The app (the WebSocket's reading) finds the same visitor: their run is listed.
        config = TrainingConfig(hidden_layers=(4,))
        RunStore(tmp_path / "runs").save_run(
            "network", "kept behind odd cookies", config.to_dict(), {"loss": [1.0]},
            {"test_accuracy": 0.5}, {"train_seconds": 1.0}, model=build_model(config),
            owner=visitor,
        )  # fmt: skip
        context, page = new_page(browser)
        host = base_url.split("//", 1)[1].split(":")[0]
        odd = [("prefs", '{"theme": "dark"}'), ("path", "/x"), ("secure", "1")]
        context.add_cookies(
            [{"name": name, "value": value, "domain": host, "path": "/"} for name, value in odd]
            + [{"name": COOKIE_NAME, "value": visitor, "domain": host, "path": "/"}]
        )
        try:
            for _ in range(2):
                main, _ = visit(page, f"{base_url}/compare")
                assert "kept behind odd cookies" in main and NO_RUNS not in main
                values = {cookie["name"]: cookie["value"] for cookie in context.cookies()}
                assert values[COOKIE_NAME] == visitor
        finally:
            context.close()
    finally:
        stop_streamlit(process)
