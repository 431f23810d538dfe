"""What one visitor costs the server, read from Streamlit's own protocol against a real server.

A page that asks the browser to rerun part of it every few seconds sends an `auto_rerun`
message (a fragment's `run_every`); the browser then asks for that rerun on its own. So a
page run whose messages hold no `auto_rerun` costs the server nothing until the next click.
"""

from __future__ import annotations

from testkit.jobs import wait_until
from testkit.streamlit_client import StreamlitClient, find_button, press

VISITOR_COOKIE = "mnist_studio_visitor"
# A small training that lasts long enough to be watched, stopped by the test.
LONG_TRAINING = "hidden_layers=8&epochs=150&train_size=500&batch_size=16&seed=3"


def auto_reruns(messages: list) -> list[float]:
    """The intervals of the fragments that `messages` ask the browser to rerun by itself."""
    return [
        message.auto_rerun.interval
        for message in messages
        if message.WhichOneof("type") == "auto_rerun"
    ]


def test_an_idle_visitor_is_asked_for_no_rerun_on_any_page(streamlit_server):
    """Before, every page asked for a rerun every 3 s (the job watcher) and Compare every
    second (its job lines), with no job anywhere."""
    client = StreamlitClient(streamlit_server)
    try:
        client.open("")
        assert auto_reruns(client.first_messages) == []
        assert auto_reruns(client.rerun("compare")) == []
    finally:
        client.close()


def test_a_training_wakes_the_visitors_other_tab_which_then_follows_it_every_second(
    streamlit_server,
):
    """A second tab of the same browser, idle (no periodic rerun), shows a training started
    in the first without a click: the server reruns it, and from then on it follows the job."""
    first = StreamlitClient(streamlit_server)
    second = None
    try:
        first.open("train", LONG_TRAINING)
        assert auto_reruns(first.first_messages) == []
        visitor = next(cookie.value for cookie in first.jar if cookie.name == VISITOR_COOKIE)
        second = StreamlitClient(streamlit_server, cookies={VISITOR_COOKIE: visitor})
        second.open("compare")
        assert auto_reruns(second.first_messages) == []

        train = find_button(first.first_messages, "Train")
        started = press(first, "train", LONG_TRAINING, train.id)
        # The live view's progress every second (it also follows the visitor's jobs: no
        # watcher in the sidebar) and its curves every 3 s.
        assert sorted(auto_reruns(started)) == [1.0, 3.0]

        # Nothing sent by the second tab: the server reruns it by itself.
        woken = second.wait_until_finished()
        assert auto_reruns(woken) == [1.0]  # The sidebar's live status, once a second.
        texts = [message.delta.new_element.markdown.body for message in woken]
        assert any(": running" in text or "waiting in the queue" in text for text in texts)
    finally:
        stop = find_button(first.rerun("train", LONG_TRAINING), "Stop")
        if stop is not None:
            press(first, "train", LONG_TRAINING, stop.id)
            wait_until(lambda: find_button(first.rerun("train"), "Stop") is None, timeout=60)
        first.close()
        if second is not None:
            second.close()
