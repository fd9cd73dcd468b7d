"""JSON record segments: run events, experiment events and run summaries.

Each write is a new file holding a JSON list of records, so writers never share
a file; its name carries the CRC-32 of its bytes. Reading a folder returns every
record of every readable file, ordered by ``(t, writer, seq)``; a file that does
not match its checksum or does not parse is skipped with a warning naming it.
"""

from __future__ import annotations

import json
from pathlib import Path

from . import checksum
from .arrow_io import warn_corrupt
from .atomic import WRITER, write_json_atomic
from .layout import visible_files


def write_records(folder: Path, records: list[dict]) -> Path | None:
    """Append ``records`` to ``folder`` as one new immutable file."""
    if not records:
        return None
    return write_json_atomic(folder / WRITER.segment_name(".json"), records, checksum=True)


def parse(path: Path) -> list[dict]:
    """The records of one file. Raises ``FileNotFoundError`` when it vanished
    (compacted away between listing and reading) and ``ValueError`` when it is
    corrupt (checksum, JSON, or not a list of objects)."""
    raw = path.read_bytes()
    checksum.check(path, raw)
    data = json.loads(raw)
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise ValueError("not a JSON list of objects")
    return data


def read_file(path: Path) -> list[dict] | None:
    """``parse``, with None for a vanished file and None plus a warning for a bad one."""
    try:
        return parse(path)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, RecursionError) as exc:
        warn_corrupt(path, exc)
        return None


def read_records(folder: Path) -> list[dict]:
    """All records under ``folder``, in the order they were written."""
    out: list[dict] = []
    for path in visible_files(folder, ".json"):
        records = read_file(path)
        if records:
            out.extend(records)
    out.sort(key=lambda r: r.get("t", 0))  # stable: same-t records keep file order
    return out
