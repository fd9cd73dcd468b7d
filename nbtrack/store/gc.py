"""Remove stored content that nothing references (``nbtrack gc``).

An object (``objects/sha256/<2>/<62>``) is kept while any record in the store names
its hash. Rather than knowing every field that may hold one (run events, index
rows, cell history, RNG states, sweep records ...), every JSON file under the root
is scanned as text for 64-hex tokens, and every Arrow file outside the metric
folders has its text columns scanned the same way: a new kind of record that names
an object is covered without touching this module. An Arrow file that cannot be
read stops the collection (nothing is removed): what it references is unknown.

Only files under ``objects/sha256`` are ever removed, each checked to resolve
inside the store and not be a link, and none younger than ``GRACE_S``: a run
stores a file's content a moment before the event naming it is written.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

from ..errors import StoreError
from .layout import METRICS, OBJECTS, RUNS, TMP_PREFIX, Layout

GRACE_S = 3600.0
_HEX64 = re.compile(rb"(?<![0-9a-f])[0-9a-f]{64}(?![0-9a-f])")


def _scan_arrow(path: Path, found: set[str]) -> None:
    import pyarrow as pa
    import pyarrow.ipc as ipc

    try:
        source = str(path) if isinstance(path, Path) else pa.BufferReader(path.read_bytes())
        table = ipc.open_file(source).read_all()
    except (OSError, pa.ArrowInvalid) as exc:
        raise StoreError(
            f"gc cannot read {path} ({exc}), so it cannot know which content that file "
            "names: nothing was removed. Move the file out of the store (nbtrack check "
            "--quarantine) and run gc again"
        ) from exc
    for column in table.columns:
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            text = "\n".join(v for v in column.to_pylist() if isinstance(v, str))
            found.update(m.decode() for m in _HEX64.findall(text.encode()))


def referenced(layout: Layout) -> set[str]:
    """Every sha256 some record in the store names."""
    root = layout.root
    found: set[str] = set()
    if layout.remote:
        return _referenced_remote(layout, found)
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        rel = here.relative_to(root).parts
        if rel[:1] == (OBJECTS,):
            dirs[:] = []
            continue
        if len(rel) == 2 and rel[0] == RUNS:
            dirs[:] = [d for d in dirs if d != METRICS]  # numbers only, no references
        for name in files:
            if name.startswith(TMP_PREFIX):
                continue
            path = here / name
            if name.endswith(".arrow"):
                _scan_arrow(path, found)
            else:
                try:
                    found.update(m.decode() for m in _HEX64.findall(path.read_bytes()))
                except FileNotFoundError:
                    continue
    return found


def _referenced_remote(layout: Layout, found: set[str]) -> set[str]:
    """``referenced`` on a bucket: one listing of every key under the root (objects and
    metric files left out), the records fetched with the requests in flight together."""
    from .objectstore import RemotePath, concurrently

    root = layout.root
    records = []
    for entry in root.backend.walk(root.key):
        rel = entry.key[len(root.key):].lstrip("/").split("/")
        if rel[0] == OBJECTS or (len(rel) == 4 and rel[0] == RUNS and rel[2] == METRICS) \
                or rel[-1].startswith("."):
            continue
        records.append(RemotePath(root.backend, entry.key, entry))

    def scan(path) -> None:
        if path.name.endswith(".arrow"):
            _scan_arrow(path, found)
            return
        try:
            found.update(m.decode() for m in _HEX64.findall(path.read_bytes()))
        except FileNotFoundError:
            pass

    concurrently(scan, records)
    return found


def _objects(layout: Layout):
    if layout.remote:  # one listing: every object with its size and time
        from .objectstore import RemotePath

        base = layout.objects_dir / "sha256"
        for entry in sorted(base.backend.walk(base.key), key=lambda e: e.key):
            prefix, _, rest = entry.key[len(base.key) + 1:].partition("/")
            if len(prefix) == 2 and rest and "/" not in rest:
                yield prefix + rest, RemotePath(base.backend, entry.key, entry)
        return
    base = layout.objects_dir / "sha256"
    if not base.is_dir():
        return
    for prefix in sorted(os.listdir(base)):
        folder = base / prefix
        if len(prefix) != 2 or not folder.is_dir() or folder.is_symlink():
            continue
        for rest in sorted(os.listdir(folder)):
            yield prefix + rest, folder / rest


def collect(layout: Layout, dry_run: bool = True, grace_s: float = GRACE_S) -> dict:
    """Remove (or with ``dry_run`` only list) objects no record references and older than
    ``grace_s``. Returns ``{"dry_run", "objects", "bytes", "removed": [{sha256, size,
    path}]}``; ``objects`` counts what is kept plus what goes."""
    keep = referenced(layout)
    base = (layout.objects_dir / "sha256").resolve()
    now = time.time()
    removed, total, freed = [], 0, 0
    for sha, path in _objects(layout):
        total += 1
        if sha in keep or len(sha) != 64:
            continue
        if not layout.remote and (path.is_symlink() or not path.is_file()):
            continue
        stat = path.stat()  # a listed object: from its listing
        if now - stat.st_mtime < grace_s:
            continue
        if not layout.remote and base not in path.resolve().parents:
            continue  # never anything outside the store's objects
        if not dry_run:
            path.unlink()
        removed.append({"sha256": sha, "size": stat.st_size,
                        "path": str(path.relative_to(layout.root))})
        freed += stat.st_size
    return {"dry_run": dry_run, "objects": total, "bytes": freed, "removed": removed}

