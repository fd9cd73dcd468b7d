"""Helpers for tests that drive subprocesses (imported as ``from support import ...``)."""

from __future__ import annotations

import subprocess
import time


def finish(proc: subprocess.Popen, timeout: float = 60) -> str:
    """Wait for ``proc``; its stdout, or a failure that shows its stderr."""
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, f"subprocess failed ({proc.returncode}):\n{err}"
    return out


def wait_for(predicate, timeout: float = 15.0, what: str = "condition"):
    """Poll ``predicate`` until it returns something truthy, or fail at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)  # polling interval, not synchronisation


def read_line(proc: subprocess.Popen, timeout: float = 30.0) -> str:
    """The next line ``proc`` prints, failing (with its stderr) if it exits or stalls first."""
    import threading

    box: list[str] = []
    reader = threading.Thread(target=lambda: box.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    line = box[0] if box else ""
    if not line:
        if proc.poll() is None:
            proc.kill()
        _, err = proc.communicate()
        raise AssertionError(f"subprocess printed no line (rc={proc.returncode}):\n{err}")
    return line.strip()
