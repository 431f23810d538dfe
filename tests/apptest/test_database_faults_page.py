"""A run-store database that cannot be used: one clear sentence on every page, no traceback.

A wrong ``database_url`` stops every page with a sentence naming the setting (and never its
password); a PostgreSQL server that is down when the app starts leaves the pages working with
a banner saying that runs cannot be reached.
"""

import socket

import pytest

import ui
from testkit.harness import app_test

PAGES = [page.path for page in ui.PAGES]


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("page", PAGES, ids=lambda path: path)
@pytest.mark.parametrize(
    "url", ["mysql://teacher:s3cret-pw@db.example/runs", "not a url at all s3cret-pw"]
)
def test_a_wrong_database_url_gives_one_sentence_on_every_page(monkeypatch, page, url):
    monkeypatch.setenv("MNIST_STUDIO_DATABASE_URL", url)
    app = app_test(page).run()
    assert not app.exception, [exception.message for exception in app.exception]
    errors = [error.value for error in app.error]
    assert len(errors) == 1 and "database\\_url" in errors[0], errors
    assert "s3cret-pw" not in errors[0]


@pytest.mark.parametrize("page", PAGES, ids=lambda path: path)
def test_a_database_that_is_down_at_start_is_said_once_and_the_page_still_works(
    monkeypatch, page
):
    url = f"postgresql+psycopg://teacher:s3cret-pw@127.0.0.1:{closed_port()}/runs"
    monkeypatch.setenv("MNIST_STUDIO_DATABASE_URL", url)
    app = app_test(page).run()
    assert not app.exception, [exception.message for exception in app.exception]
    down = [error.value for error in app.error if "cannot be reached" in error.value]
    assert len(down) == 1, [error.value for error in app.error]
    assert "s3cret-pw" not in down[0] and "Stored runs are safe there" in down[0]
    assert app.title, "the page itself is drawn below the banner"
