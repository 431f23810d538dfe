"""Work a page starts in a thread and looks at on later reruns, as a `Future`."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import TypeVar

T = TypeVar("T")


def start_in_thread(build: Callable[[], T], name: str) -> Future[T]:
    """Run `build` in a daemon thread; return the `Future` of its result.

    The Future always ends: with the result, or with whatever `build` raised (any
    exception), so a page never waits for it forever.
    """
    future: Future[T] = Future()

    def run() -> None:
        try:
            future.set_result(build())
        except BaseException as error:  # Any failure must resolve the Future.
            future.set_exception(error)

    threading.Thread(target=run, name=name, daemon=True).start()
    return future
