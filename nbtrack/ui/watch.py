"""One background thread that keeps open panels live.

Every second it asks each open panel for a cheap signature of what it shows (folder
modification times: a new index row, a flushed metrics file, an experiment record) and calls
the panel's ``refresh_from_store()`` when that changed. Refreshes are pushed to the browser
from this thread, so a table updates while the notebook's main thread is busy training.
Panels are held weakly; a closed or collected panel drops out; the thread ends when none is left.
A panel whose refresh took T waits at least 5T before the next one, so a live table over 10,000
runs takes at most a fifth of the kernel's time while a run trains.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref

log = logging.getLogger("nbtrack.ui")

INTERVAL_S = 1.0
BUSY_FACTOR = 5.0

_panels: weakref.WeakSet = weakref.WeakSet()
_lock = threading.Lock()
_wake = threading.Event()
_thread: threading.Thread | None = None


def watch(panel) -> None:
    """Keep ``panel`` live: it has ``store_signature()``, the ``seen_signature`` of what it
    shows, and ``refresh_from_store()``."""
    global _thread
    with _lock:
        _panels.add(panel)
        if _thread is None or not _thread.is_alive():
            _thread = threading.Thread(target=_loop, name="nbtrack-panels", daemon=True)
            _thread.start()


def unwatch(panel) -> None:
    with _lock:
        _panels.discard(panel)


def poke() -> None:
    """Check now rather than at the next tick (after an edit made from a panel)."""
    _wake.set()


def _loop() -> None:
    global _thread
    while True:
        _wake.wait(INTERVAL_S)
        _wake.clear()
        with _lock:
            panels = list(_panels)
            if not panels:
                _thread = None
                return
        for panel in panels:
            try:
                if getattr(panel, "comm", None) is None:  # closed
                    unwatch(panel)
                    continue
                now = time.monotonic()
                if now < getattr(panel, "_next_refresh", 0.0):
                    continue
                if panel.store_signature() != panel.seen_signature:
                    panel.refresh_from_store()  # sets seen_signature to what it read
                    took = time.monotonic() - now
                    # a big table re-read costs the kernel: never spend over a fifth of its time
                    panel._next_refresh = now + max(INTERVAL_S, BUSY_FACTOR * took)
            except Exception:  # noqa: BLE001 - one broken panel must not stop the others
                log.debug("nbtrack panel refresh failed", exc_info=True)
        del panels
