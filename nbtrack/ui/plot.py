"""``nbtrack.plot(runs, "loss")``: overlaid metric curves in the notebook, live while a run of
this process trains (``run.live()``, ``%track start --live``).

The panel holds only settings in its traits (runs, keys, x, log y, smoothing, zoom); the
curves come over the comm, thinned in the kernel (``query/series.py``) and drawn by uPlot in
the browser. ``.to_altair()`` gives the same curves as an altair chart to restyle or save,
and a notebook saved with its outputs shows a PNG of it where no widget can run.
"""

from __future__ import annotations

import time
import uuid

import traitlets

from ..query import runs as runs_q
from ..query import series as series_q
from ..store.layout import Layout
from . import bundle, charts, live, watch
from .curves import CurveRequests
from .panel import Panel, in_kernel

DEFAULT_KEYS = 8  # metrics shown when none are named
STATIC_BUCKETS = 160  # columns per series for to_altair() and the static PNG
STATIC_ROWS = 24_000  # at most about this many points in the PNG (vl-convert draws ~50k/s)


def resolve_runs(layout: Layout, runs) -> list[str]:
    """Run ids from ids/names, a Run, a runs() frame, a RunTable (its selection, else the
    runs it shows) or None (the active run)."""
    if runs is None:
        from ..active import active_run

        run = active_run()
        if run is None:
            raise ValueError("which runs? give run ids or names, a runs() frame or a run table")
        return [run.id]
    if hasattr(runs, "selected") and hasattr(runs, "runs") and not isinstance(runs, (str, dict)):
        chosen = list(runs.selected) or runs.runs["run_id"].to_list()[:20]
        return chosen
    if hasattr(runs, "columns") and "run_id" in getattr(runs, "columns", ()):
        return runs["run_id"].to_list()
    if isinstance(runs, (str, dict)) or hasattr(runs, "id"):
        return [runs_q.resolve(layout, runs)]
    return [runs_q.resolve(layout, r) for r in runs]


def keys_of(layout: Layout, run_ids: list[str]) -> list[str]:
    """The metric keys these runs logged, in the order first logged (at most DEFAULT_KEYS)."""
    seen: dict[str, None] = {}
    for run_id in run_ids:
        for key in series_q.read_run(layout, run_id, time=False)["key"].unique(maintain_order=True):
            seen.setdefault(key, None)
        if len(seen) >= DEFAULT_KEYS:
            break
    return list(seen)[:DEFAULT_KEYS]


def _training_here(run_ids: list[str]) -> list:
    from .. import flushing
    from ..run import Run

    # the flusher also keeps the kernel's cell capture: only runs this process owns
    mine = {r.id: r for r in flushing.open_runs() if isinstance(r, Run) and r.owner and not r.ended}
    return [mine[r] for r in run_ids if r in mine]


class MetricPlot(CurveRequests, Panel):
    """Curves of ``keys`` for ``runs`` overlaid, one chart per key, one colour per run."""

    _panel = traitlets.Unicode("plot").tag(sync=True)
    runs = traitlets.List(traitlets.Unicode()).tag(sync=True)
    metrics = traitlets.List(traitlets.Unicode()).tag(sync=True)  # none: every key logged
    x = traitlets.Unicode("step").tag(sync=True)
    log_y = traitlets.Bool(False).tag(sync=True)
    smoothing = traitlets.Float(0.0).tag(sync=True)
    x_range = traitlets.List().tag(sync=True)
    height = traitlets.Int(240).tag(sync=True)
    live = traitlets.Bool(False).tag(sync=True)
    _uid = traitlets.Unicode("").tag(sync=True)  # keys what the page keeps of this widget's curves

    def __init__(self, layout: Layout, run_ids: list[str], keys: list[str] | None = None, *, x: str = "step",
                 log_y: bool = False, smoothing: float = 0.0, height: int = 240, static: bool = True,
                 watch_store: bool | None = None):
        if x not in series_q.X_MODES:
            raise ValueError(f"x must be one of {', '.join(series_q.X_MODES)}; got {x!r}")
        if not 0.0 <= float(smoothing) < 1.0:
            raise ValueError(f"smoothing is a weight in [0, 1); got {smoothing!r}")
        self.store_layout = layout
        self.curve_runs = list(dict.fromkeys(run_ids))
        self.static = static
        training = _training_here(self.curve_runs)
        self._inline = bool(training)  # drawn mid-cell: carry the runtime (see bundle.live_esm)
        self.names = series_q.labels(layout, self.curve_runs)
        self.seen_signature = None
        self._cached = None  # curves computed for the static picture, reused by the first draw
        self.timings: dict[str, float] = {}  # where the first draw's kernel time went
        super().__init__(runs=self.curve_runs, metrics=list(keys or []), x=x, log_y=log_y, smoothing=float(smoothing),
                         height=int(height), live=bool(training), _uid=uuid.uuid4().hex)
        self.curve_keys = list(keys or []) or None
        self.feed = live.start(self, training, self.curve_keys, self.names) if training else None
        elsewhere = [r for r, n in self.names.items() if n.get("status") == "running" and r not in {t.id for t in training}]
        self._elsewhere = elsewhere
        if elsewhere and (in_kernel() if watch_store is None else watch_store):
            self.seen_signature = self.store_signature()
            watch.watch(self)

    @property
    def _esm(self) -> str:  # read once, at construction
        return bundle.live_esm() if getattr(self, "_inline", False) else super()._esm

    # ------------------------------------------------------------------ the channel
    def _receive(self, widget, content, buffers) -> None:
        super()._receive(widget, content, buffers)
        if self._inline and isinstance(content, dict):
            # the kernel answers comm messages again: the page has the runtime now, and a
            # saved notebook should hold the 1.4 KB loader, not the inlined runtime
            self._inline = False
            self._esm = bundle.loader_path().read_text()

    def req_curves(self, runs=None, keys=None, x: str = "step", buckets: int = 900, x_range=None, skip=()):
        cached = self._cached
        self._cached = None  # one use: the first draw, computed with the static picture
        if cached is not None and runs is None and not keys and not x_range and not skip and x == cached.x_mode \
                and int(buckets or 0) <= cached.buckets:
            from .curves import encode

            meta, data = encode(cached, self.names)
            meta["zoomed"] = False
            self.last_payload_bytes = len(data)
            return meta, data
        return super().req_curves(runs=runs, keys=keys, x=x, buckets=buckets, x_range=x_range, skip=skip)

    def _curves(self, buckets: int):
        return series_q.curves(self.store_layout, self.curve_runs, self.curve_keys, x=self.x, buckets=buckets)

    def req_live(self):
        if self.feed is None:
            return {"kind": "none", "series": [], "parts": []}
        return self.feed.message(force_snapshot=True)

    # runs training in another process: re-read when their files change or their process dies
    def store_signature(self):
        from ..query import changes
        from ..store import liveness

        alive = tuple(liveness.owner_alive(self.store_layout, r, (self.names.get(r) or {}).get("owner") or {})
                      for r in self._elsewhere)
        return changes.signature(self.store_layout, self._elsewhere), alive

    def refresh_from_store(self) -> None:
        self.seen_signature = self.store_signature()
        self.names = series_q.labels(self.store_layout, self.curve_runs)
        self._elsewhere = [r for r in self._elsewhere if self.names.get(r, {}).get("status") == "running"]
        self.push("reload", {})
        if not self._elsewhere:
            watch.unwatch(self)

    def close(self) -> None:
        watch.unwatch(self)
        if self.feed is not None:
            self.feed.stop()
        super().close()

    # ------------------------------------------------------------------ altair and static forms
    def frame(self, buckets: int = STATIC_BUCKETS):
        """The curves as a polars frame ``run_id, name, key, x, value`` (M4-thinned to
        ``buckets`` columns on the chart's x axis)."""
        return charts.curves_frame(self._curves(buckets), self.names)

    def to_altair(self, buckets: int = STATIC_BUCKETS):
        """The chart as an ``altair.Chart`` over a polars frame, to restyle, save or render
        elsewhere (more than 5,000 points: ``alt.data_transformers.disable_max_rows()``)."""
        return self._chart(self.frame(buckets))

    def _chart(self, frame):
        return charts.line_chart(frame, x=self.x, log_y=self.log_y, runs=self.curve_runs, names=self.names)

    def _static_chart(self):
        """The PNG's chart: from the curves the browser's first draw will use (computed once),
        thinned so vl-convert stays quick with many runs."""
        started = time.perf_counter()
        self._cached = self._curves(900)
        self.timings["curves_s"] = round(time.perf_counter() - started, 3)
        n = max(1, len(self._cached.series))
        thinned = series_q.thin(self._cached, max(30, min(STATIC_BUCKETS, STATIC_ROWS // (4 * n))))
        return self._chart(charts.curves_frame(thinned, self.names))

    def fallback_text(self) -> str:
        keys = ", ".join(self.curve_keys or []) or "every metric"
        names = ", ".join((self.names.get(r) or {}).get("name") or r for r in self.curve_runs[:5])
        more = f" and {len(self.curve_runs) - 5} more" if len(self.curve_runs) > 5 else ""
        return f"nbtrack plot: {keys} of {names}{more}" + (" (live)" if self.live else "")

    def _repr_mimebundle_(self, **kwargs):
        started = time.perf_counter()
        bundle_ = charts.mimebundle(self, self._static_chart if self.static and not self.live else None, **kwargs)
        self.timings["mimebundle_s"] = round(time.perf_counter() - started, 3)  # the static PNG with it
        return bundle_


def plot(layout: Layout, runs=None, metrics=None, *, kind: str = "line", summary: str = "last",
         goal: str | None = None, **options):
    """A chart panel: ``kind="line"`` overlaid curves (:class:`MetricPlot`), ``kind="bar"``
    one bar per run of each metric's ``summary`` (last, first, min, max, mean, best)."""
    run_ids = resolve_runs(layout, runs)
    if not run_ids:
        raise ValueError("no runs to plot")
    keys = [metrics] if isinstance(metrics, str) else (list(metrics) if metrics is not None else None)
    if kind == "bar":
        return charts.bar_chart(layout, run_ids, keys or keys_of(layout, run_ids), summary=summary, goal=goal,
                                **options)
    if kind != "line":
        raise ValueError(f"kind must be 'line' or 'bar'; got {kind!r}")
    if keys is None and not _training_here(run_ids):
        keys = keys_of(layout, run_ids)
    return MetricPlot(layout, run_ids, keys, **options)


def show_live(run, metrics: list[str] | None = None, **options) -> MetricPlot:
    """Display a live chart of ``run`` (a Run of this process) now, mid-cell if need be."""
    from IPython.display import display

    panel = MetricPlot(run.layout, [run.id], metrics, **options)
    display(panel)
    return panel
