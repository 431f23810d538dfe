"""One browser tab without the browser, on asyncio: Streamlit's protocol with the browser's timers.

What Chromium does on the WebSocket (recorded from it, see `testkit.browser_learners`): a
page change sends `rerun_script` with the page's name and no widget states; a widget change
sends every widget value it holds (a button press as a one-off trigger), and a widget inside
a fragment reruns only that fragment; each `auto_rerun` the server sends starts a timer that
asks for that fragment's rerun every `interval` seconds, until a full-app run starts or a
`stop_auto_rerun` names it. `LearnerSession` does the same, so many of them in one process
load a server as that many tabs do, and times every request (`testkit.rerun_timing`).
"""

from __future__ import annotations

import asyncio
import contextlib
import http.cookiejar
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlparse

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ClientState_pb2 import ClientState
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState, WidgetStates
from websockets.asyncio.client import ClientConnection, connect

from core.visitors.identity import COOKIE_NAME
from testkit.rerun_timing import RerunTimer
from testkit.streamlit_client import XSRF_COOKIE

OPEN_TIMEOUT_SECONDS = 60
CLOSE_TIMEOUT_SECONDS = 5
ALERT_ERROR = 1


@dataclass(frozen=True)
class Widget:
    """A widget the page drew: its id, and the fragment it belongs to ("" for none)."""

    id: str
    fragment_id: str


def user_key(widget_id: str) -> str | None:
    """The key a page gave a widget, read from Streamlit's id (``$$ID-<hash>-<key>``)."""
    parts = widget_id.split("-", 2)
    return parts[2] if len(parts) == 3 and parts[0] == "$$ID" and parts[2] != "None" else None


@dataclass
class LearnerSession:
    """One tab: a fresh visitor (its own cookies), its WebSocket and its timers.

    Args:
        base_url: The server, e.g. ``http://127.0.0.1:8501``.
        on_message: Called with (clock time, message) for every `ForwardMsg` received.
    """

    base_url: str
    on_message: Callable[[float, ForwardMsg], None] | None = None
    timer: RerunTimer = field(default_factory=RerunTimer)
    widgets: dict[str, Widget] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    visitor_id: str | None = None
    page_name: str = ""
    query_string: str = ""
    page_script_hash: str = ""
    _states: dict[str, WidgetState] = field(default_factory=dict)
    _connection: ClientConnection | None = None
    _reader: asyncio.Task | None = None
    _timers: dict[str, asyncio.Task] = field(default_factory=dict)
    _answered: asyncio.Event = field(default_factory=asyncio.Event)
    _last_kind: str = ""

    async def open(self) -> None:
        """Load the page (visitor cookie) and the health check (XSRF cookie), then connect."""
        jar = http.cookiejar.CookieJar()
        await asyncio.to_thread(_fetch_cookies, self.base_url, jar)
        cookies = {cookie.name: cookie.value or "" for cookie in jar}
        self.visitor_id = cookies.get(COOKIE_NAME)
        host = urlparse(self.base_url).netloc
        self._connection = await connect(
            f"ws://{host}/_stcore/stream",
            subprotocols=["streamlit", cookies.get(XSRF_COOKIE) or "none"],  # type: ignore[list-item]
            additional_headers={
                "Cookie": "; ".join(f"{name}={value}" for name, value in cookies.items()),
                "Origin": self.base_url,
            },
            max_size=None,
            open_timeout=OPEN_TIMEOUT_SECONDS,
            ping_interval=None,
        )
        self._reader = asyncio.create_task(self._read())

    async def close(self) -> None:
        self._stop_timers()
        if self._connection is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._connection.close(), CLOSE_TIMEOUT_SECONDS)
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader

    # --- What a person does --------------------------------------------------------------

    async def goto(self, page: str, query_string: str = "", timeout: float = 120) -> float:
        """Open a page of the app, as a click on the navigation does; return its seconds."""
        self.page_name, self.query_string = page, query_string
        self._states.clear()
        self.widgets.clear()
        return await self._request("page", ClientState(), timeout)

    async def set_widget(self, key: str, timeout: float = 120, **value) -> float:
        """Change the widget with this key (e.g. ``string_value="Recommended"``) and wait."""
        widget = self.widget(key)
        state = WidgetState(id=widget.id, **value)
        self._states[widget.id] = state
        return await self._request("widget", self._client_state(widget.fragment_id), timeout)

    async def press(self, key: str, timeout: float = 120) -> float:
        """Press the button with this key and wait for the run it starts."""
        widget = self.widget(key)
        states = self._widget_states()
        states.widgets.add(id=widget.id, trigger_value=True)
        state = self._client_state(widget.fragment_id, states)
        return await self._request("widget", state, timeout)

    def widget(self, key: str) -> Widget:
        """The widget with this key on the page now.

        Raises:
            LookupError: When the page has no such widget (the page changed).
        """
        if key not in self.widgets:
            raise LookupError(f"The page {self.page_name or 'Home'!r} shows no widget {key!r}.")
        return self.widgets[key]

    # --- Requests, timed ----------------------------------------------------------------

    async def _request(self, kind: str, state: ClientState, timeout: float) -> float:
        """Send one rerun and wait until a run answered it; return its seconds."""
        answered = len(self.timer.answered)
        self._send(kind, state)
        deadline = time.monotonic() + timeout
        while True:
            done = [r for r in self.timer.answered[answered:] if r.kind == kind]
            if done:
                return done[0].seconds
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"No answer to a {kind} rerun within {timeout:.0f} s.")
            self._answered.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._answered.wait(), remaining)

    def _client_state(self, fragment_id: str = "", states: WidgetStates | None = None):
        return ClientState(
            widget_states=states if states is not None else self._widget_states(),
            page_script_hash=self.page_script_hash,
            fragment_id=fragment_id,
        )

    def _widget_states(self) -> WidgetStates:
        return WidgetStates(widgets=list(self._states.values()))

    def _send(self, kind: str, state: ClientState, auto: bool = False) -> None:
        if self._connection is None:
            raise RuntimeError("open() first")
        state.query_string = self.query_string
        state.page_name = self.page_name
        state.is_auto_rerun = auto
        if kind == "page":
            state.ClearField("page_script_hash")
        self.timer.sent(time.monotonic(), kind, state.fragment_id or None)
        payload = BackMsg(rerun_script=state).SerializeToString()
        asyncio.get_running_loop().create_task(self._connection.send(payload))

    # --- What the server sends ----------------------------------------------------------

    async def _read(self) -> None:
        assert self._connection is not None
        async for payload in self._connection:
            now = time.monotonic()
            message = ForwardMsg()
            message.ParseFromString(payload)  # type: ignore[arg-type]
            self._handle(now, message)
            if self.on_message is not None:
                self.on_message(now, message)

    def _handle(self, now: float, message: ForwardMsg) -> None:
        kind = message.WhichOneof("type")
        run = message.metadata.run
        if kind == "new_session":
            if not run.fragment_ids:
                self._stop_timers()  # A full run: the browser forgets every timer.
            self.timer.run_started(now, run.script_run_id, run.fragment_ids)
        elif kind == "script_finished":
            self.timer.run_finished(now, run.script_run_id, message.script_finished)
            self._answered.set()
        elif kind == "navigation":
            # The page's own script (new_session names the main script, app.py).
            self.page_script_hash = message.navigation.page_script_hash
        elif kind == "page_info_changed":
            self.query_string = message.page_info_changed.query_string
        elif kind == "auto_rerun":
            self.timer.fragment_drawn(message.auto_rerun.fragment_id)
            self._start_timer(message.auto_rerun.fragment_id, message.auto_rerun.interval)
        elif kind == "stop_auto_rerun":
            for fragment_id in message.stop_auto_rerun.fragment_ids:
                self._stop_timers(fragment_id)
        elif kind == "delta":
            if message.delta.fragment_id:
                self.timer.fragment_drawn(message.delta.fragment_id)
            if message.delta.WhichOneof("type") == "new_element":
                self._note_element(message.delta.new_element, message.delta.fragment_id)

    def _note_element(self, element, fragment_id: str) -> None:
        kind = element.WhichOneof("type")
        if kind == "exception":
            self.errors.append(f"{element.exception.type}: {element.exception.message}")
        elif kind == "alert" and element.alert.format == ALERT_ERROR:
            self.errors.append(element.alert.body)
        if kind is None:
            return
        widget_id = getattr(getattr(element, kind), "id", "")
        key = user_key(widget_id) if isinstance(widget_id, str) else None
        if key is not None:
            self.widgets[key] = Widget(widget_id, fragment_id)

    # --- The fragments' timers ----------------------------------------------------------

    def _start_timer(self, fragment_id: str, interval: float) -> None:
        self._stop_timers(fragment_id)
        self._timers[fragment_id] = asyncio.get_running_loop().create_task(
            self._tick(fragment_id, interval)
        )

    async def _tick(self, fragment_id: str, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            self._send("watch", self._client_state(fragment_id), auto=True)

    def _stop_timers(self, fragment_id: str | None = None) -> None:
        for name in [fragment_id] if fragment_id is not None else list(self._timers):
            task = self._timers.pop(name, None)  # type: ignore[arg-type]
            if task is not None:
                task.cancel()


def _fetch_cookies(base_url: str, jar: http.cookiejar.CookieJar) -> None:
    """GET the home page (the visitor cookie) and the health check (the XSRF cookie)."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    for path in ("", "_stcore/health"):
        with opener.open(f"{base_url}/{path}", timeout=OPEN_TIMEOUT_SECONDS) as answer:
            answer.read()
