"""The upload route's bound per browser session, and its files held in the memory budget.

Streamlit keeps every file a session PUTs to `/_stcore/upload_file/<session>/<file>` in
memory until the session ends, checking only each file's size (`server.maxUploadSize`): one
session could hold hundreds of megabytes. `SessionUploadLimit`, an ASGI middleware, refuses
(413) an upload that would take the session's files over its bound, before reading the body,
and holds each kept file in the server's `core.visitors.memory_budget`, whose release removes it
from Streamlit's store. No Streamlit import: the app wires it up (`streamlit_app.py`).
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Hashable

from core.data.datasets import MEGABYTE
from core.visitors.memory_budget import MemoryBudget, MemoryBudgetError

UPLOAD_ROUTE = "/_stcore/upload_file/"
UPLOAD_ITEM = "upload"

Scope = dict
Message = dict


def is_upload_key(key: Hashable) -> bool:
    """Whether a memory-budget key is an uploaded file's (``("upload", file_id)``)."""
    return isinstance(key, tuple) and len(key) == 2 and key[0] == UPLOAD_ITEM


class SessionUploadLimit:
    """ASGI middleware: at most `bound_bytes()` of uploaded files per session at once.

    Args:
        app: The ASGI app (Streamlit's).
        bound_bytes: The bound, read on each upload (a setting may change it).
        budget: The memory budget the kept files are held in.
        remove_file: Removes a file from Streamlit's store: ``remove_file(session, file)``.
    """

    def __init__(
        self,
        app,
        bound_bytes: Callable[[], int],
        budget: Callable[[], MemoryBudget],
        remove_file: Callable[[str, str], None],
    ) -> None:
        self.app = app
        self.bound_bytes = bound_bytes
        self.budget = budget
        self.remove_file = remove_file
        self._lock = threading.Lock()
        self._in_flight: dict[str, int] = defaultdict(int)

    async def __call__(self, scope: Scope, receive, send) -> None:
        path = scope.get("path", "") if scope.get("type") == "http" else ""
        method = scope.get("method")
        parts = path[len(UPLOAD_ROUTE) :].split("/") if path.startswith(UPLOAD_ROUTE) else []
        if len(parts) != 2 or method not in {"PUT", "DELETE"}:
            await self.app(scope, receive, send)
            return
        session_id, file_id = parts
        if method == "DELETE":
            await self.app(scope, receive, send)
            self.budget().release(session_id, (UPLOAD_ITEM, file_id))
            return
        await self._put(scope, receive, send, session_id, file_id)

    async def _put(self, scope: Scope, receive, send, session_id: str, file_id: str) -> None:
        declared = _content_length(scope)
        if declared is None:
            await _refuse(send, 411, "An upload must say its length (Content-Length).")
            return
        bound = self.bound_bytes()
        with self._lock:
            held = self.budget().owner_bytes(session_id, is_upload_key)
            if held + self._in_flight[session_id] + declared > bound:
                refused = True
            else:
                refused = False
                self._in_flight[session_id] += declared
        if refused:
            await _refuse(
                send,
                413,
                f"This session already holds {held / MEGABYTE:,.1f} MB of uploaded files; "
                f"one session may hold {bound / MEGABYTE:,.0f} MB. Remove a file first.",
            )
            return
        status: list[int] = []

        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            with self._lock:
                self._in_flight[session_id] -= declared
                if not self._in_flight[session_id]:
                    del self._in_flight[session_id]
        if status and 200 <= status[0] < 300:
            self._hold(session_id, file_id, declared)

    def _hold(self, session_id: str, file_id: str, nbytes: int) -> None:
        def release() -> None:
            self.remove_file(session_id, file_id)

        try:
            self.budget().hold(session_id, (UPLOAD_ITEM, file_id), None, nbytes, release)
        except MemoryBudgetError:
            release()


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name.lower() == b"content-length":
            try:
                length = int(value)
            except ValueError:
                return None
            return length if length >= 0 else None
    return None


async def _refuse(send, status: int, text: str) -> None:
    body = text.encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
