"""Grants of model files to visitors' browsers: only the granted visitor, within bounds."""

from __future__ import annotations

from core.visitors.browser_models import BrowserModelGrants


def test_only_a_granted_visitor_gets_the_file():
    grants = BrowserModelGrants()
    grants.grant("alice", "d1", b"one")
    assert grants.file_for("alice", "d1") == b"one"
    assert grants.file_for("bob", "d1") is None
    assert grants.file_for(None, "d1") is None
    assert grants.file_for("alice", "d2") is None


def test_a_visitor_keeps_only_its_last_grants():
    grants = BrowserModelGrants(max_per_visitor=2)
    for digest in ("d1", "d2", "d3"):
        grants.grant("alice", digest, digest.encode())
    assert grants.file_for("alice", "d1") is None
    assert grants.file_for("alice", "d3") == b"d3"
    grants.grant("alice", "d2", b"d2")  # Granted again: the most recent now.
    grants.grant("alice", "d4", b"d4")
    assert grants.file_for("alice", "d2") == b"d2" and grants.file_for("alice", "d3") is None


def test_held_bytes_stay_bounded_and_shared_files_count_once():
    grants = BrowserModelGrants(max_bytes=25)
    grants.grant("alice", "d1", b"x" * 10)
    grants.grant("bob", "d1", b"x" * 10)
    assert grants.held_bytes() == 10
    grants.grant("alice", "d2", b"y" * 10)
    grants.grant("carol", "d3", b"z" * 10)
    assert grants.held_bytes() <= 25
    # The oldest file went, for every visitor that held it.
    assert grants.file_for("alice", "d1") is None and grants.file_for("bob", "d1") is None
    assert grants.file_for("carol", "d3") == b"z" * 10


def test_visitors_are_bounded():
    grants = BrowserModelGrants(max_visitors=3)
    for visitor in ("a", "b", "c", "d"):
        grants.grant(visitor, "d1", b"1")
    assert grants.file_for("a", "d1") is None
    assert all(grants.file_for(visitor, "d1") == b"1" for visitor in ("b", "c", "d"))
