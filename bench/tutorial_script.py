"""The tutorial's own training script, as the article writes it: the bare peer of the app.

A `Sequential` of `Dense(128, activation="relu", input_shape=(784,))` and
`Dense(10, activation="softmax")`, compiled with "adam" and categorical cross-entropy on
one-hot labels, trained on the raw pixels (0-255, float32) of 45,000 of the 60,000 MNIST
training images with `fit(batch_size=128, epochs=20, verbose=0)`, Keras defaults otherwise,
and tested on the other 15,000. Only the loading differs: the article reads the same
images; here they come from the bundled IDX files and the app's own "article" split
(`train_test_split(test_size=0.25)`), so both train on exactly the same images.

`bench/bench_training.py` times it side by side with the app. Run on its own:
    .venv/bin/python -m bench.tutorial_script
"""

from __future__ import annotations

import time

import numpy as np

from core.data import load_default_dataset, make_splits


def article_data(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return x_train, y_train, x_test, y_test as the article prepares them.

    Images become rows of 784 raw pixel values as float32; labels become one-hot rows.
    """
    import keras

    splits = make_splits(
        load_default_dataset(), split="article", validation_fraction=0.0, seed=seed
    )
    x_train = splits.x_train.reshape(-1, 784).astype("float32")
    x_test = splits.x_test.reshape(-1, 784).astype("float32")
    y_train = keras.utils.to_categorical(splits.y_train, 10)
    y_test = keras.utils.to_categorical(splits.y_test, 10)
    return x_train, y_train, x_test, y_test


def train_as_in_the_article(x_train, y_train, x_test, y_test, epochs: int = 20):
    """Build, train and test the article's network; return (fit seconds, test accuracy)."""
    from keras.layers import Dense
    from keras.models import Sequential

    model = Sequential()
    model.add(Dense(128, activation="relu", input_shape=(784,)))
    model.add(Dense(10, activation="softmax"))
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    started = time.perf_counter()
    model.fit(x_train, y_train, batch_size=128, epochs=epochs, verbose=0)
    seconds = time.perf_counter() - started
    _, accuracy = model.evaluate(x_test, y_test, verbose=0)
    return seconds, float(accuracy)


if __name__ == "__main__":
    seconds, accuracy = train_as_in_the_article(*article_data())
    print(f"The article's script: {accuracy:.2%} test accuracy, {seconds:.1f} s of fit")
