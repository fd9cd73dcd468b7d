"""The background flusher (nbtrack/flushing.py): when it writes what runs buffered."""

from __future__ import annotations

import time

import nbtrack
from nbtrack import flushing


def test_a_loop_that_starts_logging_fast_is_flushed_before_its_interval(store, monkeypatch):
    """A hot loop started after a quiet spell is written in slices, not buffered until the
    next timed flush: 10 M points used to peak at 166 MB of memory, a whole interval of
    points (and as much again while they were written)."""
    batches: list[int] = []
    monkeypatch.setattr(flushing, "listeners", [lambda run, batch: batches.append(batch.num_rows)])
    run = nbtrack.start_run("hot")
    run.log({"loss": 0.0})
    run.flush()
    monkeypatch.setattr(flushing, "_due", time.monotonic() + 3600)  # no timed flush for an hour
    n = 2_000_000
    for _ in range(n):
        run.log({"loss": 0.5})
    batches_while_logging = list(batches)
    run.end()
    assert sum(batches) == n + 1  # nothing lost, nothing twice
    # flushed as it went: no batch holds more than a fraction of the loop
    assert len(batches_while_logging) > 2, batches
    assert max(batches) < n // 2, batches
