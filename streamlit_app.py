"""Start MNIST Studio: `streamlit run streamlit_app.py` (what `make run` does).

`streamlit run` finds the `st.App` below and serves `app.py` through it with these additions:
`VisitorCookieMiddleware` gives each browser a random visitor id in an HttpOnly cookie, so a
reload or a second tab keeps its runs and current model (core/visitors/identity.py);
`SessionsPerAddressMiddleware` bounds the open sessions (tabs) of one public network address
(`max_sessions_per_address`, 50 in the demo profile); `SessionUploadLimit` bounds the files one
session holds uploaded (core/visitors/uploads.py); and the server-wide upload cap follows the
`max_upload_mb` setting (20 MB in the demo profile). `ClosedSocketMiddleware` keeps a
WebSocket that Streamlit closes twice out of the error log (core/visitors/closed_sockets.py).
`/model-weights/<digest>` serves the Draw page's browser a model file it was granted
(ui/draw_pad/).
`streamlit run app.py` still works, with one visitor per browser tab instead.
"""

import re

import streamlit as st
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from streamlit import config

from core import settings
from core.visitors.browser_models import browser_model_grants
from core.visitors.closed_sockets import ClosedSocketMiddleware
from core.visitors.identity import (
    SessionsPerAddressMiddleware,
    VisitorCookieMiddleware,
    visitor_id_from_cookie_header,
)
from core.visitors.uploads import SessionUploadLimit
from ui import memory_budget, remove_uploaded_file

config.set_option(
    "server.maxUploadSize", settings.limits().max_upload_mb, "the max_upload_mb setting"
)

upload_limit = Middleware(
    SessionUploadLimit,
    bound_bytes=lambda: settings.session_upload_bytes(settings.limits()),
    budget=memory_budget,
    remove_file=remove_uploaded_file,
)
DIGEST = re.compile(r"[0-9a-f]{64}")


async def model_weights(request: Request) -> Response:
    """A model's file for the Draw page's forward pass, to a visitor granted it (ui/draw_pad).

    Named by its content's digest, so the browser may keep it for good; private, because
    another visitor (or a shared cache) must ask the server, which checks their grant.
    """
    digest = request.path_params["digest"]
    visitor = visitor_id_from_cookie_header(request.headers.getlist("cookie"))
    blob = browser_model_grants().file_for(visitor, digest) if DIGEST.fullmatch(digest) else None
    if blob is None:
        return Response("No such model for this browser.", status_code=404, media_type="text/plain")
    return Response(
        blob,
        media_type="application/octet-stream",
        headers={
            "Cache-Control": "private, max-age=31536000, immutable",
            "X-Content-Type-Options": "nosniff",
        },
    )


app = st.App(
    "app.py",
    routes=[Route("/model-weights/{digest}", model_weights, methods=["GET"])],
    middleware=[
        Middleware(ClosedSocketMiddleware),
        Middleware(VisitorCookieMiddleware),
        Middleware(
            SessionsPerAddressMiddleware, max_sessions=settings.limits().max_sessions_per_address
        ),
        upload_limit,
    ],
)
