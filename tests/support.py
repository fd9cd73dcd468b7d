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


def empty_store(root) -> None:
    """An empty store at ``root``: an empty folder on disk (reading never makes one), the
    marker alone on a bucket (where an empty prefix is nothing at all)."""
    from pathlib import Path

    if isinstance(root, Path):
        root.mkdir()
    else:
        from nbtrack.store.layout import Layout

        Layout(root).ensure()


def overwrite(path, data: bytes | str) -> None:
    """Put ``data`` at ``path``, replacing what is there: how a test damages or plants a
    file, on disk or in a bucket (the store itself never replaces an object)."""
    from pathlib import Path

    raw = data.encode() if isinstance(data, str) else data
    if isinstance(path, Path):
        path.write_bytes(raw)
    else:
        import obstore

        obstore.put(path.backend.store, path.key, raw)


def copy_file(src, dest) -> None:
    """``shutil.copy`` for a file on disk or an object in a bucket."""
    overwrite(dest, src.read_bytes())


def remove_tree(path) -> None:
    """``shutil.rmtree`` for a folder on disk or every object under a bucket prefix."""
    from pathlib import Path

    if isinstance(path, Path):
        import shutil

        shutil.rmtree(path)
    else:
        for entry in path.backend.walk(path.key):
            path.backend.delete(entry.key)


def open_arrow(path):
    """``pyarrow.ipc.open_file`` of a file on disk or an object in a bucket."""
    from pathlib import Path

    import pyarrow as pa

    if isinstance(path, Path):
        return pa.ipc.open_file(pa.memory_map(str(path)))
    return pa.ipc.open_file(pa.BufferReader(path.read_bytes()))
