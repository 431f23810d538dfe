"""Compare copes with a run store it cannot use and with runs deleted while it draws."""

import pytest

import ui
from core.runs import RunStore
from testkit.harness import app_test


def _save_baseline(store: RunStore, name: str) -> str:
    return store.save_run("baseline", name, {"baseline": "k"}, None, {"test_accuracy": 0.9}, {})


@pytest.mark.parametrize("page", [page.path for page in ui.PAGES], ids=lambda path: path)
def test_an_unusable_runs_dir_gives_a_message_on_every_page(tmp_path, monkeypatch, page):
    not_a_folder = tmp_path / "runs"
    not_a_folder.write_text("a file where the run store folder should be")
    monkeypatch.setenv("MNIST_STUDIO_RUNS_DIR", str(not_a_folder))
    app = app_test(page).run()
    assert not app.exception, [exception.message for exception in app.exception]
    if page.endswith("compare.py"):
        assert any("Cannot create the run store folder" in error.value for error in app.error)


def test_a_run_pruned_after_the_list_was_read_is_skipped(isolated_run_store, monkeypatch):
    store = RunStore(isolated_run_store)
    _save_baseline(store, "older run")
    newest = _save_baseline(store, "pruned run")
    listed_before = store.list_runs()
    # Another session's save prunes the newest run between this page's list and its reads.
    store.delete_run(newest)
    real_list_runs = RunStore.list_runs
    calls = []

    def list_then_prune(self, owner=None):
        calls.append(owner)
        return listed_before if len(calls) == 1 else real_list_runs(self, owner)

    monkeypatch.setattr(RunStore, "list_runs", list_then_prune)
    app = app_test("app_pages/compare.py").run()
    assert not app.exception, [exception.message for exception in app.exception]
    assert len(calls) >= 2  # The page drew itself again without the pruned run.
    assert list(app.dataframe[0].value["name"]) == ["older run"]
    assert app.selectbox(key="compare_focus").value == listed_before["id"][1]


def test_the_demo_run_store_keeps_per_visitor_quotas(isolated_run_store, monkeypatch):
    from core import settings
    from core.runs import PruneQuota

    monkeypatch.setenv("MNIST_STUDIO_DEMO_MODE", "1")
    monkeypatch.setenv("MNIST_STUDIO_MAX_RUNS_PER_VISITOR", "3")
    demo = settings.DEMO_LIMITS
    assert ui.run_store().quota == PruneQuota(
        max_runs=demo.max_runs,
        max_age_days=demo.max_run_age_days,
        max_runs_per_owner=3,
        max_bytes=demo.max_store_bytes,
        max_bytes_per_owner=demo.max_bytes_per_visitor,
        protected_runs_per_owner=demo.protected_runs_per_visitor,
        protected_runs_per_address=demo.protected_runs_per_address,
        max_saves_per_address_per_day=demo.max_runs_per_address_per_day,
    )
