"""A run-store database that cannot be used: one clear sentence on every page, no traceback.

A wrong ``database_url`` stops every page with a sentence naming the setting (and never its
password); a PostgreSQL server that is down when the app starts leaves the pages working with
a banner saying that runs cannot be reached.
"""

import socket

import pytest

import ui
from testkit.harness import app_test
from testkit.jobs import wait_until

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
def test_a_database_that_is_down_at_start_is_said_once_and_the_page_still_works(monkeypatch, page):
    url = f"postgresql+psycopg://teacher:s3cret-pw@127.0.0.1:{closed_port()}/runs"
    monkeypatch.setenv("MNIST_STUDIO_DATABASE_URL", url)
    app = app_test(page).run()
    assert not app.exception, [exception.message for exception in app.exception]
    down = [error.value for error in app.error if "cannot be reached" in error.value]
    assert len(down) == 1, [error.value for error in app.error]
    assert "s3cret-pw" not in down[0] and "Stored runs are safe there" in down[0]
    assert app.title, "the page itself is drawn below the banner"


def test_a_database_that_goes_away_mid_training_fails_only_that_save_and_a_retry_keeps_it(
    tmp_path, monkeypatch
):
    from core.jobs.job import JobState
    from core.nn import TrainingConfig
    from core.runs import RunStore
    from testkit.postgres import PostgresServer
    from ui.resources import current_model_store

    server = PostgresServer.start()  # Its own server: this test stops it.
    try:
        url = server.new_database()
        monkeypatch.setenv("MNIST_STUDIO_DATABASE_URL", url)
        monkeypatch.setenv("MNIST_STUDIO_RUNS_DIR", str(tmp_path / "runs"))
        from tests.unit.core.runs.test_runs import tiny_keras_model

        earlier = RunStore(tmp_path / "another-process", database_url=url).save_run(
            "network", "earlier run", {"hidden_layers": [8]}, {"loss": [1.0]},
            {"test_accuracy": 0.5, "test_loss": 1.0}, {}, model=tiny_keras_model(),
        )  # fmt: skip
        config = TrainingConfig(
            hidden_layers=(16,), epochs=12, train_size=1_000, batch_size=16, seed=1
        )
        app = app_test("app_pages/train.py")
        for name, value in config.to_query_params().items():
            app.query_params[name] = value
        app.run()
        visitor = app.session_state[ui.KEY_SESSION_ID]
        # The visitor's current model, remembered on the server, is the earlier run.
        current_model_store().set(visitor, earlier, "earlier run")
        app.button(key="train_start").click().run()
        assert not app.exception
        (job,) = ui.job_manager().jobs(owner=visitor)
        wait_until(lambda: job.progress.get("epoch", 0) >= 1 or job.done)
        assert not job.done, "the training ended before the database went away"
        server.pause()
        ui.job_manager().wait(job.id, timeout=300)
        assert job.state == JobState.FINISHED, job.error
        assert job.result.run_id is None and "cannot be reached" in job.result.save_error

        app.run()
        assert not app.exception, [exception.message for exception in app.exception]
        assert any("could not be saved" in warning.value for warning in app.warning)
        app.button(key="train_save_again").click().run()  # Still down: said, nothing lost.
        assert not app.exception
        assert any("Still not saved" in error.value for error in app.error)
        assert app.session_state[ui.KEY_CURRENT_MODEL].model is job.result.result.model

        server.resume()
        app.run()  # The store is back; its older record must not replace the trained model.
        assert app.session_state[ui.KEY_CURRENT_MODEL].model is job.result.result.model
        app.button(key="train_save_again").click().run()
        assert not app.exception
        assert any("second try" in success.value for success in app.success)
        runs = RunStore(tmp_path / "a-new-machine", database_url=url).list_runs()
        assert len(runs) == 2 and earlier in set(runs["id"])
        (saved,) = set(runs["id"]) - {earlier}
        assert app.session_state[ui.KEY_CURRENT_MODEL].run_id == saved
        assert current_model_store().get(visitor).run_id == saved  # Another tab gets it.
        assert runs.set_index("id").loc[saved, "test_accuracy"] == pytest.approx(
            job.result.result.test_accuracy, abs=1e-6
        )
    finally:
        server.stop()
