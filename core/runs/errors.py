"""The run store's exceptions, shared by its modules.

Each is a `ValueError` whose message says what went wrong and what to do, so a page can show
it with ``st.error``. This module raises nothing itself.
"""


class RunStoreError(ValueError):
    """The run store cannot do what was asked; the message says why and what to do."""


class RunNotFoundError(RunStoreError):
    """No run has the given id (it may have been deleted)."""


class DamagedRunStoreError(RunStoreError):
    """The database file cannot be read as a run store."""


class MissingModelFileError(RunStoreError):
    """A run's record exists but its model file is missing or altered."""


class RunStoreFullError(RunStoreError):
    """The store keeps no more runs from this visitor now (a flood, or full of others' runs)."""
