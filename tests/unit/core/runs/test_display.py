"""Run numbers, names, colours and history tables (core.runs.display, RunStore.run_numbers)."""

import math

import pandas as pd
import pytest

from core.runs import RunStore
from core.runs.display import (
    display_name,
    history_table,
    run_colour,
    short_name,
    with_display_columns,
)


def test_history_table_counts_epochs_from_one_and_allows_missing_validation():
    """A run without validation images has empty val_* lists (this crashed the CSV)."""
    table = history_table(
        {"loss": [0.9, 0.5, 0.3], "accuracy": [0.7, 0.8, 0.9], "val_loss": [], "val_accuracy": []}
    )
    assert list(table.index) == [1, 2, 3]
    assert table.index.name == "epoch"
    assert list(table.columns) == ["loss", "accuracy"]
    assert table.loc[3, "loss"] == pytest.approx(0.3)
    assert table.to_csv().splitlines()[:2] == ["epoch,loss,accuracy", "1,0.9,0.7"]


def test_history_table_pads_shorter_series_and_is_empty_before_the_first_epoch():
    table = history_table({"loss": [0.9, 0.5], "val_loss": [0.8]})
    assert math.isnan(table.loc[2, "val_loss"]) and table.loc[1, "val_loss"] == 0.8
    assert history_table({"loss": [], "val_loss": []}).empty
    assert history_table(None).empty


def test_display_names_put_the_number_first_and_never_repeat_the_name():
    summary = "784-128-10 relu, adam 0.001, 20 ep"
    assert display_name(7, summary, summary) == f"#7 · {summary}"
    assert display_name(8, "my best", summary) == f"#8 · my best ({summary})"
    assert display_name(None, "Imported: a.keras") == "Imported: a.keras"
    baseline = "Random Forest, 300 images, unit pixels"
    assert display_name(3, "Random Forest", baseline) == f"#3 · {baseline}"


def test_short_names_of_runs_with_one_long_name_stay_distinct():
    name = "conv 32-64, dense 784-128-10 relu, adam 0.001, 20 ep, dropout 0.5"
    first, second = short_name(7, name, 30), short_name(12, name, 30)
    assert first != second
    assert len(first) <= 30 and first.startswith("#7 · ") and first.endswith("…")


def test_run_colours_are_stable_and_neighbours_differ():
    assert run_colour(7) == run_colour(7)
    colours = [run_colour(number) for number in range(1, 11)]
    assert len(set(colours)) == 10
    assert all(colour.startswith("#") and len(colour) == 7 for colour in colours)


def test_run_numbers_follow_creation_and_survive_deleting_older_runs(
    isolated_run_store, database_url
):
    store = RunStore(isolated_run_store, database_url=database_url)
    ids = [
        store.save_run("baseline", "same name", {"k": index}, None, {"test_accuracy": 0.5}, {})
        for index in range(3)
    ]
    assert [store.run_numbers()[run_id] for run_id in ids] == [1, 2, 3]
    store.delete_run(ids[0])
    assert store.run_numbers() == {ids[1]: 2, ids[2]: 3}
    table = with_display_columns(store.list_runs(), store.run_numbers())
    assert sorted(table["label"]) == ["#2 · same name (k=1)", "#3 · same name (k=2)"]
    assert table.set_index("id").loc[ids[2], "colour"] == run_colour(3)
    # The next run is numbered after the others.
    newest = store.save_run("baseline", "same name", {}, None, {"test_accuracy": 0.5}, {})
    assert store.run_numbers()[newest] == 4


def test_with_display_columns_leaves_unnumbered_runs_without_a_number():
    runs = pd.DataFrame({"id": ["a"], "name": ["x"], "summary": ["x"]})
    table = with_display_columns(runs, {})
    assert pd.isna(table.loc[0, "number"]) and table.loc[0, "label"] == "x"


def test_a_run_is_named_by_its_preset_epochs_and_seed():
    from dataclasses import replace

    from core.nn import PRESETS, TrainingConfig
    from core.runs.display import training_run_name

    article = PRESETS["As in the article"]
    assert training_run_name(article, 10) == "As in the article · 20 ep · seed 0"
    # The seed is named, and is not a preset setting: seed 3 is still the article's preset.
    assert training_run_name(replace(article, seed=3), 10) == "As in the article · 20 ep · seed 3"
    # A stopped run says what was trained.
    assert (
        training_run_name(article, 10, epochs_completed=9)
        == "As in the article · 9 of 20 ep, stopped · seed 0"
    )
    # Other settings: the summary, with the optimizer's label rather than its raw id.
    custom = TrainingConfig(hidden_layers=(64,), optimizer="plain_sgd", learning_rate=0.05)
    name = training_run_name(custom, 10)
    assert name == "784-64-10 relu, plain sgd 0.05, 5 ep · seed 0"
    assert "plain_sgd" not in name
    # The list shows such a name once, not followed by its own summary in brackets.
    assert display_name(4, name, custom.summary(10)) == f"#4 · {name}"


def test_reruns_get_numbered_names():
    from core.runs.display import unique_name

    name = "As in the article · 20 ep · seed 0"
    assert unique_name(name, []) == name
    assert unique_name(name, [name]) == f"{name} (2)"
    assert unique_name(name, [name, f"{name} (2)", "other"]) == f"{name} (3)"


def test_a_three_class_run_is_named_with_three_outputs():
    from core.nn import TrainingConfig
    from core.runs.display import training_run_name

    name = training_run_name(TrainingConfig(hidden_layers=(64,)), 3)
    assert name == "784-64-3 relu, adam 0.001, 5 ep · seed 0"
