"""Quarantine: corrupt files moved out of every reader's way, kept for a person.

::

    <root>/quarantine/<path inside the store>            the file, bytes untouched
    <root>/quarantine/<path inside the store>.why.json   {"reason", "moved_at", "host", "pid"}

Readers skip a corrupt file with a warning wherever it is; it is moved here by a
writer that meets it while merging (a compaction never merges bad bytes) and by
``nbtrack check --quarantine``. Nothing reads ``quarantine/``: putting a file back
where it came from restores it as it was.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from .layout import Layout

QUARANTINE = "quarantine"
WHY_SUFFIX = ".why.json"


def destination(layout: Layout, path: Path) -> Path:
    rel = (Path(path).absolute() if isinstance(path, (str, Path)) else path).relative_to(
        layout.root)
    return layout.root / QUARANTINE / rel


def move(layout: Layout, path: Path, reason: str) -> Path | None:
    """Move ``path`` into quarantine with a note saying why; its new path, or None if
    it had already gone (another process moved or merged it)."""
    from .atomic import write_json_atomic
    from .liveness import hostname

    try:
        dest = destination(layout, path)
    except ValueError:
        return None  # not inside this store: never touched
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        if layout.remote:  # an object store moves by copy, then delete
            path.backend.copy(path.key, dest.key)
            path.unlink()
        else:
            os.replace(path, dest)
    except FileNotFoundError:
        return None
    note = {"reason": reason, "moved_at": time.time(), "from": str(path),
            "host": hostname(), "pid": os.getpid()}
    try:
        write_json_atomic(dest.with_name(dest.name + WHY_SUFFIX), note)
    except OSError:
        pass  # the file is out of the way; the note is a courtesy
    return dest


def listing(layout: Layout) -> list[tuple[Path, dict | None]]:
    """Every quarantined file and the note that says why, oldest first."""
    import json

    root = layout.root / QUARANTINE
    out = []
    for folder, _, names in os.walk(root):
        for name in names:
            if name.endswith(WHY_SUFFIX) or name.startswith("."):
                continue
            path = Path(folder) / name
            try:
                note = json.loads(path.with_name(name + WHY_SUFFIX).read_text())
            except (OSError, ValueError):
                note = None
            out.append((path, note))
    out.sort(key=lambda item: (item[1] or {}).get("moved_at") or 0)
    return out
