"""Where a lower layer hands over to a higher one without importing it.

- ``stack``: the runs this process started and has not ended, oldest first (the top
  is the active run). ``nbtrack.active`` pushes on it; capture reads it to know which
  runs a cell or a ``!pip`` belongs to.
- run-start and run-end listeners: capture's cell recorder watches each run start;
  ``nbtrack.active`` takes an ended run off the stack.
- the live chart: ``Run.live`` shows the view the ui layer provides (``nbtrack.api``
  wires it when nbtrack is imported), so the write side never imports widgets.

Nothing here imports the rest of nbtrack but its errors.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from .errors import NbtrackError

lock = threading.Lock()  # guards ``stack``
stack: list = []  # the open runs, oldest first
_started: list[Callable] = []
_ended: list[Callable] = []
_live: list[Callable] = []


def open_runs() -> list:
    """Runs this process started and has not ended, oldest first."""
    with lock:
        return list(stack)


def on_run_start(callback: Callable) -> None:
    """Call ``callback(run)`` after every run this process starts (cell capture uses it)."""
    if callback not in _started:
        _started.append(callback)


def off_run_start(callback: Callable) -> None:
    if callback in _started:
        _started.remove(callback)


def run_started(run) -> None:
    for callback in list(_started):
        callback(run)


def on_run_end(callback: Callable) -> None:
    """Call ``callback(run)`` once a run of this process has ended (its status recorded)."""
    if callback not in _ended:
        _ended.append(callback)


def run_ended(run) -> None:
    for callback in list(_ended):
        callback(run)


def set_live_view(show: Callable) -> None:
    """``show(run, metrics, **options)`` displays a run's live chart (the ui layer's)."""
    _live[:] = [show]


def show_live(run, metrics: list[str] | None, **options):
    if not _live:
        raise NbtrackError("no live chart view is wired: import nbtrack (nbtrack.api wires it)")
    return _live[0](run, metrics, **options)
