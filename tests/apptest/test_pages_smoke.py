"""Every page in the navigation runs without an exception (new pages are picked up)."""

import pytest

import ui
from testkit.harness import app_test


@pytest.mark.parametrize("page", ui.PAGES, ids=lambda page: page.path)
def test_page_runs_without_exception(page):
    app = app_test(page.path)
    app.run()
    assert not app.exception, [exception.message for exception in app.exception]
    assert app.title, "every page starts with a title"
    assert app.title[0].value


def test_home_page_links_to_every_other_page():
    app = app_test()
    app.run()
    assert not app.exception
    assert app.title[0].value == "MNIST Studio"
    linked = {element.proto.page for element in app.get("page_link")}
    expected = {ui.url_path(page) for page in ui.PAGES if not page.default}
    assert linked == expected


def test_a_script_run_leaves_keras_global_state_alone():
    """Streamlit would call keras.backend.clear_session() after every run (a full gc.collect
    and a reset of the state trainings in other threads use); the app turns that off."""
    import keras

    before = keras.backend.get_uid("mnist_studio_probe")
    app = app_test()
    app.run()
    assert not app.exception
    app.run()
    assert keras.backend.get_uid("mnist_studio_probe") == before + 1
