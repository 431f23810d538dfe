"""ui.session_id() is the visitor (the browser's cookie), and the current model outlives a tab.

AppTest has no cookies, so these tests stand in for the browser's cookie by replacing
`ui.browser_visitor_id`; tests/browser/test_identity_browser.py does it with a real cookie.
"""

import pytest

import ui
from core.nn.config import TrainingConfig
from core.nn.model import build_model
from core.runs import RunStore
from core.visitors import identity as visitors
from testkit.harness import app_test

CONFIG = TrainingConfig(hidden_layers=(4,))


@pytest.fixture
def demo(monkeypatch):
    monkeypatch.setenv("MNIST_STUDIO_DEMO_MODE", "1")


def _save_network(store: RunStore, name: str, owner: str) -> str:
    return store.save_run(
        "network", name, CONFIG.to_dict(), {"loss": [1.0]}, {"test_accuracy": 0.5},
        {"train_seconds": 1.0}, model=build_model(CONFIG), owner=owner,
    )  # fmt: skip


def _browser(monkeypatch, visitor: str | None) -> None:
    monkeypatch.setattr(ui.identity, "browser_visitor_id", lambda: visitor, raising=False)


def _sidebar_texts(app) -> str:
    return " ".join(str(element.value) for element in app.sidebar.markdown)


def test_a_session_adopts_the_cookies_id_and_keeps_its_runs_and_model(
    demo, monkeypatch, isolated_run_store
):
    store = RunStore(isolated_run_store)
    _browser(monkeypatch, None)  # the cookie is not there yet
    app = app_test("app_pages/compare.py")
    app.session_state[ui.KEY_SESSION_ID] = "tab-own-id"
    run_id = _save_network(store, "trained before the cookie", owner="tab-own-id")
    app.run()
    assert not app.exception
    app.button(key="compare_use_button").click().run()
    assert app.session_state[ui.KEY_CURRENT_MODEL].run_id == run_id

    browser_id = visitors.new_visitor_id()
    _browser(monkeypatch, browser_id)
    app.run()
    assert not app.exception
    assert app.session_state[ui.KEY_VISITOR_ID] == browser_id
    assert list(store.list_runs(owner=browser_id)["id"]) == [run_id]
    assert store.list_runs(owner="tab-own-id").empty

    # A reload: a new session of the same browser finds the run and the current model.
    reloaded = app_test("app_pages/compare.py").run()
    assert not reloaded.exception
    assert reloaded.session_state[ui.KEY_CURRENT_MODEL].run_id == run_id
    assert "trained before the cookie" in _sidebar_texts(reloaded)
    assert not any("No stored runs yet" in info.value for info in reloaded.info)


def test_another_tab_finds_the_current_model_and_another_browser_does_not(
    demo, monkeypatch, isolated_run_store
):
    store = RunStore(isolated_run_store)
    alice = visitors.new_visitor_id()
    run_id = _save_network(store, "alice's model", owner=alice)
    _browser(monkeypatch, alice)
    first_tab = app_test("app_pages/compare.py").run()
    first_tab.button(key="compare_use_button").click().run()

    second_tab = app_test("app_pages/draw.py").run()
    assert not second_tab.exception
    assert second_tab.session_state[ui.KEY_CURRENT_MODEL].run_id == run_id
    picker = second_tab.selectbox(key="draw_model")
    assert picker.value == ui.CURRENT_CHOICE
    assert picker.options[picker.index].startswith("Your current model")

    _browser(monkeypatch, visitors.new_visitor_id())
    stranger = app_test("app_pages/compare.py").run()
    assert not stranger.exception
    assert ui.KEY_CURRENT_MODEL not in stranger.session_state
    assert any("No stored runs yet" in info.value for info in stranger.info)


def test_a_deleted_current_run_is_forgotten_not_an_error(demo, monkeypatch, isolated_run_store):
    store = RunStore(isolated_run_store)
    alice = visitors.new_visitor_id()
    run_id = _save_network(store, "soon deleted", owner=alice)
    _browser(monkeypatch, alice)
    app_test("app_pages/compare.py").run().button(key="compare_use_button").click().run()
    store.delete_run(run_id)
    draw = app_test("app_pages/draw.py").run()
    assert not draw.exception and not draw.error
    assert ui.KEY_CURRENT_MODEL not in draw.session_state


def _submit_waiting_jobs_script():
    """A page that submits `count` jobs which wait until stopped, through ui.submit_job."""
    import streamlit as st

    import ui

    count = int(st.query_params.get("count", "1"))
    try:
        for number in range(count):
            ui.submit_job(f"waits {number}", lambda report, stop_event: stop_event.wait(60))
        st.success(f"submitted {count}")
    except ValueError as error:
        st.error(str(error))


def test_the_tabs_of_one_browser_share_the_per_visitor_job_cap(demo, monkeypatch):
    from streamlit.testing.v1 import AppTest

    visitor = visitors.new_visitor_id()
    _browser(monkeypatch, visitor)
    try:
        first_tab = AppTest.from_function(_submit_waiting_jobs_script, default_timeout=30)
        first_tab.query_params["count"] = "6"
        first_tab.run()
        assert [success.value for success in first_tab.success] == ["submitted 6"]

        second_tab = AppTest.from_function(_submit_waiting_jobs_script, default_timeout=30)
        second_tab.run()
        assert "You already have 6 jobs running or waiting" in second_tab.error[0].value
        assert len(ui.job_manager().active_jobs(owner=visitor)) == 6
    finally:
        for job in ui.job_manager().jobs(owner=visitor):
            job.stop()


def test_a_run_the_store_would_refuse_is_refused_on_the_train_page_with_a_sentence(
    demo, monkeypatch, isolated_run_store
):
    monkeypatch.setenv("MNIST_STUDIO_MAX_RUNS_PER_ADDRESS_PER_DAY", "2")
    visitor = visitors.new_visitor_id()
    _browser(monkeypatch, visitor)
    store = ui.run_store()
    for index in range(2):
        store.save_run(
            "baseline", f"run {index}", {}, None, {"test_accuracy": 0.5}, {}, owner=visitor
        )
    config = TrainingConfig(hidden_layers=(4,), epochs=1, train_size=1_000)
    app = app_test("app_pages/train.py")
    for name, value in config.to_query_params().items():
        app.query_params[name] = value
    app.run()
    app.button(key="train_start").click().run()
    assert not app.exception
    assert "at most 2 runs a day from this browser" in app.error[0].value
    assert ui.job_manager().jobs(owner=visitor) == []
