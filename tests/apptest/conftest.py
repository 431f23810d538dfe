"""Fixtures the AppTests of one page share: a small trained model for Evaluate."""

import pytest

from core.nn.evaluation import evaluate


@pytest.fixture(scope="module")
def trained():
    """A 784-32-10 network trained for one epoch on 2,000 images, and its evaluation."""
    from core.data.datasets import load_default_dataset
    from core.nn.config import TrainingConfig
    from core.nn.model import build_model

    dataset = load_default_dataset()
    config = TrainingConfig(hidden_layers=(32,), epochs=1, batch_size=64, seed=2)
    model = build_model(config)
    model.fit(dataset.train_images[:2000], dataset.train_labels[:2000], epochs=1, verbose=0)
    return model, config, evaluate(model, dataset.test_images, dataset.test_labels)


@pytest.fixture
def store_on(database_url, monkeypatch):
    """The app's run store on `database_url`'s backend: SQLite (None) or that PostgreSQL."""
    if database_url is not None:
        monkeypatch.setenv("MNIST_STUDIO_DATABASE_URL", database_url)
    return database_url
