"""Journeys a learner takes across pages, in a real Chromium: train a preset, then visit
every page and every tab; press Train twice; the same on a phone (390 px, touch).

Each journey uses its own server and run store, so what it sees is only what it did.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest

import ui
from core.nn import DEFAULT_PRESET, PRESETS, TrainingConfig
from core.runs import RunStore
from core.runs.display import training_run_name
from testkit.browser import wait_for_app
from testkit.harness import page_errors, start_streamlit, stop_streamlit

pytestmark = pytest.mark.browser

CRASH_TEXT = "This app has encountered an error"
MAIN = '[data-testid="stMain"]'
SIDEBAR = '[data-testid="stSidebar"]'
# The sidebar is on screen (a collapsed one is moved off to the left).
SIDEBAR_OPEN = """() => {
    const sidebar = document.querySelector('[data-testid="stSidebar"]');
    if (!sidebar) return false;
    const box = sidebar.getBoundingClientRect();
    return box.width > 0 && box.right > 1;
}"""
PHONE = {"width": 390, "height": 844}
# A phone's own user agent: Streamlit closes the sidebar after a page is picked only when
# the browser says it is a phone, as a real one does.
PHONE_USER_AGENT = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Mobile Safari/537.36"
)
DESKTOP = {"width": 1400, "height": 1000}
TRAINING_TIMEOUT = 300_000

# Preset -> how to make it quick: (images to train on, epochs), or None to train it as it
# is (Quick look already is quick). The article preset keeps its validation fraction of 0
# (nothing in the journey changes it): that is what crashed Compare.
JOURNEY_PRESETS = {
    "Quick look": None,
    "Recommended": (3_000, 2),
    "As in the article": (3_000, 2),
}


@pytest.fixture(scope="module")
def journey_server(tmp_path_factory):
    """A fresh MNIST Studio with an empty run store; yields (base URL, run store folder)."""
    folder = tmp_path_factory.mktemp("journeys")
    process, base_url, _ = start_streamlit(folder)
    yield base_url, folder / "runs"
    stop_streamlit(process)


def problems(page) -> list[str]:
    """Error boxes, exceptions and Streamlit's crash message on the page."""
    found = page_errors(page)
    if page.get_by_text(CRASH_TEXT).count():
        found.append(CRASH_TEXT)
    return found


def open_sidebar(page) -> None:
    """Open the sidebar if it is collapsed (as on a phone)."""
    if not sidebar_is_open(page):
        page.locator('[data-testid="stExpandSidebarButton"]').first.click()
        page.wait_for_function(SIDEBAR_OPEN)
        page.wait_for_timeout(300)  # the slide-in animation


def sidebar_is_open(page) -> bool:
    return page.evaluate(SIDEBAR_OPEN)


def go_to(page, spec: ui.PageSpec) -> None:
    """Navigate with the app's own navigation, as a visitor does (the session is kept)."""
    open_sidebar(page)
    page.locator('[data-testid="stSidebarNav"] a').filter(
        has_text=re.compile(f"{re.escape(spec.title)}$")
    ).first.click()
    page.wait_for_url(re.compile(rf"/{ui.url_path(spec)}(\?.*)?$") if not spec.default else "**/")
    wait_for_app(page)


def choose(page, label: str, option: str) -> None:
    """Pick `option` in the select box labelled `label`."""
    box = page.locator(f'{MAIN} [data-testid="stSelectbox"]').filter(has_text=label).first
    box.click()
    page.get_by_role("option", name=option, exact=True).click()
    wait_for_app(page)


def set_number(page, label: str, value: int) -> None:
    field = page.get_by_label(label, exact=True)
    field.fill(str(value))
    field.press("Enter")
    wait_for_app(page)


def make_quick(page, train_size: int, epochs: int) -> None:
    """Train on a subset for a few epochs, through the page's own settings."""
    subset = page.get_by_label("Train on a subset (quicker)")
    if not subset.is_checked():
        subset.check(force=True)
        wait_for_app(page)
    set_number(page, "Training images", train_size)
    set_number(page, "Epochs", epochs)


def train_button(page):
    return page.locator(f"{MAIN} button").filter(has_text=re.compile(r"(^|_arrow)Train$")).first


def train_and_wait(page) -> str:
    """Press Train and wait for the result; return the main area's text."""
    train_button(page).click()
    page.get_by_text(re.compile(r"^(Training finished\.|Stopped after)")).first.wait_for(
        timeout=TRAINING_TIMEOUT
    )
    wait_for_app(page)
    return page.inner_text(MAIN)


def tall_screenshot(page, path: Path, height: int = 2600) -> None:
    """Screenshot the page in a window tall enough for most of it (Streamlit scrolls its
    main area itself, so a full-page screenshot shows only one window)."""
    size = page.viewport_size
    page.set_viewport_size({"width": size["width"], "height": height})
    page.wait_for_timeout(600)  # let plotly redraw at the new size
    page.screenshot(path=str(path))
    page.set_viewport_size(size)
    page.wait_for_timeout(300)


def visit_every_page_and_tab(page, shots: Path | None = None, suffix: str = "") -> dict:
    """Visit each page and click each of its tabs; return {place: problems} where any."""
    found = {}
    for spec in ui.PAGES:
        go_to(page, spec)
        name = ui.url_path(spec)
        if problems(page):
            found[name] = problems(page)
        if shots is not None:
            tall_screenshot(page, shots / f"journey-{name}{suffix}.png")
        tabs = page.locator(f'{MAIN} [role="tab"]')
        for index in range(tabs.count()):
            tab = tabs.nth(index)
            title = tab.inner_text().strip()
            tab.click()
            page.wait_for_timeout(300)
            wait_for_app(page)
            if problems(page):
                found[f"{name} / {title}"] = problems(page)
    return found


@pytest.mark.parametrize("preset", list(JOURNEY_PRESETS))
def test_train_a_preset_then_visit_every_page_and_tab(journey_server, browser, output_dir, preset):
    base_url, _ = journey_server
    context = browser.new_context(viewport=DESKTOP)
    context.set_default_timeout(60_000)
    page = context.new_page()
    try:
        page.goto(f"{base_url}/train")
        wait_for_app(page)
        choose(page, "Preset", preset)
        if JOURNEY_PRESETS[preset] is not None:
            make_quick(page, *JOURNEY_PRESETS[preset])
        main = train_and_wait(page)
        assert "Training finished." in main
        assert "Test accuracy" in main
        assert problems(page) == []
        slug = preset.lower().replace(" ", "-")
        tall_screenshot(page, output_dir / f"journey-{slug}-train.png")
        shots = output_dir if preset == "Quick look" else None
        assert visit_every_page_and_tab(page, shots, suffix="-1400") == {}
    finally:
        context.close()


def sidebar_job_lines(page, name: str) -> int:
    """How many of the visitor's jobs named `name` the sidebar lists as queued or running."""
    lines = page.locator(f'{SIDEBAR} [data-testid="stMarkdownContainer"]').filter(
        has_text=re.compile(rf"{re.escape(name)}: (running|stopping|waiting)")
    )
    return lines.count()


def test_pressing_train_twice_starts_one_training(journey_server, browser, output_dir):
    base_url, runs_folder = journey_server
    context = browser.new_context(viewport=DESKTOP)
    context.set_default_timeout(60_000)
    page = context.new_page()
    try:
        query = "hidden_layers=24&epochs=200&train_size=2000&batch_size=16"
        page.goto(f"{base_url}/train?{query}")
        wait_for_app(page)
        config, _ = TrainingConfig.from_query_params(
            dict(item.split("=") for item in query.split("&")), base=PRESETS[DEFAULT_PRESET]
        )
        assert config.summary(10) in page.inner_text(MAIN)
        name = training_run_name(config, 10)
        button = train_button(page)
        button.dblclick()
        button.click(force=True)  # a third press, once the page has answered
        page.get_by_role("button", name=re.compile("Stop")).first.wait_for()
        wait_for_app(page)
        assert train_button(page).is_disabled()
        assert sidebar_job_lines(page, name) == 1
        assert page.get_by_text(f"Latest training: {name}").count() == 1
        page.screenshot(path=str(output_dir / "journey-train-twice.png"), full_page=True)
        page.get_by_role("button", name=re.compile("Stop")).first.click()
        page.get_by_text(re.compile("^Stopped after")).first.wait_for(timeout=TRAINING_TIMEOUT)
        wait_for_app(page)
        assert not train_button(page).is_disabled()
        assert sidebar_job_lines(page, name) == 0
        assert problems(page) == []
        # Exactly one run was stored: a second job would have added its own (counted by
        # name: other tests' jobs on this server may store runs meanwhile).
        time.sleep(1)
        head, tail = name.split("200 ep")
        this_run = re.compile(re.escape(head) + r"(\d+ of )?200 ep(, stopped)?" + re.escape(tail))
        names = list(RunStore(runs_folder).list_runs()["name"])
        assert len([n for n in names if this_run.fullmatch(n)]) == 1, (name, names)
    finally:
        context.close()


def test_a_learner_on_a_phone_trains_and_sees_every_page(journey_server, browser, output_dir):
    base_url, _ = journey_server
    context = browser.new_context(
        viewport=PHONE,
        has_touch=True,
        is_mobile=True,
        device_scale_factor=2,
        user_agent=PHONE_USER_AGENT,
    )
    context.set_default_timeout(60_000)
    page = context.new_page()
    try:
        page.goto(f"{base_url}/train")
        wait_for_app(page)
        # A fresh link on a phone starts with the sidebar closed, over nothing.
        assert not sidebar_is_open(page)
        # The Train button is within the first screen or two.
        box = train_button(page).bounding_box()
        assert box is not None and box["y"] < 2 * PHONE["height"], box
        choose(page, "Preset", "Quick look")
        page.evaluate("window.scrollTo(0, 0)")
        train_button(page).tap()
        page.get_by_text("Training finished.").first.wait_for(timeout=TRAINING_TIMEOUT)
        wait_for_app(page)
        assert problems(page) == []
        page.evaluate("window.scrollTo(0, 0)")
        page.wait_for_timeout(500)
        page.screenshot(path=str(output_dir / "phone-train.png"))
        readme_folder = os.environ.get("MNIST_STUDIO_SCREENSHOT_DIR")  # `make screenshots`
        if readme_folder:
            Path(readme_folder).mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(Path(readme_folder) / "phone-train.png"))
        tall_screenshot(page, output_dir / "journey-train-390.png")
        assert visit_every_page_and_tab(page, output_dir, suffix="-390") == {}
    finally:
        context.close()


def test_stopped_run_naming(journey_server, browser, output_dir):
    """A learner stops a training after a few epochs: the stored run's name says what was
    trained, and the better model trained before stays current, as the page says."""
    base_url, runs_folder = journey_server
    context = browser.new_context(viewport=DESKTOP)
    context.set_default_timeout(60_000)
    page = context.new_page()
    try:
        page.goto(f"{base_url}/train")
        wait_for_app(page)
        choose(page, "Preset", "Quick look")
        # The preset reached the server once the page counts its network (784-64-10). At load
        # 20+ Train was pressed before the settings below it were drawn too, and the browser
        # sent the default preset's settings with the press: the page now keeps the preset's
        # (tests/apptest/test_train_page.py tests that message).
        page.get_by_text("50,890 parameters").first.wait_for(timeout=60_000)
        assert "Training finished." in train_and_wait(page)
        better = page.locator(SIDEBAR).inner_text()
        assert "Quick look · 2 ep · seed 0" in better

        # A network that learns slowly (plain SGD, a tiny step), stopped after 3 epochs.
        query = (
            "hidden_layers=8&optimizer=plain_sgd&learning_rate=0.0001&epochs=200"
            "&train_size=2000&batch_size=100&validation_fraction=0&schedule=constant"
        )
        page.goto(f"{base_url}/train?{query}")
        wait_for_app(page)
        train_button(page).click()
        page.get_by_text(re.compile(r"· epoch [4-9]\d* of 200 ·")).first.wait_for(
            timeout=TRAINING_TIMEOUT
        )
        page.get_by_role("button", name=re.compile("Stop")).first.click()
        page.get_by_text(re.compile("^Stopped after")).first.wait_for(timeout=TRAINING_TIMEOUT)
        wait_for_app(page)
        main = page.inner_text(MAIN)
        assert problems(page) == []

        stored = RunStore(runs_folder).list_runs()
        this_run = stored["name"].str.startswith("784-8-10 relu, plain sgd 0.0001, ")
        assert this_run.sum() == 1, list(stored["name"])
        run = stored[this_run].iloc[0]
        epochs = int(run["epochs"])
        assert epochs >= 3
        name = (
            f"784-8-10 relu, plain sgd 0.0001, {epochs} of 200 ep, stopped, 2,000 images · seed 0"
        )
        assert run["name"] == name and run["status"] == "stopped"
        assert f"Latest training: {name}" in main
        assert f"Stopped after {epochs} of 200 epochs" in main
        assert "Your current model stays" in main
        # The sidebar still names the better model (Quick look's).
        sidebar = page.locator(SIDEBAR).inner_text()
        assert "Quick look · 2 ep · seed 0" in sidebar and name not in sidebar.split("Last job")[0]
        tall_screenshot(page, output_dir / "journey-stopped-run.png")

        # One click makes the stopped run current anyway.
        page.get_by_role("button", name=re.compile("Use this stopped run instead")).click()
        wait_for_app(page)
        page.locator(SIDEBAR).get_by_text(name).first.wait_for()
        assert problems(page) == []
    finally:
        context.close()


def test_an_imported_model_is_named_in_the_sidebar_at_once(journey_server, browser, tmp_path):
    """Before, Compare said the imported model was current while the sidebar still named
    the old one until the next page change."""
    from core.nn.model import build_model

    path = tmp_path / "from-elsewhere.keras"
    build_model(TrainingConfig(hidden_layers=(8,))).save(path)
    base_url, _ = journey_server
    context = browser.new_context(viewport=DESKTOP)
    context.set_default_timeout(60_000)
    page = context.new_page()
    try:
        page.goto(f"{base_url}/compare")
        wait_for_app(page)
        page.get_by_role("tab", name="Import and export").click()
        page.locator('.st-key-compare_import_model input[type="file"]').set_input_files(path)
        page.get_by_text(
            re.compile(r"from-elsewhere\.keras (was made|is now) the current model")
        ).wait_for()
        wait_for_app(page)
        assert "Imported: from-elsewhere.keras" in page.inner_text(SIDEBAR)
        assert problems(page) == []
    finally:
        context.close()


def test_a_second_tab_shows_a_training_started_in_the_first_without_a_click(
    journey_server, browser, output_dir
):
    """Before, the second tab kept showing an old "Training finished" (or nothing) until
    the learner touched it."""
    base_url, _ = journey_server
    context = browser.new_context(viewport=DESKTOP)
    context.set_default_timeout(60_000)
    first, second = context.new_page(), context.new_page()
    query = "hidden_layers=40&epochs=150&train_size=2000&batch_size=16&seed=9"
    config, _ = TrainingConfig.from_query_params(
        dict(item.split("=") for item in query.split("&")), base=PRESETS[DEFAULT_PRESET]
    )
    name = training_run_name(config, 10)
    try:
        second.goto(f"{base_url}/train")
        wait_for_app(second)
        evaluate_tab = context.new_page()
        evaluate_tab.goto(f"{base_url}/evaluate")
        wait_for_app(evaluate_tab)
        first.goto(f"{base_url}/train?{query}")
        wait_for_app(first)
        train_button(first).click()
        first.get_by_role("button", name=re.compile("Stop")).first.wait_for()
        # No click, no key, no navigation in the other tabs: they show it by themselves.
        second.get_by_text(f"Latest training: {name}").wait_for(timeout=20_000)
        second.locator(f"{SIDEBAR} [data-testid='stMarkdownContainer']").filter(
            has_text=f"{name}: running"
        ).first.wait_for(timeout=20_000)
        evaluate_tab.locator(f"{SIDEBAR} [data-testid='stMarkdownContainer']").filter(
            has_text=f"{name}: running"
        ).first.wait_for(timeout=20_000)
        second.screenshot(path=str(output_dir / "journey-second-tab.png"))
        first.get_by_role("button", name=re.compile("Stop")).first.click()
        second.get_by_text(re.compile("^Stopped after")).first.wait_for(timeout=TRAINING_TIMEOUT)
        assert problems(second) == [] and problems(evaluate_tab) == []
    finally:
        context.close()
