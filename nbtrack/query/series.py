"""Metric curves for charts: each run's points read straight from its own files (no run id
column to materialise, metric names compared as dictionary codes), then thinned with M4 on
the chart's one x axis, so 100 runs of 100,000 steps become a few hundred thousand points in
well under a second.

x is ``step``, ``time`` (epoch milliseconds) or ``relative`` (seconds since the run's first
logged point). A zoom (``x_range``) reads the same points and keeps that range only, so
the columns are narrower and the curve comes back at full resolution once few enough
points are left.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from ..store import metric_files
from ..store.layout import Layout
from . import downsample

X_MODES = ("step", "time", "relative")


@dataclass
class Curves:
    """Thinned series, one after another: per point ``x``, ``y``; per M4 column ``first``
    (index of its first point within its series), ``mean`` and ``count`` (finite values).
    ``series`` holds ``{"run_id", "key", "points", "columns", "raw"}`` in order (``raw``: how
    many points the series had before thinning)."""

    x_mode: str
    buckets: int
    lo: float | None = None
    hi: float | None = None
    series: list[dict] = field(default_factory=list)
    x: object = None
    y: object = None
    first: object = None
    mean: object = None
    count: object = None

    @property
    def points(self) -> int:
        return 0 if self.x is None else len(self.x)


def read_run(layout: Layout, run_id: str, keys: Iterable[str] | None = None, time: bool = True):
    """One run's points as ``key, step, value[, time]`` (time as epoch ms, Int64), in log
    order. Damaged or vanishing files are handled as :func:`nbtrack.query.metrics.read` does."""
    import polars as pl

    keys = list(keys) if keys is not None else None
    columns = ["key", "step", "value", *(["time"] if time else [])]
    files = metric_files.segment_files(layout, run_id)
    if not files:
        return _empty(columns)
    from . import metrics as metrics_q

    if layout.remote:  # objects polars cannot scan as files: read as metrics() reads them
        frame = metrics_q.read(layout, [run_id], keys).select(columns)
    else:
        try:
            lf = pl.scan_ipc(files)
            if keys is not None:
                lf = lf.filter(pl.col("key").is_in(keys))  # on the dictionary codes
            frame = lf.select(columns).collect()
        except (pl.exceptions.PolarsError, OSError, ValueError, pl.exceptions.PanicException):
            # the careful path: file by file, bad ones warned
            frame = metrics_q.read(layout, [run_id], keys).select(columns)
    frame = frame.with_columns(pl.col("key").cast(pl.String))
    if time:
        frame = frame.with_columns(pl.col("time").dt.epoch("ms"))
    return frame


def _empty(columns):
    import polars as pl

    types = {"key": pl.String, "step": pl.Int64, "value": pl.Float64, "time": pl.Int64}
    return pl.DataFrame(schema={c: types[c] for c in columns})


def _x(part, x_mode: str, origin: float):
    import numpy as np

    if x_mode == "step":
        return part["step"].to_numpy().astype(np.float64)
    times = part["time"].to_numpy().astype(np.float64)
    return times if x_mode == "time" else (times - origin) / 1000.0


def curves(layout: Layout, run_ids: Iterable[str], keys: Iterable[str] | None, x: str = "step", buckets: int = 900,
           x_range: tuple[float, float] | None = None, skip: Iterable[tuple[str, str]] = ()) -> Curves:
    """The curves of ``keys`` (None: every key, in the order first logged) for ``run_ids`` on
    one x axis cut into ``buckets`` columns (the chart's width in pixels), series ordered run
    by run, then by key as given.
    ``skip`` leaves out (run_id, key) pairs (live series, sent another way)."""
    import numpy as np

    if x not in X_MODES:
        raise ValueError(f"x must be one of {', '.join(X_MODES)}; got {x!r}")
    keys = list(keys) if keys is not None else None
    skip = set(skip)
    out = Curves(x_mode=x, buckets=max(1, int(buckets)))
    parts = []  # (run_id, key, x, y, raw)
    for run_id in dict.fromkeys(run_ids):
        frame = read_run(layout, run_id, keys, time=x != "step")
        if frame.is_empty():
            continue
        origin = float(frame["time"].min()) if x == "relative" else 0.0
        run_keys = keys if keys is not None else frame["key"].unique(maintain_order=True).to_list()
        by_key = {(run_keys[0],): frame} if len(run_keys) == 1 else frame.partition_by("key", as_dict=True)
        for key in run_keys:
            part = by_key.get((key,))
            if part is None or (run_id, key) in skip:
                continue
            xs = _x(part, x, origin)
            ys = part["value"].to_numpy().astype(np.float64)
            if len(xs) > 1 and not bool(np.all(xs[1:] >= xs[:-1])):
                order = np.argsort(xs, kind="stable")  # ties keep log order
                xs, ys = xs[order], ys[order]
            if x_range is not None:
                start = np.searchsorted(xs, x_range[0], side="left")
                end = np.searchsorted(xs, x_range[1], side="right")
                xs, ys = xs[start:end], ys[start:end]
            if len(xs):
                parts.append((run_id, key, xs, ys, len(part)))
    if not parts:
        return out
    if x_range is not None:
        lo, hi = float(x_range[0]), float(x_range[1])
    else:
        lo = min(float(p[2][0]) for p in parts)
        hi = max(float(p[2][-1]) for p in parts)
    xs_out, ys_out, first, mean, count = [], [], [], [], []
    for run_id, key, xs, ys, raw in parts:  # one series at a time: small arrays, fastest
        picks = downsample.m4_arrays(np.zeros(len(xs), dtype=np.int8), xs, ys, out.buckets, lo=lo, hi=hi)
        xs_out.append(xs[picks.index])
        ys_out.append(ys[picks.index])
        first.append(np.searchsorted(picks.index, picks.first))
        mean.append(picks.mean)
        count.append(picks.count)
        out.series.append({"run_id": run_id, "key": key, "points": len(picks.index), "columns": len(picks.first),
                           "raw": raw})
    out.lo, out.hi = lo, hi
    out.x, out.y = np.concatenate(xs_out), np.concatenate(ys_out)
    out.first, out.mean, out.count = np.concatenate(first), np.concatenate(mean), np.concatenate(count)
    return out


SUMMARIES = ("last", "min", "max", "best", "first", "mean")
LOWER_IS_BETTER = ("loss", "error", "err", "perplexity", "ppl", "mse", "mae", "rmse", "wer", "cer", "nll")


def better(key: str, goal: str | None = None) -> str:
    """``"min"`` or ``"max"``: which way ``key`` improves (``goal`` when given, else
    lower for names that look like a loss or an error)."""
    if goal is not None:
        if goal not in ("min", "max"):
            raise ValueError(f"goal must be 'min' or 'max'; got {goal!r}")
        return goal
    words = key.lower().replace("/", "_").replace(".", "_").replace("-", "_").split("_")
    return "min" if any(w in LOWER_IS_BETTER for w in words) else "max"


def summary(layout: Layout, run_ids: Iterable[str], keys: Iterable[str], how: str = "last",
            goal: str | None = None):
    """One value per run and key: the ``last`` (highest step, then latest logged), ``first``,
    ``min``, ``max``, ``mean`` or ``best`` (min or max by :func:`better`), as a polars frame
    ``run_id, key, value, step`` (the step the value was logged at, null for ``mean``)."""
    import polars as pl

    if how not in SUMMARIES:
        raise ValueError(f"summary must be one of {', '.join(SUMMARIES)}; got {how!r}")
    keys = list(keys)
    rows = []
    for run_id in dict.fromkeys(run_ids):
        frame = read_run(layout, run_id, keys, time=False).with_row_index("_i")
        for key in keys:
            part = frame.filter(pl.col("key") == key)
            if part.is_empty():
                continue
            kind = better(key, goal) if how == "best" else how
            if kind == "mean":
                rows.append({"run_id": run_id, "key": key, "value": part["value"].mean(), "step": None})
                continue
            finite = part.filter(pl.col("value").is_finite()) if kind in ("min", "max") else part
            if finite.is_empty():
                continue
            ordered = finite.sort(["step", "_i"])
            pick = {"last": ordered.tail(1), "first": ordered.head(1),
                    "min": ordered.sort("value", maintain_order=True).head(1),
                    "max": ordered.sort("value", descending=True, maintain_order=True).head(1)}[kind]
            row = pick.row(0, named=True)
            rows.append({"run_id": run_id, "key": key, "value": row["value"], "step": row["step"]})
    return pl.DataFrame(rows, schema={"run_id": pl.String, "key": pl.String, "value": pl.Float64, "step": pl.Int64})


def labels(layout: Layout, run_ids: Iterable[str]) -> dict[str, dict]:
    """``{run_id: {"name", "experiment", "status", "started", "owner"}}`` for a chart's legend, from
    the run index; a run the index shows running is read from its own records (a run whose
    process died reads ``crashed``)."""
    from ..store import state
    from . import summaries

    rows = summaries.latest_rows(layout)  # polars: no pyarrow (nor pandas) for a legend
    out = {}
    for run_id in dict.fromkeys(run_ids):
        row = rows.get(run_id)
        if row is None or row.get("status") == "running":
            st = state.load(layout, run_id)
            row = state.resolve_liveness(layout, st) if st is not None else (row or {})
        out[run_id] = {"name": row.get("name") or run_id, "experiment": row.get("experiment"),
                       "status": row.get("status"), "started": row.get("started"),
                       "owner": {k: row.get(k) for k in ("run_id", "host", "pid", "pid_start", "started")}}
    return out


def thin(curves: Curves, buckets: int) -> Curves:
    """The same curves on fewer columns (a static picture of a chart already computed)."""
    import numpy as np

    out = Curves(x_mode=curves.x_mode, buckets=max(1, int(buckets)), lo=curves.lo, hi=curves.hi)
    if not curves.points or out.buckets >= curves.buckets:
        return curves
    xs_out, ys_out, first, mean, count = [], [], [], [], []
    p = c = 0
    for s in curves.series:
        xs, ys = curves.x[p:p + s["points"]], curves.y[p:p + s["points"]]
        cf, cm, cc = (a[c:c + s["columns"]] for a in (curves.first, curves.mean, curves.count))
        picks = downsample.m4_summary(xs, ys, cf, cm, cc, out.buckets) if len(xs) else None
        p, c = p + s["points"], c + s["columns"]
        if picks is None:
            continue
        xs_out.append(xs[picks.index])
        ys_out.append(ys[picks.index])
        first.append(np.searchsorted(picks.index, picks.first))
        mean.append(picks.mean)
        count.append(picks.count)
        out.series.append({**s, "points": len(picks.index), "columns": len(picks.first)})
    out.x, out.y = np.concatenate(xs_out), np.concatenate(ys_out)
    out.first, out.mean, out.count = np.concatenate(first), np.concatenate(mean), np.concatenate(count)
    return out
