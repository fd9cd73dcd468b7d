"""Record every executed cell: source, hash, timing, outcome, names bound.

IPython's ``pre_run_cell`` / ``post_run_cell`` events frame each user cell.
Around it the recorder notes which global names the cell bound, rebound or
deleted (a dict of ``id()`` per name before, compared after: tens of
microseconds), which later lets export tell what a cell really defined.

Every cell goes to the kernel's session history (``sessions/<id>/cells``); a
cell that runs while runs are active is also recorded on each of them, so a
run's log holds its code in execution order, re-executions included. The cell
that starts a run belongs to it, and so does the cell that ends it.
"""

from __future__ import annotations

import hashlib
import os
import sys
import threading
import time
from itertools import compress, repeat
from operator import ne

from .. import flushing, hooks
from ..ids import new_run_id
from ..redaction import redact_source, redact_text
from ..store import cell_files, files, liveness, objects
from ..store.layout import Layout
from . import rng
from .ipython import current_shell

# IPython's own bookkeeping names: never "defined by" a user cell
_IGNORED = frozenset(
    {"In", "Out", "_", "__", "___", "_i", "_ii", "_iii", "_oh", "_ih", "_dh", "exit", "quit",
     "get_ipython", "_exit_code", "__builtins__", "__builtin__", "__name__", "__doc__",
     "__package__", "__loader__", "__spec__", "__session__"}
)


HISTORY_EVERY_S = 0.5
_ABSENT = object()  # what a deleted name is "bound" to when comparing ids


def _ignored(name: str) -> bool:
    if name in _IGNORED:
        return True
    # _5, _i5, _ii... : output and input history variables
    if name.startswith("_i") and name[2:].isdigit():
        return True
    return name.startswith("_") and name[1:].isdigit()


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def identity_hash(cell_hashes: list[str]) -> str:
    """A run's adhoc code identity: one hash over its ordered cell hashes."""
    return hashlib.sha256("\n".join(cell_hashes).encode()).hexdigest()


def notebook_path(shell) -> str | None:
    """The notebook this kernel serves, when the frontend told it."""
    ns = getattr(shell, "user_ns", {}) or {}
    for candidate in (
        ns.get("__vsc_ipynb_file__"),
        ns.get("__session__"),
        os.environ.get("JPY_SESSION_NAME"),
    ):
        if isinstance(candidate, str) and candidate:
            return candidate
    return None


class CellRecorder:
    """Hooks one IPython shell; see the module docstring."""

    def __init__(self, shell, layout: Layout):
        self.shell = shell
        self.layout = layout
        self.session_id = new_run_id()
        self._rows: list[dict] = []
        self._lock = threading.Lock()
        self._current: dict | None = None
        self._run_cells: dict[str, list[str]] = {}  # run id -> cell hashes, in order
        self._registered = False
        self._seen: set[str] = set()
        self._keys: tuple[str, ...] = ()  # user-visible names seen so far, in discovery order
        self._before = ((), ())
        self._pre_len = 0
        self._rng_before: dict = {}  # global random generators' states before this cell
        self._rng_blobs: dict[str, bytes] = {}  # their encoded states, written at flush
        self._flushed = 0.0
        self._session_info: dict | None = None  # written with the first history

    # ------------------------------------------------------------ lifecycle
    def register(self) -> None:
        if self._registered:
            return
        events = self.shell.events
        events.register("pre_run_cell", self.pre_run_cell)
        events.register("post_run_cell", self.post_run_cell)
        hooks.on_run_start(self.watch_run)
        for run in hooks.open_runs():
            self.watch_run(run)
        self._session_info = {
            "session_id": self.session_id,
            "started": time.time(),
            "notebook": notebook_path(self.shell),
            **liveness.identity(),
        }
        self._store_ready()
        self._backfill()
        flushing.register(self)
        self._registered = True

    def unregister(self) -> None:
        if not self._registered:
            return
        events = self.shell.events
        for name, fn in (("pre_run_cell", self.pre_run_cell), ("post_run_cell", self.post_run_cell)):
            try:
                events.unregister(name, fn)
            except ValueError:
                pass
        hooks.off_run_start(self.watch_run)
        self.flush(force=True)
        flushing.unregister(self)
        self._registered = False

    def _backfill(self) -> None:
        """Cells executed before the extension was loaded, from IPython's input history."""
        raw = self._raw_history()
        # IPython >= 9 keeps the exceptions of failed cells by execution count
        failed = getattr(getattr(self.shell, "history_manager", None), "exceptions", None) or {}
        rows = []
        # the last entry is the cell running now (it loads us), recorded when it ends
        for count in range(1, len(raw) - 1):
            source = redact_source(raw[count])
            error = failed.get(count)
            rows.append(
                {
                    "session_id": self.session_id, "execution_count": count, "source": source,
                    "sha256": sha256_text(source), "before_load": True, "run_ids": [],
                    "bound": None, "deleted": None, "ok": False if error else None,
                    "error_type": error.get("ename") if isinstance(error, dict) else None,
                }
            )
        with self._lock:
            self._rows.extend(rows)

    # ------------------------------------------------------------ events
    def _names(self) -> tuple[tuple[str, ...], tuple[int, ...]]:
        """The user-visible global names and the id() of what each is bound to (of a
        marker when absent), gathered by C-level map calls: O(user names), cheap."""
        keys = self._keys
        ids = tuple(map(id, map(self.shell.user_ns.get, keys, repeat(_ABSENT))))
        return keys, ids

    def _changes(self, before) -> tuple[list[str], list[str]]:
        """Names (re)bound and names deleted since ``before`` (a ``_names()`` result)."""
        keys, old = before
        _, new = self._names()
        changed = list(compress(keys, map(ne, old, new[: len(keys)])))
        absent = id(_ABSENT)
        ns = self.shell.user_ns
        deleted = [k for k in changed if k not in ns]
        bound = [k for k in changed if k in ns]
        bound += [k for k, i in zip(self._keys[len(keys):], new[len(keys):], strict=True)
                  if i != absent]  # names that appeared during the cell
        return bound, deleted

    def _discover(self, before) -> None:
        """Learn the names that appeared since the last look.

        IPython adds ``_i<n>``/``_<n>`` history names every cell, so the namespace grows
        without bound; scanning it all twice per cell would cost O(cells run). New keys
        sit at the end of a dict's insertion order, so the newest keys are read until a
        run of already-known ones; a count check (keys now == keys before + new - deleted)
        proves nothing was missed, else the whole namespace is scanned once.
        """
        ns = self.shell.user_ns
        new: list[str] = []
        streak = 0
        for key in reversed(ns):
            if key in self._seen:
                streak += 1
                if streak > 16:
                    break
            else:
                streak = 0
                new.append(key)
        keys, ids = before  # C-level counts: present before, minus present now
        gone = len(keys) - ids.count(id(_ABSENT)) - sum(map(ns.__contains__, keys))
        if len(ns) != self._pre_len + len(new) - gone:
            new = list(ns.keys() - self._seen)
        if new:
            self._seen.update(new)
            fresh = [k for k in new if not _ignored(k)]
            if fresh:
                self._keys = self._keys + tuple(fresh)
        self._pre_len = len(ns)

    def pre_run_cell(self, info) -> None:
        if not getattr(info, "store_history", True):
            return
        source = redact_source(info.raw_cell or "")  # secrets never reach the store
        self._before = self._names()
        self._rng_before = rng.snapshot()
        self._pre_len = len(self.shell.user_ns)
        self._current = {
            "source": source,
            "sha256": sha256_text(source),
            "cell_id": getattr(info, "cell_id", None),
            "started": time.time(),
            "runs": [r for r in hooks.open_runs() if r.owner],
        }
        self._current["run_ids"] = [r.id for r in self._current["runs"]]

    def _cell_in_progress(self, source: str | None = None) -> dict:
        """The cell running now, when the hooks were installed inside it (no pre event)."""
        raw = self._raw_history()
        if source is None:
            source = raw[-1] if len(raw) > 1 else ""
        source = redact_source(source)
        runs = [r for r in hooks.open_runs() if r.owner]
        return {"source": source, "sha256": sha256_text(source), "started": None,
                "cell_id": None, "runs": runs, "run_ids": [r.id for r in runs],
                "execution_count": len(raw) - 1 if len(raw) > 1 else None}

    def _raw_history(self) -> list[str]:
        """IPython's raw input history; entry N is cell N, the current cell is last."""
        history = getattr(self.shell, "history_manager", None)
        return list(getattr(history, "input_hist_raw", []) or [])

    def watch_run(self, run) -> None:
        """A run started (maybe by this very cell): record its cells and identity."""
        if not run.owner or run.id in self._run_cells:
            return
        if current_shell() is not self.shell:  # a shell no longer the process's own: its
            return  # hooks stay registered (IPython's test shells), but it runs no cells
        self._run_cells[run.id] = []
        run.end_hooks.append(self._run_ending)
        if self._current is None:  # installed in the middle of this cell
            self._current = self._cell_in_progress()
        current = self._current
        if current is not None and run not in current["runs"]:
            current["runs"].append(run)
            current["run_ids"].append(run.id)
        if hasattr(run, "_event"):
            run._event("session", session_id=self.session_id)

    def _run_ending(self, run, status: str) -> None:
        """The run ends inside the current cell (``%track stop``, a ``%%track`` cell):
        record that cell on it now, then its code identity."""
        current = self._current
        if current is not None and run in current["runs"]:
            failed = status in ("failed", "killed")
            self._record_on(run, current, time.time(), not failed, None, None, [], [])
            current["runs"].remove(run)
        self.flush(force=True)  # the history an export of this run needs is on disk
        hashes = self._run_cells.pop(run.id, [])
        run._event(
            "code",
            adhoc_identity=identity_hash(hashes),
            cells=len(hashes),
            session_id=self.session_id,
            notebook=notebook_path(self.shell),
        )

    def post_run_cell(self, result) -> None:
        info = getattr(result, "info", None)
        if info is not None and not getattr(info, "store_history", True):
            return
        ended = time.time()
        current = self._current
        self._current = None
        if current is None:  # the cell that loaded the extension: no pre event was seen
            current = self._cell_in_progress(getattr(info, "raw_cell", None))
            current["cell_id"] = getattr(info, "cell_id", None)
        before = self._before
        self._before = ((), ())
        self._discover(before)
        if current["started"] is None:  # not watched from its start: what it bound is unknown
            bound = deleted = None
        else:
            bound, deleted = self._changes(before)
            bound += self._rng_changes()
        error = result.error_in_exec or result.error_before_exec
        ok = error is None
        err_type = type(error).__name__ if error is not None else None
        err_msg = redact_text(str(error)[:2000]) if error is not None else None
        count = result.execution_count
        if count is None:
            count = max(0, getattr(self.shell, "execution_count", 1) - 1)
        runs = [r for r in current["runs"] if not r.ended]
        row = {
            "session_id": self.session_id, "execution_count": count,
            "cell_id": current.get("cell_id"), "source": current["source"],
            "sha256": current["sha256"], "started": current["started"], "ended": ended,
            "ok": ok, "error_type": err_type, "error_message": err_msg,
            "bound": bound, "deleted": deleted,
            "run_ids": current["run_ids"], "before_load": False,
        }
        with self._lock:
            self._rows.append(row)
        current["execution_count"] = count
        for run in runs:
            self._record_on(run, current, ended, ok, err_type, err_msg, bound, deleted)
        if "nbtrack.capture.files" in sys.modules:  # files a traced run wrote in this cell
            sys.modules["nbtrack.capture.files"].cell_finished()
        flushing.wake()  # write this cell's records now, off the kernel's thread

    def _rng_changes(self) -> list[str]:
        """``@rng:<generator>=<sha256>`` for each global random generator the cell
        advanced (the object named holds its state before the cell), ``@rng:<generator>``
        when it was first imported during the cell (its earlier state is unknown)."""
        out = []
        for name, state in rng.changed(self._rng_before, rng.snapshot()).items():
            if state is None:
                out.append(f"@rng:{name}")
                continue
            blob = rng.encode(name, state)
            digest = rng.digest(blob)
            self._rng_blobs[digest] = blob
            out.append(f"@rng:{name}={digest}")
        self._rng_before = {}
        return out

    def _record_on(self, run, current: dict, ended: float, ok: bool, err_type, err_msg,
                   bound: list, deleted: list) -> None:
        count = current.get("execution_count")
        if count is None:  # the run ends inside the cell: it is the newest history entry
            count = len(self._raw_history()) - 1
        self._run_cells.setdefault(run.id, []).append(current["sha256"])
        run._event(
            "cell",
            session_id=self.session_id,
            execution_count=count,
            cell_id=current.get("cell_id"),
            source=current["source"],
            sha256=current["sha256"],
            started=current["started"],
            ended=ended,
            ok=ok,
            error_type=err_type,
            error_message=err_msg,
            bound=bound,
            deleted=deleted,
        )

    # ------------------------------------------------------------ flusher protocol
    @property
    def id(self) -> str:
        return self.session_id

    def flush(self, force: bool = False) -> None:
        """Write the buffered history. The flusher thread calls this after every cell;
        history is written at most every ``HISTORY_EVERY_S`` then (a burst of tiny
        cells costs one file, not one per cell), at once when forced or at exit."""
        now = time.monotonic()
        if not (force or flushing.exiting() or now - self._flushed >= HISTORY_EVERY_S):
            return
        self._flushed = now
        if not self._store_ready():
            return  # kept in memory until a run makes the store
        with self._lock:
            rows, self._rows = self._rows, []
            blobs, self._rng_blobs = self._rng_blobs, {}
        for blob in blobs.values():  # before the rows that name them
            objects.put_bytes(self.layout, blob)
        if rows:
            try:
                cell_files.write_cells(self.layout, self.session_id, rows)
            except BaseException:
                with self._lock:
                    self._rows[:0] = rows
                raise

    def _store_ready(self) -> bool:
        """History goes only into a store that exists: loading the extension never makes
        one; the first run does, and the history kept so far follows it there."""
        if self._session_info is not None:
            if not files.is_folder(self.layout.root):
                return False
            cell_files.write_session_info(self.layout, self.session_id, self._session_info)
            self._session_info = None
        return True

    def heartbeat(self, touch: bool = True) -> None:
        pass

    def _after_fork(self) -> None:
        self._rows = []
        self._lock = threading.Lock()
