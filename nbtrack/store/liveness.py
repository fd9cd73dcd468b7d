"""Is the process that owns a running run still there?

A run records the host, pid and pid start time of the process that started it,
and each live writer keeps ``runs/<id>/alive/<writer>.json`` whose mtime is
touched every few seconds. On the same host the pid answers exactly (with the
start time guarding against a recycled pid); from another host a heartbeat
older than ``STALE_AFTER_S`` means the writer is gone.
"""

from __future__ import annotations

import os
import socket
import time
from functools import cache
from pathlib import Path

from .atomic import WRITER, write_json_atomic
from .layout import Layout, visible_files

HEARTBEAT_EVERY_S = float(os.environ.get("NBTRACK_HEARTBEAT_EVERY", "5"))
STALE_AFTER_S = float(os.environ.get("NBTRACK_STALE_AFTER", "60"))


@cache
def hostname() -> str:
    return socket.gethostname()


def process_start_ticks(pid: int) -> int | None:
    """Start time of ``pid`` in clock ticks since boot (Linux), None if unknown or gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    # the command name (field 2) may hold spaces and parentheses: split after its last ')'
    fields = stat[stat.rindex(b")") + 2 :].split()
    try:
        return int(fields[19])
    except (IndexError, ValueError):
        return None


def identity() -> dict:
    pid = os.getpid()
    return {"host": hostname(), "pid": pid, "pid_start": process_start_ticks(pid)}


def pid_alive(pid: int, pid_start: int | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    except OSError:
        return False
    if pid_start is not None:
        now = process_start_ticks(pid)
        if now is not None and now != pid_start:
            return False  # the pid was recycled by another process
        if now is None and os.path.isdir("/proc"):
            return False  # a zombie or vanished between the two checks
    return True


def alive_path(layout: Layout, run_id: str) -> Path:
    return layout.alive_dir(run_id) / f"{WRITER.id}.json"


def mark_alive(layout: Layout, run_id: str) -> Path:
    path = alive_path(layout, run_id)
    if layout.remote:
        return _beat(path)
    return write_json_atomic(path, dict(identity(), writer=WRITER.id))


# an object store has no mtime to touch and no object is rewritten: each heartbeat is a new
# object alive/<writer>-<time_ns>.json, and the one before it is deleted
_beats: dict[str, object] = {}


def _beat(path):
    marker = path.with_name(f"{WRITER.id}-{time.time_ns():019d}.json")
    write_json_atomic(marker, dict(identity(), writer=WRITER.id))
    before = _beats.get(str(path))
    _beats[str(path)] = marker
    if before is not None:
        try:
            before.unlink()
        except OSError:
            pass  # a stale beat lies there until the run ends
    return path


def touch(path: Path) -> None:
    if not isinstance(path, Path):
        _beat(path)
        return
    try:
        os.utime(path)
    except FileNotFoundError:
        pass


def clear_alive(layout: Layout, run_id: str) -> None:
    path = alive_path(layout, run_id)
    try:
        path.unlink()
        beat = _beats.pop(str(path), None)
        if beat is not None:
            beat.unlink()
    except OSError:
        pass  # gone already, or the store is unreachable: the status event ends the run


def owner_alive(layout: Layout, run_id: str, owner: dict) -> bool:
    """True while the process that started the run may still end it."""
    if owner.get("host") == hostname() and owner.get("pid"):
        return pid_alive(int(owner["pid"]), owner.get("pid_start"))
    now = time.time()
    markers = visible_files(layout.alive_dir(run_id), ".json")
    for path in markers:
        try:
            if now - path.stat().st_mtime < STALE_AFTER_S:
                return True
        except FileNotFoundError:
            continue
    # the first marker is written by the writer's flusher thread shortly after start
    started = owner.get("started")
    return not markers and isinstance(started, (int, float)) and now - started < STALE_AFTER_S
