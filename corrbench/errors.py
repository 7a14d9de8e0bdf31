"""User-facing errors: each carries one line saying what is wrong and what to do.

The CLI prints ``str(error)`` on stderr and exits non-zero; anything that is not a
:class:`CorrbenchError` is a bug and keeps its traceback.
"""

from __future__ import annotations


class CorrbenchError(Exception):
    """Base of the errors a user can fix; the message is shown as is."""

    exit_code = 2


class UsageError(CorrbenchError):
    """Bad name, option or argument."""


class DatasetNotFound(CorrbenchError):
    """A dataset root or one of its files is missing or unreadable."""


class CheckpointError(CorrbenchError):
    """A weights file is missing, unsafe or does not fit the model."""


class PluginImportError(CorrbenchError):
    """An installed plugin is broken (its import raised)."""


class MethodError(CorrbenchError):
    """A method plugin raised inside ``predict`` or answered something the evaluator cannot score."""


class LeaderboardFileError(CorrbenchError):
    """A leaderboard file written by hand (``reported.yaml``) breaks its schema."""
