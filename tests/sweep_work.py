"""Trial functions for sweep tests that run in worker processes (importable by name)."""

from __future__ import annotations

import os


def score(params: dict, trial) -> float:
    """A deterministic objective; logs the worker's pid so tests can see who ran what."""
    trial.log({"pid": float(os.getpid())})
    return float(params["a"] * 10 + params["b"])


def fails_on_odd(params: dict, trial) -> float:
    if params["a"] % 2:
        raise ValueError(f"odd a={params['a']}")
    return float(params["a"])


def killed_on_trial_one(params: dict, trial) -> float:
    """Trial 1 kills its own worker process mid-trial, after logging (and flushing) some
    points; every other trial scores as ``score`` does."""
    import signal

    trial.log({"pid": float(os.getpid())})
    if trial.number == 1:
        trial.run.flush()
        os.kill(os.getpid(), signal.SIGKILL)
    return float(params["a"] * 10 + params["b"])
