"""The visitor's class: the class store, the class this visitor is a student of, the teacher's
class of a link, and the links a teacher hands out."""

from __future__ import annotations

import time
from urllib.parse import urlsplit, urlunsplit

import streamlit as st
from sqlalchemy.exc import SQLAlchemyError

from core.classes import ClassInfo, ClassStore, Student
from core.singletons import process_singleton
from ui import identity
from ui.identity import session_id
from ui.resources import run_store

# The class page's URL path and the query parameters of its two links.
CLASS_PAGE = "classroom"
CODE_PARAM = "code"
TEACHER_PARAM = "teacher"
# How long a session trusts its remembered membership before asking the database again (a
# teacher removing a student or ending the class shows within this).
MEMBERSHIP_SECONDS = 5.0
KEY_MEMBERSHIP = "class_membership"


def class_store() -> ClassStore:
    """Return the process's class store, on the run store's database."""
    database = run_store().database
    return process_singleton(("class_store", database.url), lambda: ClassStore(database))


def my_class() -> tuple[ClassInfo, Student] | None:
    """Return the class this visitor is a student of, and their place in it, or None.

    Remembered in the session for `MEMBERSHIP_SECONDS` (it is asked on every page run);
    a database that cannot be read counts as no class.
    """
    kept = st.session_state.get(KEY_MEMBERSHIP)
    now = time.monotonic()
    if kept is not None and now - kept[0] < MEMBERSHIP_SECONDS:
        return kept[1]
    try:
        membership = class_store().membership(session_id())
    except (OSError, ValueError, SQLAlchemyError):  # The store's pages say why; no class.
        membership = None
    st.session_state[KEY_MEMBERSHIP] = (now, membership)
    return membership


def forget_membership() -> None:
    """Ask the database again on the next `my_class` (after joining or leaving)."""
    st.session_state.pop(KEY_MEMBERSHIP, None)


def in_class() -> bool:
    """True for a student of a class (still in it): they see only their own runs."""
    membership = my_class()
    return membership is not None and not membership[1].removed


def class_links(info: ClassInfo, secret: str | None = None) -> tuple[str, str | None]:
    """The student link and (with the secret) the teacher link, on this app's address.

    The address is the one the browser used (`st.context.url`), so a class served behind a
    proxy or on a LAN address hands out links that work from the students' machines.
    """
    parts = urlsplit(st.context.url or "http://localhost:8501/")
    path = parts.path.rsplit("/", 1)[0] + f"/{CLASS_PAGE}"
    base = urlunsplit((parts.scheme, parts.netloc, path, "", ""))
    student = f"{base}?{CODE_PARAM}={info.code}"
    teacher = None if secret is None else f"{base}?{TEACHER_PARAM}={secret}"
    return student, teacher


def visitor_address() -> str | None:
    """The network address the caps count for this visitor (`ui.identity.visitor_address`).

    For a student of an open class it is the class instead: a class usually shares one school
    network, so the demo's caps per address (jobs at once, saves a day, protected runs)
    apply per class, and each student keeps the caps per visitor.
    """
    membership = my_class()
    if membership is not None and not membership[1].removed and membership[0].is_open():
        return f"class:{membership[0].id}"
    return identity.visitor_address()


def network_address() -> str | None:
    """The visitor's own network address for caps, whatever class they are in (None locally)."""
    return identity.visitor_address()
