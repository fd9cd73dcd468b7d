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
import sys
import threading
import time
import warnings
import weakref

FLUSH_INTERVAL_S = float(os.environ.get("NBTRACK_FLUSH_INTERVAL", "0.5"))
MIN_SPACING_S = 0.1
FIRST_FLUSH_S = 0.2  # a new run's first points are written this soon, not an interval later
HANDOFF_WAIT_S = 0.05  # how long a fast-logging thread has to take a flush hand-off
BUSY_POINTS = 20_000  # a flush this big means a tight logging loop
# buffered past this many points, a run is flushed without waiting for its interval: a
# loop that starts logging fast after a quiet spell would otherwise buffer up to half a
# second of points (1.5 M, 48 MB, and as much again while they are written)
EARLY_FLUSH_POINTS = 1 << 16

_runs: weakref.WeakSet = weakref.WeakSet()
_lock = threading.Lock()
_thread: threading.Thread | None = None
_wake = threading.Event()
_stop = threading.Event()
_due = float("inf")  # monotonic time of the next timed flush
WARM_UP_SWITCH_S = 0.0005  # sys.setswitchinterval while the Arrow writer is warmed up
warmed = threading.Event()  # set once this process's flusher has warmed the writer up
_asked = False  # a flush was asked for (a cell ended): now, not at _due
_warned = False
# called as fn(run, batch) after each metric segment a flush writes, under the run's flush
# lock (live charts: nbtrack.ui.live); must only note the batch and return
listeners: list = []


def register(run) -> None:
    """Keep ``run`` flushed until it is unregistered (or garbage)."""
    global _due
    with _lock:
        _runs.add(run)
        soon = time.monotonic() + FIRST_FLUSH_S
        if soon < _due:
            _due = soon
            _wake.set()  # the thread waits until the earlier time instead
        _ensure_thread()


def unregister(run) -> None:
    with _lock:
        _runs.discard(run)


def open_runs() -> list:
    with _lock:
        return list(_runs)


def flush_all(hand_off: bool = False) -> int:
    """Flush every open run; the number of metric points written.

    ``hand_off`` (the flusher thread's own calls): a run that logs fast is asked to
    write its buffer from its logging thread at its next ``log`` call. That thread
    holds the GIL, so it writes in one go, where this thread would wait for the GIL
    at every step of a flush while the loop runs (a first flush took 0.3-1 s); a run
    that does not take the hand-off within ``HANDOFF_WAIT_S`` is flushed here.
    """
    runs = open_runs()
    asked = [run for run in runs if hand_off and getattr(run, "hand_off", None) and run.hand_off()]
    pending = {id(run): len(run._points) // 4 for run in asked}
    if asked:
        deadline = time.monotonic() + HANDOFF_WAIT_S
        while time.monotonic() < deadline and any(
                run._append == run._append_handoff for run in asked):
            _stop.wait(0.005)  # the GIL is free meanwhile: the logging threads run
    written = 0
    for run in runs:
        if run in asked and not run.take_back():
            written += pending[id(run)]  # the logging thread flushed it
            _finish_quietly(run)
            continue
        written += _flush_quietly(run)
    return written


def _flush_quietly(run) -> int:
    global _warned
    try:
        written = run.flush() or 0
    except Exception as exc:  # noqa: BLE001 - a full disk must not kill the thread
        if not _warned and getattr(run, "_write_error", None) is None:
            _warned = True  # runs say it themselves, once each; others are said here
            warnings.warn(
                f"nbtrack could not write {type(run).__name__} {getattr(run, 'id', '?')}: "
                f"{exc}; the data stays in memory and the write is retried",
                RuntimeWarning,
                stacklevel=2,
            )
        return 0
    _finish_quietly(run)
    return written


def _finish_quietly(run) -> None:
    """An ``end()`` that a full disk interrupted completes once writes go through."""
    finish = getattr(run, "finish_pending", None)
    if finish is not None:
        try:
            finish()
        except Exception:  # noqa: BLE001 - retried at the next flush
            pass


def _warm_up() -> None:
    """Import the Arrow writer and run a flush once in memory, here, as the first run
    starts: neither ``start_run`` nor the first flush nor the first ``end()`` pays for it.
    While it runs, a training loop on the caller's thread may hold the GIL, and this
    thread, which gives it up at every file the import reads, would wait up to the switch
    interval (5 ms) each time to get it back: the interval is shortened meanwhile."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(min(interval, WARM_UP_SWITCH_S))
    try:
        from .store import metric_files

        metric_files.warm_up()
    except Exception:  # noqa: BLE001 - a failed warm-up only means the first flush is slower
        pass
    finally:
        sys.setswitchinterval(interval)
        _first_flush_from_now()
        warmed.set()


def _first_flush_from_now() -> None:
    """A run that flushed itself during the warm-up (``run.flush()`` waited for it) gets
    FIRST_FLUSH_S from now before the first timed flush, as when start_run imported the
    writer; a run that only logged is flushed at once, as it is due."""
    global _due
    with _lock:
        flushed = any(getattr(run, "_segments", 0) or _flushing(run) for run in _runs)
        if flushed and _due != float("inf"):
            _due = max(_due, time.monotonic() + FIRST_FLUSH_S)


def _buffers_large() -> bool:
    """Some open run has buffered more than EARLY_FLUSH_POINTS (4 floats a point)."""
    limit = 4 * EARLY_FLUSH_POINTS
    return any(len(getattr(run, "_points", ())) > limit for run in open_runs())


def _flushing(run) -> bool:
    lock = getattr(run, "_flush_lock", None)
    return lock is not None and lock.locked()


def _loop() -> None:
    _warm_up()
    from .store.liveness import HEARTBEAT_EVERY_S

    global _due, _asked
    last_beat = time.monotonic()
    busy = False
    while not _stop.is_set():
        while not busy and not _asked and not _stop.is_set():
            # heavy logging flushes every MIN_SPACING_S (buffers stay small); otherwise at
            # _due, which a newly registered run moves closer
            left = _due - time.monotonic()
            if left <= 0 or _buffers_large():
                break
            # while runs are open, look at their buffers every MIN_SPACING_S
            _wake.wait(min(left, MIN_SPACING_S) if _runs else left)
            _wake.clear()
        _asked = False
        _due = time.monotonic() + FLUSH_INTERVAL_S
        busy = flush_all(hand_off=True) >= BUSY_POINTS
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
        _drain_spools()
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


def _drain_spools() -> None:
    """Upload what was kept locally while an object store could not be reached (each
    backend keeps its own backoff: this asks nothing of a bucket that is still down)."""
    store = sys.modules.get("nbtrack.store.objectstore")
    if store is not None:
        store.drain_all()


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
    global _asked
    _asked = True
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
    store = sys.modules.get("nbtrack.store.objectstore")
    if store is not None:
        store.at_exit()
