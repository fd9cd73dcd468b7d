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
from .layout import visible_files


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


def read_records(folder: Path) -> list[dict]:
    """All records under ``folder``, in the order they were written."""
    out: list[dict] = []
    for path in visible_files(folder, ".json"):
        records = read_file(path)
        if records:
            out.extend(records)
    out.sort(key=lambda r: r.get("t", 0))  # stable: same-t records keep file order
    return out
