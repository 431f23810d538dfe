"""Visitors: who they are, and what one visitor or address may take of the server.

    identity       the visitor cookie, the address used for per-address caps, and the cap
                   on sessions per address (ASGI middlewares)
    uploads        the cap on what one session uploads
    memory_budget  the process's memory budget that cached datasets and models share

This package re-exports what the app and other packages use.
"""

from core.visitors.identity import (
    COOKIE_NAME,
    POLICY_VIOLATION,
    SessionsPerAddressMiddleware,
    VisitorCookieMiddleware,
    address_for_limits,
    new_visitor_id,
    valid_visitor_id,
    visitor_id_from_cookie_header,
)
from core.visitors.memory_budget import MemoryBudget, MemoryBudgetError, server_budget
from core.visitors.uploads import SessionUploadLimit

__all__ = [
    "COOKIE_NAME",
    "POLICY_VIOLATION",
    "MemoryBudget",
    "MemoryBudgetError",
    "SessionUploadLimit",
    "SessionsPerAddressMiddleware",
    "VisitorCookieMiddleware",
    "address_for_limits",
    "new_visitor_id",
    "server_budget",
    "valid_visitor_id",
    "visitor_id_from_cookie_header",
]
