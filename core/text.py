"""Text from visitors and links, made safe to show: inside Streamlit markdown (`plain`) and in
Plotly figures (`figure_text`). Plain Python: no Streamlit, no other core module."""

from __future__ import annotations

import html
import re
import unicodedata
from typing import Any

# Characters that start markdown or HTML in Streamlit anywhere on a line: emphasis, code,
# links and images (brackets), HTML and autolinks, strikethrough, LaTeX, entities, colour
# directives and table cells.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>~$&|{}])")
# Streamlit turns "https://...", "www.x.y" and "me@x.y" into links and ":material/name:" into
# an icon after the markdown is parsed, so escapes do not stop them; an invisible word joiner
# after the colon, the at sign or "www" does.
_AFTER_LINK_MARKERS = re.compile(r"(:(?=\S)|@|www(?=\.))", re.IGNORECASE)
WORD_JOINER = "\u2060"
# At the start of a line, "#", ">", "-", "+", "=" and "1." or "1)" start a block.
_NUMBERED_ITEM = re.compile(r"^(\d+)[.)]")
PLAIN_MAX_LENGTH = 120


def plain(text: Any, max_len: int = PLAIN_MAX_LENGTH) -> str:
    """Return text a visitor or a link supplied, made safe to put inside Streamlit markdown.

    Streamlit renders `st.markdown`, `st.caption`, `st.info/warning/error/success`, `st.toast`,
    headers, image captions and widget labels as markdown, so a run name or a link value such
    as ``**[log in](https://evil.example)** ![t](https://evil.example/pixel.png)`` would become
    a working link and a fetched image. Here the characters that open markup are
    backslash-escaped (no link, image, emphasis, code, HTML, LaTeX or directive survives); an
    invisible word joiner breaks what Streamlit turns into a link or an icon after parsing
    (``https://``, ``www.``, ``@``, ``:material/``); line breaks, control characters and
    invisible formatting characters (e.g. right-to-left overrides) become spaces or go; and
    the text is cut to `max_len` characters. Ordinary punctuation (``.,;'"()=-`` and a colon
    before a space) is left as it is, so messages read the same.

    Args:
        text: The text (anything; it is converted with `str`).
        max_len: The most characters shown; longer text ends with an ellipsis.

    Returns:
        Markdown that displays as the text itself.
    """
    cleaned = "".join(
        character
        for character in " ".join(str(text).split())
        if unicodedata.category(character) not in ("Cc", "Cf", "Co", "Cs")
    )
    if len(cleaned) > max_len:
        cleaned = cleaned[: max(max_len - 1, 0)] + "…"
    escaped = _MARKDOWN_SPECIAL.sub(r"\\\1", cleaned)
    escaped = _AFTER_LINK_MARKERS.sub(lambda marker: marker.group(1) + WORD_JOINER, escaped)
    if escaped[:1] and escaped[0] in "#>+=-":
        escaped = "\\" + escaped
    elif numbered := _NUMBERED_ITEM.match(escaped):
        escaped = numbered.group(1) + "\\" + escaped[numbered.end(1) :]
    return escaped


def figure_text(text: Any, max_len: int = PLAIN_MAX_LENGTH) -> str:
    """Return visitor-supplied text for a Plotly legend, title or hover label, shown as text.

    Plotly renders a subset of HTML in those (``<a href>`` becomes a working link), so
    ``&``, ``<`` and ``>`` are escaped; quotes are left alone, since Plotly would show
    ``&quot;`` as it is. Line breaks go and the text is cut to `max_len` characters.
    """
    cleaned = " ".join(str(text).split())
    if len(cleaned) > max_len:
        cleaned = cleaned[: max(max_len - 1, 0)] + "…"
    return html.escape(cleaned, quote=False)


def format_duration(seconds: float | None) -> str:
    """Return a duration as the app says it: ``"45 seconds"`` below 90 s, else ``"3 minutes"``.

    One wording for every estimate and measurement (the budget's refusals, the Train page's
    times, a sweep's expected time); ``"–"`` when it is not known yet (None).
    """
    if seconds is None:
        return "–"
    seconds = float(seconds)
    if seconds < 1.5:
        # Never "0 seconds" or "1 seconds": a quick training takes about a second.
        return "1 second"
    if seconds < 90:
        return f"{seconds:.0f} seconds"
    return f"{seconds / 60:,.0f} minutes"
