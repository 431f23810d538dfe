"""Start MNIST Studio: `streamlit run streamlit_app.py` (what `make run` does).

`streamlit run` finds the `st.App` below and serves `app.py` through it with these additions:
`VisitorCookieMiddleware` gives each browser a random visitor id in an HttpOnly cookie, so a
reload or a second tab keeps its runs and current model (core/visitors/identity.py);
`SessionsPerAddressMiddleware` bounds the open sessions (tabs) of one public network address
(`max_sessions_per_address`, 50 in the demo profile); `SessionUploadLimit` bounds the files one
session holds uploaded (core/visitors/uploads.py); and the server-wide upload cap follows the
`max_upload_mb` setting (20 MB in the demo profile).
`streamlit run app.py` still works, with one visitor per browser tab instead.
"""

import streamlit as st
from starlette.middleware import Middleware
from streamlit import config

from core import settings
from core.visitors.identity import SessionsPerAddressMiddleware, VisitorCookieMiddleware
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
app = st.App(
    "app.py",
    middleware=[
        Middleware(VisitorCookieMiddleware),
        Middleware(
            SessionsPerAddressMiddleware, max_sessions=settings.limits().max_sessions_per_address
        ),
        upload_limit,
    ],
)
