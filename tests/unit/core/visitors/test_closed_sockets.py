"""A WebSocket closed twice ends quietly; every other error still reaches the server's log.

The inner apps use Starlette's real `WebSocket`, so a Starlette that words the second close
differently fails here rather than letting the tracebacks back into the log unnoticed.
"""

from __future__ import annotations

import pytest
from starlette.websockets import WebSocket

from core.visitors.closed_sockets import SECOND_CLOSE, ClosedSocketMiddleware
from testkit.harness import run_coroutine


async def closes_twice(scope, receive, send) -> None:
    """What Streamlit's endpoint does when the session's side closed the socket first."""
    websocket = WebSocket(scope, receive, send)
    await websocket.accept()
    await websocket.close()
    await websocket.close()


async def fails(scope, receive, send) -> None:
    raise RuntimeError("a real fault")


def serve(app, scope_type: str = "websocket") -> list[dict]:
    """Run one connection through ``app``; return the messages it sent."""
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "websocket.connect"}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": scope_type, "path": "/_stcore/stream", "headers": [], "query_string": b""}
    run_coroutine(app(scope, receive, send))
    return sent


def test_starlette_raises_on_a_second_close_with_the_words_the_middleware_knows():
    with pytest.raises(RuntimeError) as raised:
        serve(closes_twice)
    assert str(raised.value) == SECOND_CLOSE


def test_a_socket_closed_twice_ends_quietly_after_one_close():
    sent = serve(ClosedSocketMiddleware(closes_twice))
    assert [message["type"] for message in sent] == ["websocket.accept", "websocket.close"]


def test_other_errors_and_other_requests_pass_through():
    with pytest.raises(RuntimeError, match="a real fault"):
        serve(ClosedSocketMiddleware(fails))
    with pytest.raises(RuntimeError, match="a real fault"):
        serve(ClosedSocketMiddleware(fails), scope_type="http")
