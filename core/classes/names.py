"""Display names of students and titles of classes: bounded, printable, one line.

A name is typed by a visitor and shown to a whole class, so it is checked before it is
stored: whitespace collapsed, control and invisible formatting characters refused, at most
`MAX_NAME_LENGTH` characters. Two names that differ only in case or in Unicode form (``Ana``
and ``ANA``, ``é`` as one or two code points) are the same name within a class (`name_key`).
Pages still show names with `core.text.plain`: these checks bound them, they do not make
them markup-safe.
"""

from __future__ import annotations

import unicodedata

MAX_NAME_LENGTH = 30
MAX_TITLE_LENGTH = 80
# Unicode categories refused in a name: controls, format characters (e.g. right-to-left
# overrides, zero-width joiners), unassigned, private use and surrogates.
_REFUSED_CATEGORIES = {"Cc", "Cf", "Cn", "Co", "Cs"}


def _checked(text: object, what: str, max_length: int) -> str:
    if not isinstance(text, str):
        raise ValueError(f"Type a {what}.")
    if len(text) > 4 * max_length:  # Bounded before any work on it.
        raise ValueError(f"A {what} has at most {max_length} characters.")
    cleaned = " ".join(unicodedata.normalize("NFC", text).split())
    if not cleaned:
        raise ValueError(f"Type a {what}.")
    if len(cleaned) > max_length:
        raise ValueError(
            f"A {what} has at most {max_length} characters; this one has {len(cleaned)}."
        )
    if any(unicodedata.category(character) in _REFUSED_CATEGORIES for character in cleaned):
        raise ValueError(f"A {what} can only hold letters, digits, spaces and punctuation.")
    return cleaned


def checked_name(text: object) -> str:
    """Return a student's display name, cleaned (spaces collapsed, NFC), or raise.

    Raises:
        ValueError: Empty, longer than `MAX_NAME_LENGTH` or holding invisible characters.
    """
    return _checked(text, "name", MAX_NAME_LENGTH)


def checked_title(text: object) -> str:
    """Return a class title, cleaned like a name, at most `MAX_TITLE_LENGTH` characters.

    Raises:
        ValueError: Empty, too long or holding invisible characters.
    """
    return _checked(text, "class title", MAX_TITLE_LENGTH)


def name_key(name: str) -> str:
    """The form two names are compared in: NFKC and case-folded (``Ana`` = ``ANA``)."""
    return unicodedata.normalize("NFKC", name).casefold()
