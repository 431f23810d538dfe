"""At most `max_sessions_per_address` open app sessions per public network address.

A hundred sessions from one address opening Evaluate pushed the health check to 9.6 s;
`core.visitors.identity.SessionsPerAddressMiddleware` refuses Streamlit's WebSocket (one per tab)
past the bound, and lets a new one in when one closes.
"""

import asyncio

import pytest

from core.visitors.identity import POLICY_VIOLATION, SessionsPerAddressMiddleware
from testkit.harness import run_coroutine

# Public addresses (the documentation ranges, 203.0.113.0/24 and others, do not count).
PUBLIC, OTHER_PUBLIC, PRIVATE = "81.2.69.142", "2.125.160.216", "10.0.0.7"


class OpenSessions:
    """A stand-in for Streamlit: each WebSocket stays open until the test closes it."""

    def __init__(self) -> None:
        self.open: list[asyncio.Event] = []

    async def __call__(self, scope, receive, send) -> None:
        closed = asyncio.Event()
        self.open.append(closed)
        await closed.wait()
        self.open.remove(closed)


def websocket(address: str, path: str = "/_stcore/stream") -> dict:
    return {"type": "websocket", "path": path, "client": (address, 40000), "headers": []}


async def connect(middleware, scope) -> tuple[asyncio.Task, list[dict]]:
    """Open a connection; return its task and the messages the middleware sent itself."""
    sent: list[dict] = []

    async def send(message):
        sent.append(message)

    async def receive():
        return {"type": "websocket.connect"}

    task = asyncio.create_task(middleware(scope, receive, send))
    await asyncio.sleep(0)  # let it reach the app (or be refused)
    return task, sent


def test_one_address_past_the_bound_is_refused_until_a_session_closes():
    async def scenario():
        app = OpenSessions()
        middleware = SessionsPerAddressMiddleware(app, max_sessions=3)
        for _ in range(3):
            _, sent = await connect(middleware, websocket(PUBLIC))
            assert sent == []
        assert len(app.open) == 3 and middleware.open_sessions == {PUBLIC: 3}

        refused, sent = await connect(middleware, websocket(PUBLIC))
        await refused
        assert sent == [{"type": "websocket.close", "code": POLICY_VIOLATION}]
        assert len(app.open) == 3

        # Others are not affected: another public address, a private one (a proxy's,
        # shared by everyone behind it), plain HTTP requests and other WebSockets.
        for scope in (
            websocket(OTHER_PUBLIC),
            websocket(PRIVATE),
            websocket(PUBLIC, "/_stcore/other"),
        ):
            _, sent = await connect(middleware, scope)
            assert sent == []
        _, sent = await connect(middleware, {"type": "http", "client": (PUBLIC, 1)})
        assert sent == [] and len(app.open) == 7
        assert middleware.open_sessions == {PUBLIC: 3, OTHER_PUBLIC: 1}

        # A tab closes: one more may open.
        app.open[0].set()
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert middleware.open_sessions[PUBLIC] == 2
        _, sent = await connect(middleware, websocket(PUBLIC))
        assert sent == [] and middleware.open_sessions[PUBLIC] == 3
        for closed in list(app.open):
            closed.set()
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert middleware.open_sessions == {}

    run_coroutine(scenario())


def test_without_a_bound_every_session_is_let_in_and_a_bound_below_one_is_refused():
    async def scenario():
        app = OpenSessions()
        middleware = SessionsPerAddressMiddleware(app)
        for _ in range(20):
            _, sent = await connect(middleware, websocket(PUBLIC))
            assert sent == []
        assert len(app.open) == 20 and middleware.open_sessions == {}
        for closed in list(app.open):
            closed.set()

    run_coroutine(scenario())
    with pytest.raises(ValueError, match="at least 1"):
        SessionsPerAddressMiddleware(OpenSessions(), max_sessions=0)


def test_at_most_a_few_page_runs_compute_at_once_and_a_long_wait_goes_ahead(monkeypatch):
    # 100 sessions opening Evaluate at once starved the server's event loop (health 9.6 s);
    # app.py runs each page inside ui.page_run_slot, so the others wait without the GIL.
    import threading
    import time

    import ui

    running, most = [0], [0]
    lock = threading.Lock()

    def page_run():
        with ui.page_run_slot():
            with lock:
                running[0] += 1
                most[0] = max(most[0], running[0])
            time.sleep(0.05)
            with lock:
                running[0] -= 1

    threads = [threading.Thread(target=page_run) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most[0] == ui.MAX_CONCURRENT_PAGE_RUNS

    # A run that waited its longest goes ahead rather than wait for ever.
    monkeypatch.setattr(ui.navigation, "PAGE_RUN_WAIT_SECONDS", 0.01)
    held = [ui.page_run_slot() for _ in range(ui.MAX_CONCURRENT_PAGE_RUNS)]
    for slot in held:
        slot.__enter__()
    with ui.page_run_slot():
        pass
    for slot in held:
        slot.__exit__(None, None, None)
