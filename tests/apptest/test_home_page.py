"""The Home page: every figure it quotes is a measured one (core.measurements)."""

from core.measurements import ARTICLE_REPORTED, MEASURED
from testkit.harness import app_test
from testkit.quoted_figures import percentages, quoted_figures


def test_home_quotes_only_measured_figures():
    app = app_test("app_pages/home.py").run()
    assert not app.exception
    texts = [element.value for element in (*app.markdown, *app.caption)]
    texts += [expander.label for expander in app.expander]
    found = [figure for text in texts for figure in percentages(text)]
    assert set(found) <= quoted_figures(), found
    # The article preset's measured figure and the article's own are both shown.
    assert MEASURED["As in the article"].text in found
    assert ARTICLE_REPORTED in found
