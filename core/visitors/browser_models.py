"""Which model files each visitor's browser may download, for the Draw page's forward pass.

The Draw page grants a visitor the file of a model it shows them (`grant`); the server's
``/model-weights/<digest>`` route (streamlit_app.py) answers only a visitor holding a grant for
that digest, so a public demo serves the weights of models the visitor may use and no others,
whoever guesses or shares a digest. Grants are bounded per visitor and in total bytes (the
oldest go first); a browser that lost its grant gets it again the next time the page shows
it the model. The table lives for the process (`core.singletons`), never in a cache that a
client could clear.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from core.singletons import process_singleton

# A visitor holds grants for its last few models; the page re-grants on every run.
MAX_GRANTS_PER_VISITOR = 8
# The model files held for download at once, in bytes (each at most 16 MB: browser_model.py).
MAX_HELD_BYTES = 256 * 1024 * 1024
# Visitors with grants at once (the least recent lose theirs first).
MAX_VISITORS = 10_000


class BrowserModelGrants:
    """A bounded table of (visitor, digest) grants and the files they point to."""

    def __init__(
        self,
        max_per_visitor: int = MAX_GRANTS_PER_VISITOR,
        max_bytes: int = MAX_HELD_BYTES,
        max_visitors: int = MAX_VISITORS,
    ) -> None:
        self.max_per_visitor = max_per_visitor
        self.max_visitors = max_visitors
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        # digest -> file, least recently granted first.
        self._files: OrderedDict[str, bytes] = OrderedDict()
        # visitor -> digests, least recently granted first.
        self._grants: OrderedDict[str, OrderedDict[str, None]] = OrderedDict()
        self._held = 0

    def grant(self, visitor: str, digest: str, blob: bytes) -> None:
        """Let ``visitor`` download ``blob`` under ``digest``."""
        with self._lock:
            if digest in self._files:
                self._files.move_to_end(digest)
            else:
                self._files[digest] = blob
                self._held += len(blob)
            digests = self._grants.setdefault(visitor, OrderedDict())
            self._grants.move_to_end(visitor)
            digests[digest] = None
            digests.move_to_end(digest)
            while len(digests) > self.max_per_visitor:
                digests.popitem(last=False)
            while len(self._grants) > self.max_visitors:
                self._grants.popitem(last=False)
            while self._held > self.max_bytes and len(self._files) > 1:
                old, old_blob = self._files.popitem(last=False)
                self._held -= len(old_blob)
                for granted in self._grants.values():
                    granted.pop(old, None)
            for empty in [name for name, granted in self._grants.items() if not granted]:
                del self._grants[empty]

    def file_for(self, visitor: str | None, digest: str) -> bytes | None:
        """The file under ``digest`` if ``visitor`` holds a grant for it, else None."""
        if visitor is None:
            return None
        with self._lock:
            granted = self._grants.get(visitor)
            if granted is None or digest not in granted:
                return None
            return self._files.get(digest)

    def held_bytes(self) -> int:
        """The bytes of the files held now."""
        with self._lock:
            return self._held


def browser_model_grants() -> BrowserModelGrants:
    """This process's grants (the Draw page writes them, the weights route reads them)."""
    return process_singleton(("browser_model_grants",), BrowserModelGrants)
