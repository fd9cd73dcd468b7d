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
