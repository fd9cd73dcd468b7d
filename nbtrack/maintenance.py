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
    """Merge the store's small files: the run index, and each ended run's metric files."""
    from .store import gc as store_gc

    return store_gc.compact(layout_for(store, create=False))
