"""The run page's requests, shared by the run page widget and the run table (which opens a
run page under the table)."""

from __future__ import annotations

from . import run_data, watch


class RunRequests:
    """Mixin for a :class:`~nbtrack.ui.panel.Panel` with a ``store_layout`` (``layout`` is a widget trait)."""

    def req_run(self, run_id: str):
        return {"run": run_data.payload(self.store_layout, run_id)}

    def req_sparklines(self, run_id: str):
        return {}, run_data.sparklines(self.store_layout, run_id)

    def req_preview(self, run_id: str, sha256: str, path: str = ""):
        return run_data.preview(self.store_layout, run_id, sha256)

    def req_note(self, run_id: str, text: str):
        run_data.add_note(self.store_layout.root, run_id, text)
        watch.poke()
        return {}

    def req_tags(self, run_id: str, add=(), remove=()):
        run_data.edit_tags(self.store_layout.root, run_id, add=add or (), remove=remove or ())
        watch.poke()
        return {}
