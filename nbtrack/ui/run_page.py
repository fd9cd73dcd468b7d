"""The run page panel: ``nbtrack.show(run)``, ``%track show RUN``. Everything one run knows,
in tabs; notes and tags editable; live while the run is running."""

from __future__ import annotations

import traitlets

from ..query import runs as runs_q
from ..store.layout import Layout
from . import watch
from .panel import Panel, in_kernel
from .run_requests import RunRequests
from .summary import RunSummary


class RunPage(RunRequests, Panel):
    """One run's page. ``tab`` picks the tab it opens on (overview, params, metrics, code ...)."""

    _panel = traitlets.Unicode("run").tag(sync=True)
    run_id = traitlets.Unicode("").tag(sync=True)
    tab = traitlets.Unicode("overview").tag(sync=True)

    def __init__(self, layout: Layout, run, tab: str = "overview", live: bool | None = None):
        self.store_layout = layout
        run_id = runs_q.resolve(layout, run)
        self.seen_signature = None
        super().__init__(run_id=run_id, tab=tab)
        self.seen_signature = self.store_signature()
        if in_kernel() if live is None else live:
            watch.watch(self)

    def store_signature(self):
        from ..query import changes

        return changes.signature(self.store_layout, [self.run_id])

    def refresh_from_store(self) -> None:
        self.seen_signature = self.store_signature()
        self.push("run", {"run_id": self.run_id})

    def close(self) -> None:
        watch.unwatch(self)
        super().close()

    def _summary(self) -> RunSummary:
        return RunSummary(runs_q.get_run(self.store_layout, self.run_id))

    def fallback_html(self) -> str:
        return self._summary()._repr_html_()

    def fallback_text(self) -> str:
        return repr(self._summary())
