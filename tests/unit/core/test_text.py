"""Text escaping for figures (core.text)."""

from core.text import figure_text


def test_figure_text_escapes_html_but_leaves_quotes():
    assert figure_text('<a href="x">run</a> & co') == '&lt;a href="x"&gt;run&lt;/a&gt; &amp; co'
    assert figure_text("one\ntwo", max_len=5) == "one …"
