"""Finish what killed writers left: temporary files, and runs never merged.

A writer killed mid-write leaves a ``.tmp-`` file (readers never look at it, but
it takes space); one killed during its end-of-run compaction, or a crashed run,
leaves its flush segments unmerged, so every later read opens hundreds of small
files. Once an hour per store, some live writer's flusher thread sweeps both up
(``maybe_sweep``); ``nbtrack check --tidy`` does it at once.

Merging someone else's run is only safe once its writer is certainly gone (two
merges of the same files would both be kept), so a run is merged here only when
its owner process is dead (same host: the pid is gone or recycled; another host:
no heartbeat for ``STALE_AFTER_S`` and no file written for as long).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from . import liveness, records
from .layout import TMP_PREFIX, Layout, run_ids, visible_files

SWEEP_EVERY_S = 3600.0
LEFTOVER_AGE_S = 3600.0
STAMP = "tidy.json"
_swept: dict[str, float] = {}


def leftovers(folder: Path, now: float, age: float = LEFTOVER_AGE_S) -> list[Path]:
    """Temporary files in ``folder`` untouched for ``age`` seconds."""
    out = []
    if not isinstance(folder, Path):
        return out  # an object store has no temporary objects: a put is whole or absent
    try:
        with os.scandir(folder) as entries:
            for e in entries:
                if e.name.startswith(TMP_PREFIX) and e.is_file():
                    try:
                        if now - e.stat().st_mtime > age:
                            out.append(Path(e.path))
                    except FileNotFoundError:
                        continue
    except (FileNotFoundError, NotADirectoryError):
        pass
    return out


def _owner_gone(layout: Layout, run_id: str, now: float) -> bool:
    events = records.read_records(layout.events_dir(run_id))
    start = next((e for e in events if e.get("type") == "start"), None)
    if start is None:
        return False  # nothing says whose it is: leave it
    if liveness.owner_alive(layout, run_id, start):
        return False
    if start.get("host") != liveness.hostname():
        newest = 0.0
        for path in visible_files(layout.metrics_dir(run_id), ".arrow"):
            try:
                newest = max(newest, path.stat().st_mtime)
            except FileNotFoundError:
                continue
        if now - newest < liveness.STALE_AFTER_S:
            return False
    return True


def compact_abandoned(layout: Layout, now: float | None = None) -> list[str]:
    """Merge the metric files of every run whose writer died; remove old temporaries.
    Returns a line per thing done."""
    from . import metric_files

    now = time.time() if now is None else now
    done: list[str] = []
    for run_id in run_ids(layout):
        folder = layout.metrics_dir(run_id)
        for path in leftovers(folder, now) + leftovers(layout.events_dir(run_id), now):
            try:
                path.unlink()
                done.append(f"removed {os.path.relpath(path, layout.root)} (temporary, abandoned)")
            except FileNotFoundError:
                pass
        files = visible_files(folder, ".arrow")
        if len(files) < 2 or not _owner_gone(layout, run_id, now):
            continue
        try:
            out = metric_files.compact(layout, run_id)
        except OSError:
            continue  # a full disk: next time
        if out is not None:
            done.append(f"merged {len(files)} metric files of run {run_id} (its writer died)")
    for folder in (layout.index_dir, layout.experiments_dir):
        for path in leftovers(folder, now):
            try:
                path.unlink()
                done.append(f"removed {os.path.relpath(path, layout.root)} (temporary, abandoned)")
            except FileNotFoundError:
                pass
    return done


def maybe_sweep(layout: Layout, now: float | None = None) -> bool:
    """Sweep the store if nobody has in the last ``SWEEP_EVERY_S``; True if it did."""
    from .atomic import write_json_atomic

    now = time.time() if now is None else now
    key = str(layout.root)
    if now - _swept.get(key, 0.0) < SWEEP_EVERY_S:
        return False
    _swept[key] = now
    if layout.remote:  # one sweep an hour: the hour's lease is won by a conditional create
        from .atomic import claim_file, dumps

        lease = layout.root / "tidy" / f"{int(now // SWEEP_EVERY_S)}"
        try:
            if not claim_file(lease, dumps({"swept_at": now, "by": liveness.identity()})):
                return False
        except OSError:
            return False
        compact_abandoned(layout, now)
        return True
    stamp = layout.root / STAMP
    try:
        if now - stamp.stat().st_mtime < SWEEP_EVERY_S:
            return False
    except FileNotFoundError:
        pass
    try:
        write_json_atomic(stamp, {"swept_at": now, "by": liveness.identity()})
    except OSError:
        return False  # a read-only or full store: leave it as it is
    compact_abandoned(layout, now)
    return True
