"""The run table panel: ``nbtrack.show()``, ``%track runs``, ``nbtrack.experiment(x).show()``.

Traits hold what a person sets (search, filter, sort, columns, widths, selection); the rows
travel on request as Arrow. ``panel.selected`` is the selected run ids, live;
``panel.on_select(callback)``; ``panel.runs`` the filtered polars frame as shown. The table
stays live: a background watcher re-reads the store when runs start, log, end or change.
"""

from __future__ import annotations

import threading
import time

import traitlets

from ..errors import FilterError
from ..store.layout import Layout
from . import experiments_view, fallback, runs_view, watch
from .curves import CurveRequests
from .panel import Panel, in_kernel
from .run_requests import RunRequests

BLOCK = 100
STATE_TRAITS = ("search", "where", "sort", "show_archived", "group_by", "collapsed", "columns", "experiment")


class RunTable(CurveRequests, RunRequests, Panel):  # curves: the chart pane of the selection
    """Every run of a store (or of some experiments or run ids) as a live, virtualised table."""

    _panel = traitlets.Unicode("runs").tag(sync=True)
    tab = traitlets.Unicode("runs").tag(sync=True)
    search = traitlets.Unicode("").tag(sync=True)
    where = traitlets.Unicode("").tag(sync=True)
    sort = traitlets.List().tag(sync=True)
    show_archived = traitlets.Bool(False).tag(sync=True)
    group_by = traitlets.Unicode("").tag(sync=True)
    collapsed = traitlets.List(traitlets.Unicode()).tag(sync=True)
    columns = traitlets.List(traitlets.Unicode()).tag(sync=True)
    widths = traitlets.Dict().tag(sync=True)
    selected = traitlets.List(traitlets.Unicode()).tag(sync=True)
    experiment = traitlets.List(traitlets.Unicode()).tag(sync=True)
    open_run = traitlets.Unicode("").tag(sync=True)

    def __init__(self, layout: Layout, run_ids: list[str] | None = None, live: bool | None = None,
                 limit: int = fallback.FALLBACK_ROWS, **state):
        self.store_layout = layout
        self.limit = limit
        self._run_ids = list(run_ids) if run_ids is not None else None
        self._lock = threading.RLock()
        self._version = 0
        self._visible = (0, BLOCK)
        self._error: dict | None = None
        self._view = None
        self._base = None
        self.seen_signature = None
        super().__init__(**state)
        self._reload()
        if self._error and self.where:  # a bad filter given in code fails the cell, here
            raise FilterError(self._error["message"], self._error["expression"], self._error["position"])
        self.observe(self._state_changed, names=list(STATE_TRAITS))
        if in_kernel() if live is None else live:
            watch.watch(self)

    # ------------------------------------------------------------------ Python side
    @property
    def runs(self):
        """The runs as shown (filters and sort applied), a polars DataFrame."""
        return self._view.runs

    def on_select(self, callback) -> None:
        """Call ``callback(run_ids)`` whenever the selection changes."""
        self.observe(lambda change: callback(list(change["new"])), names="selected")

    def refresh(self) -> None:
        """Re-read the store now (the panel also does it by itself when the store changes)."""
        self.refresh_from_store()

    def close(self) -> None:
        watch.unwatch(self)
        super().close()

    # ------------------------------------------------------------------ computing the view
    def _state(self) -> runs_view.ViewState:
        return runs_view.ViewState(**{name: getattr(self, name) for name in STATE_TRAITS})

    def _reload(self) -> None:
        with self._lock:
            self.seen_signature = None
            self._base = runs_view.load(self.store_layout, run_ids=self._run_ids)
            self._recompute()
            self.seen_signature = self.store_signature()

    def _recompute(self) -> None:
        state = self._state()
        try:
            view = runs_view.compute(self._base, state)
            self._error = None
        except FilterError as exc:
            self._error = {"message": str(exc).split("\n", 1)[0], "expression": exc.expression,
                           "position": exc.position, "field": "where"}
            if self._view is None:  # nothing to keep showing: show every run meanwhile
                state.where = ""
                view = runs_view.compute(self._base, state)
            else:
                view = self._view
        self._view = view
        self._version += 1

    def _state_changed(self, _change=None) -> None:
        with self._lock:
            self._recompute()
            self._push_view()

    def _meta(self, offset: int = 0) -> dict:
        view = self._view
        return {
            "version": self._version, "count": view.count, "runs": view.runs.height,
            "total": view.total, "columns": view.columns, "all_columns": view.all_columns,
            "error": self._error, "offset": offset, "live": True, "updated": time.time(),
        }

    def _window_meta(self, offset: int):
        offset = max(0, int(offset) // BLOCK * BLOCK)
        return self._meta(offset), runs_view.window(self._view, offset, BLOCK * 2)

    def _push_view(self) -> None:
        meta, rows = self._window_meta(self._visible[0])
        self.push("view", meta, rows)

    # ------------------------------------------------------------------ live updates
    def store_signature(self):
        from ..query import changes

        base = self._base
        running = base.filter(base["status"] == "running")["run_id"].to_list() if base is not None and base.height else []
        return changes.signature(self.store_layout, running)

    def refresh_from_store(self) -> None:
        with self._lock:
            self._reload()
            self._push_view()

    # ------------------------------------------------------------------ requests
    def req_view(self, visible=None):
        if visible:
            self._visible = (int(visible[0]), int(visible[1]))
        with self._lock:
            return self._window_meta(0)

    def req_rows(self, offset: int = 0, limit: int = BLOCK, version: int = -1, visible=None):
        if visible:
            self._visible = (int(visible[0]), int(visible[1]))
        with self._lock:
            meta = self._meta(int(offset))
            return meta, runs_view.window(self._view, int(offset), int(limit))

    def req_ids(self, offset: int = 0, limit: int = 0, version: int = -1):
        with self._lock:
            return {"ids": runs_view.ids(self._view, offset, limit), "version": self._version}

    def req_experiments(self, search: str = "", tag: str = "", state: str = "active",
                        sort: str = "last_activity"):
        with self._lock:
            base = self._base
        table = experiments_view.frame(self.store_layout, base.drop(runs_view.PRIVATE, strict=False))
        rows, tags = experiments_view.select(table, search, tag, state, sort)
        return {"total": table.height, "tags": tags}, rows

    def req_archive_experiment(self, experiment: str, archived: bool):
        from ..edit import Experiment

        handle = Experiment(experiment, self.store_layout.root)
        handle.archive() if archived else handle.unarchive()
        self.refresh_from_store()
        return {}

    # ------------------------------------------------------------------ static forms
    def fallback_html(self) -> str:
        return fallback.table_html(self._view, self.limit)

    def fallback_text(self) -> str:
        return fallback.table_text(self._view, self.limit)
