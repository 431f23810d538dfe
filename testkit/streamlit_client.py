"""A raw client of a running Streamlit server, speaking its protocol as the browser does.

What an attacker with the demo link can do without a browser: open sessions over the
WebSocket (`/_stcore/stream`), rerun pages, send `clear_cache`, and PUT files to the upload
route (`/_stcore/upload_file/<session>/<file>`) with the XSRF cookie and header the browser
sends. Shared by tests and `bench/` (as `testkit/harness.py` is); it changes nothing on import.
"""

from __future__ import annotations

import contextlib
import http.client
import http.cookiejar
import urllib.request
import uuid
from urllib.parse import urlparse

from websockets.sync.client import ClientConnection, connect

RECEIVE_TIMEOUT_SECONDS = 120
XSRF_COOKIE = "_streamlit_xsrf"


class StreamlitClient:
    """One browser session, without the browser.

    Args:
        base_url: The server, e.g. ``http://127.0.0.1:8501``.
        cookies: Cookies to send as they are (name: value), e.g. a visitor id.
    """

    def __init__(self, base_url: str, cookies: dict[str, str] | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.jar = http.cookiejar.CookieJar()
        self.extra_cookies = dict(cookies or {})
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        self.session_id: str | None = None
        self.connection: ClientConnection | None = None
        self.messages = 0
        self.first_messages: list = []

    def cookie_header(self) -> str:
        cookies = {cookie.name: cookie.value for cookie in self.jar}
        cookies.update(self.extra_cookies)
        return "; ".join(f"{name}={value}" for name, value in cookies.items() if value)

    def xsrf_token(self) -> str:
        return next((c.value or "" for c in self.jar if c.name == XSRF_COOKIE), "")

    def open(self, page: str = "", query_string: str = "") -> str:
        """Load the page and the health check (cookies), connect, run `page`; return the
        session id."""
        # The page sets the visitor cookie, the health check Streamlit's XSRF cookie.
        for path in (page, "_stcore/health"):
            request = urllib.request.Request(f"{self.base_url}/{path}")
            if self.extra_cookies:
                request.add_header("Cookie", self.cookie_header())
            with self.opener.open(request, timeout=RECEIVE_TIMEOUT_SECONDS) as answer:
                answer.read()
        host = urlparse(self.base_url).netloc
        self.connection = connect(
            f"ws://{host}/_stcore/stream",
            subprotocols=["streamlit", self.xsrf_token() or "none"],  # type: ignore[list-item]
            additional_headers={"Cookie": self.cookie_header(), "Origin": self.base_url},
            max_size=None,
            open_timeout=RECEIVE_TIMEOUT_SECONDS,
            legacy=True,  # A connection kept across calls, closed by close().
        )
        self.first_messages = self.rerun(page, query_string)
        return self.session_id or ""

    def send(self, **fields) -> None:
        from streamlit.proto.BackMsg_pb2 import BackMsg

        assert self.connection is not None, "open() first"
        self.connection.send(BackMsg(**fields).SerializeToString())

    def rerun(self, page: str = "", query_string: str = "", widget_states=None) -> list:
        """Run a page (its URL path, "" for Home); return its messages once it has finished."""
        from streamlit.proto.ClientState_pb2 import ClientState

        state = ClientState(query_string=query_string, page_name=page)
        if widget_states is not None:
            state.widget_states.CopyFrom(widget_states)
        self.send(rerun_script=state)
        return self.wait_until_finished()

    def clear_cache(self) -> None:
        """Ask the server to clear its caches, as the browser's menu item does."""
        self.send(clear_cache=True)

    def wait_until_finished(self) -> list:
        """Read messages until a script run finishes; return them."""
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        assert self.connection is not None
        received = []
        while True:
            message = ForwardMsg()
            message.ParseFromString(self.connection.recv(timeout=RECEIVE_TIMEOUT_SECONDS))
            self.messages += 1
            received.append(message)
            kind = message.WhichOneof("type")
            if kind == "new_session":
                self.session_id = message.new_session.initialize.session_id
            if kind == "script_finished":
                return received

    def upload(self, data: bytes, name: str = "file.bin", file_id: str | None = None) -> int:
        """PUT one file into this session's upload store, as a file uploader does.

        Returns:
            The HTTP status (204 when the server kept the file).
        """
        boundary = uuid.uuid4().hex
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"'
                "\r\nContent-Type: application/octet-stream\r\n\r\n"
            ).encode()
            + data
            + f"\r\n--{boundary}--\r\n".encode()
        )
        request = urllib.request.Request(
            f"{self.base_url}/_stcore/upload_file/{self.session_id}/{file_id or uuid.uuid4()}",
            data=body,
            method="PUT",
            headers={
                "Content-Type": f"multipart/form-data; boundary={boundary}",
                "X-Xsrftoken": self.xsrf_token(),
                "Cookie": self.cookie_header(),
            },
        )
        return self._status(request)

    def delete_upload(self, file_id: str) -> int:
        """DELETE an uploaded file, as a file uploader does when its file is removed."""
        request = urllib.request.Request(
            f"{self.base_url}/_stcore/upload_file/{self.session_id}/{file_id}",
            method="DELETE",
            headers={"X-Xsrftoken": self.xsrf_token(), "Cookie": self.cookie_header()},
        )
        return self._status(request)

    def _status(self, request: urllib.request.Request) -> int:
        """Send `request`; return the HTTP status, also when the server answered before
        reading the whole body (a refusal by length) and closed the connection."""
        connection = http.client.HTTPConnection(
            urlparse(self.base_url).netloc, timeout=RECEIVE_TIMEOUT_SECONDS
        )
        try:
            # A refusal may come before the whole body is sent: then read the answer anyway.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                connection.request(
                    request.get_method(),
                    request.selector,
                    body=request.data,  # type: ignore[arg-type]
                    headers=dict(request.header_items()),
                )
            answer = connection.getresponse()
            answer.read()
            return answer.status
        finally:
            connection.close()

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None


def elements(messages: list) -> list:
    """The new elements (protobuf `Element`s) among `messages`, in order."""
    return [
        message.delta.new_element
        for message in messages
        if message.WhichOneof("type") == "delta"
        and message.delta.WhichOneof("type") == "new_element"
    ]


def find_button(messages: list, label: str):
    """The last button labelled `label` among `messages`, or None."""
    buttons = [
        element.button
        for element in elements(messages)
        if element.WhichOneof("type") == "button" and element.button.label == label
    ]
    return buttons[-1] if buttons else None


def alerts(messages: list) -> list[str]:
    """The texts of the alerts (error, warning, info, success) among `messages`."""
    return [
        element.alert.body
        for element in elements(messages)
        if element.WhichOneof("type") == "alert"
    ]


def press(client: StreamlitClient, page: str, query_string: str, button_id: str) -> list:
    """Press a button (by widget id) on `page`; return the messages of that run."""
    from streamlit.proto.WidgetStates_pb2 import WidgetStates

    states = WidgetStates()
    state = states.widgets.add()
    state.id = button_id
    state.trigger_value = True
    from streamlit.proto.ClientState_pb2 import ClientState

    client.send(
        rerun_script=ClientState(query_string=query_string, page_name=page, widget_states=states)
    )
    return client.wait_until_finished()
