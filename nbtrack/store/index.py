"""The run index: one summary row per run, so listing 10,000 runs reads a few files.

A row is written when a run starts, when it ends and when a finished run is
edited (tags, archive, notes). Rows are never updated in place: each write is a
new ``index/<seg>.json`` file and the row with the highest ``rev`` wins. Every
128 small files are merged into one ``index/<seg>.compact1-<w>-<n>.arrow``;
every 8 of those into one of the next level (so the index is rewritten O(log n)
times, not at every merge). A compact file names the files it replaced in its
metadata and is committed before they are deleted.

Compact files are columnar, so ``runs()`` reads them straight into polars:
scalars as typed columns, ``tags``/``inputs``/``outputs`` (paths) and their
sha256s as lists, and params, last metric values and flattened metadata as
parallel key/value lists (values as JSON text, metrics as float64) ready to
pivot. The full nested values are kept as JSON text too (``params``,
``metrics``, ``metadata``, ``inputs``, ``outputs``, ``extra``).
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

from . import arrow_arrays as arrays
from .arrow_io import (
    live_files,
    pa,
    read_table,
    release_memory,
    shadowed,
    verified,
    warn_corrupt,
    with_replaces,
    write_batches,
)
from .atomic import WRITER, dumps, write_json_atomic
from .layout import Layout, compact_level, compact_name, visible_files
from .records import parse, read_file

COMPACT_THRESHOLD = 128
COMPACT_TIER = 8
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
STRING_LISTS = (
    "tags", "inputs_path", "inputs_sha256", "outputs_path", "outputs_sha256",
    "param_keys", "param_values", "metric_keys", "meta_keys", "meta_values",
)
FLOAT_LISTS = ("metric_values",)
JSON_FIELDS = ("params", "metrics", "metadata", "inputs", "outputs", "extra")


def write_row(layout: Layout, row: dict) -> Path:
    row = dict(row, rev=time.time_ns())
    path = write_json_atomic(layout.index_dir / WRITER.segment_name(".json"), row, checksum=True)
    if len(visible_files(layout.index_dir, ".json")) >= COMPACT_THRESHOLD:
        compact(layout)
    return path


def schema():
    arrow = pa()
    fields = [arrow.field(k, getattr(arrow, t)()) for k, t in SCALAR_FIELDS.items()]
    fields += [arrow.field(k, arrow.list_(arrow.string())) for k in STRING_LISTS]
    fields += [arrow.field(k, arrow.list_(arrow.float64())) for k in FLOAT_LISTS]
    fields += [arrow.field(k, arrow.string()) for k in JSON_FIELDS]
    return arrow.schema(fields)


def flatten(nested: dict, prefix: str = "") -> dict:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}`` (empty dicts stay as leaves)."""
    out: dict = {}
    for key, value in nested.items():
        if isinstance(value, dict) and value:
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _number(value) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError):
        return math.nan


COLUMNS = (*SCALAR_FIELDS, *STRING_LISTS, *FLOAT_LISTS, *JSON_FIELDS)  # schema()'s order
_SCALAR_TYPES = {"string": str, "int64": int, "float64": float, "bool_": bool}


def rows_to_columns(rows: list[dict]) -> dict[str, list]:
    """Summary rows (dicts, as written) -> the compact schema's columns as Python lists
    (scalars coerced to their column's type), for Arrow or polars to take."""
    columns: dict[str, list] = {name: [] for name in COLUMNS}
    for row in rows:
        for key, kind in SCALAR_FIELDS.items():
            value = row.get(key)
            columns[key].append(None if value is None else _SCALAR_TYPES[kind](value))
        columns["tags"].append([str(t) for t in row.get("tags") or []])
        for kind in ("inputs", "outputs"):
            refs = [r for r in row.get(kind) or [] if isinstance(r, dict)]
            columns[f"{kind}_path"].append([str(r.get("path")) for r in refs])
            columns[f"{kind}_sha256"].append([str(r.get("sha256")) for r in refs])
        params = row.get("params") or {}
        columns["param_keys"].append([str(k) for k in params])
        columns["param_values"].append([dumps(v) for v in params.values()])
        metrics = row.get("metrics") or {}
        columns["metric_keys"].append([str(k) for k in metrics])
        columns["metric_values"].append([_number(v) for v in metrics.values()])
        meta = flatten(row.get("metadata") or {})
        columns["meta_keys"].append(list(meta))
        columns["meta_values"].append([dumps(v) for v in meta.values()])
        for key in JSON_FIELDS:
            value = row.get(key)
            columns[key].append(None if value is None else dumps(value))
    return columns


def rows_to_table(rows: list[dict]):
    """Summary rows (dicts, as written) -> an Arrow table with the compact schema."""
    sch = schema()
    columns = rows_to_columns(rows)
    built = []  # from buffers: pa.table() of Python lists would import pandas
    for field in sch:
        kind = SCALAR_FIELDS.get(field.name)
        if kind is not None:
            built.append(arrays.column(columns[field.name], kind))
        elif field.name in STRING_LISTS or field.name in FLOAT_LISTS:
            child = "float64" if field.name in FLOAT_LISTS else "string"
            built.append(arrays.lists(columns[field.name], child))
        else:
            built.append(arrays.strings(columns[field.name]))
    return pa().Table.from_arrays(built, schema=sch)


def _table_rows(table) -> list[dict]:
    rows = table.select(list(SCALAR_FIELDS) + ["tags", *JSON_FIELDS]).to_pylist()
    for row in rows:
        for key in JSON_FIELDS:
            text = row.get(key)
            row[key] = json.loads(text) if text else None
    return rows


def sources(layout: Layout) -> tuple[list[Path], list[dict]]:
    """The live compact files, and the rows of the small JSON files."""
    files = live_files(verified(
        visible_files(layout.index_dir, ".arrow") + visible_files(layout.index_dir, ".json")
    ))
    small: list[dict] = []
    for path in files:
        if path.suffix == ".json":
            small.extend(r for r in read_file(path) or () if isinstance(r.get("run_id"), str))
    return [p for p in files if p.suffix == ".arrow"], small


def read_compact(path: Path):
    """A compact file as an Arrow table, or None (with a warning) if corrupt."""
    return read_table(path, None)


def keep_latest(rows, latest: dict[str, dict]) -> None:
    """Fold ``rows`` into ``latest`` (run id -> row): the highest ``rev`` wins, ties the later."""
    for row in rows:
        rid = row.get("run_id")
        if isinstance(rid, str):
            old = latest.get(rid)
            if old is None or (row.get("rev") or 0) >= (old.get("rev") or 0):
                latest[rid] = row


def read_rows(layout: Layout) -> dict[str, dict]:
    """The latest summary row of every run, by run id (as dicts)."""
    compacts, small = sources(layout)
    latest: dict[str, dict] = {}
    for path in compacts:
        table = read_compact(path)
        if table is not None:
            keep_latest(_table_rows(table), latest)
    keep_latest(small, latest)
    return latest


def compact(layout: Layout) -> Path | None:
    """Merge the small files into a level-1 file; merge a level's files into the next
    level once there are ``COMPACT_TIER`` of them. Inputs are deleted after the commit."""
    files = live_files(
        visible_files(layout.index_dir, ".arrow") + visible_files(layout.index_dir, ".json")
    )
    smalls = [p for p in files if p.suffix == ".json"]
    out = None
    if len(smalls) >= 2:
        rows: list[dict] = []
        used = []
        for path in smalls:
            try:
                found = parse(path)
            except FileNotFoundError:
                continue  # another process merged it
            except (OSError, ValueError, RecursionError) as exc:
                _put_aside(layout, path, exc)
                continue
            used.append(path)
            rows.extend(r for r in found if isinstance(r.get("run_id"), str))
        latest: dict[str, dict] = {}
        keep_latest(rows, latest)
        if len(used) >= 2:  # another process may have merged them all meanwhile
            out = _commit(layout, rows_to_table(list(latest.values())), used, level=1)
    by_level: dict[int, list[Path]] = {}
    for path in live_files(visible_files(layout.index_dir, ".arrow")):
        by_level.setdefault(compact_level(path), []).append(path)
    for level in sorted(by_level):
        if len(by_level[level]) >= COMPACT_TIER:
            out = _merge_compacts(layout, by_level[level], level + 1) or out
    return out


def _merge_compacts(layout: Layout, paths: list[Path], level: int) -> Path | None:
    arrow = pa()
    tables, used = [], []
    for path in paths:
        table = read_compact(path)
        if table is not None:
            tables.append(table.replace_schema_metadata(None))
            used.append(path)
        elif path.exists():
            _put_aside(layout, path, ValueError("unreadable compact index file"))
    if len(used) < 2:
        return None
    table = arrow.concat_tables(tables)
    # the latest rev of each run wins; ties: the later file
    ids = table.column("run_id").to_pylist()
    revs = table.column("rev").to_pylist()
    best: dict[str, int] = {}
    for i, (rid, rev) in enumerate(zip(ids, revs, strict=True)):
        j = best.get(rid)
        if j is None or (rev or 0) >= (revs[j] or 0):
            best[rid] = i
    keep = arrays.int64s(sorted(best.values()))
    return _commit(layout, table.take(keep), used, level)


def _put_aside(layout: Layout, path: Path, exc: BaseException) -> None:
    """A corrupt input of a merge: warned about, and moved to quarantine unless the
    disk itself failed (that may pass)."""
    warn_corrupt(path, exc)
    if not isinstance(exc, OSError):
        from .quarantine import move

        move(layout, path, f"{type(exc).__name__}: {exc}")


def _commit(layout: Layout, table, used: list[Path], level: int) -> Path:
    folder = visible_files(layout.index_dir, ".arrow") + visible_files(layout.index_dir, ".json")
    hidden = shadowed(used, folder)  # what merged compact files replaced, still lying around
    sch = with_replaces(schema(), used + hidden)
    out = layout.index_dir / compact_name(used[0], ".arrow", level)
    out = write_batches(out, sch, table.cast(schema()).to_batches(), level=3)
    for path in used + hidden:
        try:
            path.unlink()
        except FileNotFoundError:
            pass
    release_memory()
    return out
