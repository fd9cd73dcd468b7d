"""The charts of the compare and sweep panels as altair specifications: parallel coordinates of
params against an objective metric, a scatter of a param against a metric, and a sweep's
best-so-far curve.

Each is a :class:`ChartSpec`: the frames it draws and a function that builds the altair chart
over them. In a panel the spec names its datasets (``{"data": {"name": ...}}``) and the rows
travel as Arrow over the comm, drawn by the shared vega renderer; ``to_altair()`` gives the same
chart with the data inline, for a person to restyle, save or render elsewhere.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field

LOG_DECADES = 2.0  # a positive axis spanning more than this many decades is drawn in log space


@dataclass
class ChartSpec:
    """``frames`` (name -> polars frame) and ``build(data)`` where ``data(name)`` is what the
    chart's layer reads (a named dataset in a panel, the rows themselves in ``to_altair``)."""

    kind: str
    frames: dict
    build: object
    title: str = ""
    meta: dict = field(default_factory=dict)

    def spec(self) -> dict:
        import altair as alt

        return self.build(lambda name: alt.Data(name=name)).to_dict()

    def to_altair(self):
        """The chart with its data inline: an ``alt.Chart`` (or layer) to restyle or save."""
        import altair as alt

        return self.build(lambda name: alt.InlineData(values=_rows(self.frames[name])))


def static_images(charts: list) -> str:
    """``<img>`` tags of ``charts`` (ChartSpec factories: a chart that cannot be built, or
    drawn, is left out) as PNGs rendered offline by vl-convert: the charts of a panel's
    static form, which GitHub and nbviewer show where no widget runs."""
    import base64

    from .charts import static_png, to_spec

    tags = []
    for make in charts:
        try:
            chart = make()
            png = static_png(to_spec(chart.to_altair()))
        except Exception:  # noqa: BLE001 - a picture must never break showing the panel
            png = None
        if png:
            alt_text = html.escape(f"nbtrack chart: {chart.title or chart.kind}", quote=True)
            tags.append(f'<img alt="{alt_text}" src="data:image/png;base64,{base64.b64encode(png).decode()}">')
    return "".join(tags)


def _rows(frame) -> list[dict]:
    import polars as pl

    times = [n for n, t in frame.schema.items() if isinstance(t, pl.Datetime)]
    if times:
        frame = frame.with_columns(pl.col(n).dt.epoch("ms").cast(pl.Float64) for n in times)
    return frame.to_dicts()


def _finite(values) -> list[float]:
    return [float(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)]


def _axis(name: str, values: list) -> tuple[list, list[dict]]:
    """Positions in [0, 1] for one parallel axis and its tick labels: numbers scaled linearly
    (log-scaled when positive over more than two decades), anything else spread by category."""
    numbers = _finite(values)
    if numbers and len(numbers) == sum(v is not None for v in values):
        lo, hi = min(numbers), max(numbers)
        log = lo > 0 and hi / lo >= 10**LOG_DECADES
        f = (lambda v: math.log10(v)) if log else (lambda v: v)
        a, b = f(lo), f(hi)
        span = (b - a) or 1.0
        pos = [None if v is None else (0.5 if a == b else (f(float(v)) - a) / span) for v in values]
        ticks = [{"axis": name, "pos": 0.0 if a != b else 0.5, "label": _label(lo)}]
        if a != b:
            ticks.append({"axis": name, "pos": 1.0, "label": _label(hi)})
            if log:
                ticks[-1]["label"] += " (log)"
        return pos, ticks
    cats = sorted({str(v) for v in values if v is not None})
    where = {c: (i / (len(cats) - 1) if len(cats) > 1 else 0.5) for i, c in enumerate(cats)}
    return ([None if v is None else where[str(v)] for v in values],
            [{"axis": name, "pos": p, "label": c[:24]} for c, p in where.items()])


def _label(v: float) -> str:
    return f"{v:.4g}"


def parallel_frames(points, axes: list[str], objective: str):
    """Long frames for parallel coordinates from ``points`` (one row per run: run_id, name and
    the axes' columns): ``lines`` (run_id, name, axis, order, pos, value, objective) and
    ``ticks`` (axis, pos, label). The objective is the last axis."""
    import polars as pl

    axes = [a for a in dict.fromkeys([*axes, objective]) if a in points.columns]
    objective_values = points[objective].to_list() if objective in points.columns else [None] * points.height
    lines, ticks = [], []
    for order, name in enumerate(axes):
        values = points[name].to_list()
        pos, axis_ticks = _axis(name, values)
        ticks += axis_ticks
        for rid, run, v, p, obj in zip(points["run_id"], points["name"], values, pos, objective_values, strict=True):
            if p is not None:
                lines.append({"run_id": rid, "name": run, "axis": name, "order": order, "pos": p,
                              "value": _label(v) if isinstance(v, float) else str(v),
                              "objective": obj if isinstance(obj, (int, float)) else None})
    schema = {"run_id": pl.String, "name": pl.String, "axis": pl.String, "order": pl.Int64, "pos": pl.Float64,
              "value": pl.String, "objective": pl.Float64}
    return (pl.DataFrame(lines, schema=schema),
            pl.DataFrame(ticks, schema={"axis": pl.String, "pos": pl.Float64, "label": pl.String}))


def _short(name: str) -> str:
    return name.split(".", 1)[1] if name.startswith(("params.", "metrics.")) else name


def parallel(points, axes: list[str], objective: str, direction: str = "") -> ChartSpec:
    """Parallel coordinates: one line per run across the params, coloured by the objective."""
    import altair as alt

    lines, ticks = parallel_frames(points, axes, objective)
    order = list(dict.fromkeys(lines["axis"].to_list()))
    labels = {a: _short(a) for a in order}
    reverse = direction == "minimize"  # the best runs get the bright end

    def build(data):
        x = alt.X("axis:N", sort=order, title=None, axis=alt.Axis(labelAngle=0, labelExpr=_label_expr(labels), orient="top"))
        line = alt.Chart(data("lines")).mark_line(opacity=0.75, strokeWidth=1.6).encode(
            x=x, y=alt.Y("pos:Q", axis=None, scale=alt.Scale(domain=[0, 1])),
            color=alt.Color("objective:Q", title=_short(objective), scale=alt.Scale(scheme={"name": "viridis", "extent": [0.2, 1]}, reverse=reverse)),
            detail="run_id:N", order="order:Q",
            tooltip=[alt.Tooltip("name:N", title="run"), alt.Tooltip("axis:N", title="axis"), alt.Tooltip("value:N", title="value"),
                     alt.Tooltip("objective:Q", title=_short(objective), format=".4g")])
        rule = alt.Chart(data("ticks")).mark_rule(opacity=0.35).encode(x=x)
        text = alt.Chart(data("ticks")).mark_text(align="left", dx=4, fontSize=10, opacity=0.8).encode(
            x=x, y=alt.Y("pos:Q", axis=None, scale=alt.Scale(domain=[0, 1])), text="label:N")
        return alt.layer(rule, line, text).properties(width="container", height=300)

    return ChartSpec("parallel", {"lines": lines, "ticks": ticks}, build, title=f"params against {_short(objective)}",
                     meta={"objective": objective, "axes": order})


def _label_expr(labels: dict) -> str:
    import json

    return f"({json.dumps(labels)})[datum.value] || datum.value"


def scatter(points, x: str, y: str) -> ChartSpec:
    """One point per run: param ``x`` against metric ``y`` (run names on hover)."""
    import altair as alt
    import polars as pl

    frame = points.select(pl.col("run_id"), pl.col("name"), pl.col("status"),
                          pl.col(x).alias("x") if x in points.columns else pl.lit(None).alias("x"),
                          pl.col(y).alias("y") if y in points.columns else pl.lit(None, pl.Float64).alias("y"))
    numeric = frame.schema["x"].is_numeric()
    if not numeric:
        frame = frame.with_columns(pl.col("x").cast(pl.String))
    values = _finite(frame["x"].to_list()) if numeric else []
    log = bool(values) and min(values) > 0 and max(values) / min(values) >= 10**LOG_DECADES

    def build(data):
        xenc = (alt.X("x:Q", title=_short(x), scale=alt.Scale(type="log" if log else "linear", zero=False)) if numeric
                else alt.X("x:N", title=_short(x)))
        return alt.Chart(data("points")).mark_circle(size=70, opacity=0.85).encode(
            x=xenc, y=alt.Y("y:Q", title=_short(y), scale=alt.Scale(zero=False)),
            tooltip=[alt.Tooltip("name:N", title="run"), alt.Tooltip("status:N", title="status"),
                     alt.Tooltip("x:Q" if numeric else "x:N", title=_short(x)),
                     alt.Tooltip("y:Q", title=_short(y), format=".4g")]).properties(width="container", height=300)

    return ChartSpec("scatter", {"points": frame}, build, title=f"{_short(y)} against {_short(x)}", meta={"x": x, "y": y})


def curves(frame, key: str) -> ChartSpec:
    """One line per run of metric ``key`` (``frame``: run_id, name, step, value, already
    downsampled with spikes kept), a legend with the run names."""
    import altair as alt

    def build(data):
        return alt.Chart(data("curves")).mark_line(strokeWidth=1.6, clip=True).encode(
            x=alt.X("step:Q", title="step"), y=alt.Y("value:Q", title=key, scale=alt.Scale(zero=False)),
            color=alt.Color("name:N", title="run"), detail="run_id:N",
            tooltip=[alt.Tooltip("name:N", title="run"), alt.Tooltip("step:Q", title="step"),
                     alt.Tooltip("value:Q", title=key, format=".5g")]).properties(width="container", height=300)

    return ChartSpec("curves", {"curves": frame}, build, title=f"{key} for each run", meta={"key": key})


def best_so_far(frame, objective: str, direction: str) -> ChartSpec:
    """A sweep's trial values in completion order, with the best so far as a step line."""
    import altair as alt

    def build(data):
        base = alt.Chart(data("best"))
        points = base.mark_circle(size=45, opacity=0.6).encode(
            x=alt.X("order:Q", title="completed trials", scale=alt.Scale(zero=False),
                    axis=alt.Axis(tickMinStep=1, format="d")), y=alt.Y("value:Q", title=objective, scale=alt.Scale(zero=False)),
            tooltip=[alt.Tooltip("number:Q", title="trial"), alt.Tooltip("value:Q", title=objective, format=".4g"),
                     alt.Tooltip("best:Q", title="best so far", format=".4g")])
        line = base.mark_line(interpolate="step-after", strokeWidth=2.2).encode(x="order:Q", y="best:Q")
        return alt.layer(points, line).properties(width="container", height=280)

    return ChartSpec("best", {"best": frame}, build, title=f"best {objective} so far ({direction})",
                     meta={"objective": objective, "direction": direction})


class ChartRequests:
    """Mixin for a panel that draws ChartSpecs: it defines ``chart(kind, **choices)``; the
    browser asks ``chart`` (the spec and its dataset names), then ``chart_data`` per dataset."""

    def req_chart(self, kind: str, **choices):
        chart = self.chart(kind, **{k: v for k, v in choices.items() if v not in (None, "")})
        self.__dict__.setdefault("_chart_specs", {})[kind] = chart
        return {"kind": kind, "spec": chart.spec(), "datasets": list(chart.frames), "title": chart.title, **chart.meta}

    def req_chart_data(self, kind: str, name: str):
        chart = self.__dict__.get("_chart_specs", {}).get(kind)
        if chart is None or name not in chart.frames:
            raise KeyError(f"ask for the {kind!r} chart before its data")
        return {"name": name}, chart.frames[name]
