"""Two app processes save and prune in one store at once: no run lost, quotas hold.

Each process opens its own `RunStore` on the same database (the SQLite file in one folder;
or one PostgreSQL database, each process with a folder of its own, as on two machines) with
the same quota, waits until the other is ready, then saves
runs with a model for owners from several network addresses, pruning after each save as the
app does. Numbers (across the store and among an owner's runs) are given in the transaction
that inserts, so none is given twice; pruning deletes only what its own reading chose, so
an owner's newest runs, protected from the store-wide cap, are never taken by the other
process's saves.
"""

import subprocess
import sys
from pathlib import Path

from core.runs import RunStore

PROJECT_ROOT = Path(__file__).resolve().parents[4]
PROCESSES = 2
SAVES_PER_PROCESS = 30  # Five runs per owner per process, for six owners.
OWNERS = [f"visitor{index}" for index in range(6)]
ADDRESSES = ["8.8.8.8", "9.9.9.9", "2001:db8:1::/64"]
MODEL_BYTES = 512
QUOTA = {"max_runs": 20, "max_runs_per_owner": 5, "protected_runs_per_owner": 2}

# One app process: open the store, say so, wait for "go", then save and prune.
SAVER = """
import json, sys
from core.runs import RunStore

folder, url, name, saves, owners, addresses, size, quota = sys.argv[1:]
owners, addresses, quota = json.loads(owners), json.loads(addresses), json.loads(quota)
store = RunStore(folder, database_url=url or None, **quota)
print("ready", flush=True)
sys.stdin.readline()
for index in range(int(saves)):
    owner = owners[index % len(owners)]
    store.save_run(
        "network", f"{name} {index}", {"process": name, "index": index}, None,
        {"test_accuracy": 0.9}, {}, model=bytes([index % 256]) * int(size), owner=owner,
        address=addresses[owners.index(owner) % len(addresses)],
    )
print("done", flush=True)
"""


def _start_saver(folder: Path, database_url: str | None, name: str) -> subprocess.Popen:
    import json

    return subprocess.Popen(
        [
            sys.executable, "-c", SAVER, str(folder), database_url or "", name,
            str(SAVES_PER_PROCESS), json.dumps(OWNERS), json.dumps(ADDRESSES), str(MODEL_BYTES),
            json.dumps(QUOTA),
        ],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        cwd=PROJECT_ROOT,
    )  # fmt: skip


def test_two_processes_saving_and_pruning_at_once_lose_nothing_and_keep_the_quota(
    tmp_path, database_url
):
    folder = tmp_path / "runs_dir"
    RunStore(folder, database_url=database_url)  # The schema made once, as `make run` would.
    # On PostgreSQL nothing that matters is on a process's disk: each has a folder of its own.
    folders = [folder if database_url is None else tmp_path / f"disk{index}" for index in (0, 1)]
    savers = [
        _start_saver(process_folder, database_url, f"process{index}")
        for index, process_folder in enumerate(folders)
    ]
    try:
        for saver in savers:
            assert saver.stdout.readline().strip() == "ready", saver.stderr.read()
        for saver in savers:  # Both start saving at the same moment.
            saver.stdin.write("go\n")
            saver.stdin.flush()
        outcomes = [saver.communicate(timeout=100) for saver in savers]
    finally:
        for saver in savers:
            saver.kill()
    for saver, (out, err) in zip(savers, outcomes, strict=True):
        assert saver.returncode == 0 and out.strip() == "done", err  # No exception escaped.

    # Read back by a third process's store (on PostgreSQL, from an empty folder).
    store = RunStore(
        folder if database_url is None else tmp_path / "empty", database_url=database_url
    )
    assert store.problems() == []
    runs = store.list_runs()
    # Quotas hold: the store-wide cap (the protected runs fit in it) and each owner's.
    assert len(runs) == QUOTA["max_runs"]
    assert runs["owner"].value_counts().max() <= QUOTA["max_runs_per_owner"]
    # No record lacks its model, and no model file outlived its record.
    assert runs["has_model"].all() and (runs["model_size"] == MODEL_BYTES).all()
    if database_url is None:
        recorded = {f"{run_id}.keras" for run_id in runs["id"]}
        assert {path.name for path in store.models_folder.iterdir()} == recorded
    # Every save got its own number, across the store and among its owner's runs ...
    saves = PROCESSES * SAVES_PER_PROCESS
    assert sorted(store.run_numbers().values())[-1] == saves
    assert len(set(store.run_numbers().values())) == len(runs)
    saves_per_owner = PROCESSES * SAVES_PER_PROCESS // len(OWNERS)
    for owner in OWNERS:
        numbers = sorted(store.run_numbers(owner=owner).values())
        assert len(numbers) == len(set(numbers))
        # ... and each owner's newest runs, protected from the store-wide cap, are all there.
        protected = QUOTA["protected_runs_per_owner"]
        assert numbers[-protected:] == list(
            range(saves_per_owner - protected + 1, saves_per_owner + 1)
        )
    store.database.dispose()


def test_savers_racing_past_a_daily_cap_are_admitted_in_one_transaction_each(
    tmp_path, database_url
):
    import threading

    from core.runs import RunStoreFullError

    # Eight "processes" (each its own store and connections) save from one address at once;
    # the address may save three runs a day: three are kept, five refused, none slips past.
    stores = [
        RunStore(tmp_path / f"process-{index}", database_url=database_url,
                 max_saves_per_address_per_day=3)
        for index in range(8)
    ]  # fmt: skip
    if database_url is None:  # One SQLite file: the processes share the first folder's.
        stores = [
            RunStore(tmp_path / "process-0", max_saves_per_address_per_day=3) for _ in range(8)
        ]
    start = threading.Barrier(len(stores))
    outcomes: list[str] = []

    def save(store: RunStore) -> None:
        start.wait()
        try:
            store.save_run(
                "baseline", "race", {"baseline": "k"}, None, {"test_accuracy": 0.9}, {},
                owner=f"cookie-{id(store)}", address="203.0.113.9",
            )  # fmt: skip
            outcomes.append("saved")
        except RunStoreFullError:
            outcomes.append("refused")
        except Exception as error:  # Anything else is a failure, said in the assertion.
            outcomes.append(f"{type(error).__name__}: {error}")

    threads = [threading.Thread(target=save, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["refused"] * 5 + ["saved"] * 3
    assert len(stores[0].list_runs()) == 3
