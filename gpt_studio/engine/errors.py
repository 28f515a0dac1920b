"""Errors a person can act on.

Every failure that a user can cause (bad file, bad setting, stale data) is a ``StudioError`` whose message
names the file/row/field and says what to do. The CLI prints it as one line; the UI shows it in a dialog.
Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class StudioError(Exception):
    """A failure caused by input or settings, with a message meant for the person, not the developer.

    ``details`` carries machine-readable context (e.g. the run id) that ``--json`` output includes.
    """

    def __init__(self, message: str = "", details: dict | None = None) -> None:
        super().__init__(message)
        self.details = dict(details or {})


class CancelledError(StudioError):
    """A long job was cancelled on request; whatever it was writing has been rolled back."""

    def __init__(self, what: str = "the job") -> None:
        super().__init__(f"Cancelled: {what} was stopped and nothing was changed.")


class ProjectFormatError(StudioError):
    """A project folder is missing, damaged or written by an incompatible version."""


class StaleDataError(StudioError):
    """Derived files (token shards) no longer match their inputs (tokenizer or corpus changed)."""
