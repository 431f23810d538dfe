"""The measured accuracies the pages quote, each in one place with what measured it.

A figure on a page comes from a measurement or is not given. Each `Measurement` names the
bench command that produced it and the line of `bench/README.md` that records it; the page
copy (`core.nn.presets.PRESET_NOTES`, `core.nn.presets.ARTICLE_GAP`, the Home page) is written
from these, and `tests/unit/project/test_measurements.py` checks both ends: every percentage in
that copy is one of these figures, and each figure is the one recorded in `bench/README.md`.
"""

from __future__ import annotations

from dataclasses import dataclass

TRAINING_BENCH = "bench/bench_training.py"


@dataclass(frozen=True)
class Measurement:
    """One measured test accuracy (or the range over several seeds).

    Attributes:
        low: The lowest accuracy measured (0 to 1).
        high: The highest (equal to `low` for a single figure).
        seeds: Which seeds were measured, as the pages say it ("seeds 0 to 3").
        source: The command that measured it.
        readme_row: How the line of `bench/README.md` that records it begins.
        decimals: Decimals shown in percent.
    """

    low: float
    high: float
    seeds: str
    source: str
    readme_row: str
    decimals: int = 2

    @property
    def text(self) -> str:
        """The figure as the pages write it: "95.27-95.47%" or "92.94%"."""
        low = f"{self.low * 100:.{self.decimals}f}"
        high = f"{self.high * 100:.{self.decimals}f}"
        return f"{low}%" if low == high else f"{low}-{high}%"


# The article's own figure: quoted from the tutorial, not measured here.
ARTICLE_REPORTED = "92.6%"

MEASURED: dict[str, Measurement] = {
    "As in the article": Measurement(
        0.9467,
        0.9558,
        "seeds 0 to 3",
        f'{TRAINING_BENCH} --only presets --presets "As in the article" --seeds 4',
        "| As in the article | 784-128-10",
    ),
    "Article, plain SGD": Measurement(
        0.9294,
        0.9294,
        "seed 0",
        f'{TRAINING_BENCH} --only presets --presets "Article, plain SGD" --seeds 1',
        'The app\'s "Article, plain SGD" preset',
    ),
    "Recommended": Measurement(
        0.9809,
        0.9823,
        "seeds 0 to 2",
        f"{TRAINING_BENCH} --only presets --presets Recommended",
        "| Recommended |",
    ),
    "Quick look": Measurement(
        0.902,
        0.902,
        "seed 0",
        f'{TRAINING_BENCH} --only presets --presets "Quick look" --seeds 1',
        "| Quick look |",
        decimals=1,
    ),
    "Best dense": Measurement(
        0.9862,
        0.9866,
        "seeds 0 to 2",
        f'{TRAINING_BENCH} --only presets --presets "Best dense" --float32-only',
        "| **Best dense** |",
    ),
    "Convolutional": Measurement(
        0.9921,
        0.9932,
        "seeds 0 to 2",
        f"{TRAINING_BENCH} --only presets --presets Convolutional Recommended",
        "| **Convolutional** |",
    ),
    # The article's own script (bench/tutorial_script.py), 20 epochs on its split.
    "script: Adam, raw pixels": Measurement(
        0.9527,
        0.9547,
        "seeds 0 to 3",
        "bench/tutorial_script.py (Adam, raw pixels, seeds 0 to 3)",
        "| Adam (the article's settings) | raw 0-255 |",
    ),
    "script: RMSprop, raw pixels": Measurement(
        0.9634,
        0.9634,
        "seed 0",
        "bench/tutorial_script.py (RMSprop, raw pixels)",
        "| RMSprop | raw 0-255 |",
    ),
    "script: plain SGD, raw pixels": Measurement(
        0.7172,
        0.7172,
        "seed 0",
        "bench/tutorial_script.py (plain SGD 0.01, raw pixels)",
        '| plain SGD (Keras\'s `"sgd"`, learning rate 0.01) | raw 0-255 |',
    ),
    "script: plain SGD, pixels 0-1": Measurement(
        0.9294,
        0.9294,
        "seed 0",
        "bench/tutorial_script.py (plain SGD 0.01, pixels scaled to 0-1)",
        '| plain SGD (Keras\'s `"sgd"`, learning rate 0.01) | scaled to 0-1 |',
    ),
}


def figure(key: str) -> str:
    """Return the measured figure `key` as the pages write it (e.g. "95.27-95.47%")."""
    return MEASURED[key].text
