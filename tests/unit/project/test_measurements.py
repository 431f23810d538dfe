"""Figures on pages come from measurement: each is in `core.measurements`, named with the
bench that measured it, and is the figure `bench/README.md` records."""

import pytest

from core.measurements import MEASURED
from core.nn.presets import ARTICLE_GAP, PRESET_NOTES, PRESETS, preset_help
from core.settings import PROJECT_ROOT
from testkit.quoted_figures import percentages, quoted_figures


def test_percentage_pattern_reads_single_figures_and_ranges():
    assert percentages("reaches 95.3-95.5% here, 92.6% there, 90% else") == [
        "95.3-95.5%",
        "92.6%",
        "90%",
    ]


@pytest.mark.parametrize("name", list(PRESET_NOTES))
def test_every_figure_in_a_preset_note_is_measured(name):
    found = percentages(PRESET_NOTES[name])
    assert found, f"the {name} note gives no measured figure"
    assert set(found) <= quoted_figures(), found
    # A preset's note gives that preset's own measurement.
    assert MEASURED[name].text in found


def test_every_preset_has_a_measurement_and_its_help_line():
    assert set(PRESET_NOTES) == set(PRESETS)
    assert set(PRESETS) <= set(MEASURED)
    assert preset_help().count("\n") == len(PRESETS) - 1


def test_every_figure_in_the_article_explanation_is_measured():
    found = percentages(ARTICLE_GAP)
    assert len(found) >= 5
    assert set(found) <= quoted_figures(), found


def test_stale_article_figures_are_gone():
    """The issue's stale copy: 95.3-95.5% (and 95.4%) before the fused Adam."""
    copy = ARTICLE_GAP + preset_help()
    assert "95.3-95.5%" not in copy and "95.4%" not in copy


@pytest.mark.parametrize("key", list(MEASURED))
def test_each_measurement_is_the_figure_bench_readme_records(key):
    """The registry and the bench's record cannot drift apart."""
    measurement = MEASURED[key]
    readme = (PROJECT_ROOT / "bench" / "README.md").read_text()
    rows = [line for line in readme.splitlines() if line.startswith(measurement.readme_row)]
    assert len(rows) == 1, f"bench/README.md has {len(rows)} lines for {key!r}"
    assert measurement.text in rows[0].replace("*", ""), rows[0]
    assert measurement.source.split()[0] in readme
    assert 0 < measurement.low <= measurement.high <= 1
