"""A cheap fingerprint of what a panel shows, so live panels re-read the store only when it
changed: the modification times of the folders that new files land in (the run index, the
experiment records, and the events and metrics folders of runs still running)."""

from __future__ import annotations

from collections.abc import Iterable

from ..store.layout import Layout, fingerprint


def _mtime(path) -> object:
    return fingerprint(path)


def signature(layout: Layout, running: Iterable[str] = ()) -> tuple:
    """Changes when a run starts, ends or is edited, an experiment is archived, or a run in
    ``running`` flushes metrics or records events."""
    parts = [_mtime(layout.index_dir), _mtime(layout.experiments_dir), _mtime(layout.runs_dir)]
    for run_id in running:
        parts.append(_mtime(layout.metrics_dir(run_id)))
        parts.append(_mtime(layout.events_dir(run_id)))
    return tuple(parts)
