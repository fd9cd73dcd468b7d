"""Charts as altair specifications: the line chart of curves, the bar chart of one value per
run, and :class:`Chart`, a panel that draws any altair chart with nbtrack's bundled vega
(fetched once per page, not inlined per chart as altair's own offline widget does) and sends
its data over the comm as Arrow, never inside the saved widget state.

Every chart object has ``.to_altair()``. A saved notebook shows a PNG rendered offline by
vl-convert (``image/png`` in the MIME bundle) where no widget can run (GitHub, nbviewer).
Run names and metric keys are data values (drawn by vega as text), never field names or
expressions.
"""

from __future__ import annotations

import base64
import logging

import traitlets

from ..query import series as series_q
from .panel import Panel

log = logging.getLogger("nbtrack.ui")

ALTAIR_HINT = "pip install 'nbtrack[notebook]'  (altair builds nbtrack's charts, vl-convert-python draws the static PNG)"
BASE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"]
X_TITLES = {"step": "step", "time": "time", "relative": "seconds since the run's first point"}


def altair():
    try:
        import altair as alt
    except ImportError:
        from . import PanelsUnavailableError

        raise PanelsUnavailableError(f"nbtrack charts need altair: {ALTAIR_HINT}") from None
    return alt


def run_color(i: int) -> str:
    """The i-th run's colour, as js/src/charts/palette.js gives it."""
    if i < len(BASE):
        return BASE[i]
    return f"hsl({round((i * 137.508) % 360)}, 62%, {45 + ((i * 7) % 3) * 8}%)"


def _color_scale(alt, runs: list[str], names: dict[str, dict]):
    labels = [(names.get(r) or {}).get("name") or r for r in runs]
    return alt.Scale(domain=labels, range=[run_color(i) for i in range(len(labels))])


def curves_frame(curves: series_q.Curves, names: dict[str, dict]):
    """Thinned curves as a polars frame ``run_id, name, key, x, value``."""
    import numpy as np
    import polars as pl

    counts = [s["points"] for s in curves.series]
    x = curves.x if curves.x is not None else np.zeros(0)
    if curves.x_mode == "time" and len(x):
        x_col = pl.Series("x", x.astype("int64")).cast(pl.Datetime("ms", "UTC"))
    else:
        x_col = pl.Series("x", x)
    return pl.DataFrame({
        "run_id": np.repeat([s["run_id"] for s in curves.series], counts) if counts else [],
        "name": np.repeat([(names.get(s["run_id"]) or {}).get("name") or s["run_id"] for s in curves.series], counts)
        if counts else [],
        "key": np.repeat([s["key"] for s in curves.series], counts) if counts else [],
    }, schema={"run_id": pl.String, "name": pl.String, "key": pl.String}).with_columns(
        x_col, pl.Series("value", curves.y if curves.y is not None else np.zeros(0)))


def _finite(frame):
    """``frame`` with NaN and infinities as null (JSON has neither)."""
    import polars as pl

    floats = [n for n, t in frame.schema.items() if t.is_float()]
    return frame.with_columns(pl.when(pl.col(n).is_finite()).then(pl.col(n)).otherwise(None).alias(n) for n in floats)


def _values(frame) -> list[dict]:
    """Rows for a vega-lite dataset: non-finite values as null, times as ISO 8601 text."""
    import polars as pl

    out = _finite(frame)
    times = [n for n, t in out.schema.items() if isinstance(t, pl.Datetime)]
    return out.with_columns(pl.col(n).dt.strftime("%Y-%m-%dT%H:%M:%S%.3fZ") for n in times).to_dicts()


def to_spec(chart) -> dict:
    """An altair chart as a vega-lite dict, its DataFrames inline whatever their size
    (altair's 5,000-row guard is for people; these rows are already thinned)."""
    if isinstance(chart, dict):
        return chart
    alt = altair()
    with alt.data_transformers.disable_max_rows():
        return chart.to_dict()


def line_chart(frame, x: str = "step", log_y: bool = False, runs: list[str] | None = None,
               names: dict[str, dict] | None = None, width: int = 560, height: int = 220):
    """Overlaid curves (one line per run, one chart per key) as an ``altair.Chart``."""
    alt = altair()
    names = names or {}
    runs = runs or list(dict.fromkeys(frame["run_id"].to_list()))
    x_type = "T" if x == "time" else "Q"
    base = alt.Chart(_finite(frame)).mark_line(strokeWidth=1.25).encode(
        x=alt.X(f"x:{x_type}", title=X_TITLES[x]),
        y=alt.Y("value:Q", title=None, scale=alt.Scale(type="log") if log_y else alt.Scale(zero=False)),
        color=alt.Color("name:N", title="run", scale=_color_scale(alt, runs, names)),
        detail="run_id:N",
        tooltip=[alt.Tooltip("name:N", title="run"), alt.Tooltip("key:N", title="metric"),
                 alt.Tooltip(f"x:{x_type}", title=x), alt.Tooltip("value:Q", format=".6~g")],
    ).properties(width=width, height=height)
    keys = list(dict.fromkeys(frame["key"].to_list()))
    if len(keys) <= 1:
        return base.properties(title=keys[0] if keys else "")
    return base.facet(row=alt.Row("key:N", title=None, sort=keys)).resolve_scale(y="independent")


def summary_frame(layout, run_ids: list[str], keys: list[str], summary: str = "last", goal: str | None = None):
    """``run_id, name, key, value, step, color`` for a bar chart."""
    import polars as pl

    names = series_q.labels(layout, run_ids)
    frame = series_q.summary(layout, run_ids, keys, summary, goal)
    order = {r: i for i, r in enumerate(run_ids)}
    return frame.with_columns(
        pl.col("run_id").replace_strict({r: (names.get(r) or {}).get("name") or r for r in run_ids},
                                        return_dtype=pl.String).alias("name"),
        pl.col("run_id").replace_strict({r: run_color(i) for r, i in order.items()}, return_dtype=pl.String).alias("color"),
    ).select("run_id", "name", "key", "value", "step", "color")


def bar_spec(frame, summary: str = "last", names_order: list[str] | None = None, data=None):
    """One bar per run for each key: an ``altair.Chart`` (``data`` overrides the inline rows,
    e.g. a named data source the panel fills over the comm)."""
    alt = altair()
    keys = list(dict.fromkeys(frame["key"].to_list()))
    order = names_order or list(dict.fromkeys(frame["name"].to_list()))
    title = f"{summary} value" if len(keys) != 1 else f"{summary} {keys[0]}"
    chart = alt.Chart(data if data is not None else _finite(frame)).mark_bar().encode(
        y=alt.Y("name:N", title=None, sort=order, axis=alt.Axis(labelLimit=240)),
        x=alt.X("value:Q", title=title),
        color=alt.Color("color:N", scale=None, legend=None),
        tooltip=[alt.Tooltip("name:N", title="run"), alt.Tooltip("key:N", title="metric"),
                 alt.Tooltip("value:Q", format=".6~g", title=summary), alt.Tooltip("step:Q", title="at step")],
    ).properties(width=360, height=alt.Step(18))
    if len(keys) > 1:
        chart = chart.facet(column=alt.Column("key:N", title=None, sort=keys)).resolve_scale(x="independent")
    return chart


def split_data(spec: dict, frames: dict | None = None) -> tuple[dict, dict]:
    """A vega-lite spec without inline data: ``datasets`` and ``data.values`` become named
    sources, returned as polars frames (``frames`` adds or overrides by name)."""
    import polars as pl

    spec = dict(spec)
    out = {name: pl.DataFrame(rows) if rows else pl.DataFrame() for name, rows in (spec.pop("datasets", None) or {}).items()}
    data = spec.get("data")
    if isinstance(data, dict) and "values" in data:
        out["nbtrack-values"] = pl.DataFrame(data["values"]) if data["values"] else pl.DataFrame()
        spec["data"] = {"name": "nbtrack-values"}
    for name, frame in (frames or {}).items():
        out[name] = frame
    return spec, out


def _parts(chart, frames: dict | None):
    """(spec without data, {name: polars frame}) of an altair chart or a vega-lite dict; a
    chart's own DataFrame is taken as it is (no JSON, no 5,000-row limit)."""
    if isinstance(chart, dict):
        return split_data(chart, frames)
    import polars as pl

    data = getattr(chart, "data", None)
    own = {}
    if isinstance(data, pl.DataFrame) or type(data).__module__.startswith("pandas"):
        alt = altair()
        own = {"nbtrack-data": data if isinstance(data, pl.DataFrame) else pl.from_pandas(data)}
        chart = chart.copy()
        chart.data = alt.NamedData(name="nbtrack-data")
    return split_data(to_spec(chart), {**own, **(frames or {})})


def static_png(spec: dict, scale: float = 1.0) -> bytes | None:
    """The chart as a PNG, rendered offline by vl-convert; None without vl-convert."""
    try:
        import vl_convert as vlc
    except ImportError:
        return None
    try:
        return vlc.vegalite_to_png(spec, scale=scale)
    except Exception:  # noqa: BLE001 - a static picture must never break showing the panel
        log.debug("nbtrack: the static chart could not be drawn", exc_info=True)
        return None


def mimebundle(panel, altair_factory, **kwargs):
    """The widget's MIME bundle with ``text/plain`` and, from ``altair_factory()``, an
    ``image/png`` (no ``text/html``: where widgets don't run, the picture is the chart)."""
    bundle = super(Panel, panel)._repr_mimebundle_(**kwargs)
    if bundle is None:
        return None
    data, metadata = bundle
    data = dict(data, **{"text/plain": panel.fallback_text()})
    if altair_factory is not None:
        try:
            png = static_png(to_spec(altair_factory()))
        except Exception:  # noqa: BLE001 - see static_png
            log.debug("nbtrack: no static chart", exc_info=True)
            png = None
        if png:
            data["image/png"] = base64.b64encode(png).decode()
    return data, metadata


class Chart(Panel):
    """Any altair chart (or vega-lite spec) as a panel: ``Chart(alt.Chart(df).mark_point()...)``.
    ``frames`` fills named data sources (``alt.NamedData("runs")``) with polars frames; the
    data travels as Arrow on request. ``renderer`` is "svg" (crisp, text selectable) or
    "canvas" (many marks)."""

    _panel = traitlets.Unicode("chart").tag(sync=True)

    def __init__(self, chart, frames: dict | None = None, renderer: str = "svg", static: bool = True,
                 text: str = "nbtrack chart"):
        self._chart = chart
        self.spec, self.frames = _parts(chart, frames)
        self.renderer = renderer if renderer in ("svg", "canvas") else "svg"
        self.static = static
        self.text = text
        super().__init__()

    def update(self, chart, frames: dict | None = None) -> None:
        """Draw another chart (or the same with new data) in this panel."""
        self._chart = chart
        self.spec, self.frames = _parts(chart, frames)
        self.push("chart", {})

    def req_chart(self):
        return {"spec": self.spec, "datasets": list(self.frames), "renderer": self.renderer}

    def req_chart_data(self, name: str):
        if name not in self.frames:
            raise KeyError(f"this chart has no data named {name!r}")
        return {}, self.frames[name]

    def to_altair(self):
        """The chart as an ``altair`` chart, data inline."""
        alt = altair()
        if not isinstance(self._chart, dict) and not self.frames:
            return self._chart
        spec = dict(self.spec)
        spec["datasets"] = {name: _values(frame) for name, frame in self.frames.items()}
        kinds = {"facet": alt.FacetChart, "layer": alt.LayerChart, "hconcat": alt.HConcatChart,
                 "vconcat": alt.VConcatChart, "concat": alt.ConcatChart, "repeat": alt.RepeatChart}
        kind = next((k for k in kinds if k in spec), None)
        return (kinds[kind] if kind else alt.Chart).from_dict(spec)

    def fallback_text(self) -> str:
        return self.text

    def _repr_mimebundle_(self, **kwargs):
        return mimebundle(self, self.to_altair if self.static else None, **kwargs)


class BarChart(Chart):
    """One bar per run: each metric's last (or first, min, max, mean, best) value."""

    def __init__(self, layout, run_ids: list[str], keys: list[str], summary: str = "last", goal: str | None = None,
                 static: bool = True):
        alt = altair()
        self.store_layout = layout
        self.summary = summary
        self.data = summary_frame(layout, run_ids, keys, summary, goal)
        names = series_q.labels(layout, run_ids)
        order = [(names.get(r) or {}).get("name") or r for r in run_ids]
        self._order = order
        chart = bar_spec(self.data, summary, order, data=alt.NamedData(name="values"))
        super().__init__(chart, frames={"values": self.data}, static=static,
                         text=f"nbtrack bar chart: {summary} {', '.join(keys)} of {len(run_ids)} runs")

    def to_altair(self):
        return bar_spec(self.data, self.summary, self._order)


def bar_chart(layout, run_ids, keys, summary: str = "last", goal: str | None = None, static: bool = True, **_):
    return BarChart(layout, run_ids, keys, summary=summary, goal=goal, static=static)
