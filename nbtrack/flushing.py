"""The background thread that writes buffered data of every open run to disk.

One daemon thread per process wakes every ``FLUSH_INTERVAL_S`` and asks each
open run to flush, and every few seconds touches the runs' heartbeat files. A
killed process therefore loses at most its last interval of points. Flushing is
also done synchronously at the end of every cell, at run end and on
``run.flush()``; at interpreter exit whatever is buffered is written.
"""

from __future__ import annotations

import atexit
import os
import threading
import time
import warnings
import weakref

FLUSH_INTERVAL_S = float(os.environ.get("NBTRACK_FLUSH_INTERVAL", "0.5"))
MIN_SPACING_S = 0.1
BUSY_POINTS = 20_000  # a flush this big means a tight logging loop

_runs: weakref.WeakSet = weakref.WeakSet()
_lock = threading.Lock()
_thread: threading.Thread | None = None
_wake = threading.Event()
_stop = threading.Event()
_warned = False
# called as fn(run, batch) after each metric segment a flush writes, under the run's flush
# lock (live charts: nbtrack.ui.live); must only note the batch and return
listeners: list = []


def register(run) -> None:
    """Keep ``run`` flushed until it is unregistered (or garbage)."""
    with _lock:
        _runs.add(run)
        _ensure_thread()


def unregister(run) -> None:
    with _lock:
        _runs.discard(run)


def open_runs() -> list:
    with _lock:
        return list(_runs)


def flush_all() -> int:
    """Flush every open run; the number of metric points written."""
    return sum(_flush_quietly(run) for run in open_runs())


def _flush_quietly(run) -> int:
    global _warned
    try:
        return run.flush() or 0
    except Exception as exc:  # noqa: BLE001 - a full disk must not kill the thread
        if not _warned:
            _warned = True
            warnings.warn(
                f"nbtrack could not write run {getattr(run, 'id', '?')}: {exc}; "
                "the data stays in memory and the write is retried",
                RuntimeWarning,
                stacklevel=2,
            )
        return 0


def _loop() -> None:
    try:  # import the Arrow writer here, so the first flush does not stall the kernel
        import pyarrow.compute  # noqa: F401
        import pyarrow.ipc  # noqa: F401
    except ImportError:
        pass
    from .store.liveness import HEARTBEAT_EVERY_S

    last_beat = time.monotonic()
    busy = False
    while not _stop.is_set():
        if not busy:  # heavy logging flushes every MIN_SPACING_S: buffers stay small
            _wake.wait(FLUSH_INTERVAL_S)
        _wake.clear()
        busy = flush_all() >= BUSY_POINTS
        if busy:
            from .store.arrow_io import release_memory

            release_memory()
        now = time.monotonic()
        beat = now - last_beat >= HEARTBEAT_EVERY_S
        if beat:
            last_beat = now
        for run in open_runs():
            try:
                run.heartbeat(touch=beat)
            except Exception:  # noqa: BLE001 - a full disk must not kill the thread
                pass
        if beat:
            _tidy_stores()
        # at most one flush per MIN_SPACING_S, however often cells end
        _stop.wait(MIN_SPACING_S)


def _tidy_stores() -> None:
    """Once an hour per store, some writer sweeps up what killed writers left
    (``nbtrack.store.tidy``); a store that cannot be written is left alone."""
    from .store import tidy

    for layout in {id(r.layout): r.layout for r in open_runs() if hasattr(r, "layout")}.values():
        try:
            tidy.maybe_sweep(layout)
        except Exception:  # noqa: BLE001 - tidying is a courtesy, never a failure
            pass


def _ensure_thread() -> None:
    global _thread
    if _thread is None or not _thread.is_alive():
        _thread = threading.Thread(target=_loop, name="nbtrack-flusher", daemon=True)
        _thread.start()


def exiting() -> bool:
    """True once the interpreter is exiting: everything buffered is written now."""
    return _stop.is_set()


def wake() -> None:
    """Ask for a flush now (at the end of every cell)."""
    _wake.set()


def _after_fork_in_child() -> None:
    """A forked child (a DataLoader worker, a multiprocessing pool) logs as a guest:
    it drops the parent's buffered data and gets its own flusher thread."""
    global _thread, _lock
    _thread = None
    _lock = threading.Lock()
    runs = list(_runs)
    for run in runs:
        run._after_fork()
    if runs:
        _ensure_thread()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


@atexit.register
def _at_exit() -> None:
    _stop.set()
    flush_all()
