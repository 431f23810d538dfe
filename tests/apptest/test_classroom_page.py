"""The Class page through AppTest: a teacher starts a class, students join by code with a
name, land on Train with the class's settings, and the leaderboard ranks their runs.

AppTest has no cookies: each test names the browser's visitor id by replacing
`ui.browser_visitor_id`, as tests/apptest/test_visitor_identity.py does.
"""

from __future__ import annotations

import time

import pytest

import ui
from core.classes import ACCURACY_WITHIN_PARAMETERS, Challenge, ClassStore
from core.nn import PRESETS
from core.runs import RunStore
from testkit.harness import app_test

PAGE = "app_pages/classroom.py"


def _browser(monkeypatch, visitor: str) -> None:
    monkeypatch.setattr(ui.identity, "browser_visitor_id", lambda: visitor, raising=False)


def _text(app) -> str:
    parts = [str(element.value) for element in app.markdown]
    parts += [str(element.value) for element in app.subheader]
    parts += [str(element.value) for kind in ("caption", "error", "info", "warning", "success")
              for element in getattr(app, kind)]  # fmt: skip
    parts += [str(element.value) for element in app.metric]
    parts += [str(element.value) for element in app.code]
    return " ".join(parts)


@pytest.fixture
def stores(isolated_run_store):
    run_store = RunStore(isolated_run_store)
    yield run_store, ClassStore(run_store.database)
    run_store.database.dispose()


def _save(run_store, owner, accuracy, parameters):
    return run_store.save_run(
        "network", "run", {**PRESETS["Recommended"].to_dict()}, {"accuracy": [0.9, accuracy]},
        {"test_accuracy": accuracy}, {"train_seconds": 9.0}, owner=owner,
        parameters=parameters, dataset="MNIST",
    )  # fmt: skip


def test_a_teacher_starts_a_class_and_gets_its_code_and_links(monkeypatch, stores):
    _browser(monkeypatch, "teacher-browser")
    app = app_test(PAGE).run()
    assert not app.exception
    app.text_input[2].input("Year 10 · **[click](https://evil.example)**")  # The title box.
    app.selectbox[0].select(ACCURACY_WITHIN_PARAMETERS)
    app.button[1].click().run()  # "Start the class" (the join form's button comes first).
    assert not app.exception
    secret = app.query_params[ui.TEACHER_PARAM]
    assert isinstance(secret, str) and len(secret) >= 40
    text = _text(app)
    info = stores[1].for_teacher(secret)
    assert info is not None and info.code in text
    assert f"/classroom?code={info.code}" in text  # The student link, to copy.
    assert "Highest test accuracy with at most 50,000 parameters" in text
    # The title is shown as text: no link survives.
    assert "Year 10 · \\*\\*\\[click\\]" in text
    assert info.config == PRESETS[list(PRESETS)[0]].to_dict()


def test_a_wrong_teacher_link_says_so_and_shows_nothing(monkeypatch, stores):
    stores[1].create("Real class", Challenge())
    _browser(monkeypatch, "someone")
    app = app_test(PAGE)
    app.query_params[ui.TEACHER_PARAM] = "x" * 43
    app.run()
    assert not app.exception
    assert [error.value for error in app.error] == [
        "This teacher link is not valid: check that it was copied whole."
    ]
    assert not app.metric


def test_students_join_by_code_land_on_train_and_see_only_the_leaderboard(monkeypatch, stores):
    run_store, classes = stores
    created = classes.create(
        "Lesson 3", Challenge(ACCURACY_WITHIN_PARAMETERS, 250_000), PRESETS["Recommended"].to_dict()
    )
    info = created.info
    _browser(monkeypatch, "ana-browser")
    app = app_test(PAGE)
    app.query_params[ui.CODE_PARAM] = info.code.lower()
    app.run()
    assert app.text_input[0].value == info.code.lower()  # The code from the link.
    app.text_input[1].input("Ana")
    app.button[0].click().run()
    assert not app.exception
    # Train, with the class's starting settings and its rule beside the parameter count.
    assert app.session_state["train_preset"] == "Recommended"
    train_text = " ".join(str(element.value) for element in app.info)
    assert "Class **Lesson 3**" in train_text and "within the rule" in train_text
    time.sleep(1.1)  # Runs are stamped to the second: these come after she joined.
    _save(run_store, "ana-browser", 0.975, 203_530)
    _save(run_store, "ben-browser", 0.99, 500_000)  # Not in the class (yet).
    classes.join(info, "ben-browser", "Ben")
    _save(run_store, "ben-browser", 0.96, 100_000)
    _save(run_store, "ben-browser", 0.985, 300_000)  # Over the rule's 250,000.
    app.switch_page(PAGE).run()
    assert not app.exception
    text = _text(app)
    assert "You are in it as **Ana**" in text
    board = app.table[0].value
    assert board["Name"].tolist() == ["Ana (you)", "Ben"]
    assert board.index.tolist() == ["1", "2"]
    assert board["Parameters"].tolist() == ["203,530", "100,000"]
    assert board["Test accuracy"].tolist() == ["97.50%", "96.00%"]
    # Her own runs, not Ben's: one run.
    assert len(app.dataframe[0].value) == 1
    # A second student cannot take her name.
    _browser(monkeypatch, "cem-browser")
    other = app_test(PAGE)
    other.query_params[ui.CODE_PARAM] = info.code
    other.run()
    other.text_input[1].input("ANA")
    other.button[0].click().run()
    assert "Someone in this class is already called 'ANA'" in " ".join(e.value for e in other.error)


def test_the_teachers_view_lists_students_training_and_exports_their_runs(monkeypatch, stores):
    run_store, classes = stores
    created = classes.create("Lesson 4", Challenge())
    info = created.info
    for owner, name in (("a", "Ana"), ("b", "Ben"), ("c", "Cem")):
        classes.join(info, owner, name)
    time.sleep(1.1)
    _save(run_store, "a", 0.97, 101_770)
    _save(run_store, "b", 0.98, 118_282)
    _browser(monkeypatch, "teacher")
    app = app_test(PAGE)
    app.query_params[ui.TEACHER_PARAM] = created.secret
    app.run()
    assert not app.exception
    assert [metric.value for metric in app.metric] == [info.code, "3", "0", "2"]
    board = app.table[0].value
    assert board["Name"].tolist() == ["Ben", "Ana"]
    students = app.dataframe[0].value
    assert students["name"].tolist() == ["Ana", "Ben", "Cem"]
    assert students["runs"].tolist() == [1, 1, 0]
    # Take Ben out: Ana leads.
    app.selectbox(key="class_remove_name").select("Ben")
    next(button for button in app.button if button.label == "Take out of the class").click().run()
    assert not app.exception
    assert app.table[0].value["Name"].tolist() == ["Ana"]


def test_a_student_of_an_open_class_counts_caps_per_class_not_per_network(monkeypatch, stores):
    from streamlit.testing.v1 import AppTest

    def script():
        import streamlit as st

        import ui

        st.write(f"address={ui.visitor_address()} owner={ui.runs_owner()}")

    _, classes = stores
    info = classes.create("Caps", Challenge()).info
    _browser(monkeypatch, "student-browser")
    monkeypatch.setattr(ui.identity, "visitor_address", lambda: "203.0.113.7")
    app = AppTest.from_function(script).run()
    # Not in a class: the network address, and (locally) everyone's runs.
    assert app.markdown[0].value == "address=203.0.113.7 owner=None"
    classes.join(info, "student-browser", "Dee")
    app = AppTest.from_function(script).run()
    assert app.markdown[0].value == f"address=class:{info.id} owner=student-browser"
    classes.end(info.id)
    app = AppTest.from_function(script).run()
    # An ended class no longer stands for the network; the student still sees only theirs.
    assert app.markdown[0].value == "address=203.0.113.7 owner=student-browser"


def test_the_teachers_view_survives_a_visit_to_another_page(monkeypatch, stores):
    created = stores[1].create("Lesson 5", Challenge())
    _browser(monkeypatch, "teacher")
    app = app_test(PAGE)
    app.query_params[ui.TEACHER_PARAM] = created.secret
    app.run()
    assert created.info.code in _text(app)
    app.switch_page("app_pages/train.py").run()
    app.query_params.clear()  # Train's address has no secret.
    app.switch_page(PAGE).run()
    assert not app.exception
    assert created.info.code in _text(app)
    assert app.query_params[ui.TEACHER_PARAM] == created.secret
    app.button(key="class_close_teaching").click().run()
    assert created.info.code not in _text(app)
    assert ui.TEACHER_PARAM not in app.query_params


def test_a_teacher_can_start_students_from_their_own_train_settings(monkeypatch, stores):
    from dataclasses import replace

    mine = replace(PRESETS["Quick look"], hidden_layers=(48, 24), epochs=4)
    _browser(monkeypatch, "teacher")
    app = app_test(PAGE)
    app.session_state["train_saved_config"] = mine.to_json()  # What Train keeps.
    app.run()
    starts = next(box for box in app.selectbox if box.label == "Students start from")
    assert starts.options[0] == "Your settings on the Train page"
    app.text_input[2].input("Own settings")
    app.button[1].click().run()
    info = stores[1].for_teacher(app.query_params[ui.TEACHER_PARAM])
    assert info is not None and info.config == mine.to_dict()


def test_a_run_the_teacher_shares_shows_its_curves_to_every_student(monkeypatch, stores):
    run_store, classes = stores
    created = classes.create("Lesson 6", Challenge())
    info = created.info
    classes.join(info, "ana", "Ana")
    classes.join(info, "ben", "Ben")
    time.sleep(1.1)
    ana_run = _save(run_store, "ana", 0.97, 101_770)
    _browser(monkeypatch, "ben")
    student = app_test(PAGE).run()
    assert "Shared by your teacher" not in _text(student)
    assert len(student.get("plotly_chart")) == 0  # Ana's run is hers alone.
    _browser(monkeypatch, "teacher")
    teacher = app_test(PAGE)
    teacher.query_params[ui.TEACHER_PARAM] = created.secret
    teacher.run()
    next(b for b in teacher.button if b.label == "Share with the class").click().run()
    assert not teacher.exception
    assert classes.marks(info.id) == {ana_run: "shared"}
    _browser(monkeypatch, "ben")
    student = app_test(PAGE).run()
    assert not student.exception
    assert "Shared by your teacher" in _text(student)
    assert len(student.get("plotly_chart")) == 1  # Her curves (no confusion matrix saved).
