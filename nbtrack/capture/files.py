"""Opt-in file tracing for lineage: which files a run's code reads and writes.

``start_run(trace_files=True)`` (or ``%track start --trace-files``) calls
:func:`attach`, which installs one ``sys.addaudithook`` hook on the process's
first use and registers the run with it. From then on every ``open`` audit event
whose path lies in the working tree (the working directory when tracing started)
is looked at:

- a file opened for reading is hashed at once, *before* the open happens, so the
  version recorded is the one the code reads; it is recorded as an ``input`` of
  the run. Files up to ``store_max_bytes`` (default 100 MiB) are also copied into
  the store by content (as ``use_input`` does, so a reproduction can restore
  them); bigger ones are only hashed and the record says ``stored: false``;
- a file opened for writing is noted, and hashed when the cell ends
  (:func:`cell_finished`, called by the IPython ``post_run_cell`` hook) and when
  the run ends, then recorded as an ``output`` (a new record only when the
  content changed since the last one);
- a file both read and written (``r+``, read then rewritten) gives an input (the
  version before) and an output (the version after); a file the run wrote itself
  and reads back is its own output, not an input; a temporary file renamed over
  its final name (``os.replace``) is recorded under the final name.

Never traced: the store (``run.layout.root``), ``.git``, ``__pycache__``,
``site-packages``, ``.ipynb_checkpoints``, ``.nbtrack``, and by default ``*.py``
/ ``*.pyc`` (modules the import system reads; the code is captured by cells and
git). ``include`` / ``exclude`` are glob lists matched against the path relative
to the working tree (``*`` also crosses ``/``; ``data/`` means everything below
``data``); a path is traced when it matches an include (default: all) and no
exclude. Files nbtrack itself reads for an explicit ``use_input`` /
``log_output`` / ``log_artifact`` are not recorded twice.

What tracing sees: everything that goes through CPython's ``open`` audit event:
``open`` (``io.open`` is the same function), ``pathlib.Path.open`` / ``read_text``
/ ``write_bytes`` ..., ``os.open`` (no mode: read or write is taken from its
flags), ``shutil.copy`` / ``copyfile`` (a read and a write), ``fileinput``,
``tempfile``, and any library that opens files with Python's ``open``: ``json`` /
``pickle`` / ``csv`` on a file object, ``pl.read_csv(open(path, "rb"))``.
What it cannot see, and why: audit events are raised by CPython's own C code
(and by code that calls ``sys.audit``), not by the operating system, so a file
opened by native code is invisible: **polars** (``pl.read_csv(path)``,
``scan_*``, ``write_*``: its I/O is Rust, no event fires at all), **pyarrow**
readers and writers (C++), anything built on them (pandas' parquet), other
native libraries that take a path, and subprocesses. For those, record the
file explicitly: ``pl.read_csv(nbtrack.use_input(path))`` (``use_input`` returns
the path) and ``nbtrack.log_output(path)`` after writing. Opens from every
thread of the process are seen.

Cost: the first read of a file (or of a new version of it) hashes and stores it
inside that ``open`` call, at the hashing speed the benchmark prints; later
opens of the same version cost a ``stat``.

Audit hooks cannot be removed, so the hook is installed once and, with no run
traced, returns after one global lookup (see ``benchmarks/bench_lineage.py`` for
the cost per ``open``). The hook never raises into the user's code, and a
thread-local flag keeps it from tracing its own hashing.
"""

from __future__ import annotations

import fnmatch
import os
import re
import stat
import sys
import threading
from collections.abc import Iterable

from ..store import objects

STORE_MAX_BYTES = 100 * 2**20
DEFAULT_EXCLUDE = ("*.py", "*.pyc")
NEVER = (".git", "__pycache__", "site-packages", ".ipynb_checkpoints", ".nbtrack")
_NEVER_RE = re.compile(r"(?:^|/)(?:" + "|".join(re.escape(p) for p in NEVER) + r")(?:/|$)")
_DECISIONS_MAX = 10_000
_ACCMODE = getattr(os, "O_ACCMODE", 3)  # not defined on Windows; the POSIX value

_tracers: tuple[Tracer, ...] = ()  # replaced whole (never mutated) so the hook reads it lock-free
_lock = threading.Lock()
_guard = threading.local()
_paths: dict[str, str] = {}  # path as opened -> absolute, for the current working directory
_installed = False
# code objects of nbtrack's own reads of a file (explicit use_input / log_output)
_OWN_CODES = frozenset({objects.put_file.__code__, objects.hash_file.__code__})


def _globs(patterns: Iterable[str] | str | None):
    """One compiled regex for a glob list (or None for an empty list)."""
    if patterns is None:
        return None
    if isinstance(patterns, str):
        patterns = [patterns]
    parts = []
    for p in patterns:
        p = p.replace("\\", "/").removeprefix("./")
        if p.endswith("/"):
            p += "*"
        parts.append(fnmatch.translate(p))
        if p.startswith("**/"):
            parts.append(fnmatch.translate(p[3:]))
    return re.compile("|".join(parts)) if parts else None


class Tracer:
    """The files one run opened; fed by the audit hook, written to the run's events."""

    def __init__(self, run, root: str, include=None, exclude=DEFAULT_EXCLUDE,
                 store_max_bytes: int = STORE_MAX_BYTES) -> None:
        self.run = run
        self.root = os.path.abspath(root)
        self._root_sep = self.root.rstrip(os.sep) + os.sep
        if run.layout.remote:  # a bucket: no local folder of the store to keep out
            self._stores: tuple[str, ...] = ()
        else:
            store = os.path.abspath(run.layout.root)
            self._stores = tuple({store, os.path.realpath(store)})
        self._include = _globs(include)
        self._exclude = _globs(exclude)
        self.store_max_bytes = int(store_max_bytes)
        self._lock = threading.Lock()
        self._decisions: dict[str, str | None] = {}
        self._seen: dict[str, tuple] = {}  # read path -> stat key of the version recorded
        self._busy: set[str] = set()  # reads being hashed now (another thread skips them)
        self.written: dict[str, str] = {}  # absolute -> path relative to the tree
        self._out: dict[str, tuple[tuple, str]] = {}  # absolute -> (stat key, sha256) recorded
        self._explicit: dict[str, tuple] = {}  # files nbtrack read for an explicit log call
        self._finished = False

    # -------------------------------------------------------------- filtering
    def relative(self, absolute: str) -> str | None:
        """The path to record (relative to the tree), or None when not traced."""
        found = self._decisions.get(absolute, False)
        if found is not False:
            return found
        rel = self._decide(absolute)
        if len(self._decisions) < _DECISIONS_MAX:
            self._decisions[absolute] = rel
        return rel

    def _decide(self, absolute: str) -> str | None:
        if not absolute.startswith(self._root_sep):
            return None
        for store in self._stores:
            if absolute == store or absolute.startswith(store + os.sep):
                return None
        rel = absolute[len(self._root_sep):].replace(os.sep, "/")
        if _NEVER_RE.search(rel):
            return None
        if self._include is not None and not self._include.match(rel):
            return None
        if self._exclude is not None and self._exclude.match(rel):
            return None
        return rel

    # -------------------------------------------------------------- events
    def wrote(self, absolute: str, rel: str) -> None:
        if absolute not in self.written:
            with self._lock:
                self.written.setdefault(absolute, rel)

    def known(self, absolute: str, key: tuple) -> bool:
        """Whether this version of the file was looked at already (the common case)."""
        return self._seen.get(absolute) == key

    def explicit(self, absolute: str, key: tuple) -> None:
        """nbtrack itself read the file for an explicit use_input / log_output / log_artifact."""
        with self._lock:
            self._explicit[absolute] = key
            self._seen[absolute] = key

    def read(self, absolute: str, rel: str, key: tuple) -> None:
        """Record the version about to be read as an input (once per version)."""
        with self._lock:
            if self._seen.get(absolute) == key or absolute in self._busy:
                return
            if absolute in self.written:  # the run made this file itself: not an input
                self._seen[absolute] = key
                return
            self._busy.add(absolute)
        try:
            digest, stored = self._hash(absolute, key[0])
            self.run._event("input", path=rel, sha256=digest.sha256, size=digest.size,
                            traced=True, stored=stored)
            with self._lock:
                self._seen[absolute] = key
        finally:
            with self._lock:
                self._busy.discard(absolute)

    def renamed(self, src: str, dst: str) -> None:
        with self._lock:
            if src not in self.written:
                return
            del self.written[src]
            self._out.pop(src, None)
        rel = self.relative(dst)
        if rel is not None:
            with self._lock:
                self.written[dst] = rel

    def record_written(self) -> int:
        """Hash the files written so far whose content changed; record them as outputs."""
        with self._lock:
            items = list(self.written.items())
        done = 0
        for absolute, rel in items:
            key = _stat_key(absolute)
            if key is None:  # deleted (a temporary file) or not a regular file
                continue
            with self._lock:
                last = self._out.get(absolute)
                if (last is not None and last[0] == key) or self._explicit.get(absolute) == key:
                    continue
            digest, stored = self._hash(absolute, key[0])
            with self._lock:
                self._out[absolute] = (key, digest.sha256)
            if last is not None and last[1] == digest.sha256:
                continue
            self.run._event("output", path=rel, sha256=digest.sha256, size=digest.size,
                            traced=True, stored=stored)
            done += 1
        return done

    def _hash(self, absolute: str, size: int):
        if size <= self.store_max_bytes:
            return objects.put_file(self.run.layout, absolute), True
        return objects.hash_file(absolute), False

    def finish(self, run=None, status=None) -> None:
        """End hook: record what was written, then stop tracing this run (once)."""
        if self._finished:
            return
        self._finished = True
        try:
            with _busy():
                self.record_written()
        finally:
            _remove(self)


def _stat_key(absolute: str) -> tuple | None:
    try:
        st = os.stat(absolute)
    except (OSError, ValueError):
        return None
    if not stat.S_ISREG(st.st_mode):
        return None
    return (st.st_size, st.st_mtime_ns, st.st_ino)


class _busy:
    """Mark this thread as inside nbtrack's tracing, so its own opens are not traced."""

    def __enter__(self):
        self.previous = getattr(_guard, "busy", False)
        _guard.busy = True

    def __exit__(self, *exc):
        _guard.busy = self.previous


# ------------------------------------------------------------------ the hook
def _hook(event: str, args: tuple) -> None:
    tracers = _tracers
    if not tracers or (event != "open" and event != "os.rename" and event != "os.chdir"):
        return
    if getattr(_guard, "busy", False):
        return
    _guard.busy = True
    try:
        if event == "open":
            _on_open(tracers, args)
        elif event == "os.rename":
            _on_rename(tracers, args)
        else:
            _paths.clear()  # relative paths mean something else now
    except Exception:  # noqa: BLE001, S110 - tracing must never break the user's open()
        pass
    finally:
        _guard.busy = False


def _absolute(path: str) -> str:
    """``os.path.abspath`` without a ``getcwd`` call per open: cached until ``os.chdir``."""
    found = _paths.get(path)
    if found is None:
        if len(_paths) >= _DECISIONS_MAX:
            _paths.clear()
        found = _paths[path] = os.path.abspath(path)
    return found


def _on_open(tracers: tuple[Tracer, ...], args: tuple) -> None:
    path, _mode, flags = args
    if isinstance(path, int) or flags is None:
        return  # an already-open descriptor: its path was seen when it was opened
    absolute = _absolute(path if type(path) is str else os.fsdecode(path))
    access = flags & _ACCMODE
    reading = access != os.O_WRONLY and not flags & os.O_TRUNC
    key = own = None
    for tracer in tracers:
        rel = tracer.relative(absolute)
        if rel is None or tracer.run.ended:
            continue
        if reading:  # before noting a write: ``r+`` reads the version from before
            if key is None:
                key = _stat_key(absolute) or ()  # (): missing, or not a regular file
            if key and not tracer.known(absolute, key):
                if own is None:  # frame 0: here, 1: _hook, 2: the code that called open()
                    own = sys._getframe(2).f_code in _OWN_CODES
                if own:
                    tracer.explicit(absolute, key)
                else:
                    tracer.read(absolute, rel, key)
        if access != os.O_RDONLY:
            tracer.wrote(absolute, rel)


def _on_rename(tracers: tuple[Tracer, ...], args: tuple) -> None:
    src, dst = args[0], args[1]
    if args[2] not in (-1, None) or args[3] not in (-1, None):
        return  # relative to directory descriptors: not resolvable here
    src = _absolute(os.fsdecode(src))
    dst = _absolute(os.fsdecode(dst))
    for tracer in tracers:
        tracer.renamed(src, dst)


def _install() -> None:
    global _installed
    if not _installed:
        sys.addaudithook(_hook)
        _installed = True


def _remove(tracer: Tracer) -> None:
    global _tracers
    with _lock:
        _tracers = tuple(t for t in _tracers if t is not tracer)


# ------------------------------------------------------------------ public
def attach(run, include: Iterable[str] | str | None = None,
           exclude: Iterable[str] | str | None = None,
           store_max_bytes: int = STORE_MAX_BYTES, root: str | os.PathLike | None = None) -> Tracer:
    """Trace the files ``run``'s code opens until the run ends.

    ``include`` / ``exclude``: glob lists relative to ``root`` (default: the
    working directory now); ``exclude=None`` means ``DEFAULT_EXCLUDE``, and a list
    replaces it. Content of files up to ``store_max_bytes`` is also stored.

    >>> run = nbtrack.start_run("etl", trace_files={"include": ["data/*"]})
    """
    global _tracers
    with _lock:
        for tracer in _tracers:
            if tracer.run is run:
                return tracer
        tracer = Tracer(
            run, os.fspath(root) if root is not None else os.getcwd(), include=include,
            exclude=DEFAULT_EXCLUDE if exclude is None else exclude,
            store_max_bytes=store_max_bytes,
        )
        _install()
        _paths.clear()  # the working directory may have changed while nothing was traced
        _tracers = (*_tracers, tracer)
    run.end_hooks.append(tracer.finish)
    return tracer


def detach(run) -> None:
    """Stop tracing ``run`` now, recording the files it wrote so far."""
    for tracer in _tracers:
        if tracer.run is run:
            tracer.finish()


def cell_finished() -> None:
    """Record the files written by traced runs so far (the end of a cell).

    Called by the IPython ``post_run_cell`` hook; costs nothing when no run is traced.
    """
    tracers = _tracers
    if not tracers:
        return
    with _busy():
        for tracer in tracers:
            try:
                tracer.record_written()
            except Exception as exc:  # noqa: BLE001 - a vanished file must not fail the cell
                import warnings

                warnings.warn(f"nbtrack: could not record written files: {exc!r}",
                              RuntimeWarning, stacklevel=2)


def tracing(run=None) -> bool:
    """Whether ``run`` (or any run, when None) is traced now."""
    return any(run is None or t.run is run for t in _tracers)
