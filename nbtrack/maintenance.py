"""Store maintenance over the public API: ``nbtrack.gc`` and ``nbtrack.compact``."""

from __future__ import annotations

import os

from .active import layout_for


def gc(dry_run: bool = False, store: str | os.PathLike | None = None) -> dict:
    """Remove stored content (artifacts, inputs, snapshots) that no run references.

    Only ``objects/`` inside the store is touched, and nothing stored in the last hour.
    ``dry_run=True`` lists what would go. Returns ``dry_run, objects, bytes, removed``.

    >>> nbtrack.gc(dry_run=True)["bytes"]
    """
    from .store import gc as store_gc

    layout = layout_for(store, create=False)  # nothing to clean in a store that isn't there
    return store_gc.collect(layout, dry_run=dry_run)


def compact(store: str | os.PathLike | None = None) -> dict:
    """Merge the store's small files: the run index, and the metric files of every run that
    has ended (or crashed: its writer is gone). Returns counts before and after."""
    from .query.runs import current_rows
    from .store import index, metric_files
    from .store.layout import visible_files

    layout = layout_for(store, create=False)

    def index_files() -> int:
        return len(visible_files(layout.index_dir, ".json")) + len(
            visible_files(layout.index_dir, ".arrow"))

    before_index = index_files()
    index.compact(layout)
    merged = before = after = 0
    for row in current_rows(layout):  # which runs ended: the query layer knows
        if row.get("status") == "running":
            continue
        run_id = row["run_id"]
        files = metric_files.segment_files(layout, run_id)
        before += len(files)
        if len(files) > 1 and metric_files.compact(layout, run_id) is not None:
            merged += 1
        after += len(metric_files.segment_files(layout, run_id))
    return {"index_files_before": before_index, "index_files_after": index_files(),
            "runs_merged": merged, "metric_files_before": before, "metric_files_after": after}
