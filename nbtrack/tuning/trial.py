"""One trial of a sweep: its params, its run, and what it reports for pruning.

A :class:`Trial` stands in for its run (``trial.log``, ``trial.id``, ``trial.alert``
... are the run's), adds ``report``/``should_prune``, and ends the trial when used
as a context manager: an exception fails it (``TrialPruned`` prunes it).
"""

from __future__ import annotations

import math

from ..errors import SweepError, TrialPruned
from ..run import to_number


class Trial:
    """Trial ``number`` (attempt ``attempt``) of ``sweep``, logging into ``run``.

    >>> params, trial = sweep.suggest()
    >>> for epoch in range(10):
    ...     trial.report(val_acc, step=epoch)
    ...     if trial.should_prune():
    ...         raise nbtrack.errors.TrialPruned()
    """

    def __init__(self, sweep, number: int, attempt: int, params: dict, run):
        self.sweep = sweep
        self.number = number
        self.attempt = attempt
        self.params = params
        self.run = run
        self.intermediate: dict[int, float] = {}
        self.state = "running"

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.run, name)  # log, log_params, alert, id, name ...

    def report(self, value: float, step: int) -> None:
        """The objective's value so far, at ``step`` (logged on the run as the objective)."""
        value = to_number(self.sweep.objective, value)
        step = self.run._check_step(step)
        self.intermediate[step] = value
        self.run.log({self.sweep.objective: value}, step=step)

    def should_prune(self) -> bool:
        """True when the median rule says to stop early (see ``Sweep.should_prune``)."""
        return self.sweep.should_prune(self)

    def best_reported(self) -> float | None:
        values = [v for v in self.intermediate.values() if not math.isnan(v)]
        if not values:
            return None
        return max(values) if self.sweep.direction == "maximize" else min(values)

    @property
    def ended(self) -> bool:
        return self.state != "running"

    def _check_open(self) -> None:
        if self.ended:
            raise SweepError(f"trial {self.number} of sweep {self.sweep.name!r} is already "
                             f"{self.state}")

    def __enter__(self) -> Trial:
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if self.ended:
            return False
        if exc_type is None:
            self.sweep.complete(self)
        elif issubclass(exc_type, TrialPruned):
            self.sweep.prune(self)
            return True
        else:
            self.sweep.fail(self, f"{exc_type.__name__}: {exc}")
        return False

    def __repr__(self) -> str:
        return (f"<nbtrack.Trial {self.number} of {self.sweep.name!r} {self.state} "
                f"params={self.params}>")
