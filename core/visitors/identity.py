"""Who a visitor is: a random id kept in an HttpOnly cookie that the server itself sets.

Every browser gets one visitor id, so a reload or a second tab of the same browser sees the
same runs and current model, and another browser sees none of them. The id is made with
`secrets.token_urlsafe`, lives only in a cookie (never in a link, which gets shared) and is
set by `VisitorCookieMiddleware`, a plain ASGI middleware that `streamlit_app.py` hands to
`st.App`: on the response that carries the app's HTML page, a browser without a valid id
gets a ``Set-Cookie`` header, so the WebSocket that the page opens next already carries it
and the very first script run knows its visitor. JavaScript cannot read the cookie
(HttpOnly); the server reads it from the WebSocket's handshake (``st.context.headers``).

The middleware and the app read the ``Cookie`` header with the same function,
`visitor_id_from_cookie_header`, so they cannot disagree about a visitor: if the middleware
missed an id that the app sees, it would hand the browser a new one on every page load and
the visitor's runs would vanish. It uses Starlette's lenient parser (the one Streamlit uses),
which reads past cookies a browser accepts but the old standard does not (JSON values,
nameless cookies, names such as ``path``).

Streamlit is not imported here: the middleware speaks ASGI directly.
"""

from __future__ import annotations

import ipaddress
import re
import secrets
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

from starlette.requests import cookie_parser

COOKIE_NAME = "mnist_studio_visitor"
# How long a browser keeps its id without visiting; runs are kept per the store's own limits.
COOKIE_MAX_AGE_SECONDS = 365 * 24 * 60 * 60
ID_BYTES = 32
# token_urlsafe(32) gives 43 characters of [A-Za-z0-9_-]; anything else is not our cookie.
_VALID_ID = re.compile(r"[A-Za-z0-9_-]{43}")
# The cookie header is read only this far, so a hostile header costs little to parse. The
# app's WebSocket handshake (the websockets library) takes header lines of at most 8 KiB (a
# longer one never connects: measured), so an id after other cookies in any header with
# which the app works at all is found, with room to spare.
MAX_COOKIE_HEADER_CHARS = 16 * 1024

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def new_visitor_id() -> str:
    """Return a fresh random visitor id (43 URL-safe characters, 256 bits)."""
    return secrets.token_urlsafe(ID_BYTES)


def valid_visitor_id(value: object) -> str | None:
    """Return ``value`` if it has the shape of a visitor id, else None.

    Args:
        value: Anything a browser sent, e.g. a cookie's value.

    Returns:
        The id, or None for anything else (missing, too long, other characters).
    """
    if isinstance(value, str) and _VALID_ID.fullmatch(value):
        return value
    return None


def visitor_id_from_cookie_header(header: str | bytes | Iterable[str | bytes] | None) -> str | None:
    """Return the visitor id in a ``Cookie`` request header, or None.

    The one reader of the visitor cookie, used by the middleware and by the app. It parses
    like Starlette's ``cookie_parser`` (``;``-separated ``name=value`` pairs, the last of a
    name wins, anything else skipped), over at most `MAX_COOKIE_HEADER_CHARS` characters cut
    at a ``;``, so the cookie that would straddle the cut is left out rather than misread.

    Args:
        header: The header's value (as sent by the browser), several values (a request may
            carry more than one ``Cookie`` header; they are joined with ``"; "``), or None.

    Returns:
        The valid visitor id it carries, or None.
    """
    if header is None:
        return None
    if isinstance(header, (str, bytes)):
        header = [header]
    text = "; ".join(
        value.decode("latin-1") if isinstance(value, bytes) else str(value) for value in header
    )
    if len(text) > MAX_COOKIE_HEADER_CHARS:
        text = text[: MAX_COOKIE_HEADER_CHARS + 1].rpartition(";")[0]
    return valid_visitor_id(cookie_parser(text).get(COOKIE_NAME))


def set_cookie_header(visitor_id: str, secure: bool) -> str:
    """Return the ``Set-Cookie`` value that gives a browser its visitor id.

    Args:
        visitor_id: The id, from `new_visitor_id`.
        secure: Whether the page was served over HTTPS (then the cookie is ``Secure``).

    Returns:
        E.g. ``"mnist_studio_visitor=...; Path=/; Max-Age=31536000; HttpOnly; SameSite=Lax"``.
    """
    parts = [
        f"{COOKIE_NAME}={visitor_id}",
        "Path=/",
        f"Max-Age={COOKIE_MAX_AGE_SECONDS}",
        "HttpOnly",
        "SameSite=Lax",
    ]
    if secure:
        parts.append("Secure")
    return "; ".join(parts)


def _header(scope: Scope, name: bytes) -> bytes | None:
    values = _headers(scope, name)
    return values[0] if values else None


def _headers(scope: Scope, name: bytes) -> list[bytes]:
    return [value for key, value in scope.get("headers") or () if key.lower() == name]


def _served_over_https(scope: Scope) -> bool:
    if scope.get("scheme") in {"https", "wss"}:
        return True
    forwarded = _header(scope, b"x-forwarded-proto")
    return forwarded is not None and forwarded.split(b",")[0].strip().lower() == b"https"


def _is_html(headers: list[tuple[bytes, bytes]]) -> bool:
    for key, value in headers:
        if key.lower() == b"content-type":
            return value.lower().startswith(b"text/html")
    return False


class VisitorCookieMiddleware:
    """ASGI middleware: give every browser without a visitor id one, on the app's page.

    Only responses that carry HTML (the app's page, whatever its path) get the cookie, so
    the many requests for scripts and images a page makes never race to set different ids.
    A request that already carries a valid id is passed through untouched.

    Args:
        app: The ASGI application to wrap (Streamlit's).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") != "http" or visitor_id_from_cookie_header(_headers(scope, b"cookie")):
            await self.app(scope, receive, send)
            return
        cookie = set_cookie_header(new_visitor_id(), secure=_served_over_https(scope))

        async def send_with_cookie(message: Message) -> None:
            if message.get("type") == "http.response.start":
                headers = list(message.get("headers") or [])
                if _is_html(headers):
                    headers.append((b"set-cookie", cookie.encode("latin-1")))
                    message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_cookie)


# One IPv6 subscriber gets at least a /64 (often a /56 or /48): the addresses inside it are
# as free to choose as a cookie, so caps count the /64, never the full address.
IPV6_PREFIX_FOR_LIMITS = 64


def address_for_limits(address: str | None) -> str | None:
    """Return the network address a per-address cap should count, or None to count none.

    Only a public address says who a visitor is: a private, loopback or link-local one is a
    proxy's, a load balancer's or a local network's, shared by everyone behind it, so a cap on
    it would cap the whole app. Anything that is not an IP address at all is ignored too.
    An IPv6 address counts as its /64 network (one subscriber can pick any address in it),
    and an IPv4-mapped IPv6 address (``::ffff:8.8.8.8``) as the IPv4 address it carries.

    Args:
        address: The connection's address, e.g. ``st.context.ip_address`` (None on localhost).

    Returns:
        An IPv4 address (``"8.8.8.8"``) or an IPv6 /64 (``"2001:4860:4860::/64"``) in
        canonical form, or None.
    """
    if not address or len(address) > 64:
        return None
    try:
        parsed = ipaddress.ip_address(address.strip())
    except ValueError:
        return None
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        parsed = parsed.ipv4_mapped
    if not parsed.is_global:
        return None
    if isinstance(parsed, ipaddress.IPv6Address):
        network = ipaddress.IPv6Network((parsed, IPV6_PREFIX_FOR_LIMITS), strict=False)
        return str(network)
    return str(parsed)


# Streamlit's WebSocket: one per browser session (tab), for as long as the tab is open.
SESSION_STREAM_PATH = "/_stcore/stream"
# WebSocket close code "policy violation" (RFC 6455): refused before it was accepted.
POLICY_VIOLATION = 1008


class SessionsPerAddressMiddleware:
    """ASGI middleware: at most `max_sessions` open app sessions per public network address.

    Every open tab holds one WebSocket to Streamlit (``/_stcore/stream``) and costs the
    server its session state and script runs. This counts those WebSockets per address, as
    the job caps count jobs (`address_for_limits`: private and loopback addresses, shared by
    everyone behind a proxy, are not counted), and refuses one more before it is accepted
    (the handshake gets HTTP 403; the browser shows Streamlit's connection error and retries).
    The count goes down when a WebSocket closes. It is kept in this object, made once per
    server, so no cache clear can reset it.

    Args:
        app: The ASGI application to wrap (Streamlit's).
        max_sessions: Open sessions one address may hold (None: no bound).
    """

    def __init__(self, app: ASGIApp, max_sessions: int | None = None) -> None:
        if max_sessions is not None and max_sessions < 1:
            raise ValueError(f"max_sessions must be at least 1, got {max_sessions}.")
        self.app = app
        self.max_sessions = max_sessions
        # Address -> open sessions. ASGI calls run on one event loop; no lock is needed
        # between the check and the count, since nothing awaits in between.
        self.open_sessions: dict[str, int] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        address = self._counted_address(scope)
        if address is None or self.max_sessions is None:
            await self.app(scope, receive, send)
            return
        if self.open_sessions.get(address, 0) >= self.max_sessions:
            await send({"type": "websocket.close", "code": POLICY_VIOLATION})
            return
        self.open_sessions[address] = self.open_sessions.get(address, 0) + 1
        try:
            await self.app(scope, receive, send)
        finally:
            remaining = self.open_sessions[address] - 1
            if remaining:
                self.open_sessions[address] = remaining
            else:
                del self.open_sessions[address]

    def _counted_address(self, scope: Scope) -> str | None:
        """The address this connection counts against, or None when it is not counted."""
        if scope.get("type") != "websocket":
            return None
        if not str(scope.get("path", "")).endswith(SESSION_STREAM_PATH):
            return None
        client = scope.get("client")
        return address_for_limits(client[0] if client else None)
