"""Metric series as polars frames: one scan over the runs' segment files."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from ..store import files as stored
from ..store import metric_files
from ..store.arrow_io import key_rows
from ..store.layout import Layout

RUN_ID_LEN = 26  # nbtrack.ids: ULID layout, Crockford base32


def files_for(layout: Layout, run_ids: Iterable[str]) -> list[Path]:
    """The live metric files of ``run_ids`` (on an object store, listed concurrently)."""
    if layout.remote:
        listed = metric_files.segment_files_of(layout, list(run_ids))
        return [f for files in listed.values() for f in files]
    files: list[Path] = []
    for rid in run_ids:
        files.extend(metric_files.segment_files(layout, rid))
    return files


def _empty():
    import polars as pl

    return pl.DataFrame(
        schema={
            "run_id": pl.String,
            "key": pl.String,
            "step": pl.Int64,
            "value": pl.Float64,
            "time": pl.Datetime("ms", "UTC"),
        }
    )


RELISTS = 200  # a compaction commits its output before deleting its inputs: a relist finds it


def read(layout: Layout, run_ids: Iterable[str], keys: list[str] | None = None):
    """The points of ``run_ids`` as one long frame. When a run's files are merged by a
    writer between the listing and the read, that run is listed again, as often as it
    takes: a reader never fails, nor misses a point, because a writer compacted."""
    run_ids = list(run_ids)
    listing: dict[str, list[Path]] = {rid: [] for rid in run_ids}
    for f in files_for(layout, run_ids):  # runs/<id>/metrics/<file>
        listing.setdefault(f.parent.parent.name, []).append(f)
    for _ in range(RELISTS):
        try:
            return scan([f for files in listing.values() for f in files], keys, _relist=True)
        except metric_files.Vanished:
            for rid, files in listing.items():
                if not all(stored.is_file(f) for f in files):
                    listing[rid] = files_for(layout, [rid])
    from ..errors import StoreError

    raise StoreError(f"the metric files of {len(run_ids)} runs kept being merged while they "
                     f"were read ({RELISTS} times); read again")


PATH_COLUMN = "__nbtrack_path"
COLUMNS = ("key", "step", "value", "time")


def scan(files: list[Path], keys: list[str] | None = None, _relist: bool = False):
    """Collect ``files`` into one long frame (``run_id`` and ``key`` as strings).

    The key selection runs on the dictionary codes, before anything else is gathered
    or cast, and ``run_id`` is not read from the files: every point of
    ``runs/<id>/metrics/*`` belongs to ``<id>``, so it is sliced out of the file's path
    (reading and converting the column was a third of a scan).

    A corrupt file would fail the whole scan, so on failure the files are checked
    one by one, the bad ones reported (``CorruptFileWarning``) and the rest read.
    """
    import polars as pl

    if not files:
        return _empty()
    if not isinstance(files[0], Path):  # an object store: from the bytes already checked
        parts = metric_files.read_frames(files, keys)
        return pl.concat(parts) if parts else _empty()
    runs_dirs = {Path(p).parent.parent.parent for p in files}
    start = len(str(next(iter(runs_dirs)))) + 1 if len(runs_dirs) == 1 else None

    def frame(paths: list[Path]):
        if start is None:  # files from several stores: the column it is
            return pl.scan_ipc(paths), pl.col("run_id")
        lf = pl.scan_ipc(paths, include_file_paths=PATH_COLUMN)
        return lf, pl.col(PATH_COLUMN).str.slice(start, RUN_ID_LEN).alias("run_id")

    def collect(paths: list[Path]):
        parts, log_order = [], list(paths)
        if keys is not None:
            # a run merged at its end holds each key's rows together: read only those rows
            log_order = []
            for path in paths:
                rows = key_rows(path)
                if rows is None:
                    log_order.append(path)
                    continue
                for key in keys:
                    if key in rows:
                        lf, run_id = frame([path])
                        lo, hi = rows[key]
                        parts.append(lf.slice(lo, hi - lo).select(run_id, *COLUMNS))
        if log_order or not parts:
            lf, run_id = frame(log_order or paths)
            if keys is not None:
                lf = lf.filter(pl.col("key").is_in(list(keys)))
            parts.append(lf.select(run_id, *COLUMNS))
        lf = parts[0] if len(parts) == 1 else pl.concat(parts)
        return lf.with_columns(pl.col("key").cast(pl.String)).collect()

    # polars panics (a BaseException) on some damaged files that pass every check
    failures = (pl.exceptions.PolarsError, OSError, ValueError, pl.exceptions.PanicException)
    try:
        return collect(files)
    except failures:
        if _relist and not all(stored.is_file(p) for p in files):
            raise metric_files.Vanished from None
    parts = []
    for path in metric_files.readable(files):  # one by one: a bad file costs only itself
        try:
            parts.append(collect([path]))
        except failures as exc:
            if not stored.is_file(path):  # merged away meanwhile, not damaged: list again
                if _relist:
                    raise metric_files.Vanished from None
                continue
            from ..store.arrow_io import warn_corrupt

            warn_corrupt(path, exc)
    if _relist and not all(stored.is_file(p) for p in files):
        raise metric_files.Vanished  # readable() left out files merged meanwhile
    return pl.concat(parts) if parts else _empty()


def series(layout: Layout, run_id: str) -> dict[str, dict[str, list]]:
    """Every metric of one run as ``{key: {"steps": [...], "values": [...], "times": [...]}}``,
    in the order logged (times as ISO-8601 strings)."""
    import polars as pl

    frame = read(layout, [run_id])
    out: dict[str, dict[str, list]] = {}
    if frame.is_empty():
        return out
    frame = frame.with_columns(pl.col("time").dt.to_string("%Y-%m-%dT%H:%M:%S%.3f%:z"))
    for (key,), part in frame.group_by("key", maintain_order=True):
        out[key] = {
            "steps": part["step"].to_list(),
            "values": part["value"].to_list(),
            "times": part["time"].to_list(),
        }
    return out
