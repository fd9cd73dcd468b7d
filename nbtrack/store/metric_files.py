"""Metric segments: immutable Arrow IPC files of ``run_id, key, step, value, time``.

Schema (the same in every file, so one ``pl.scan_ipc`` reads them all)::

    run_id  large_string                the run's id (plain text: reads as polars String
                                        at no cost, and zstd makes it ~1 byte a row)
    key     dictionary<int32, string>   metric name
    step    int64
    value   float64                     bools are 0/1; NaN and +-inf kept as they are
    time    timestamp[ms, UTC]          when ``log`` was called

Buffers are zstd-compressed; a buffer that does not shrink is stored raw, so
compression alone does not catch a flipped bit. Each file's name carries the CRC-32
of its bytes (``checksum``), checked before a file is read: a file that fails is
skipped with a warning, and a compaction that meets one moves it to quarantine.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from pathlib import Path

from . import arrow_arrays as arrays
from . import checksum
from .arrow_io import (
    live_files,
    pa,
    release_memory,
    shadowed,
    verified,
    warn_corrupt,
    with_replaces,
    write_batches,
)
from .atomic import WRITER
from .layout import Layout, compact_level, compact_name, visible_files

# A whole run's merge (at its end) groups the points by key when the run is small enough to sort
# in memory, and records each key's rows in the footer: a read of one key of three then decodes
# a third of the file (polars skips the other record batches). Bigger runs stay in log order.
GROUP_MAX_BYTES = 16 << 20  # compressed input bytes (~1.5M points, ~50 MB while sorted)
GROUP_MIN_POINTS = 20_000  # below this a read is cheap either way: no rewrite of one small file
GROUP_BATCH = 65_536

MAX_STEP = (1 << 53) - 1  # steps travel as float64 in memory (see nbtrack.run): exact below 2**53


class Vanished(Exception):
    """A listed file was removed (compacted) before it could be read: list again."""


def ready() -> None:
    """Import what writing a segment needs (pyarrow, its compute functions), once."""
    import sys

    if "pyarrow.compute" not in sys.modules:
        pa()
        import pyarrow.compute  # noqa: F401


def warm_up() -> None:
    """Import the Arrow writer and run every step of a flush and of ``end()``'s summary
    once on one point, in memory (the flusher thread does it when the first run starts:
    the first flush and the first ``end()`` then cost what the hundredth does)."""
    arrow = pa()
    batch = build_batch("0" * 26, ["warm-up"], array("d", [0.0, 0.0, 0.0, 0.0]))
    options = arrow.ipc.IpcWriteOptions(
        compression=arrow.Codec("zstd", compression_level=1), use_threads=False
    )
    with arrow.ipc.new_file(arrow.BufferOutputStream(), schema(), options=options) as writer:
        writer.write(batch)
    _fold_last(batch, {})


def schema():
    arrow = pa()
    dict_str = arrow.dictionary(arrow.int32(), arrow.string())
    return arrow.schema(
        [
            ("run_id", arrow.large_string()),
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
    # no Python value reaches pyarrow (a float here, a list there imports pandas):
    # the constants and the dictionary are built from buffers
    time_ms = pc.cast(pc.floor(pc.multiply(column(3), arrays.float64_scalar(1000.0))),
                      arrow.int64()).cast(arrow.timestamp("ms", tz="UTC"))
    return arrow.record_batch(
        [
            arrays.constant_large_string(run_id, n),
            arrow.DictionaryArray.from_arrays(key_idx, arrays.strings(list(keys))),
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


def segment_files(layout: Layout, run_id: str, check: bool = True) -> list[Path]:
    """The run's metric files that hold live data (leftovers of a crashed
    compaction are recognised by the compact file's footer and left out), each
    checked against the sum in its name (``check=False``: listed only)."""
    files = visible_files(layout.metrics_dir(run_id), ".arrow")
    return live_files(verified(files) if check else files)


def segment_files_of(layout: Layout, run_ids: Sequence[str]) -> dict[str, list[Path]]:
    """``segment_files`` of many runs, by run id (on an object store, listed and checked
    with the requests in flight together)."""
    if not layout.remote:
        return {rid: segment_files(layout, rid) for rid in run_ids}
    from .objectstore import concurrently, prefetch

    run_ids = list(run_ids)
    listed = concurrently(lambda rid: visible_files(layout.metrics_dir(rid), ".arrow"), run_ids)
    prefetch([p for files in listed for p in files])
    return {rid: live_files(verified(files)) for rid, files in zip(run_ids, listed, strict=True)}


def read_frames(paths: Sequence[Path], keys: Sequence[str] | None = None):
    """Metric files of an object store as polars frames (``run_id, key, step, value,
    time``), read from the very bytes their checksums were checked on; a corrupt file
    is skipped with a warning, a vanished one raises ``Vanished``."""
    import io

    import polars as pl

    from .objectstore import concurrently

    def frame(path):
        try:
            data = checksum.fetched(path)
        except FileNotFoundError:
            raise Vanished from None
        try:
            lf = pl.read_ipc(io.BytesIO(data)).lazy()
            if keys is not None:
                lf = lf.filter(pl.col("key").is_in(list(keys)))
            return lf.select(pl.lit(path.parent.parent.name).alias("run_id"),
                             pl.col("key").cast(pl.String), "step", "value", "time").collect()
        except (pl.exceptions.PolarsError, OSError, ValueError,
                pl.exceptions.PanicException) as exc:
            warn_corrupt(path, exc)
            return None

    return [f for f in concurrently(frame, list(paths)) if f is not None]


def readable(paths: Sequence[Path]) -> list[Path]:
    """The subset of ``paths`` that reads back whole (one batch at a time); the others
    are warned about. A file that vanished meanwhile is left out silently."""
    good = []
    for path in paths:
        try:
            complete = _read_through(path)
        except Vanished:
            continue
        if complete:
            good.append(path)
    return good


def _read_through(path: Path, keys: dict[str, int] | None = None) -> bool:
    """Read every batch of ``path`` (noting its metric names in ``keys``); False, with
    a warning, if the file is corrupt."""
    return _damage(path, keys) is None


def _damage(path: Path, keys: dict[str, int] | None = None) -> BaseException | None:
    """What is wrong with ``path`` (warned about), or None when it reads back whole."""
    arrow = pa()
    try:
        for batch in _batches(path, strict=True):
            if keys is not None:
                for k in batch.column(1).dictionary.to_pylist():
                    keys.setdefault(k, len(keys))
    except (OSError, ValueError, arrow.ArrowException) as exc:
        warn_corrupt(path, exc)
        return exc
    return None


def maintain(layout: Layout, run_id: str, fan_in: int = 64, tier: int = 8) -> None:
    """Keep a long run's metric files few, at O(log n) rewrites per point: every
    ``fan_in`` flush segments become one level-1 file, every ``tier`` level-k files one
    level-(k+1) file. Level-k files are always older than level-(k-1) ones, so each
    merge takes neighbours in log order."""
    files = segment_files(layout, run_id)
    by_level: dict[int, list[Path]] = {}
    for path in files:
        by_level.setdefault(compact_level(path), []).append(path)
    if len(by_level.get(0, ())) >= fan_in:
        compact(layout, run_id, inputs=by_level[0], level=1)
    for level in sorted(k for k in by_level if k):
        if len(by_level[level]) >= tier:
            compact(layout, run_id, inputs=by_level[level], level=level + 1)


def compact(layout: Layout, run_id: str, min_files: int = 2, inputs: list[Path] | None = None,
            level: int | None = None) -> Path | None:
    """Merge a run's segments (or ``inputs``) into one file, keeping log order.

    Streams one segment at a time (memory stays bounded by the biggest segment),
    rewrites key indices against one shared dictionary, commits the new file
    atomically and deletes the inputs last; the new file's footer lists its
    inputs, so a crash between the commit and the deletes double-counts nothing.
    """
    whole_run = inputs is None
    files = segment_files(layout, run_id, check=False) if whole_run else inputs
    if len(files) < min_files and not (whole_run and files and _worth_grouping(files)):
        return None
    release_memory()
    keys: dict[str, int] = {}
    good: list[Path] = []
    for path in files:  # a corrupt input is moved out of the way, never merged
        try:
            damage = _damage(path, keys)
        except Vanished:
            continue
        if damage is None:
            good.append(path)
        elif isinstance(damage, ValueError):  # bad bytes, not a failing disk: put aside
            from .quarantine import move

            move(layout, path, f"{type(damage).__name__}: {damage}")
        release_memory()
    if len(good) < min_files and not (whole_run and good and _worth_grouping(good)):
        return None
    hidden = shadowed(good, visible_files(layout.metrics_dir(run_id), ".arrow"))
    out_schema = with_replaces(schema(), good + hidden)
    batches = _remapped(good, keys, out_schema)
    if whole_run and sum(_size(p) for p in good) <= GROUP_MAX_BYTES:
        out_schema, batches = _grouped(list(batches), keys, good + hidden)
    if level is None:
        level = max(compact_level(p) for p in good) + 1
    out = layout.metrics_dir(run_id) / compact_name(good[0], ".arrow", level)
    out = write_batches(out, out_schema, batches, level=3)
    for path in good + hidden:
        try:
            path.unlink()
        except FileNotFoundError:
            pass
    return out


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _worth_grouping(files: list[Path]) -> bool:
    """One file of a run's end that is not grouped by key yet and holds enough points of
    several keys that a one-key read would gain from grouping it."""
    from .arrow_io import key_rows

    if len(files) != 1 or key_rows(files[0]) is not None or _size(files[0]) > GROUP_MAX_BYTES:
        return False
    try:
        with pa().memory_map(str(files[0])) as source:
            reader = pa().ipc.open_file(source)
            rows = sum(reader.get_batch(i).num_rows for i in range(reader.num_record_batches))
            if rows < GROUP_MIN_POINTS:
                return False
            return len(reader.get_batch(0).column(1).dictionary) > 1
    except (OSError, pa().ArrowException):
        return False


def _grouped(batches: list, keys: dict[str, int], inputs: list[Path]):
    """The run's points sorted by key (log order kept within a key, the sort is stable) in
    batches that never span two keys, and the schema naming each key's rows."""
    import json

    import pyarrow.compute as pc

    arrow = pa()
    if not batches:
        return with_replaces(schema(), inputs), batches
    table = arrow.Table.from_batches(batches).combine_chunks()
    codes = table.column(1).chunk(0).indices
    order = pc.sort_indices(codes)  # stable: within a key, points stay in log order
    table = table.take(order)
    runs = pc.run_end_encode(table.column(1).chunk(0).indices)  # one run per key, now
    ends = runs.run_ends.to_pylist()  # plain ints: numpy/pandas conversions are never asked
    names = list(keys)
    ranges = {names[code]: [a, b] for code, a, b in zip(runs.values.to_pylist(), [0, *ends[:-1]], ends, strict=True)}
    from .arrow_io import KEY_ROWS_KEY

    grouped_schema = with_replaces(schema(), inputs, {KEY_ROWS_KEY: json.dumps(ranges).encode()})
    out = []
    for a, b in ranges.values():  # batches never span two keys: a slice of one key skips the rest
        for lo in range(a, b, GROUP_BATCH):
            part = table.slice(lo, min(GROUP_BATCH, b - lo)).combine_chunks()
            out.append(arrow.record_batch([c.chunk(0) for c in part.columns], schema=grouped_schema))
    return grouped_schema, out


def _remapped(paths: list[Path], keys: dict[str, int], out_schema):
    arrow = pa()
    import pyarrow.compute as pc

    dictionary = arrays.strings(list(keys))
    for path in paths:
        release_memory()
        for batch in _batches(path, strict=True):  # read whole once already
            key_col = batch.column(1)
            remap = arrays.int32s([keys[k] for k in key_col.dictionary.to_pylist()])
            new_keys = arrow.DictionaryArray.from_arrays(pc.take(remap, key_col.indices), dictionary)
            columns = [batch.column(0), new_keys, batch.column(2), batch.column(3), batch.column(4)]
            yield arrow.record_batch(columns, schema=out_schema)


def _batches(path: Path, strict: bool = False):
    """The record batches of one file, each read (and checked) only when reached, so
    memory holds one at a time. A corrupt file raises (``strict``) or stops with a
    warning naming it; a vanished one raises ``Vanished``."""
    arrow = pa()
    try:
        if isinstance(path, Path):
            source = arrow.OSFile(str(path), "rb")
        else:  # an object store: checked and read from the same fetched bytes
            checksum.check(path)
            source = arrow.BufferReader(checksum.fetched(path))
    except FileNotFoundError:
        raise Vanished from None
    with source:
        try:
            checksum.check(path)
            # the system allocator hands each batch's memory straight back, so reading
            # a big run batch by batch stays flat
            reader = arrow.ipc.open_file(source, memory_pool=arrow.system_memory_pool())
            if not reader.schema.equals(schema()):
                raise ValueError(f"unexpected schema {reader.schema}")
            for i in range(reader.num_record_batches):
                batch = reader.get_batch(i)
                batch.validate(full=True)
                yield batch
        except FileNotFoundError:
            raise Vanished from None
        except (OSError, ValueError, arrow.ArrowException) as exc:
            if strict:
                raise
            warn_corrupt(path, exc)


def last_values(layout: Layout, run_id: str) -> dict[str, float]:
    """Each metric's last value: at its highest step, the latest logged on ties.

    One record batch at a time (a batch is one flush), so a run of 10 million points
    is summarised in bounded memory; files compacted away meanwhile are re-listed.
    """
    best: dict[str, tuple[int, float]] = {}
    for _ in range(200):  # a merge commits before it deletes: a relist finds its output
        best = {}
        try:
            for path in segment_files(layout, run_id):
                for batch in _batches(path):
                    _fold_last(batch, best)
        except Vanished:
            continue  # compacted while we read: list again
        break
    return {key: value for key, (_, value) in best.items()}


def _fold_last(batch, best: dict[str, tuple[int, float]]) -> None:
    arrow = pa()
    import pyarrow.compute as pc

    n = batch.num_rows
    if not n:
        return
    keys = batch.column(1)
    kidx = keys.indices
    order = pc.sort_indices(
        arrow.table({"k": kidx, "s": batch.column(2)}),
        sort_keys=[("k", "ascending"), ("s", "ascending")],
    )  # stable: among equal (key, step) the later point comes later
    ordered = kidx.take(order)
    if n > 1:
        change = pc.not_equal(ordered.slice(0, n - 1), ordered.slice(1))
        ends = pc.indices_nonzero(change).to_pylist() + [n - 1]
    else:
        ends = [0]
    rows = order.take(arrays.int64s(ends))
    names = keys.dictionary.to_pylist()
    for kid, step, value in zip(
        kidx.take(rows).to_pylist(), batch.column(2).take(rows).to_pylist(),
        batch.column(3).take(rows).to_pylist(), strict=True,
    ):
        key = names[kid]
        if key not in best or step >= best[key][0]:
            best[key] = (step, value)
