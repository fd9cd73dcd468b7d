"""JSON record segments: run events, experiment events and run summaries.

Each write is a new file holding a JSON list of records, so writers never share
a file. Reading a folder returns every record of every readable file, ordered by
``(t, writer, seq)``; a file that does not parse is skipped with a warning
naming it.
"""

from __future__ import annotations

import json
from pathlib import Path

from .arrow_io import warn_corrupt
from .atomic import WRITER, write_json_atomic
from .layout import COMPACT_PREFIX, visible_files

COMPACTION = "_compaction"  # first record of a compact file: {"type": ..., "replaces": [...]}


def write_records(folder: Path, records: list[dict]) -> Path | None:
    """Append ``records`` to ``folder`` as one new immutable file."""
    if not records:
        return None
    return write_json_atomic(folder / WRITER.segment_name(".json"), records)


def read_file(path: Path) -> list[dict] | None:
    try:
        data = json.loads(path.read_bytes())
    except FileNotFoundError:
        return None  # compacted away between listing and reading
    except (OSError, ValueError) as exc:
        warn_corrupt(path, exc)
        return None
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        warn_corrupt(path, ValueError("not a JSON list of objects"))
        return None
    return data


def _live(folder: Path) -> tuple[list[Path], dict[Path, list[dict]]]:
    """Files holding live records, and those already read (compact files name the
    files they replaced in their first record; leftovers of a crash are skipped)."""
    files = visible_files(folder, ".json")
    compacts = [p for p in files if p.name.startswith(COMPACT_PREFIX)]
    read: dict[Path, list[dict]] = {}
    if not compacts or len(files) == 1:
        return files, read
    replaced: set[str] = set()
    for path in compacts:
        records = read_file(path)
        if records is None:
            continue
        read[path] = records
        if records and records[0].get("type") == COMPACTION:
            replaced.update(records[0].get("replaces") or ())
    return [p for p in files if p.name not in replaced], read


def read_records(folder: Path) -> list[dict]:
    """All records under ``folder``, in the order they were written."""
    files, read = _live(folder)
    out: list[dict] = []
    for path in files:
        records = read[path] if path in read else read_file(path)
        if records:
            out.extend(r for r in records if r.get("type") != COMPACTION)
    out.sort(key=lambda r: r.get("t", 0))  # stable: same-t records keep file order
    return out


def compact(folder: Path, min_files: int = 2) -> Path | None:
    """Merge a folder's record files into one; the inputs are deleted after the commit."""
    files, read = _live(folder)
    if len(files) < min_files:
        return None
    used: list[Path] = []
    records: list[dict] = []
    for path in files:
        found = read[path] if path in read else read_file(path)
        if found is None:
            continue
        used.append(path)
        records.extend(r for r in found if r.get("type") != COMPACTION)
    if len(used) < min_files:
        return None
    records.sort(key=lambda r: r.get("t", 0))
    header = {"type": COMPACTION, "replaces": [p.name for p in used]}
    out = folder / WRITER.segment_name(".json", prefix=COMPACT_PREFIX)
    write_json_atomic(out, [header, *records], durable=True)
    for path in used:
        try:
            path.unlink()
        except FileNotFoundError:
            pass
    return out
