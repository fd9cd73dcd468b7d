"""Metric curves on the wire: what ``js/src/charts/curves.js`` draws.

A payload is JSON (the series: run, name, key, how many points and M4 columns each; the x
axis) plus one buffer holding two Arrow IPC streams one after the other: the points
(``x``, ``y``) and the columns (``first``, ``mean``, ``count``; the smoothed line is drawn
from those). Both are typed narrow: ``y`` and ``mean`` as float32, steps as int32, times as
float32 seconds from each series' first point, so 100 runs × 100,000 steps travel in about
4 MB. Run names and metric keys are data, never markup.

``CurveRequests`` gives any panel with a ``store_layout`` the ``curves`` request: the
compare panel draws its overlaid curves with it.
"""

from __future__ import annotations

import io

from ..query import series as series_q

DEFAULT_BUCKETS = 900
MAX_BUCKETS = 4096
INT32 = 2**31 - 1


def arrow_stream(columns: dict) -> bytes:
    """numpy columns as uncompressed Arrow IPC stream bytes, written by polars (any pyarrow
    conversion of them would ask pyarrow's pandas shim, which imports pandas)."""
    import polars as pl

    sink = io.BytesIO()
    pl.DataFrame(columns).write_ipc_stream(sink, compression="uncompressed", compat_level=pl.CompatLevel.oldest())
    return sink.getvalue()


def encode(curves: series_q.Curves, names: dict[str, dict], live: set | None = None) -> tuple[dict, bytes]:
    """``curves`` as (meta, buffer) for the browser; ``names`` from :func:`series.labels`."""
    import numpy as np

    meta = {"x": curves.x_mode, "lo": curves.lo, "hi": curves.hi, "buckets": curves.buckets,
            "series": [], "parts": []}
    if not curves.points:
        return meta, b""
    xs = curves.x
    bases = np.zeros(len(curves.series))
    if curves.x_mode == "step" and xs.min() >= 0 and xs.max() <= INT32:
        x_col, meta["x_type"] = xs.astype(np.int32), "int32"
    elif curves.x_mode == "step":
        x_col, meta["x_type"] = np.asarray(xs, dtype=np.float64), "float64"
    else:
        # float32 offsets from each series' first point (seconds): exact to well under a
        # millisecond for a day-long run, at half the bytes of float64
        starts = np.r_[0, np.cumsum([s["points"] for s in curves.series])[:-1]]
        bases = xs[starts]
        offsets = xs - np.repeat(bases, [s["points"] for s in curves.series])
        scale = 1000.0 if curves.x_mode == "time" else 1.0
        x_col, meta["x_type"] = (offsets / scale).astype(np.float32), "float32_offset_s"
    points = arrow_stream({"x": x_col, "y": curves.y.astype(np.float32)})
    columns = arrow_stream({"first": curves.first.astype(np.int32), "mean": curves.mean.astype(np.float32),
                            "count": curves.count.astype(np.int32)})
    for s, base in zip(curves.series, bases, strict=True):
        label = names.get(s["run_id"], {})
        meta["series"].append({**s, "name": label.get("name") or s["run_id"], "status": label.get("status"),
                               "base": float(base), "live": bool(live and (s["run_id"], s["key"]) in live)})
    meta["parts"] = [len(points), len(columns)]
    return meta, points + columns


def payload(layout, run_ids, keys, x: str = "step", buckets: int = DEFAULT_BUCKETS, x_range=None,
            skip=()) -> tuple[dict, bytes]:
    """Read, thin and encode: the answer to a ``curves`` request."""
    buckets = max(16, min(MAX_BUCKETS, int(buckets or DEFAULT_BUCKETS)))
    if x_range is not None:
        lo, hi = float(x_range[0]), float(x_range[1])
        if not hi > lo:
            raise ValueError(f"a zoom needs a range with hi > lo; got {x_range!r}")
        x_range = (lo, hi)
    curves = series_q.curves(layout, run_ids, keys, x=x, buckets=buckets, x_range=x_range, skip=skip)
    meta, data = encode(curves, series_q.labels(layout, [s["run_id"] for s in curves.series]))
    meta["zoomed"] = x_range is not None
    return meta, data


class CurveRequests:
    """Mixin: ``curves`` (runs, keys, x, buckets, x_range, skip) for a Panel with
    ``store_layout``. ``curve_runs`` (the runs it may show) and ``curve_keys`` (default keys;
    none: every key) narrow and fill in what the browser leaves out."""

    def req_curves(self, runs=None, keys=None, x: str = "step", buckets: int = DEFAULT_BUCKETS,
                   x_range=None, skip=()):
        allowed = getattr(self, "curve_runs", None)
        run_ids = list(runs) if runs is not None else list(allowed or [])
        if allowed is not None and not set(run_ids) <= set(allowed):
            raise KeyError("this panel does not show some of those runs")
        key_list = list(keys) if keys else (list(getattr(self, "curve_keys", None) or []) or None)
        meta, data = payload(self.store_layout, run_ids, key_list, x=x, buckets=buckets, x_range=x_range,
                             skip=[tuple(p) for p in skip or ()])
        self.last_payload_bytes = len(data)  # what the last answer carried (the figures in the tests)
        return meta, data
