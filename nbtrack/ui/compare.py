"""The compare panel: ``nbtrack.compare([a, b, ...])``, ``%track compare A B ...``.

Params, run fields and metadata side by side with the differing values marked (and a toggle
to hide the equal ones), a metric summary, "what changed" between two runs (their code cell by
cell, packages, inputs by content hash, git), and charts over the runs: parallel coordinates,
a scatter, overlaid curves. Traits hold the choices a person makes; the data comes on request.
"""

from __future__ import annotations

import html

import traitlets

from ..store.layout import Layout
from . import compare_charts, compare_data, compare_diff
from .compare_charts import ChartRequests
from .curves import CurveRequests
from .panel import Panel
from .run_requests import RunRequests

CURVE_BUCKETS = 400  # per run: at most 1,600 points of a curve reach the browser


class ComparePanel(ChartRequests, CurveRequests, RunRequests, Panel):
    """Runs side by side. ``panel.run_ids``; ``hide_equal``; ``pair`` (the two runs whose code
    and environment are diffed); ``objective``, ``scatter_x``, ``scatter_y``, ``curve`` (chart
    choices)."""

    _panel = traitlets.Unicode("compare").tag(sync=True)
    run_ids = traitlets.List(traitlets.Unicode()).tag(sync=True)
    tab = traitlets.Unicode("params").tag(sync=True)
    hide_equal = traitlets.Bool(False).tag(sync=True)
    pair = traitlets.List(traitlets.Unicode()).tag(sync=True)
    objective = traitlets.Unicode("").tag(sync=True)
    scatter_x = traitlets.Unicode("").tag(sync=True)
    scatter_y = traitlets.Unicode("").tag(sync=True)
    curve = traitlets.Unicode("").tag(sync=True)

    def __init__(self, layout: Layout, runs, tab: str = "params", hide_equal: bool = False,
                 objective: str = "", curve: str = "", static: bool = True):
        self.store_layout = layout
        self.static = static  # PNGs of the charts in the static form (vl-convert, at display)
        logs = compare_data.logs(layout, runs)
        self._logs = {log["run_id"]: log for log in logs}
        ids = [log["run_id"] for log in logs]
        self.curve_runs = ids  # what the overlaid curves (CurveRequests) may show
        super().__init__(run_ids=ids, tab=tab, hide_equal=hide_equal, pair=ids[:2],
                         objective=_metric_name(objective), curve=curve)

    def _ordered_logs(self) -> list[dict]:
        return [self._logs[rid] for rid in self.run_ids if rid in self._logs]

    # ------------------------------------------------------------------ requests
    def req_compare(self):
        logs = self._ordered_logs()
        ids = [log["run_id"] for log in logs]
        return {"runs": compare_data.head(logs), "sections": compare_data.sections(logs),
                "metrics": compare_data.metric_summary(self.store_layout, ids)}

    def req_diff(self, a: str, b: str):
        if a not in self._logs or b not in self._logs:
            raise KeyError("both runs of a diff must be among the compared runs")
        return {"diff": compare_diff.code_and_env(self._logs[a], self._logs[b])}

    def req_points(self):
        frame = compare_data.points(self.store_layout, list(self.run_ids))
        return {"axes": compare_data.axes(frame)}, frame

    # ------------------------------------------------------------------ charts
    def _points(self):
        return compare_data.points(self.store_layout, list(self.run_ids))

    def parallel(self, objective: str | None = None, axes: list[str] | None = None):
        """Parallel coordinates of the params (those that vary, unless ``axes``) against
        ``objective`` (a metric: its last value); ``.to_altair()`` for the altair chart."""
        points = self._points()
        found = compare_data.axes(points)
        metric = _column(objective or self.objective or _first(found["metrics"]), "metrics.")
        if axes is None:
            axes = [a["name"] for a in found["params"] if a["varies"]] or [a["name"] for a in found["params"]]
        return compare_charts.parallel(points, [_column(a, "params.") for a in axes], metric)

    def scatter(self, x: str | None = None, y: str | None = None):
        """Param ``x`` against metric ``y``, one point per run; ``.to_altair()`` for altair."""
        points = self._points()
        found = compare_data.axes(points)
        return compare_charts.scatter(points, _column(x or self.scatter_x or _first(found["params"]), "params."),
                                      _column(y or self.scatter_y or self.objective or _first(found["metrics"]), "metrics."))

    def curves(self, key: str | None = None, buckets: int = CURVE_BUCKETS):
        """Metric ``key`` of every run, overlaid (downsampled in the kernel, spikes kept);
        ``.to_altair()`` for the altair chart."""
        import polars as pl

        from ..query import downsample
        from ..query import metrics as metrics_q

        key = _metric_name(key or self.curve or self.objective or _first(compare_data.axes(self._points())["metrics"]))
        if not key:
            raise ValueError("no metrics to chart: these runs logged none")
        frame = metrics_q.read(self.store_layout, list(self.run_ids), keys=[key]).select("run_id", "step", "value")
        frame = downsample.m4(frame, max(10, min(int(buckets), 2000)), by=("run_id",))
        names = pl.DataFrame({"run_id": list(self.run_ids),
                              "name": [str(self._logs[r].get("name") or r) for r in self.run_ids]})
        frame = frame.join(names, on="run_id", how="left").select("run_id", "name", "step", "value")
        return compare_charts.curves(frame, key)

    def chart(self, kind: str, objective: str | None = None, x: str | None = None, y: str | None = None,
              key: str | None = None):
        if kind == "parallel":
            return self.parallel(objective)
        if kind == "scatter":
            return self.scatter(x, y)
        if kind == "curves":
            return self.curves(key)
        raise ValueError(f"no chart {kind!r} here (parallel, scatter or curves)")

    # ------------------------------------------------------------------ static forms
    def _table(self) -> tuple[list[dict], dict, list[dict]]:
        logs = self._ordered_logs()
        return compare_data.head(logs), compare_data.sections(logs), compare_data.metric_summary(
            self.store_layout, [log["run_id"] for log in logs])

    def fallback_html(self) -> str:
        esc = html.escape
        heads, sections, metrics = self._table()
        top = "".join(f"<th>{esc(str(r['name']))}</th>" for r in heads)
        parts = [f'<div class="nbtrack-compare"><p><b>nbtrack compare</b> · {len(heads)} runs'
                 " (open in Jupyter with the kernel running for diffs and charts)</p>"]
        for title in ("params", "run", "metadata"):
            rows = [r for r in sections[title] if r["differs"]]
            if not rows:
                continue
            body = "".join(
                f"<tr><th>{esc(r['key'])}</th>"
                + "".join(f"<td>{esc(_text(v, p))}</td>" for v, p in zip(r["values"], r["present"], strict=True))
                + "</tr>" for r in rows)
            parts.append(f"<h4>{esc(title)} that differ</h4><table><thead><tr><th></th>{top}</tr></thead>"
                         f"<tbody>{body}</tbody></table>")
        if metrics:
            body = "".join(
                f"<tr><th>{esc(m['key'])}</th>"
                + "".join(f"<td>{esc(_text(c['last'], True)) if c else ''}</td>" for c in m["runs"]) + "</tr>"
                for m in metrics)
            parts.append(f"<h4>metrics (last)</h4><table><thead><tr><th></th>{top}</tr></thead>"
                         f"<tbody>{body}</tbody></table>")
            if self.static:
                parts.append(compare_charts.static_images([self.parallel, self.curves]))
        parts.append("</div>")
        return "".join(parts)

    def fallback_text(self) -> str:
        heads, sections, metrics = self._table()
        lines = ["nbtrack compare: " + " | ".join(str(r["name"]) for r in heads)]
        for title in ("params", "run", "metadata"):
            for r in sections[title]:
                if r["differs"]:
                    values = " | ".join(_text(v, p) for v, p in zip(r["values"], r["present"], strict=True))
                    lines.append(f"  {title} {r['key']}: {values}")
        for m in metrics:
            lines.append(f"  metric {m['key']} (last): "
                         + " | ".join(_text(c["last"], True) if c else "—" for c in m["runs"]))
        return "\n".join(lines)


def _column(name: str, prefix: str) -> str:
    """``lr`` or ``params.lr`` -> ``params.lr`` (a runs() column)."""
    if not name:
        raise ValueError(f"no {prefix.rstrip('.')} to chart: these runs logged none")
    return name if name.startswith(("params.", "metrics.")) else prefix + name


def _first(axes: list[dict]) -> str:
    return axes[0]["name"] if axes else ""


def _metric_name(name: str) -> str:
    return name[len("metrics."):] if isinstance(name, str) and name.startswith("metrics.") else (name or "")


def _text(value, present: bool) -> str:
    if not present:
        return "—"
    if isinstance(value, float):
        return f"{value:.6g}"
    return compare_data.canonical(value) if isinstance(value, (dict, list)) else str(value)
