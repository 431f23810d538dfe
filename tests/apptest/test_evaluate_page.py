"""The Evaluate page with a real (small) model in the session, and without one."""

import numpy as np
import pytest

import ui
from core.nn.evaluation import cell_indices, evaluate, misclassified
from testkit.charts import chart, values
from testkit.harness import app_test

PAGE = "app_pages/evaluate.py"


def page_with_model(trained):
    model, config, _ = trained
    app = app_test(PAGE)
    app.session_state[ui.KEY_CURRENT_MODEL] = ui.CurrentModel(
        model=model, label="Test net 784-32-10", config=config
    )
    return app.run()


def gallery_ids(app, key):
    return values(chart(app, key)["data"][1]["customdata"]).tolist()


def test_every_section_renders_with_a_model(trained):
    _, _, expected = trained
    app = page_with_model(trained)
    assert not app.exception, [exception.message for exception in app.exception]
    assert not app.error, [error.value for error in app.error]
    headers = [header.value for header in app.header]
    assert headers == [
        "How good is it?",
        "Which digits does it confuse?",
        "Per-digit probabilities",
        "All mistakes",
        "Inside the network",
        "Compare with another model",
    ]
    metrics = {metric.label: metric.value for metric in app.metric}
    assert metrics["Accuracy"] == f"{expected.accuracy:.2%}"
    assert metrics["Misclassified"] == f"{expected.num_mistakes:,}"
    report = app.dataframe[0].value
    assert report.loc["3", "support"] == 1010
    assert report.loc["7", "recall"] == pytest.approx(expected.report.loc["7", "recall"])
    confusion = chart(app, "evaluate_confusion")
    assert values(confusion["data"][0]["z"]).tolist() == expected.confusion_matrix.tolist()
    for key in ("evaluate_probabilities", "evaluate_weights", "evaluate_activations"):
        assert chart(app, key)["data"]
    # The default cell is the most frequent mistake.
    mistakes = expected.confusion_matrix.copy()
    np.fill_diagonal(mistakes, -1)
    true_label, predicted_label = np.unravel_index(mistakes.argmax(), mistakes.shape)
    assert app.selectbox(key="evaluate_true").value == true_label
    assert app.selectbox(key="evaluate_predicted").value == predicted_label
    # The comparison needs a second model: the shipped default one, if it is there.
    if (ui.DEFAULT_MODEL_DIR / "model.keras").exists():
        assert chart(app, "evaluate_comparison")["data"]
    else:
        assert "second model" in app.info[-1].value


def test_choosing_a_cell_shows_that_pairs_images(trained):
    _, _, expected = trained
    app = page_with_model(trained)
    app.selectbox(key="evaluate_true").set_value(4)
    app.selectbox(key="evaluate_predicted").set_value(9).run()
    assert not app.exception
    shown = gallery_ids(app, "evaluate_cell_gallery")
    assert shown == cell_indices(expected, 4, 9)[:40].tolist()
    assert all(expected.labels[index] == 4 for index in shown)
    assert all(expected.predictions[index] == 9 for index in shown)
    headings = [heading.value for heading in app.subheader]
    assert any(f"{expected.confusion_matrix[4, 9]:,} images" in heading for heading in headings)


def test_mistake_filter_and_image_pick(trained):
    _, _, expected = trained
    app = page_with_model(trained)
    app.selectbox(key="evaluate_mistake_true").set_value(7).run()
    assert gallery_ids(app, "evaluate_mistake_gallery") == misclassified(expected, 7)[:40].tolist()
    app.number_input(key="evaluate_image_index").set_value(123).run()
    bars = chart(app, "evaluate_probabilities")["data"][0]
    np.testing.assert_allclose(values(bars["y"]), expected.probabilities[123], atol=1e-6)
    assert (
        "sum of probabilities = 1.000"
        in chart(app, "evaluate_probabilities")["layout"]["title"]["text"]
    )


def test_without_a_model_the_page_links_to_train():
    app = app_test(PAGE).run()
    assert not app.exception
    assert "Train" in app.info[0].value
    links = [element.proto.page for element in app.get("page_link")]
    assert "train" in " ".join(links)


def test_links_from_explore_open_the_same_image_and_say_which_set(trained):
    """?set=test&image=N opens test image N; an article run counts in the training file."""
    import dataclasses

    from sklearn.model_selection import train_test_split

    model, config, _ = trained
    app = app_test(PAGE)
    app.session_state[ui.KEY_CURRENT_MODEL] = ui.CurrentModel(
        model=model, label="Test net", config=config
    )
    app.query_params["set"] = "test"
    app.query_params["image"] = "1234"
    app.run()
    assert not app.exception and not app.error
    assert app.number_input(key="evaluate_image_index").value == 1234
    assert "test file's 10,000 images" in " ".join(caption.value for caption in app.caption)
    links = [link.proto for link in app.get("page_link") if "Explore" in link.proto.label]
    assert links and "image=1234" in links[0].query_string and "set=test" in links[0].query_string

    article = dataclasses.replace(config, split="article", validation_fraction=0.0)
    app = app_test(PAGE)
    app.session_state[ui.KEY_CURRENT_MODEL] = ui.CurrentModel(
        model=model, label="Article net", config=article
    )
    held_out = train_test_split(range(60_000), test_size=0.25, random_state=article.seed)[1]
    app.query_params["set"] = "train"
    app.query_params["image"] = str(held_out[10])
    app.run()
    assert not app.exception and not app.error
    assert app.number_input(key="evaluate_image_index").value == 10
    captions = " ".join(caption.value for caption in app.caption)
    assert "15,000 images the article holds out of the training file" in captions
    assert "15,000 15,000" not in captions

    trained_on = sorted(set(range(60_000)) - set(held_out))[0]
    app = app_test(PAGE)
    app.session_state[ui.KEY_CURRENT_MODEL] = ui.CurrentModel(
        model=model, label="Article net", config=article
    )
    app.query_params["set"] = "train"
    app.query_params["image"] = str(trained_on)
    app.run()
    assert not app.exception and not app.error
    assert any("not among the images" in info.value for info in app.info)


def test_a_training_image_linked_from_explore_is_predicted_and_marked_seen_in_training(trained):
    """Explore's "What the model predicts for it" on training image 999 (the article's 6)
    dead-ended before: the page only said the image is not among those it measures on."""
    from core.data.datasets import load_default_dataset
    from core.nn.evaluation import predict_images

    model, config, _ = trained
    dataset = load_default_dataset()
    app = app_test(PAGE)
    app.session_state[ui.KEY_CURRENT_MODEL] = ui.CurrentModel(
        model=model, label="Test net", config=config
    )
    app.query_params["set"] = "train"
    app.query_params["image"] = "999"
    app.run()
    assert not app.exception and not app.error
    assert any("Here is its prediction anyway" in info.value for info in app.info)
    assert "Image 999 of the training file: seen in training" in [s.value for s in app.subheader]
    bars = chart(app, "evaluate_linked_probabilities")["data"][0]
    expected = predict_images(model, dataset.train_images[999:1000])[0]
    np.testing.assert_allclose(values(bars["y"]), expected, atol=1e-6)
    assert dataset.train_labels[999] == 6
    # It stays while the learner looks around the page, until closed.
    app.selectbox(key="evaluate_mistake_true").set_value(7).run()
    assert "Image 999 of the training file: seen in training" in [s.value for s in app.subheader]
    app.button(key="evaluate_linked_close").click().run()
    assert not [s for s in app.subheader if "Image 999" in s.value]


def test_the_side_by_side_says_whether_two_models_were_tested_on_the_same_images(trained):
    """Before, it said two runs "compare fairly" when their held-out images differed."""
    import dataclasses

    from core.data.datasets import load_default_dataset

    model, config, _ = trained
    default_model, _ = ui.default_model()  # shipped in models/default
    dataset = load_default_dataset()
    app = app_test(PAGE)
    article = dataclasses.replace(config, split="article", validation_fraction=0.0)
    app.session_state[ui.KEY_CURRENT_MODEL] = ui.CurrentModel(
        model=model, label="Article net", config=article
    )
    app.run()
    app.selectbox(key="evaluate_compare_with").set_value("default").run()
    assert not app.exception and not app.error
    (warning,) = [w.value for w in app.warning if "Not like for like" in w.value]
    on_test_file = evaluate(model, dataset.test_images, dataset.test_labels)
    default_on_test_file = evaluate(default_model, dataset.test_images, dataset.test_labels)
    assert "this model was tested on the 15,000 held out of training, seed 2" in warning
    assert "the other on the test file (10,000)" in warning
    assert f"accuracy {on_test_file.accuracy:.2%} vs {default_on_test_file.accuracy:.2%}" in warning
    assert "compare fairly" not in " ".join(caption.value for caption in app.caption)

    app = page_with_model(trained)  # the official split, as the default model
    app.selectbox(key="evaluate_compare_with").set_value("default").run()
    assert not [w for w in app.warning if "Not like for like" in w.value]
    captions = " ".join(caption.value for caption in app.caption)
    assert "both measured on the same images (test file (10,000))" in captions


def test_the_note_without_a_current_model_names_the_model_the_picker_shows(
    trained, isolated_run_store
):
    """A training in another tab added a newer run: the note named it while the picker (and
    every figure) still showed the run picked before (a first-time visitor's review)."""
    model, config, _ = trained

    def save(name):
        return ui.run_store().save_run(
            kind="network", name=name, config=config.to_dict(), history={},
            metrics={"test_accuracy": 0.9, "test_loss": 0.3}, timings={}, model=model,
        )  # fmt: skip

    older = save("older net")
    app = app_test(PAGE).run()
    app.selectbox(key="evaluate_model").set_value(ui.RUN_CHOICE_PREFIX + older).run()
    save("newer net from the other tab")
    app.run()
    assert not app.exception
    (note,) = [info.value for info in app.info if "No model trained" in info.value]
    assert "older net" in note and "newer net" not in note
    assert "older net" in app.selectbox(key="evaluate_model").format_func(
        app.selectbox(key="evaluate_model").value
    )
