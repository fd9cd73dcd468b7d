"""The sweep panel: ``sweep.show()`` or ``nbtrack.show(sweep)``. The trials table (state, value,
best so far, params, the trial's run), the best-so-far curve, and parallel coordinates of the
params against the objective; live while trials run (in this kernel or any other process).
"""

from __future__ import annotations

import html

import traitlets

from ..store.layout import fingerprint
from . import compare_charts, watch
from .compare_charts import ChartRequests
from .panel import Panel, in_kernel
from .run_requests import RunRequests

FALLBACK_TRIALS = 20


def _params(sweep) -> list[str]:
    return [f"params.{name}" for name in sweep.parameters]  # as Sweep.trials() names them


class SweepPanel(ChartRequests, RunRequests, Panel):
    """One sweep. ``tab`` picks what it opens on: trials, best (the curve), or parallel."""

    _panel = traitlets.Unicode("sweep").tag(sync=True)
    sweep_id = traitlets.Unicode("").tag(sync=True)
    tab = traitlets.Unicode("trials").tag(sync=True)

    def __init__(self, sweep, tab: str = "trials", live: bool | None = None):
        self.sweep = sweep
        self.store_layout = sweep.layout
        self.seen_signature = None
        super().__init__(sweep_id=sweep.id, tab=tab)
        self.seen_signature = self.store_signature()
        if in_kernel() if live is None else live:
            watch.watch(self)

    # ------------------------------------------------------------------ live
    def store_signature(self):
        from ..query import changes
        from ..tuning import records

        folder = records.sweep_dir(self.store_layout, self.sweep.id)
        running = [a.run_id for a in self.sweep.state().attempts if a.state == "running" and a.run_id]
        return (fingerprint(folder / "events"), fingerprint(folder / "claims"),
                changes.signature(self.store_layout, running))

    def refresh_from_store(self) -> None:
        self.seen_signature = self.store_signature()
        self.push("sweep", {"sweep_id": self.sweep.id})

    def close(self) -> None:
        watch.unwatch(self)
        super().close()

    # ------------------------------------------------------------------ requests
    def req_sweep(self):
        """The summary (definition, status, counts, best) and the trials, one row per attempt."""
        summary = self.sweep.summary()
        return {"summary": summary, "params": _params(self.sweep)}, self.sweep.trials()

    def req_best(self):
        return {"objective": self.sweep.objective, "direction": self.sweep.direction}, self.sweep.best_so_far()

    # ------------------------------------------------------------------ charts
    def best_chart(self):
        """The best value so far after each completed trial; ``.to_altair()`` for altair."""
        return compare_charts.best_so_far(self.sweep.best_so_far(), self.sweep.objective, self.sweep.direction)

    def parallel(self):
        """Parallel coordinates of the completed trials' params against the objective."""
        import polars as pl

        objective = f"metrics.{self.sweep.objective}"
        trials = self.sweep.trials().filter(pl.col("state") == "completed")
        points = trials.select(pl.col("run_id"), pl.col("run_name").alias("name"), *_params(self.sweep),
                               pl.col("value").alias(objective))
        return compare_charts.parallel(points, _params(self.sweep), objective, self.sweep.direction)

    def chart(self, kind: str):
        if kind == "best":
            return self.best_chart()
        if kind == "parallel":
            return self.parallel()
        raise ValueError(f"no chart {kind!r} here (best or parallel)")

    # ------------------------------------------------------------------ static forms
    def _head(self, summary: dict) -> str:
        counts = ", ".join(f"{n} {k}" for k, n in sorted(summary["counts"].items()))
        best = summary["best_value"]
        return (f"sweep {summary['name']} ({summary['strategy']}, {summary['direction']} {summary['objective']}): "
                f"{summary['status']}, {summary['trials']} trials" + (f" ({counts})" if counts else "")
                + (f", best {best:.6g}" if isinstance(best, (int, float)) else ""))

    def fallback_html(self) -> str:
        esc = html.escape
        summary = self.sweep.summary()
        trials = self.sweep.trials().head(FALLBACK_TRIALS)
        params = _params(self.sweep)
        columns = ["number", "state", "value", "best_so_far", "run_name", *params]
        head = "".join(f"<th>{esc(c.removeprefix('params.'))}</th>" for c in columns)
        body = "".join(
            "<tr>" + "".join(f"<td>{esc(_cell(row.get(c)))}</td>" for c in columns) + "</tr>"
            for row in trials.iter_rows(named=True))
        charts = compare_charts.static_images([self.best_chart, self.parallel]) if summary["trials"] else ""
        return (f'<div class="nbtrack-sweep"><p><b>nbtrack</b> · {esc(self._head(summary))}</p>'
                f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{charts}</div>")

    def fallback_text(self) -> str:
        summary = self.sweep.summary()
        lines = [self._head(summary)]
        for row in self.sweep.trials().head(FALLBACK_TRIALS).iter_rows(named=True):
            params = ", ".join(f"{c.removeprefix('params.')}={_cell(row[c])}" for c in _params(self.sweep))
            lines.append(f"  #{row['number']} {row['state']} {_cell(row['value'])}  {params}")
        return "\n".join(lines)


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)
