"""Metric segments: immutable Arrow IPC files of ``run_id, key, step, value, time``.

Schema (the same in every file, so one ``pl.scan_ipc`` reads them all)::

    run_id  dictionary<int32, string>   the run's id (one dictionary entry per file)
    key     dictionary<int32, string>   metric name
    step    int64
    value   float64                     bools are 0/1; NaN and +-inf kept as they are
    time    timestamp[ms, UTC]          when ``log`` was called

Buffers are zstd-compressed, which also makes a flipped bit a read error rather
than a silently wrong number.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from pathlib import Path

from .arrow_io import live_files, pa, read_table, with_replaces, write_batches
from .atomic import WRITER
from .layout import Layout, compact_name, is_compact, visible_files

MAX_STEP = (1 << 53) - 1  # steps travel as float64 in memory (see nbtrack.run): exact below 2**53


def schema():
    arrow = pa()
    dict_str = arrow.dictionary(arrow.int32(), arrow.string())
    return arrow.schema(
        [
            ("run_id", dict_str),
            ("key", dict_str),
            ("step", arrow.int64()),
            ("value", arrow.float64()),
            ("time", arrow.timestamp("ms", tz="UTC")),
        ]
    )


def build_batch(run_id: str, keys: Sequence[str], points: array):
    """Turn the in-memory buffer of one flush into a record batch.

    ``points`` is an ``array('d')`` of ``key id, step, value, time`` per point (time
    in seconds since the epoch); every one of those is exact as a float64 (steps stay
    below 2**53)."""
    arrow = pa()
    import pyarrow.compute as pc

    def column(offset: int):
        part = points[offset::4]  # a strided copy, in C
        return arrow.Array.from_buffers(arrow.float64(), len(part), [None, arrow.py_buffer(part)])

    n = len(points) // 4
    key_idx = pc.cast(column(0), arrow.int32())
    steps = pc.cast(column(1), arrow.int64())
    time_ms = pc.cast(pc.floor(pc.multiply(column(3), 1000.0)), arrow.int64()).cast(
        arrow.timestamp("ms", tz="UTC")
    )
    run_idx = arrow.Array.from_buffers(arrow.int32(), n, [None, arrow.py_buffer(bytes(4 * n))])
    return arrow.record_batch(
        [
            arrow.DictionaryArray.from_arrays(run_idx, arrow.array([run_id], arrow.string())),
            arrow.DictionaryArray.from_arrays(key_idx, arrow.array(list(keys), arrow.string())),
            steps,
            column(2),
            time_ms,
        ],
        schema=schema(),
    )


def write_segment(layout: Layout, run_id: str, batch) -> Path:
    """One flush becomes one new immutable file."""
    path = layout.metrics_dir(run_id) / WRITER.segment_name(".arrow")
    return write_batches(path, schema(), [batch])


def segment_files(layout: Layout, run_id: str) -> list[Path]:
    """The run's metric files that hold live data (leftovers of a crashed
    compaction are recognised by the compact file's footer and left out)."""
    return live_files(visible_files(layout.metrics_dir(run_id), ".arrow"))


def open_segment(path: Path):
    """Read one segment fully (validating every buffer), or None if it is corrupt."""
    return read_table(path, schema())


def readable(paths: Sequence[Path]) -> list[Path]:
    """The subset of ``paths`` that reads back whole; the others are warned about."""
    return [p for p in paths if open_segment(p) is not None]


def compact(layout: Layout, run_id: str, min_files: int = 2, small_only: bool = False) -> Path | None:
    """Merge a run's segments into one file, keeping log order.

    ``small_only`` merges just the flush segments (done every few dozen flushes of a
    long run, so readers of a running run open few files); otherwise everything.

    Streams one segment at a time (memory stays bounded by the biggest segment),
    rewrites key indices against one shared dictionary, commits the new file
    atomically and deletes the inputs last; the new file's footer lists its
    inputs, so a crash between the commit and the deletes double-counts nothing.
    """
    files = segment_files(layout, run_id)
    if small_only:
        files = [p for p in files if not is_compact(p)]
    if len(files) < min_files:
        return None
    keys: dict[str, int] = {}
    good: list[Path] = []
    for path in files:
        table = open_segment(path)
        if table is None:
            continue
        good.append(path)
        for chunk in table.column("key").chunks:
            for k in chunk.dictionary.to_pylist():
                keys.setdefault(k, len(keys))
    if len(good) < min_files:
        return None
    out_schema = with_replaces(schema(), good)
    out = layout.metrics_dir(run_id) / compact_name(good[0], ".arrow")
    write_batches(out, out_schema, _remapped(good, keys, out_schema), level=3)
    for path in good:
        try:
            path.unlink()
        except FileNotFoundError:
            pass
    return out


def _remapped(paths: list[Path], keys: dict[str, int], out_schema):
    arrow = pa()
    import pyarrow.compute as pc

    dictionary = arrow.array(list(keys), arrow.string())
    for path in paths:
        table = open_segment(path)
        if table is None:  # cannot happen to an immutable file that read once; be safe
            continue
        for batch in table.to_batches():
            key_col = batch.column(1)
            remap = arrow.array([keys[k] for k in key_col.dictionary.to_pylist()], arrow.int32())
            new_keys = arrow.DictionaryArray.from_arrays(pc.take(remap, key_col.indices), dictionary)
            columns = [batch.column(0), new_keys, batch.column(2), batch.column(3), batch.column(4)]
            yield arrow.record_batch(columns, schema=out_schema)
