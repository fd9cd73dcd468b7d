"""What a run records about where it runs, once at start.

The full environment snapshot (packages, hardware, variables) is the same for
every run a process starts, so it is stored once by content hash and each run
points at it (``env_sha256``) with a short ``env_summary`` inline; git state is
read at each start (the dirty flag changes as people edit); a script's own file
is hashed as its code identity.
"""

from __future__ import annotations

import json
import os
import sys
import threading

from ..store import objects
from ..store.layout import Layout

_stored: dict[str, tuple[dict, str]] = {}  # store root -> (snapshot object, its sha256)
_lock = threading.Lock()


def summary(snap: dict) -> dict:
    """The handful of environment facts worth showing next to a run."""
    python = snap.get("python") or {}
    cpu = snap.get("cpu") or {}
    container = snap.get("container") or {}
    return {
        "python": python.get("version"),
        "os": (snap.get("os") or {}).get("platform"),
        "host": snap.get("host"),
        "cpu": cpu.get("model"),
        "cores": cpu.get("logical_cores"),
        "memory_bytes": snap.get("memory_bytes"),
        "gpus": [g.get("name") for g in snap.get("gpus") or []],
        "container": container.get("kind"),
        "image": container.get("image"),
        "packages": len(snap.get("packages") or {}),
    }


def _env_hash(layout: Layout, snap: dict) -> str:
    """Store the snapshot once per (store, snapshot): ``env.snapshot()`` returns the same
    object until the environment changes, so identity says when to store again."""
    key = str(layout.root)
    with _lock:
        known = _stored.get(key)
    if known is not None and known[0] is snap:
        return known[1]
    data = json.dumps(snap, sort_keys=True, default=str).encode()
    digest = objects.put_bytes(layout, data)
    with _lock:
        _stored[key] = (snap, digest)
    return digest


def script_identity() -> dict | None:
    """The running script's path and sha256 (plain ``python train.py`` runs)."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if not path or "ipykernel" in str(path):
        return None
    try:
        digest = objects.hash_file(path)
    except OSError:
        return None
    return {"path": digest.path, "sha256": digest.sha256}


def start_records(layout: Layout) -> dict:
    from ..redaction import redact_argv
    from . import env, git

    snap = env.snapshot()
    out: dict = {
        "env_sha256": _env_hash(layout, snap),
        "env_summary": summary(snap),
        "cwd": os.getcwd(),
    }
    repo = git.info()
    if repo:
        out["git"] = repo
    script = script_identity()
    if script:
        out["script"] = script
        out["argv"] = redact_argv(list(sys.argv))  # "--api-key VALUE" too
    return out
