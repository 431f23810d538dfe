"""A class of 30 through AppTest sessions: each student joins on the page with a name, their
runs end at different times (finished, stopped, interrupted, over the rule), the teacher
removes a student and an entry, and every view of the leaderboard stays right.

On both backends: SQLite, and PostgreSQL as `make class` serves it. The runs are saved
straight into the store, as a training job saves them; tests of real trainings in a class
are tests/browser/test_classroom_browser.py. The teacher's view's rerun time for such a
class is measured by bench/bench_classroom.py.
"""

from __future__ import annotations

import random
import time

import pytest

import ui
from core.classes import ACCURACY_WITHIN_PARAMETERS, Challenge, ClassStore
from core.nn import PRESETS
from core.runs import RunStore
from testkit.harness import app_test

PAGE = "app_pages/classroom.py"
STUDENTS = 30
LIMIT = 150_000


@pytest.fixture
def stores(isolated_run_store, database_url, monkeypatch):
    # The pages read the store the settings name: the same SQLite folder or PostgreSQL database.
    if database_url is not None:
        monkeypatch.setenv("MNIST_STUDIO_DATABASE_URL", database_url)
    run_store = RunStore(isolated_run_store, database_url=database_url)
    yield run_store, ClassStore(run_store.database)
    run_store.database.dispose()


def test_a_class_of_30_keeps_a_right_leaderboard(monkeypatch, stores):
    run_store, classes = stores
    created = classes.create("Thirty", Challenge(ACCURACY_WITHIN_PARAMETERS, LIMIT))
    info = created.info
    visitor = {"id": ""}
    monkeypatch.setattr(ui.identity, "browser_visitor_id", lambda: visitor["id"], raising=False)
    names = [f"Student {number:02d}" for number in range(STUDENTS)]
    for number, name in enumerate(names):
        visitor["id"] = f"browser-{number}"
        app = app_test(PAGE)
        app.query_params[ui.CODE_PARAM] = info.code
        app.run()
        app.text_input[1].input(name)
        app.button[0].click().run()
        assert not app.exception and not app.error, name
    time.sleep(1.1)  # Runs are stamped to the second: these come after every join.
    rng = random.Random(7)
    expected: dict[str, float] = {}
    for number, name in enumerate(names):
        for _ in range(3):
            accuracy = round(rng.uniform(0.90, 0.99), 4)
            parameters = rng.choice([50_890, 101_770, 203_530])
            status = rng.choice(["finished", "finished", "stopped", "interrupted"])
            run_store.save_run(
                "network", name, PRESETS["Quick look"].to_dict(), {"accuracy": [accuracy]},
                {} if status == "interrupted" else {"test_accuracy": accuracy},
                {"train_seconds": 5.0}, owner=f"browser-{number}", status=status,
                parameters=parameters, dataset="MNIST",
            )  # fmt: skip
            if status != "interrupted" and parameters <= LIMIT:
                expected[name] = max(expected.get(name, 0.0), accuracy)
    # The teacher takes student 00 out and removes the best entry of student 01.
    classes.remove_student(info.id, "browser-0")
    expected.pop(names[0], None)
    best_of_01 = max(
        (e for e in classes.entries(info) if e.student == names[1] and e.run_id),
        key=lambda e: (e.parameters <= LIMIT and e.test_accuracy is not None, e.test_accuracy or 0),
    )
    classes.hide_run(info.id, best_of_01.run_id)
    counting = [
        e.test_accuracy or 0 for e in classes.entries(info)
        if e.student == names[1] and e.status != "interrupted" and (e.parameters or 0) <= LIMIT
    ]  # fmt: skip
    if counting:
        expected[names[1]] = max(counting)
    else:
        expected.pop(names[1], None)

    ranking = sorted(expected.items(), key=lambda item: -item[1])
    visitor["id"] = "teacher-browser"
    teacher = app_test(PAGE)
    teacher.query_params[ui.TEACHER_PARAM] = created.secret
    teacher.run()
    assert not teacher.exception
    board = teacher.table[0].value
    assert board["Name"].tolist() == [name for name, _ in ranking]
    assert board["Test accuracy"].tolist() == [f"{100 * score:.2f}%" for _, score in ranking]
    assert [metric.value for metric in teacher.metric][1] == str(STUDENTS - 1)
    # Every student sees the same board, their own row marked, and only their runs.
    for number in (1, 2, 17, 29):
        visitor["id"] = f"browser-{number}"
        student = app_test(PAGE).run()
        assert not student.exception
        board = student.table[0].value
        marked = [name for name in board["Name"] if name.endswith("(you)")]
        assert marked == ([f"{names[number]} (you)"] if names[number] in expected else [])
        mine = student.dataframe[0].value if student.dataframe else []
        assert len(mine) == sum(1 for e in classes.entries(info) if e.student == names[number])
    # The removed student sees why, and is on no board.
    visitor["id"] = "browser-0"
    removed = app_test(PAGE).run()
    assert "Your teacher took you out of this class" in " ".join(w.value for w in removed.warning)
