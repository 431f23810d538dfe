"""The visitor cookie, and a session's runs handed to the cookie's id (core/visitors/identity.py;
the current model remembered per visitor: tests/unit/core/runs/test_current_models.py)."""

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest

from core.runs import RunStore
from core.visitors import identity as visitors


def test_new_ids_are_random_and_valid_and_anything_else_is_not():
    ids = {visitors.new_visitor_id() for _ in range(200)}
    assert len(ids) == 200
    assert all(visitors.valid_visitor_id(value) == value for value in ids)
    sample = next(iter(ids))
    for bad in (None, "", "alice", sample + "x", sample[:-1] + "!", "<script>" * 6, 42):
        assert visitors.valid_visitor_id(bad) is None


def test_the_id_is_read_from_a_cookie_header():
    visitor = visitors.new_visitor_id()
    header = f"_streamlit_xsrf=2|ab|cd|1; {visitors.COOKIE_NAME}={visitor}; other=1"
    assert visitors.visitor_id_from_cookie_header(header) == visitor
    assert visitors.visitor_id_from_cookie_header(header.encode()) == visitor
    assert visitors.visitor_id_from_cookie_header(f"{visitors.COOKIE_NAME}=forged") is None
    assert visitors.visitor_id_from_cookie_header("\x00;;=;" * 5000) is None
    assert visitors.visitor_id_from_cookie_header(None) is None


# Cookies a browser accepts and sends before ours, which the old standard's parser
# (http.cookies.SimpleCookie) stopped at, or cut away: a JSON value, a nameless cookie,
# names that are cookie attributes, and a long header (SimpleCookie read 8,192 characters).
ODD_COOKIES = {
    "json": 'prefs={"theme": "dark", "size": [1, 2]}',
    "nameless": "just-a-value",
    "attribute names": "path=/x; expires=Thu, 01 Jan 2099 00:00:00 GMT; secure=1",
    "long header": "; ".join(f"tracker{index}=" + "v" * 80 for index in range(110)),
}


@pytest.mark.parametrize("before", ODD_COOKIES.values(), ids=ODD_COOKIES.keys())
def test_the_id_is_found_after_cookies_a_browser_accepts(before):
    visitor = visitors.new_visitor_id()
    header = f"{before}; {visitors.COOKIE_NAME}={visitor}; after=1"
    assert visitors.visitor_id_from_cookie_header(header) == visitor
    # The app reads the same header as the middleware: the same id, also split in two headers.
    assert visitors.visitor_id_from_cookie_header([before, f"{visitors.COOKIE_NAME}={visitor}"])
    assert b"set-cookie" not in _serve([(b"cookie", header.encode("latin-1"))])


def test_a_header_is_read_only_to_its_bound_and_never_half_a_cookie():
    visitor = visitors.new_visitor_id()
    ours = f"{visitors.COOKIE_NAME}={visitor}"
    padding = "x=" + "v" * (visitors.MAX_COOKIE_HEADER_CHARS - len(ours) - 4)
    within = f"{padding}; {ours}"
    assert len(within) <= visitors.MAX_COOKIE_HEADER_CHARS
    assert visitors.visitor_id_from_cookie_header(within) == visitor
    assert visitors.visitor_id_from_cookie_header(f"{padding}x; {ours}") is None  # past the bound
    # A cut inside a longer value never yields an id-shaped piece of it.
    forged = f"{padding[:-50]}; {visitors.COOKIE_NAME}={visitor}{'A' * 100}"
    assert visitors.visitor_id_from_cookie_header(forged) is None
    huge = "a" * 10 * visitors.MAX_COOKIE_HEADER_CHARS
    assert visitors.visitor_id_from_cookie_header(huge) is None


def test_the_cookie_is_http_only_lax_and_secure_over_https():
    visitor = visitors.new_visitor_id()
    plain = visitors.set_cookie_header(visitor, secure=False)
    assert plain.startswith(f"{visitors.COOKIE_NAME}={visitor}; Path=/; Max-Age=")
    assert "HttpOnly" in plain and "SameSite=Lax" in plain and "Secure" not in plain
    assert visitors.set_cookie_header(visitor, secure=True).endswith("; Secure")


def _serve(headers, content_type=b"text/html; charset=utf-8", scheme="http"):
    """Run the middleware around a tiny ASGI app; return the response headers it sent."""

    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", content_type)]})  # fmt: skip
        await send({"type": "http.response.body", "body": b"<html></html>"})

    sent = []

    async def send(message):
        sent.append(message)

    async def receive():
        return {"type": "http.request"}

    scope = {"type": "http", "scheme": scheme, "path": "/train", "headers": headers}
    middleware = visitors.VisitorCookieMiddleware(app)
    # A thread of its own: Playwright's sync API keeps an event loop in the main thread.
    with ThreadPoolExecutor(max_workers=1) as executor:
        executor.submit(asyncio.run, middleware(scope, receive, send)).result()
    return dict(sent[0]["headers"])


def test_the_middleware_gives_a_page_without_an_id_a_fresh_one_only():
    headers = _serve([])
    cookie = headers[b"set-cookie"].decode()
    assert "HttpOnly" in cookie
    visitor = cookie.split(";")[0].split("=", 1)[1]
    assert visitors.valid_visitor_id(visitor) == visitor
    # A browser that has its id keeps it; scripts and images never get one.
    known = [(b"cookie", f"{visitors.COOKIE_NAME}={visitor}".encode())]
    assert b"set-cookie" not in _serve(known)
    assert b"set-cookie" not in _serve([], content_type=b"application/javascript")
    # A forged value is replaced; behind an HTTPS proxy the cookie is Secure.
    forged = [(b"cookie", f"{visitors.COOKIE_NAME}=alice".encode())]
    assert b"set-cookie" in _serve(forged)
    behind_proxy = _serve([(b"x-forwarded-proto", b"https")])
    assert behind_proxy[b"set-cookie"].endswith(b"; Secure")


@pytest.mark.parametrize(
    ("address", "counted"),
    [
        (None, None),
        ("127.0.0.1", None),
        ("10.1.2.3", None),  # a proxy or a local network: shared by everyone behind it
        ("192.168.0.7", None),
        ("::1", None),
        ("not an address", None),
        ("203.0.113.7", None),  # documentation range, not global
        ("8.8.8.8", "8.8.8.8"),
        # An IPv6 address counts as its /64: one subscriber picks freely among 2**64 of them.
        ("2001:4860:4860:0:0:0:0:8888", "2001:4860:4860::/64"),
        ("2001:4860:4860::1:2:3:4", "2001:4860:4860::/64"),
        ("2001:4860:4860:1::8888", "2001:4860:4860:1::/64"),
        # An IPv4-mapped IPv6 address is the IPv4 address it carries, private ones included.
        ("::ffff:8.8.8.8", "8.8.8.8"),
        ("::ffff:10.1.2.3", None),
        ("2001:db8::1", None),  # documentation range
    ],
)
def test_only_public_addresses_are_counted_per_address(address, counted):
    assert visitors.address_for_limits(address) == counted


def test_every_address_of_one_ipv6_64_counts_as_one_address():
    addresses = {f"2a00:1450:4001:81c::{index:x}" for index in range(1, 300)}
    addresses |= {f"2a00:1450:4001:81c:{index:x}::1" for index in range(1, 300)}
    assert {visitors.address_for_limits(address) for address in addresses} == {
        "2a00:1450:4001:81c::/64"
    }


def test_transfers_hand_a_sessions_runs_to_the_cookies_id(tmp_path):
    # The current model's transfer: tests/unit/core/runs/test_current_models.py.
    runs = RunStore(tmp_path)
    mine = runs.save_run("baseline", "mine", {}, None, {"test_accuracy": 0.9}, {}, owner="tab")
    runs.save_run("baseline", "theirs", {}, None, {"test_accuracy": 0.8}, {}, owner="other")
    assert runs.transfer_owner("tab", "browser") == 1
    assert list(runs.list_runs(owner="browser")["id"]) == [mine]
    assert runs.list_runs(owner="tab").empty
