"""Called from the first cell of an exported notebook: set the stage, then get out of the way.

``begin`` goes to the original working directory, points at the original store,
checks every input file against its recorded sha256 and restores the ones that
are missing or changed from the store's content-addressed copy, and marks the
next run as a reproduction. ``restore_random`` puts a global random generator
back in a state recorded in the session. ``finish`` ends that run if the exported
cells did not. Kept tiny and free of heavy imports: it runs in the reproducing kernel.
"""

from __future__ import annotations

import os
from pathlib import Path

_store: list[str] = []  # the store named by begin() (a folder or s3:// URL): recorded states


def _open_store(root: str):
    """The store an exported notebook names, or None when it is not there."""
    from ..errors import StoreError
    from ..store.layout import Layout

    try:
        layout = Layout(root, create=False)
        layout.check_exists()
    except StoreError:
        return None
    return layout


def _restore(spec_input: dict, store) -> str:
    from ..store import objects

    path = Path(spec_input["path"])
    want = spec_input["sha256"]
    if path.is_file():
        if objects.hash_file(path).sha256 == want:
            return "ok"
        state = "changed"
    else:
        state = "missing"
    if store is None:
        return f"{state}, and no store to restore it from"
    if not objects.has_object(store, want):
        return f"{state}, and the store holds no copy of it"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.nbtrack-restore")  # the user's folder, not the store
    objects.copy_to(store, want, tmp)
    got = objects.hash_file(tmp).sha256  # the store's copy may be damaged: never trust it
    if got != want:
        tmp.unlink()
        return (f"{state}, and the store's copy is corrupt (its content hashes to "
                f"{got[:12]}..., not {want[:12]}...): not restored; run nbtrack check")
    os.replace(tmp, path)
    return f"{state}: restored from the store"


def begin(spec: dict) -> list[tuple[str, str]]:
    """Prepare this kernel to reproduce ``spec["run_id"]``; returns (path, state) per input."""
    from .. import active

    cwd = spec.get("cwd")
    if cwd and Path(cwd).is_dir() and Path.cwd() != Path(cwd):
        os.chdir(cwd)
        print(f"working directory: {cwd}")
    store = _open_store(spec["store"]) if spec.get("store") else None
    if spec.get("store"):
        _store[:] = [spec["store"]]
    if store is not None and not os.environ.get("NBTRACK_HOME"):
        os.environ["NBTRACK_HOME"] = str(store.root)
    states = []
    for item in spec.get("inputs") or []:
        state = _restore(item, store)
        states.append((item["path"], state))
        print(f"input {item['path']}: {state}")
    if spec.get("secrets"):
        fill_secrets_from_environment(spec["secrets"])
    active.mark_reproduction(spec["run_id"], export_sha256=spec.get("export_sha256"))
    return states


def fill_secrets_from_environment(needed: list[str]) -> None:
    """Cells of the original held secrets, which the store only knows as ``***REDACTED***``:
    each is put back, as the cell runs, from the environment variable named for it
    (``api_key = "..."`` -> ``$API_KEY``; see ``nbtrack.redaction.secret_slots``).
    The cell's text, and so its recorded hash, stays as exported."""
    from .. import redaction

    missing = [name for name in needed if name not in os.environ]
    if missing:
        print("secrets: set " + ", ".join(f"${n}" for n in missing) + " in the environment; "
              "the cells that need them stop with a message until then")
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:
        return

    def fill(lines: list[str]) -> list[str]:
        source = "".join(lines)
        if redaction.REDACTED not in source:
            return lines
        filled, absent = redaction.fill_secrets(source, os.environ)
        if absent:
            message = ("nbtrack: this cell held a secret the store did not keep; set "
                       + ", ".join(f"${n}" for n in absent) + " in the environment and run it again")
            return [f"raise RuntimeError({message!r})\n"]
        return filled.splitlines(keepends=True)

    cleanup = shell.input_transformers_cleanup
    if not any(getattr(f, "_nbtrack_secrets", False) for f in cleanup):
        fill._nbtrack_secrets = True  # type: ignore[attr-defined]
        cleanup.append(fill)


def restore_random(states: dict[str, str]) -> None:
    """Put global random generators back: ``{"numpy": sha256 of the recorded state}``."""
    from ..capture import rng
    from ..store import objects
    from ..store.layout import Layout

    root = _store[0] if _store else os.environ.get("NBTRACK_HOME") or ".nbtrack"
    layout = Layout(root, create=False)
    for name, sha in states.items():
        if not objects.has_object(layout, sha):
            raise FileNotFoundError(
                f"the recorded state of {name}'s random generator ({sha[:12]}) is not in the "
                f"store at {layout.root}; export the run again from the store that recorded it")
        rng.restore(objects.read_bytes(layout, sha))


def finish() -> None:
    """End the reproduction run if the exported cells left it open."""
    from .. import active

    for run in reversed(active.open_runs()):
        run.end("completed")
