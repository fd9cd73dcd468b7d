"""Metric series thinned for drawing, keeping their shape: M4 aggregation (Jugel et al.,
VLDB 2014), as mosaic does for line charts.

Each series' x range is cut into ``buckets`` equal pixel columns; each column keeps its first
and last point and the points with its lowest and highest value. A line drawn through those
points is pixel-identical to one drawn through every point, so a one-step spike survives a
100,000-to-1,000 reduction. Each column also reports the mean and count of its values, so a
smoothed line (an exponential moving average) can be drawn from the summary as if from every
point.

The work is done on integer series ids and numpy arrays (``np.fmin.reduceat`` over the
columns, which are contiguous once the points are in series-then-x order): 10 million points
take a fraction of a second, where grouping on string keys took seconds.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Picks:
    """What :func:`m4_arrays` keeps: ``index`` (ascending positions of the kept points) and,
    per non-empty column, ``first`` (position of its first point), ``mean`` and ``count``
    (over its finite values; mean NaN when there are none)."""

    index: object
    first: object
    mean: object
    count: object


BLOCK_ROWS = 1 << 18  # series are reduced a block at a time: arrays that fit in cache


def m4_arrays(sid, x, y, buckets: int, lo=None, hi=None, keep_small: bool = False) -> Picks:
    """M4 over arrays in series-then-x order: ``sid`` (non-decreasing integer series ids),
    ``x`` (ascending within a series), ``y``. Columns span ``[lo, hi]`` for every series
    when both are given (one chart's x axis), else each series' own range. With
    ``keep_small``, a series of at most ``4 * buckets`` points is kept whole."""
    import numpy as np

    buckets = max(1, int(buckets))
    sid = np.asarray(sid, dtype=np.int64)
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    n = len(x)
    if n == 0:
        empty = np.zeros(0, dtype=np.int64)
        return Picks(empty, empty, np.zeros(0), empty)
    bounds = np.r_[np.flatnonzero(sid[1:] != sid[:-1]) + 1, n]
    parts, begin = [], 0
    while begin < n:  # whole series per block, about BLOCK_ROWS rows each
        end = int(bounds[min(np.searchsorted(bounds, begin + BLOCK_ROWS, side="left"), len(bounds) - 1)])
        end = max(end, int(bounds[np.searchsorted(bounds, begin, side="right")]))
        part = _m4_block(sid[begin:end], x[begin:end], y[begin:end], buckets, lo, hi, keep_small)
        parts.append((begin, part))
        begin = end
    if len(parts) == 1:
        return parts[0][1]
    return Picks(np.concatenate([p.index + o for o, p in parts]), np.concatenate([p.first + o for o, p in parts]),
                 np.concatenate([p.mean for _, p in parts]), np.concatenate([p.count for _, p in parts]))


def _m4_block(sid, x, y, buckets: int, lo, hi, keep_small: bool) -> Picks:
    """M4 of one block of whole series (see :func:`m4_arrays`)."""
    import numpy as np

    n = len(x)
    series_start = np.flatnonzero(np.r_[True, sid[1:] != sid[:-1]])
    series_len = np.diff(np.r_[series_start, n])
    series_of_row = np.repeat(np.arange(len(series_start)), series_len)
    if lo is None or hi is None:
        s_lo = x[series_start][series_of_row]
        s_hi = x[series_start + series_len - 1][series_of_row]
        column = column_of(x, s_lo, s_hi, buckets)
    else:
        column = column_of(x, float(lo), float(hi), buckets)
    if keep_small:  # a small series keeps every point: one column per point
        small = (series_len <= 4 * buckets)[series_of_row]
        column = np.where(small, np.arange(n) - series_start[series_of_row], column)
    group = series_of_row * (5 * buckets) + column
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    counts_all = np.diff(np.r_[starts, n])
    last = starts + counts_all - 1
    column_of_row = np.repeat(np.arange(len(starts)), counts_all)

    finite = np.isfinite(y)
    every = bool(finite.all())
    y_lo = y if every else np.where(finite, y, np.inf)
    y_hi = y if every else np.where(finite, y, -np.inf)
    lows = _first_hits(y, starts, column_of_row, np.fmin.reduceat(y_lo, starts))
    highs = _first_hits(y, starts, column_of_row, np.fmax.reduceat(y_hi, starts))
    index = np.unique(np.concatenate([starts, last, lows, highs]))
    if every:
        count = counts_all
        total = np.add.reduceat(y, starts)
    else:
        count = np.add.reduceat(finite.astype(np.int64), starts)
        total = np.add.reduceat(np.where(finite, y, 0.0), starts)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    return Picks(index, starts, mean, count)


def m4_chunks(y, buckets: int) -> Picks:
    """M4 over equal runs of consecutive points instead of equal x ranges: about ``buckets``
    chunks, each keeping its first, last, lowest and highest point. For a stretch of evenly
    logged points (a live run's newest flushes) that is the same picture at a fraction of the
    cost (reshape and argmin along rows, no grouping); values must be finite."""
    import numpy as np

    y = np.asarray(y, dtype=np.float64)
    n = len(y)
    size = max(1, -(-n // max(1, int(buckets))))  # ceil: at most buckets chunks
    whole = n // size * size
    rows = y[:whole].reshape(-1, size)
    base = np.arange(0, whole, size)
    picks = [np.stack([base, base + rows.argmin(axis=1), base + rows.argmax(axis=1), base + size - 1], axis=1)]
    first, mean, count = [base], [rows.mean(axis=1)], [np.full(len(base), size, dtype=np.int64)]
    if whole < n:  # the rest: one more, shorter chunk
        tail = y[whole:]
        picks.append(np.array([[whole, whole + tail.argmin(), whole + tail.argmax(), n - 1]]))
        first.append(np.array([whole]))
        mean.append(np.array([tail.mean()]))
        count.append(np.array([n - whole], dtype=np.int64))
    index = np.concatenate(picks)
    index.sort(axis=1)  # chunks are in order: sorting each row orders them all
    fresh = np.ones(index.shape, dtype=bool)
    fresh[:, 1:] = index[:, 1:] != index[:, :-1]
    return Picks(index[fresh], np.concatenate(first), np.concatenate(mean), np.concatenate(count))


def column_of(x, lo, hi, buckets: int):
    """The pixel column (0 .. buckets-1) of each x on an axis from ``lo`` to ``hi``."""
    import numpy as np

    width = np.where(hi > lo, hi - lo, 1.0)
    return np.clip(np.floor((x - lo) / width * buckets), 0, buckets - 1).astype(np.int64)


def m4_summary(x, y, first, mean, count, buckets: int) -> Picks:
    """M4 again over points that are already a summary (each column's ``first`` point, ``mean``
    and ``count``): the points thinned to ``buckets`` columns over their own x range, and the
    old columns merged into the new ones (by their first point), their means weighted by
    count. A live chart keeps its series bounded this way however long a run trains."""
    import numpy as np

    x = np.asarray(x, dtype=np.float64)
    n = len(x)
    picks = m4_arrays(np.zeros(n, dtype=np.int8), x, y, buckets, lo=x[0], hi=x[-1]) if n else m4_arrays([], [], [], 1)
    if not n or not len(first):
        return picks
    lo, hi = x[0], x[-1]
    old = column_of(x[np.asarray(first)], lo, hi, buckets)
    starts = np.flatnonzero(np.r_[True, old[1:] != old[:-1]])
    count = np.asarray(count, dtype=np.int64)
    weighted = np.where(count > 0, np.nan_to_num(np.asarray(mean, dtype=np.float64)) * count, 0.0)
    merged = np.add.reduceat(count, starts)
    total = np.add.reduceat(weighted, starts)
    with np.errstate(invalid="ignore", divide="ignore"):
        merged_mean = np.where(merged > 0, total / np.maximum(merged, 1), np.nan)
    kept = column_of(x[picks.index], lo, hi, buckets)
    return Picks(picks.index, picks.index[np.searchsorted(kept, old[starts], side="left")], merged_mean, merged)


def _first_hits(y, starts, column_of_row, extreme):
    """Per column, the position of the first point whose value equals the column's extreme
    (none for a column without finite values)."""
    import numpy as np

    hit = np.flatnonzero(y == extreme[column_of_row])
    if not len(hit):
        return hit
    column = column_of_row[hit]
    keep = np.r_[True, column[1:] != column[:-1]]
    return hit[keep]


def series_ids(frame, by) -> object:
    """Integer ids, one per distinct combination of the ``by`` columns, for each row (text
    columns by their categorical codes: no string sorting)."""
    import numpy as np
    import polars as pl

    if not by:
        return np.zeros(frame.height, dtype=np.int64)
    ids = None
    for c in by:
        col = frame[c]
        if col.dtype in (pl.String, pl.Categorical, pl.Enum):
            codes = col.cast(pl.String).cast(pl.Categorical).to_physical()
        else:
            codes = col.rank("dense")
        codes = codes.fill_null(-1).to_numpy().astype(np.int64)
        codes -= codes.min()
        if ids is None:
            ids = codes
            continue
        span = int(codes.max()) + 1
        if int(ids.max()) >= (1 << 62) // span:  # would overflow: renumber first
            ids = np.unique(ids, return_inverse=True)[1]
        ids = ids * span + codes
    return ids


def series_order(sid, x):
    """Positions that put the rows in series-then-x order, ties in their original order."""
    import numpy as np

    order = np.argsort(sid, kind="stable")
    xo, so = x[order], sid[order]
    if bool(np.any((xo[1:] < xo[:-1]) & (so[1:] == so[:-1]))):
        order = np.lexsort((x, sid))  # lexsort is stable too
    return order


def m4(frame, buckets: int, x: str = "step", y: str = "value", by: tuple[str, ...] = ("run_id", "key"),
       x_range: tuple[float, float] | None = None):
    """At most ``4 * buckets`` points per series of ``frame`` (columns ``by``, ``x``, ``y``),
    sorted by ``by`` then ``x``; each series over its own x range, and kept whole when it
    has no more than ``4 * buckets`` points. ``x_range`` (lo, hi) keeps only that range
    first (a zoom)."""
    import polars as pl

    by = [c for c in by if c in frame.columns]
    if x_range is not None:
        lo, hi = x_range
        frame = frame.filter(pl.col(x).is_between(lo, hi))
    if frame.is_empty():
        return frame
    sid = series_ids(frame, by)
    xs = frame[x].cast(pl.Float64).to_numpy()
    order = series_order(sid, xs)
    ys = frame[y].cast(pl.Float64).to_numpy()
    picks = m4_arrays(sid[order], xs[order], ys[order], buckets, keep_small=True)
    return frame[order[picks.index]].sort([*by, x], maintain_order=True)
