"""A page run with nothing changed in the run store does not read its run list again, and a
change (a save here or by another process, a rename) shows at the next run; on SQLite and on
PostgreSQL."""

import pytest
from sqlalchemy import event

import ui
from core.jobs.tasks import save_training_result
from core.nn.config import TrainingConfig
from core.nn.training import train_model
from core.runs import RunStore
from testkit.harness import app_test


@pytest.fixture(scope="module")
def trained(mnist):
    return train_model(TrainingConfig(hidden_layers=(8,), epochs=1, train_size=300), mnist)


class RunListReads:
    """Counts the statements that read the runs table's rows: its list or numbers (`count`)
    and one run's record (`one_run`)."""

    def __init__(self, engine) -> None:
        self.count = 0
        self.one_run = 0
        event.listen(engine, "before_cursor_execute", self.seen)

    def seen(self, connection, cursor, statement, parameters, context, executemany) -> None:
        if statement.lstrip().startswith("SELECT runs.") and "FROM runs" in statement:
            if "WHERE runs.id =" in statement:
                self.one_run += 1
            else:
                self.count += 1


def names(app) -> set[str]:
    return set(app.dataframe[0].value["name"])


def test_compare_reads_the_run_list_again_only_after_a_change(store_on, trained, mnist):
    store = ui.run_store()
    first = save_training_result(store, trained, mnist, name="kept net")
    app = app_test("app_pages/compare.py").run()
    assert not app.exception and names(app) == {"kept net"}
    reads = RunListReads(store.database.engine)

    app.run()
    assert not app.exception and names(app) == {"kept net"}
    # Before: the list twice (runs, problems) and the numbers; the shown run 4 times, now
    # once (its model file's download reads the record).
    assert reads.count == 0
    assert reads.one_run == 1

    # Another process saves a run: its own store on the same database.
    save_training_result(
        RunStore(store.folder, database_url=store_on), trained, mnist, name="from elsewhere"
    )
    app.run()
    assert names(app) == {"kept net", "from elsewhere"}
    assert reads.count > 0

    store.rename_run(first, "renamed net")
    app.run()
    assert names(app) == {"renamed net", "from elsewhere"}
