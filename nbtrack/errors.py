"""One exception tree for nbtrack.

Every error a user can provoke is a subclass of :class:`NbtrackError`, so
``except nbtrack.errors.NbtrackError`` catches all of them. Where Python has a
natural built-in (a wrong value type is a ``TypeError``), the nbtrack error
subclasses it too, so generic handlers keep working.
"""

from __future__ import annotations


class NbtrackError(Exception):
    """Base class of every error nbtrack raises on purpose."""


class StoreError(NbtrackError):
    """The store folder is missing, unreadable, or holds something unexpected."""


class StoreWriteError(StoreError, OSError):
    """The store refused a write (a full disk, an I/O error). Nothing is lost: the data
    stays in memory and nbtrack retries; ``run.end()`` can be called again."""


class StoreWriteWarning(RuntimeWarning):
    """Said once when a run's writes start failing (and once when they work again)."""


class CorruptFileWarning(UserWarning):
    """A file in the store could not be read; it was skipped and everything else was read."""


class RunNotFoundError(NbtrackError, KeyError):
    """No run with that id (or name) exists in the store."""

    def __str__(self) -> str:  # KeyError would otherwise print the repr of the message
        return str(self.args[0]) if self.args else "run not found"


class NoActiveRunError(NbtrackError, RuntimeError):
    """A module-level call (``nbtrack.log`` ...) was made with no active run."""


class RunEndedError(NbtrackError, RuntimeError):
    """Something was logged to a run that has already ended."""


class MetricTypeError(NbtrackError, TypeError):
    """A value given to ``log`` is not a number."""


class InvalidNameError(NbtrackError, ValueError):
    """A key, tag, experiment or run name is not acceptable."""


class ArtifactPathError(NbtrackError, ValueError):
    """An artifact path would leave the run's folder, or names nothing."""


class FilterError(NbtrackError, ValueError):
    """A ``where=`` expression could not be parsed or refers to an unknown column.

    ``position`` is the 0-based character offset of the offending token.
    """

    def __init__(self, message: str, expression: str = "", position: int | None = None):
        self.expression = expression
        self.position = position
        if position is not None and expression:
            pointer = " " * position + "^"
            message = f"{message}\n  {expression}\n  {pointer}"
        super().__init__(message)


class ConditionError(FilterError):
    """An alert condition could not be parsed (``position`` points at the offending token)."""


class AlertWarning(UserWarning):
    """An alert's condition became true on a run (shown in the cell that logged it)."""


class SweepError(NbtrackError):
    """A sweep cannot do what was asked (no such sweep, stopped, finished, bad trial)."""


class SweepSpecError(SweepError, ValueError):
    """A sweep's parameter specification, strategy or objective is not acceptable."""


class SweepFinished(SweepError):
    """The sweep has no trial left to suggest: every point is taken, its budget is spent,
    or it was stopped."""


class TrialPruned(NbtrackError):
    """Raise inside a sweep's trial function to end the trial as pruned (after
    ``trial.should_prune()``)."""


class ValueTypeError(NbtrackError, TypeError):
    """A param or metadata value has no JSON form (see ``nbtrack.values``); the message
    names its key."""
