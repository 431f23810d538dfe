"""A WebSocket that Streamlit closes twice is a closed WebSocket, not an error in the log.

Streamlit 1.67's Starlette endpoint (`streamlit.web.server.starlette.starlette_websocket`)
reads frames in a loop. When the server's side has already sent the close (seen in CI while a
tab reloaded during a training), Starlette's next read raises a `RuntimeError` subclass, which
Streamlit takes for a text frame: it closes the socket again, and Starlette raises once more
("Cannot call "send" once a close message has been sent."). Uvicorn then logs "Exception in
ASGI application" with two tracebacks, although the visitor lost nothing: the socket was
already closed. `ClosedSocketMiddleware` ends that one case quietly (a line at debug level);
every other error passes through as before.
"""

from __future__ import annotations

import logging

from starlette.types import ASGIApp, Receive, Scope, Send

logger = logging.getLogger(__name__)

# Starlette's words when a close is sent on a socket that has sent one already.
SECOND_CLOSE = 'Cannot call "send" once a close message has been sent.'


def is_second_close(error: BaseException) -> bool:
    """True for Starlette's error on a second close of one WebSocket."""
    return isinstance(error, RuntimeError) and str(error) == SECOND_CLOSE


class ClosedSocketMiddleware:
    """ASGI middleware: a WebSocket closed twice ends without an error in the log.

    Args:
        app: The ASGI application to wrap (Streamlit's).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") != "websocket":
            await self.app(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        except RuntimeError as error:
            if not is_second_close(error):
                raise
            logger.debug("A WebSocket was closed twice (%s): it is closed.", error)
