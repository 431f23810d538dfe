"""`core.text`: `plain` (text from visitors and links shown as text inside Streamlit markdown)
and `figure_text` (text escaping for figures)."""

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from core.text import WORD_JOINER, figure_text, plain

ATTACK = (
    "x` **[Your session expired - log in again](https://evil.example/login)** "
    "![t](https://evil.example/pixel.png) `"
)
# CommonMark with tables and strikethrough; Streamlit adds GFM autolinks and directives,
# which the browser test checks.
RENDERER = MarkdownIt("commonmark").enable(["table", "strikethrough"])


def shown(markdown: str) -> str:
    """What a reader sees: the rendered HTML's text without tags and invisible joiners."""
    html = RENDERER.renderInline(markdown)
    text = re.sub(r"<[^>]+>", "", html).replace(WORD_JOINER, "")
    return (
        text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"').replace("&amp;", "&")
    )


@pytest.mark.parametrize(
    "text",
    [
        ATTACK,
        "<img src=x onerror=alert(1)> &amp; <b>bold</b>",
        "*emphasis* _under_ ~~gone~~ `code` $x^2$ :red[red] :material/home:",
        "# heading",
        "1. numbered",
        "- item",
        "> quote",
        "| a | b |",
        "[ref]: https://evil.example",
    ],
)
def test_markup_is_shown_literally(text):
    markdown = plain(text, max_len=500)
    html = RENDERER.render(markdown)
    assert "<a" not in html and "<img" not in html and "<em" not in html and "<code" not in html
    assert "<h1" not in html and "<li" not in html and "<blockquote" not in html
    assert shown(markdown) == text


def test_autolinks_and_icons_are_broken_by_invisible_joiners():
    markdown = plain("https://evil.example www.evil.example me@evil.example :material/home:")
    assert "https://" not in markdown and "www." not in markdown and "@evil" not in markdown
    assert ":material" not in markdown
    assert markdown.replace(WORD_JOINER, "") == (
        "https://evil.example www.evil.example me@evil.example :material/home:"
    )


def test_ordinary_messages_read_the_same():
    message = "The file 'labels.idx1' holds 11 labels, not 12 (one per image): check it."
    assert plain(message) == message


def test_length_is_capped_and_lines_and_invisible_characters_go():
    assert plain("a" * 500, max_len=20) == "a" * 19 + "…"
    assert plain("one\ntwo\r\n\tthree") == "one two three"
    assert plain("left\u202eright\u200b!") == "leftright!"
    assert plain(ValueError("bad *value*")) == r"bad \*value\*"


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_any_text_renders_without_links_images_or_html(text):
    markdown = plain(text, max_len=300)
    html = RENDERER.render(markdown)
    for tag in ("<a", "<img", "<em", "<strong", "<code", "<h", "<li", "<blockquote", "<table"):
        assert tag not in html
    assert "\n" not in markdown


def test_figure_text_escapes_html_but_leaves_quotes():
    assert figure_text('<a href="x">run</a> & co') == '&lt;a href="x"&gt;run&lt;/a&gt; &amp; co'
    assert figure_text("one\ntwo", max_len=5) == "one …"
