"""Class codes a teacher reads aloud, and the teacher's secret.

A code is `CODE_LENGTH` characters from `ALPHABET`: capitals and digits without the ones
read alike (0/O, 1/I/L, 5/S, 2/Z, 8/B), shown as two groups (``K7QD-M4XA``) and read back
whatever the case, spaces or dashes. The teacher's secret is 32 random bytes
(`secrets.token_urlsafe`); only its SHA-256 is stored, so a copy of the database does not
open a teacher's view.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets

ALPHABET = "ACDEFGHJKMNPQRTUVWXY34679"
CODE_LENGTH = 8
SECRET_BYTES = 32


def new_class_code() -> str:
    """Return a new random code, e.g. ``"K7QD-M4XA"`` (`secrets`, not `random`)."""
    raw = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
    return format_code(raw)


def format_code(raw: str) -> str:
    """Write a code's characters as two groups of four."""
    half = CODE_LENGTH // 2
    return f"{raw[:half]}-{raw[half:]}"


def normalise_code(text: object) -> str | None:
    """Return the code a person typed in its stored form, or None if it cannot be one.

    Case, spaces and dashes do not matter; anything longer than a few characters more than
    a code is refused before it is looked at.
    """
    if not isinstance(text, str) or len(text) > 4 * CODE_LENGTH:
        return None
    raw = "".join(character for character in text.upper() if character not in " -")
    if len(raw) != CODE_LENGTH or any(character not in ALPHABET for character in raw):
        return None
    return format_code(raw)


def new_teacher_secret() -> str:
    """Return a new secret for a teacher's link (43 URL-safe characters)."""
    return secrets.token_urlsafe(SECRET_BYTES)


def secret_digest(secret: str) -> str:
    """The stored form of a teacher's secret: its SHA-256 in hex."""
    return hashlib.sha256(secret.encode("utf-8", "replace")).hexdigest()


def same_digest(first: str, second: str) -> bool:
    """Compare two digests in constant time."""
    return hmac.compare_digest(first, second)


def code_space() -> int:
    """How many codes there are: ``len(ALPHABET) ** CODE_LENGTH``."""
    return len(ALPHABET) ** CODE_LENGTH


def guesses_for_even_odds(live_classes: int) -> float:
    """How many random guesses find some live class with probability one half.

    With ``n`` live classes among ``N`` codes, each guess hits with ``p = n / N``; ``k``
    guesses miss them all with ``(1 - p) ** k``, which is one half at ``ln 2 / -ln(1 - p)``.
    """
    if live_classes <= 0:
        return math.inf
    share = live_classes / code_space()
    return math.log(2) / -math.log1p(-share)
