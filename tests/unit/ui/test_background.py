"""`ui.background.start_in_thread`: its Future always ends, whatever the work raises."""

import pytest

from ui.background import start_in_thread


def test_the_future_holds_the_result():
    assert start_in_thread(lambda: 6 * 7, name="test-answer").result(timeout=10) == 42


@pytest.mark.parametrize("error", [ValueError("bad"), RuntimeError("out of memory"), KeyError("k")])
def test_the_future_holds_any_exception_the_work_raised(error):
    def build():
        raise error

    future = start_in_thread(build, name="test-failure")
    assert future.exception(timeout=10) is error
