"""The run index: one summary row per run, so listing 10,000 runs reads a few files.

A row is written when a run starts, when it ends and when a finished run is
edited (tags, archive, notes). Rows are never updated in place: each write is a
new ``index/<seg>.json`` file and the row with the highest ``rev`` wins. When
the folder holds many small files they are merged into one
``index/<seg>.compact<L>-<writer>-<n>.arrow`` (typed columns; nested values as JSON text), which
names the files it replaced in its metadata and is committed before they are
deleted.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from .arrow_io import live_files, pa, read_table, with_replaces, write_batches
from .atomic import WRITER, dumps, write_json_atomic
from .layout import Layout, compact_name, visible_files
from .records import read_file

COMPACT_THRESHOLD = 128
# column name -> arrow type name; JSON columns hold nested values as text
SCALAR_FIELDS = {
    "run_id": "string",
    "rev": "int64",
    "name": "string",
    "experiment": "string",
    "status": "string",
    "started": "float64",
    "ended": "float64",
    "user": "string",
    "host": "string",
    "pid": "int64",
    "pid_start": "int64",
    "archived": "bool_",
    "cost_per_hour": "float64",
}
LIST_FIELDS = ("tags",)
JSON_FIELDS = ("params", "metrics", "metadata", "inputs", "outputs", "extra")


def write_row(layout: Layout, row: dict) -> Path:
    row = dict(row, rev=time.time_ns())
    path = write_json_atomic(layout.index_dir / WRITER.segment_name(".json"), row)
    if _count_small(layout) >= COMPACT_THRESHOLD:
        compact(layout)
    return path


def _count_small(layout: Layout) -> int:
    return sum(1 for p in visible_files(layout.index_dir, ".json"))


def _schema():
    arrow = pa()
    fields = [arrow.field(k, getattr(arrow, t)()) for k, t in SCALAR_FIELDS.items()]
    fields += [arrow.field(k, arrow.list_(arrow.string())) for k in LIST_FIELDS]
    fields += [arrow.field(k, arrow.string()) for k in JSON_FIELDS]
    return arrow.schema(fields)


def _read_compact(path: Path) -> list[dict] | None:
    table = read_table(path)
    if table is None:
        return None
    rows = table.to_pylist()
    for row in rows:
        for key in JSON_FIELDS:
            text = row.get(key)
            row[key] = json.loads(text) if text else None
    return rows


def _sources(layout: Layout) -> list[Path]:
    return live_files(
        visible_files(layout.index_dir, ".arrow") + visible_files(layout.index_dir, ".json")
    )


def _collect(paths: list[Path]) -> tuple[dict[str, dict], list[Path]]:
    """Latest row per run id over ``paths``, and the paths that were readable."""
    latest: dict[str, dict] = {}
    used: list[Path] = []
    for path in paths:
        rows = _read_compact(path) if path.suffix == ".arrow" else read_file(path)
        if rows is None:
            continue
        used.append(path)
        for row in rows:
            rid = row.get("run_id")
            if not isinstance(rid, str):
                continue
            old = latest.get(rid)
            if old is None or row.get("rev", 0) >= old.get("rev", 0):
                latest[rid] = row
    return latest, used


def read_rows(layout: Layout) -> dict[str, dict]:
    """The latest summary row of every run, by run id."""
    return _collect(_sources(layout))[0]


def compact(layout: Layout) -> Path | None:
    """Merge every index file into one; inputs are deleted after the commit."""
    latest, used = _collect(_sources(layout))
    if len(used) < 2:
        return None
    schema = with_replaces(_schema(), used)
    columns: dict[str, list] = {f.name: [] for f in schema}
    for row in latest.values():
        for key in SCALAR_FIELDS:
            columns[key].append(row.get(key))
        for key in LIST_FIELDS:
            columns[key].append([str(t) for t in row.get(key) or []])
        for key in JSON_FIELDS:
            value = row.get(key)
            columns[key].append(None if value is None else dumps(value))
    table = pa().table(columns, schema=schema)
    out = layout.index_dir / compact_name(used[0], ".arrow")
    write_batches(out, schema, table.to_batches(), level=3)
    for path in used:
        try:
            path.unlink()
        except FileNotFoundError:
            pass
    return out
