"""The one error a user sees: :class:`UserError`, a message worded for them and the exit
status it ends with. Lower layers keep their own errors (``ConfigError``, ``JournalError``,
``ThemeError``, ``ModeError``...) and never import this package; each command turns the ones
a user can cause into a ``UserError`` where it calls them (:func:`reported_as`), and
``main`` prints it: one line on stderr (a configuration's problems one line each), shown
escaped, never a traceback.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

EXIT_OK = 0
EXIT_ERROR = 1  # it could not run (a connection, a mode), or an unexpected error
EXIT_USAGE = 2  # bad input: a flag, a config value, a missing file
EXIT_UNWRITTEN = 3  # stopped, but the journal lost critical rows (disk full, read-only...)


class UserError(Exception):
    """A failure the user can fix or must know, worded for them, ending the command with
    ``exit_code``."""

    def __init__(self, message: str, exit_code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@contextlib.contextmanager
def reported_as(exit_code: int, *errors: type[Exception]) -> Iterator[None]:
    """Any of ``errors`` raised in the block (a lower layer's own, worded for the user) as a
    :class:`UserError` with ``exit_code``."""
    try:
        yield
    except errors as exc:
        raise UserError(str(exc), exit_code) from None
