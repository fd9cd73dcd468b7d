"""Check a whole store: every file against its checksum and its format.

``nbtrack check`` lists what is wrong; ``--quarantine`` moves corrupt files out of
every reader's way (``quarantine``), ``--tidy`` removes temporary files a killed
writer left and merges the files of runs whose writer died before it could.
Readers already skip a corrupt file with a warning, so checking is never needed
to read a store: it tells a person what was skipped, and cleans up.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from . import checksum
from .layout import (
    MARKER_FILE,
    OBJECTS,
    RUN_ID_RE,
    SHA256_RE,
    TMP_PREFIX,
    Layout,
)
from .quarantine import QUARANTINE

LEFTOVER_AGE_S = 3600.0  # a temporary file untouched this long has no writer any more


@dataclass
class Finding:
    path: Path
    kind: str  # "corrupt" | "leftover"
    reason: str
    moved_to: Path | None = None

    def line(self, root: Path) -> str:
        rel = self.path.relative_to(root)
        tail = f" -> moved to {self.moved_to.relative_to(root)}" if self.moved_to else ""
        return f"{self.kind.upper():8} {rel}: {self.reason}{tail}"


@dataclass
class Report:
    root: Path
    files: int = 0
    findings: list[Finding] | None = None
    tidied: list[str] | None = None

    @property
    def corrupt(self) -> list[Finding]:
        return [f for f in self.findings or [] if f.kind == "corrupt"]

    @property
    def ok(self) -> bool:
        return not [f for f in self.corrupt if f.moved_to is None]

    def __str__(self) -> str:
        lines = [f.line(self.root) for f in self.findings or []]
        lines += list(self.tidied or [])
        corrupt = len(self.corrupt)
        left = len(self.findings or []) - corrupt
        lines.append(f"checked {self.files} files in {self.root}: {corrupt} corrupt, "
                     f"{left} leftover temporary")
        return "\n".join(lines)


def _problem(path: Path, parts: tuple[str, ...], now: float, objects: bool) -> tuple[str, str] | None:
    """(kind, reason) for a file that is not what it should be, else None."""
    name = path.name
    if name.startswith(TMP_PREFIX) or (len(parts) >= 2 and parts[:2] == (OBJECTS, "staging")):
        try:
            age = now - path.stat().st_mtime
        except FileNotFoundError:
            return None
        if age > LEFTOVER_AGE_S:
            return "leftover", f"temporary file of a writer that is gone ({age / 3600:.1f} h old)"
        return None
    if name.startswith("."):
        return None
    if parts[0] == OBJECTS:
        if not objects or len(parts) != 4 or parts[1] != "sha256":
            return None
        digest = parts[2] + parts[3]
        if not SHA256_RE.match(digest):
            return "corrupt", "not named by a sha256"
        h = hashlib.sha256()
        if not isinstance(path, Path):  # an object in a bucket
            h.update(path.read_bytes())
        else:
            with open(path, "rb") as f:
                while chunk := f.read(1 << 20):
                    h.update(chunk)
        if h.hexdigest() != digest:
            return "corrupt", f"content hashes to sha256 {h.hexdigest()[:16]}..., not its name"
        return None
    if parts[0] == "names":
        text = path.read_text(errors="replace").strip()
        return None if RUN_ID_RE.match(text) else ("corrupt", f"holds {text[:40]!r}, not a run id")
    if name.endswith(".arrow"):
        return _arrow_problem(path, parts)
    if name.endswith(".json"):
        raw = path.read_bytes()
        why = checksum.mismatch(path, raw)
        if why:
            return "corrupt", why
        try:
            value = json.loads(raw)
        except (ValueError, RecursionError) as exc:
            return "corrupt", f"not JSON ({exc})"
        if name == MARKER_FILE and not (isinstance(value, dict) and value.get("format")):
            return "corrupt", "not a store marker"
        return None
    return None


def _arrow_problem(path: Path, parts: tuple[str, ...]) -> tuple[str, str] | None:
    from . import cell_files, index, metric_files
    from .arrow_io import pa

    arrow = pa()
    why = checksum.mismatch(path)
    if why:
        return "corrupt", why
    expected = None
    if len(parts) == 4 and parts[0] == "runs" and parts[2] == "metrics":
        expected = metric_files.schema()
    elif len(parts) == 4 and parts[0] == "sessions" and parts[2] == "cells":
        expected = cell_files.schema()
    elif len(parts) == 2 and parts[0] == "index":
        expected = index.schema()
    try:
        source = (arrow.memory_map(str(path)) if isinstance(path, Path)
                  else arrow.BufferReader(checksum.fetched(path)))  # the bytes just checked
        with source:
            reader = arrow.ipc.open_file(source)
            if expected is not None and not reader.schema.remove_metadata().equals(expected):
                return "corrupt", f"unexpected schema {reader.schema}"
            for i in range(reader.num_record_batches):
                reader.get_batch(i).validate(full=True)
    except (OSError, ValueError, arrow.ArrowException) as exc:
        return "corrupt", f"{type(exc).__name__}: {exc}"
    return None


def walk(layout: Layout) -> Iterator[tuple[Path, tuple[str, ...]]]:
    """Every file of the store but the quarantine, with its path parts inside the root."""
    root = layout.root
    if layout.remote:  # one listing of every key under the root
        from .objectstore import RemotePath

        for entry in sorted(root.backend.walk(root.key), key=lambda e: e.key):
            parts = tuple(entry.key[len(root.key):].lstrip("/").split("/"))
            if parts[0] != QUARANTINE:
                yield RemotePath(root.backend, entry.key, entry), parts
        return
    for folder, dirs, names in os.walk(root):
        rel = Path(folder).relative_to(root).parts
        if rel[:1] == (QUARANTINE,):
            dirs[:] = []
            continue
        dirs.sort()
        for name in sorted(names):
            yield Path(folder) / name, (*rel, name)


def run(layout: Layout, quarantine: bool = False, tidy: bool = False,
        objects: bool = True) -> Report:
    """Check every file of the store; see the module docstring."""
    report = Report(layout.root, findings=[], tidied=[])
    now = time.time()
    for path, parts in walk(layout):
        report.files += 1
        try:
            found = _problem(path, parts, now, objects)
        except FileNotFoundError:
            continue  # merged away while we looked
        except OSError as exc:
            found = ("corrupt", f"unreadable: {exc}")
        if found is None:
            continue
        finding = Finding(path, *found)
        if quarantine and finding.kind == "corrupt":
            from .quarantine import move

            finding.moved_to = move(layout, path, finding.reason)
        if tidy and finding.kind == "leftover":
            try:
                path.unlink()
                finding.reason += "; removed"
            except FileNotFoundError:
                pass
        report.findings.append(finding)
    if tidy:
        from .tidy import compact_abandoned

        report.tidied.extend(compact_abandoned(layout))
    return report
