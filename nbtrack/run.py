"""Run: the write API of one tracked run.

``log`` is the hot path (a training loop may call it millions of times): it
checks types, assigns steps and appends each point to one flat ``array('d')``
as four numbers (key id, step, value, time), nothing else. The flusher thread
turns that buffer into Arrow segments. Everything else a run records (params,
tags, notes, files, status) is an *event* appended to a list and written as JSON
with the next flush.

No lock on the hot path: a point goes in with one ``array.frombytes`` of its four
packed doubles, a single C call that no other thread can interleave under the GIL; the
flusher copies and removes a prefix (whole points: the length is always a
multiple of four), again single calls. A call is validated before its first
point is appended, so a refused call leaves nothing behind. Key ids are given
out under a lock, on the slow path, once per new key.
"""

from __future__ import annotations

import getpass
import math
import numbers
import os
import struct
import threading
import time
from array import array
from collections.abc import Iterable, Mapping
from itertools import count
from pathlib import Path, PurePosixPath

from . import flushing, hooks
from .errors import (
    ArtifactPathError,
    InvalidNameError,
    MetricTypeError,
    RunEndedError,
    StoreWriteError,
    StoreWriteWarning,
)
from .ids import friendly_name
from .store import index, liveness, metric_files, objects, records
from .store.atomic import claim_file
from .store.layout import Layout, check_friendly_name, name_file
from .values import as_mapping, metadata_json, to_json

STATUSES = ("running", "completed", "failed", "killed", "crashed")
MAX_KEY_LEN = 250
RUN_ID_ENV = "NBTRACK_RUN_ID"  # a process started with these set logs into that run
HOME_ENV = "NBTRACK_HOME"


_now = time.time  # bound once: the hot path pays no extra frame
_MAX_STEP = metric_files.MAX_STEP
_BIG = 1.7976931348623157e308  # ints beyond float64's range are refused, not overflowed
# a point as 4 native doubles (key id, step, value, time): one frombytes() call appends it
# whole, atomically under the GIL, and is cheaper than extend() with a tuple
_pack = struct.Struct("=4d").pack
COMPACT_EVERY = 64  # flush segments between merges of a running run's metric files
BUFFER_CAP = 1 << 17  # points buffered before the logging thread writes them itself
# points kept in memory while the store refuses writes (32 B each: 128 MiB); past it new
# points are dropped, counted, and recorded as a ``gap`` event once writes work again
MAX_UNWRITTEN = 1 << 22
SPLIT_BELOW = 1 << 12  # a batch a full disk refuses is halved down to this many points
HANDOFF_POINTS = 4096  # buffered past this, the logging thread flushes itself when asked
MERGE_AFTER_S = 60.0  # runs older than this merge their metric files as they go


def flatten(params: Mapping, prefix: str = "") -> dict:
    """``{"opt": {"name": "adam"}}`` -> ``{"opt.name": "adam"}``; values become JSON by
    :mod:`nbtrack.values` (a pydantic config is flattened by its aliases)."""
    __tracebackhide__ = True  # noqa: F841 - IPython hides this frame
    if not isinstance(params, Mapping):
        params = as_mapping(params, "params")
    out: dict = {}
    for key, value in params.items():
        if not isinstance(key, str):
            key = str(key)
        full = f"{prefix}{key}"
        if not isinstance(value, Mapping):
            value = to_json(value, f"param {full!r}")
        if isinstance(value, Mapping) and value:
            out.update(flatten(value, full + "."))
        else:
            out[full] = to_json(value, f"param {full!r}")
    return out


def _jsonable(value: object, where: str = "metadata") -> object:
    return to_json(value, where)


def check_key(key: object, what: str = "metric") -> str:
    if not isinstance(key, str):
        raise InvalidNameError(f"{what} names must be strings, got {type(key).__name__} {key!r}")
    if not key or len(key) > MAX_KEY_LEN or not key.isprintable():
        raise InvalidNameError(
            f"{what} name {key!r} must be 1 to {MAX_KEY_LEN} printable characters"
        )
    return key


def check_tag(tag: object) -> str:
    if not isinstance(tag, str) or not tag.strip() or len(tag) > 100 or not tag.isprintable():
        raise InvalidNameError(f"tag {tag!r} must be a non-empty printable string of <= 100 chars")
    return tag.strip()


def to_number(key: str, value: object) -> float:
    """A value ``log`` accepts as a number, as float; TypeError naming ``key`` otherwise."""
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, numbers.Real):
        try:
            return float(value)
        except OverflowError:
            raise MetricTypeError(
                f"metric {key!r} got a {type(value).__name__} beyond the float64 range"
            ) from None
    item = getattr(value, "item", None)  # 0-d numpy arrays, one-element torch tensors
    if callable(item) and not isinstance(value, (str, bytes)):
        try:
            inner = item()
        except (TypeError, ValueError, RuntimeError):
            inner = None
        if isinstance(inner, (numbers.Real, bool)):
            return to_number(key, inner)
    raise MetricTypeError(
        f"metric {key!r} got {type(value).__name__} {value!r:.60}; log() takes numbers "
        "(int, float, bool, numpy/torch scalars). Put text in params or metadata instead."
    )


def safe_artifact_path(*parts: str | None) -> str:
    """Join parts of an artifact path, refusing anything that would leave the run."""
    pieces: list[str] = []
    for part in parts:
        if part is None or part == "":
            continue
        if not isinstance(part, str):
            raise ArtifactPathError(f"artifact_path must be a string, got {type(part).__name__}")
        if "\\" in part or "\x00" in part or (len(part) > 1 and part[1] == ":"):
            raise ArtifactPathError(f"artifact path {part!r} must use '/' and no drive letters")
        pure = PurePosixPath(part)
        if pure.is_absolute():
            raise ArtifactPathError(
                f"artifact path {part!r} is absolute; give a path inside the run, like 'models/'"
            )
        for seg in pure.parts:
            if seg == "..":
                raise ArtifactPathError(
                    f"artifact path {part!r} would leave the run's folder ('..' is not allowed)"
                )
            if seg != ".":
                pieces.append(seg)
    if not pieces:
        raise ArtifactPathError("artifact path names nothing")
    return "/".join(pieces)


def artifact_dest(artifact_path: str | None, file_parts: tuple[str, ...]) -> str:
    """``artifact_path`` (checked by ``safe_artifact_path``) joined with the names of a
    file as the filesystem gives them: a backslash is a plain character there (POSIX),
    so only empty, ``.``, ``..`` and NUL names are refused."""
    for name in file_parts:
        if name in ("", ".", "..") or "\x00" in name or "/" in name:
            raise ArtifactPathError(f"file name {name!r} cannot name an artifact")
    head = safe_artifact_path(artifact_path) if artifact_path not in (None, "") else ""
    return "/".join(p for p in (head, *file_parts) if p)


def _link_target(src: Path, roots: tuple[Path, ...]) -> str | None:
    """Where a symbolic link points, refused unless it stays inside one of ``roots``
    (the working directory, the folder being logged): the content stored is the
    target's, so a link must not smuggle in a file from elsewhere."""
    if not src.is_symlink():
        return None
    target = src.resolve()
    for root in roots:
        try:
            target.relative_to(root.resolve())
            return str(target)
        except ValueError:
            continue
    raise ArtifactPathError(
        f"{src} is a symbolic link to {target}, outside the working directory; nbtrack "
        "stores what a link points at, so it refuses links that leave the working tree. "
        "Log the real file's path if that is what you mean"
    )


def _display_path(path: Path) -> str:
    """How a file is recorded: relative to the working directory when inside it."""
    absolute = path.absolute()
    try:
        return absolute.relative_to(Path.cwd()).as_posix()
    except ValueError:
        return absolute.as_posix()


class Run:
    """One run. Create with :func:`nbtrack.start_run`; use as a context manager.

    >>> with nbtrack.start_run("bert-ft", params={"lr": 1e-3}) as run:
    ...     run.log({"loss": 0.3}, step=0)
    """

    __slots__ = (
        "id", "name", "experiment", "layout", "owner", "_ended", "status",
        "_keys", "_key_ids", "_next_step", "_explicit", "_points", "_append",
        "_events", "_flush_lock", "_log_lock", "_merge_lock", "_unwritten", "_segments", "_born",
        "_alive_path", "_editing", "end_hooks", "_fast", "_watched", "_alerts", "__weakref__",
        "_closed", "_end_lock", "_write_error", "_dropping", "_dropped", "_dropping_since",
    )

    def __init__(self, layout: Layout, run_id: str, name: str, experiment: str, owner: bool):
        self.id = run_id
        self.name = name
        self.experiment = experiment
        self.layout = layout
        self.owner = owner  # the process that started the run ends it; attached writers only log
        self._ended = False
        self.status = "running"
        self._keys: list[str] = []
        self._key_ids: dict[str, int] = {}
        # the ids the hot path looks keys up in: _key_ids itself until an alert watches a
        # key, then a copy without the watched keys, which so take the checking path
        self._fast: dict[str, int] = self._key_ids
        self._watched: frozenset[str] = frozenset()
        self._alerts = None  # an nbtrack.alerts.AlertSet once run.alert() is called
        self._next_step: dict[str, count] = {}  # per key: the next automatic step
        self._explicit: dict[str, int] = {}  # per key: the last explicit step, if newer
        self._points = array("d")  # key id, step, value, time; four per point
        self._append = self._points.frombytes
        self._unwritten: list[tuple] = []
        self._segments = 0
        self._events: list[dict] = []
        self._flush_lock = threading.Lock()
        self._log_lock = threading.Lock()  # new keys get their ids one at a time
        self._merge_lock = threading.Lock()
        self._born = _now()
        self._alive_path: Path | None = None
        self._closed = False  # end() done: status, merge and summary written
        self._end_lock = threading.Lock()
        self._write_error: OSError | None = None  # the store refuses writes (said once)
        self._dropping = False  # past MAX_UNWRITTEN points kept: new ones are counted only
        self._dropped = 0
        self._dropping_since = 0.0
        self._editing = False  # a stored run opened for edits: every event is written at once
        # called as hook(run, status) just before the run records its end (file tracing
        # hashes what it wrote, capture records the code identity); errors are warned about
        self.end_hooks: list = []
        # the Arrow writer is imported and warmed up by the flusher thread as the first
        # run starts (flushing._warm_up, with a short GIL switch interval meanwhile): on
        # this thread it cost start_run 0.1-0.3 s and reached disk no sooner

    # ------------------------------------------------------------------ metrics
    def log(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        """Log numeric values; ``step`` defaults to one more than the key's last step.

        Logging a key twice at the same step keeps both points (with their times).
        A call is all or nothing: a bad key or value raises before anything is kept.
        """
        if self._ended:
            raise RunEndedError(f"run {self.name} ({self.id}) has ended; start a new run to log")
        t = _now()
        if type(metrics) is dict and len(metrics) == 1:  # the common case, straight through
            (key,) = metrics
            v = metrics[key]
            kid = self._fast.get(key)
            if kid is not None and (type(v) is float or type(v) is int and -_BIG < v < _BIG):
                if step is None:
                    if self._explicit:
                        self._restart_counters()
                    self._append(_pack(kid, next(self._next_step[key]), v, t))
                    return
                if type(step) is int and 0 <= step <= _MAX_STEP:
                    self._explicit[key] = step
                    self._append(_pack(kid, step, v, t))
                    return
        ids = self._fast
        if type(metrics) is not dict:
            __tracebackhide__ = True  # noqa: F841 - off the fast path; IPython hides the frame
            return self._log_slow(metrics, step, t)
        for key, v in metrics.items():
            if type(v) is not float and (type(v) is not int or not -_BIG < v < _BIG) or key not in ids:
                __tracebackhide__ = True  # noqa: F841 - off the fast path; IPython hides the frame
                return self._log_slow(metrics, step, t)
        if step is not None and (type(step) is not int or step < 0 or step > _MAX_STEP):
            __tracebackhide__ = True  # noqa: F841 - off the fast path; IPython hides the frame
            step = self._check_step(step)
        append = self._append
        if step is None:
            if self._explicit:
                self._restart_counters()
            counters = self._next_step
            for key, v in metrics.items():
                # next() on a count is one C call: threads never get the same step
                append(_pack(ids[key], next(counters[key]), v, t))
        else:
            explicit = self._explicit
            for key, v in metrics.items():
                explicit[key] = step
                append(_pack(ids[key], step, v, t))

    def _restart_counters(self) -> None:
        """After explicit steps, automatic ones go on from the last explicit step + 1."""
        explicit = self._explicit
        for key in list(explicit):
            step = explicit.pop(key, None)
            if step is not None:
                self._next_step[key] = count(step + 1)

    def _log_slow(self, metrics, step: int | None, t: float) -> None:
        """Validate everything (raising before anything is kept), register new keys, log."""
        __tracebackhide__ = True  # noqa: F841 - IPython hides this frame
        metrics = self._normalise(metrics)
        if step is not None:
            step = self._check_step(step)
        if self._watched and not self._watched.isdisjoint(metrics):
            return self._log_watched(metrics, step, t)
        self.log(metrics, step)

    def _log_watched(self, metrics: dict[str, float], step: int | None, t: float) -> None:
        """A call naming a key some alert watches: append as ``log`` does, then check."""
        ids, append, steps = self._key_ids, self._append, {}
        if step is None:
            if self._explicit:
                self._restart_counters()
            for key, v in metrics.items():
                steps[key] = s = next(self._next_step[key])
                append(_pack(ids[key], s, v, t))
        else:
            for key, v in metrics.items():
                self._explicit[key] = steps[key] = step
                append(_pack(ids[key], step, v, t))
        self._alerts.check(metrics, steps, t)

    def _normalise(self, metrics: object) -> dict[str, float]:
        """Slow path of ``log``: validate every key and value before anything is stored."""
        __tracebackhide__ = True  # noqa: F841 - IPython hides this frame
        if not isinstance(metrics, Mapping):
            raise MetricTypeError(
                f"log() takes a dict of metric name -> number, got {type(metrics).__name__}"
            )
        out: dict[str, float] = {}
        for key, value in metrics.items():
            check_key(key)
            out[key] = value if type(value) is float else to_number(key, value)
            if not -_BIG < out[key] < _BIG and not math.isinf(out[key]) and not math.isnan(out[key]):
                raise MetricTypeError(f"metric {key!r} got a number too large for float64: {value}")
        with self._log_lock:
            for key in out:
                if key not in self._key_ids:
                    self._next_step[key] = count()
                    self._keys.append(key)
                    self._key_ids[key] = len(self._keys) - 1  # last: the fast path may use it now
                if key not in self._fast and key not in self._watched:
                    self._fast[key] = self._key_ids[key]
        return out

    @staticmethod
    def _check_step(step: object) -> int:
        if isinstance(step, bool) or not isinstance(step, numbers.Integral):
            if isinstance(step, float) and step.is_integer():
                step = int(step)
            else:
                raise MetricTypeError(f"step must be an integer, got {type(step).__name__} {step!r}")
        step = int(step)
        if not 0 <= step <= metric_files.MAX_STEP:
            raise MetricTypeError(f"step must be between 0 and {metric_files.MAX_STEP}, got {step}")
        return step

    # ------------------------------------------------------------------ alerts
    def alert(self, condition: str, message: str | None = None, callback=None):
        """Warn (and record on the run) when ``condition`` over metric names becomes true.

        Checked as the named metrics are logged; fires once per crossing, again only
        after the condition was false. ``callback(record)`` is called on each firing.

        >>> run.alert("val_loss > 2.0", message="Validation loss is diverging")
        >>> run.alert("abs(train_loss - val_loss) > 0.5 and epoch >= 3")
        """
        from .alerts import AlertSet

        if self._ended:
            raise RunEndedError(f"run {self.name} ({self.id}) has ended; alerts watch live runs")
        with self._log_lock:
            if self._alerts is None:
                self._alerts = AlertSet(self)
        made = self._alerts.add(condition, message, callback)
        with self._log_lock:
            watched = self._alerts.watched
            self._watched = watched
            self._fast = {k: v for k, v in self._key_ids.items() if k not in watched}
        return made

    # ------------------------------------------------------------------ events
    def _event(self, _type: str, **fields) -> None:
        if self._ended and not self._editing:
            raise RunEndedError(f"run {self.name} ({self.id}) has ended")
        fields["type"] = _type
        fields["t"] = _now()
        self._events.append(fields)
        if self._editing:
            self.flush()
            write_summary(self.layout, self.id)

    def log_params(self, params: Mapping) -> None:
        """Record parameters; nested dicts become dotted keys (``opt.name``)."""
        __tracebackhide__ = True  # noqa: F841 - IPython hides this frame
        check_depth(params, "log_params")
        flat = flatten(as_mapping(params, "log_params"))
        for key in flat:
            check_key(key, "param")
        if flat:
            self._event("params", params=redact(flat, "params"))

    def log_param(self, key: str, value: object) -> None:
        __tracebackhide__ = True  # noqa: F841 - IPython hides this frame
        self.log_params({key: value})

    def log_metadata(self, metadata: Mapping) -> None:
        """Record arbitrary nested JSON; merged into what was logged before."""
        __tracebackhide__ = True  # noqa: F841 - IPython hides this frame
        check_depth(metadata, "log_metadata")
        value = metadata_json(metadata)
        if value:
            self._event("metadata", metadata=redact(value, "metadata"))

    def add_tags(self, *tags: str | Iterable[str]) -> None:
        __tracebackhide__ = True  # noqa: F841 - IPython hides this frame
        clean = [check_tag(t) for t in _iter_tags(tags)]
        if clean:
            self._event("tags", add=clean)

    def remove_tags(self, *tags: str | Iterable[str]) -> None:
        __tracebackhide__ = True  # noqa: F841 - IPython hides this frame
        clean = [check_tag(t) for t in _iter_tags(tags)]
        if clean:
            self._event("tags", remove=clean)

    def note(self, text: str) -> None:
        """Append a markdown note, timestamped."""
        __tracebackhide__ = True  # noqa: F841 - IPython hides this frame
        if not isinstance(text, str):
            raise TypeError(f"note takes text, got {type(text).__name__}")
        if text.strip():
            self._event("note", text=redact(text, "text"))

    def archive(self) -> None:
        """Hide the run from ``runs()`` unless ``include_archived=True``."""
        __tracebackhide__ = True  # noqa: F841 - IPython hides this frame
        self._event("archive", archived=True)

    def unarchive(self) -> None:
        __tracebackhide__ = True  # noqa: F841 - IPython hides this frame
        self._event("archive", archived=False)

    # ------------------------------------------------------------------ files
    def log_artifact(self, path: str | os.PathLike, artifact_path: str | None = None) -> str:
        """Store a file's content under the run as ``artifact_path/<file name>``.

        Returns the artifact's path inside the run. The content is kept once per
        store, by sha256, and the file is recorded as an output of the run.
        """
        __tracebackhide__ = True  # noqa: F841 - IPython hides this frame
        src = Path(path)
        if not src.is_file():
            raise FileNotFoundError(f"log_artifact: no file at {src}")
        dest = artifact_dest(artifact_path, (src.name,))
        self._store_file(src, dest, _link_target(src, (Path.cwd(), src.parent)))
        return dest

    def log_artifacts(self, folder: str | os.PathLike, artifact_path: str | None = None) -> list[str]:
        """Store every file under ``folder``, keeping its layout below ``artifact_path``."""
        __tracebackhide__ = True  # noqa: F841 - IPython hides this frame
        root = Path(folder)
        if not root.is_dir():
            raise NotADirectoryError(f"log_artifacts: no folder at {root}")
        # every path is checked before anything is stored (an empty folder too)
        safe_artifact_path(artifact_path, "_")
        plan = [
            (src, artifact_dest(artifact_path, src.relative_to(root).parts),
             _link_target(src, (Path.cwd(), root)))
            for src in sorted(p for p in root.rglob("*") if p.is_file())
        ]
        for src, dest, link in plan:
            self._store_file(src, dest, link)
        return [dest for _, dest, _ in plan]

    def _store_file(self, src: Path, dest: str, link: str | None = None) -> None:
        __tracebackhide__ = True  # noqa: F841 - IPython hides this frame
        digest = objects.put_file(self.layout, src)
        shown = _display_path(src)
        extra = {"symlink_to": link} if link else {}  # the run says its content is the target's
        self._event(
            "artifact", path=dest, source=shown, sha256=digest.sha256, size=digest.size, **extra
        )
        self._event("output", path=shown, sha256=digest.sha256, size=digest.size, artifact=dest)

    def log_output(self, path: str | os.PathLike) -> str:
        """Record a file the run produced (content stored by hash); returns the path."""
        __tracebackhide__ = True  # noqa: F841 - IPython hides this frame
        src = Path(path)
        digest = objects.put_file(self.layout, src)
        self._event("output", path=_display_path(src), sha256=digest.sha256, size=digest.size)
        return str(path)

    def use_input(self, path: str | os.PathLike, name: str | None = None,
                  description: str | None = None):
        """Record a file the run reads (path, size, sha256) and return ``path`` unchanged.

        The content is kept in the store too, so a reproduction can restore it
        even after the file changed.
        """
        __tracebackhide__ = True  # noqa: F841 - IPython hides this frame
        src = Path(path)
        if not src.is_file():
            raise FileNotFoundError(f"use_input: no file at {src}")
        digest = objects.put_file(self.layout, src)
        extra = {k: v for k, v in (("name", name), ("description", description)) if v}
        self._event(
            "input", path=_display_path(src), sha256=digest.sha256, size=digest.size, **extra
        )
        return path

    def log_dataset(self, name: str, path: str | os.PathLike, description: str = ""):
        """Record a named dataset as an input of the run."""
        __tracebackhide__ = True  # noqa: F841 - IPython hides this frame
        check_key(name, "dataset")
        return self.use_input(path, name=name, description=description or None)

    # ------------------------------------------------------------------ lifecycle
    def _take_points(self):
        """Copy the buffered points out and drop them from the buffer (whole points)."""
        points = self._points
        n = len(points)  # loggers only append; a point's four floats go in together
        if not n:
            return None
        taken = (list(self._keys), points[:n])
        del points[:n]
        if n > BUFFER_CAP * 4 and not self._dropping:
            # the logger outpaces this thread (it holds the GIL): make it flush for
            # itself past the cap, so memory stays bounded; free on the hot path
            self._append = self._append_capped
        return taken

    def _plain_append(self):
        return self._drop if self._dropping else self._points.frombytes

    def _append_capped(self, point: bytes) -> None:
        points = self._points
        points.frombytes(point)
        if len(points) > BUFFER_CAP * 4:
            self._append = self._plain_append()
            self._flush_from_logger()

    def _append_handoff(self, point: bytes) -> None:
        """Asked for by the flusher thread when this run logs fast: the logging thread,
        which holds the GIL, writes its own buffer at once, instead of the flusher
        waiting for the GIL at every step of a flush (hundreds of ms in a hot loop)."""
        self._points.frombytes(point)
        self._append = self._plain_append()
        self._flush_from_logger()

    def hand_off(self) -> bool:
        """Ask the logging thread to flush at its next ``log`` call; False (nothing asked)
        when too little is buffered for it to matter."""
        if len(self._points) < 4 * HANDOFF_POINTS or self._dropping or self._ended:
            return False
        self._append = self._append_handoff
        return True

    def take_back(self) -> bool:
        """Cancel a hand-off the logging thread has not taken; True if it had not."""
        if self._append == self._append_handoff:
            self._append = self._plain_append()
            return True
        return False

    def _flush_from_logger(self) -> None:
        try:
            self.flush()
        except Exception:  # noqa: BLE001 - the training loop never sees a write error:
            pass  # the run warned once with the path, and keeps the data to write later

    def _drop(self, point: bytes) -> None:
        self._dropped += 1

    def _keep(self, taken: tuple) -> None:
        """Queue points taken from the buffer for writing; while the store refuses writes
        they join the last queued batch (one file when space returns, not thousands)."""
        if self._write_error is not None and self._unwritten:
            _, points = self._unwritten[-1]
            points.extend(taken[1])
            self._unwritten[-1] = (taken[0], points)  # later keys extend earlier ones
        else:
            self._unwritten.append(taken)

    def unwritten_points(self) -> int:
        return (sum(len(p) for _, p in self._unwritten) + len(self._points)) // 4

    def flush(self) -> int:
        """Write everything buffered now (metrics as one Arrow segment, events as JSON);
        returns the number of metric points written.

        When the store refuses a write (``ENOSPC``, ``EIO``) nothing is lost: the data
        stays in memory, in order, and is written by a later flush; the run warns once
        (``StoreWriteWarning``) with the path, and this call raises ``StoreWriteError``.
        A run's ``status`` is written only after the points logged before it.
        """
        written = 0
        merge_due = False
        error: OSError | None = None
        with self._flush_lock:
            taken = self._take_points()
            if taken is not None:
                self._keep(taken)
            try:
                while self._unwritten:  # a failed write is retried, in order, next time
                    keys, points = self._unwritten[0]
                    batch = metric_files.build_batch(self.id, keys, points)
                    try:
                        metric_files.write_segment(self.layout, self.id, batch)
                    except OSError:
                        if len(points) > 4 * SPLIT_BELOW:  # maybe half of it fits
                            half = len(points) // 8 * 4
                            self._unwritten[0:1] = [(keys, points[:half]), (keys, points[half:])]
                            continue
                        raise
                    self._unwritten.pop(0)
                    written += batch.num_rows
                    for listener in flushing.listeners:  # live charts; empty unless one is open
                        listener(self, batch)
                    self._segments += 1
                    merge_due |= self._segments % COMPACT_EVERY == 0
            except OSError as exc:
                error = exc
            events = self._events
            m = len(events)
            if self._unwritten:  # the status waits for the points logged before it
                m = next((i for i, ev in enumerate(events[:m]) if ev.get("type") == "status"), m)
            if m:
                try:
                    records.write_records(self.layout.events_dir(self.id), events[:m])
                    del events[:m]
                except OSError as exc:
                    error = error or exc
            if error is not None:
                self._writes_failed(error)
            elif self._write_error is not None and not self._unwritten:
                self._writes_work_again()
        long_run = _now() - self._born > MERGE_AFTER_S  # short runs just merge at the end
        if merge_due and long_run and self.owner and not self._ended \
                and self._merge_lock.acquire(False):
            # a long run merges its files as it goes (readers of a running run then open
            # a handful of files); outside the flush lock, so flushes carry on meanwhile
            try:
                metric_files.maintain(self.layout, self.id, fan_in=COMPACT_EVERY)
            except OSError:
                pass  # a full disk: merged later (at the end, or by a tidy sweep)
            finally:
                self._merge_lock.release()
        if error is not None:
            raise StoreWriteError(
                f"could not write run {self.name} ({self.id}) to {_where(error, self)}: "
                f"{error.strerror or error}. Nothing is lost: {self.unwritten_points():,} "
                "points and the events are kept in memory and written as soon as the "
                "store takes writes again (retried every flush); run.end() can be "
                "called again"
            ) from error
        return written

    def _writes_failed(self, error: OSError) -> None:
        import warnings

        first = self._write_error is None
        self._write_error = error
        kept = self.unwritten_points()
        if kept >= MAX_UNWRITTEN and not self._dropping:
            self._dropping, self._dropping_since = True, _now()
            self._append = self._drop
            warnings.warn(
                f"nbtrack: run {self.name} ({self.id}) keeps {kept:,} unwritten points in "
                f"memory, its limit: further points are dropped (and counted) until "
                f"{_where(error, self)} takes writes again",
                StoreWriteWarning, stacklevel=3,
            )
        if first:
            warnings.warn(
                f"nbtrack: could not write run {self.name} ({self.id}) to "
                f"{_where(error, self)}: {error.strerror or error}; logging goes on, the "
                f"data stays in memory (up to {MAX_UNWRITTEN:,} points) and is written when "
                "the store takes writes again, or at run.end()",
                StoreWriteWarning, stacklevel=3,
            )

    def _writes_work_again(self) -> None:
        import warnings

        self._write_error = None
        dropped = ""
        if self._dropping:
            now = _now()
            self._dropping = False
            self._append = self._points.frombytes
            self._events.append({
                "type": "gap", "t": now, "points": self._dropped, "from_t": self._dropping_since,
                "to_t": now, "reason": "the store refused writes and the memory limit was reached",
            })
            dropped = f" ({self._dropped:,} points logged meanwhile were dropped: see the gap event)"
            self._dropped = 0
        warnings.warn(f"nbtrack: run {self.name} ({self.id}) is written again; everything kept "
                      f"in memory is on disk{dropped}", StoreWriteWarning, stacklevel=3)

    def heartbeat(self, touch: bool = True) -> None:
        """Called by the flusher thread: write the run's alive marker the first time (off
        the start path: another host sees a new run as alive for a grace period), then
        touch it every few seconds."""
        if self._alive_path is None:
            if self.owner and not self._ended:
                self._alive_path = liveness.mark_alive(self.layout, self.id)
        elif touch:
            liveness.touch(self._alive_path)

    def end(self, status: str = "completed", message: str | None = None) -> None:
        """Finish the run: flush, record the status, compact, update the index.

        If the store refuses the writes (a full disk) this raises ``StoreWriteError``
        with everything kept in memory; the flusher thread retries, and calling
        ``end()`` again finishes the run once the writes go through.
        """
        __tracebackhide__ = True  # noqa: F841 - IPython hides this frame
        if status not in STATUSES or status == "running":
            raise ValueError(
                f"status must be one of completed, failed, killed, crashed; got {status!r}"
            )
        if self._closed:
            return
        if not self.owner:  # a subprocess attached to the kernel's run only flushes
            self._ended = True
            self.flush()
            self._closed = True
            flushing.unregister(self)
            return
        if not self._ended:
            for hook in list(self.end_hooks):
                try:
                    hook(self, status)
                except Exception as exc:  # noqa: BLE001 - ending must not fail half-way
                    import warnings

                    warnings.warn(f"nbtrack: an end hook of run {self.name} failed: {exc!r}",
                                  RuntimeWarning, stacklevel=2)
            self._event("status", status=status, message=message)
            self._ended = True
            self.status = status
            hooks.run_ended(self)  # nbtrack.active takes it off the stack of open runs
        self._finish()

    def _finish(self) -> None:
        """What ``end`` writes after the status; safe to call again until it succeeds
        (the run stays registered with the flusher thread, which retries)."""
        with self._end_lock:
            if self._closed:
                return
            self.flush()  # raises StoreWriteError, with everything still kept
            flushing.unregister(self)
            self._closed = True
            try:
                with self._merge_lock:  # never two merges of the same files at once
                    metric_files.compact(self.layout, self.id)
            except OSError:
                pass  # no room to merge: the files stay as they are, all readable
            try:
                write_summary(self.layout, self.id)
            except OSError:
                pass  # readers rebuild the row from the run's events
            liveness.clear_alive(self.layout, self.id)

    def finish_pending(self) -> None:
        """Called by the flusher after a flush went through: complete an ``end()``
        that a full disk interrupted."""
        if self.owner and self._ended and not self._closed:
            self._finish()

    def __enter__(self) -> Run:
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if self._ended:
            return False
        if exc_type is None:
            self.end("completed")
        elif issubclass(exc_type, KeyboardInterrupt):
            self.end("killed", message="KeyboardInterrupt")
        else:
            self.end("failed", message=redact(f"{exc_type.__name__}: {exc}", "text"))
        return False

    @property
    def ended(self) -> bool:
        return self._ended

    def live(self, *metrics: str, **options) -> None:
        """Show a chart of this run's metrics (all, or ``metrics``) in the notebook now, updated
        as they are flushed while the run trains (``nbtrack.plot(run)`` returns the panel)."""
        hooks.show_live(self, list(metrics) or None, **options)  # the ui layer's chart

    def __repr__(self) -> str:
        return f"<nbtrack.Run {self.name} id={self.id} experiment={self.experiment!r} {self.status}>"

    def _after_fork(self) -> None:
        """In a forked child the buffers are the parent's: drop them, log as a guest."""
        del self._points[:]
        self._unwritten = []
        del self._events[:]
        self._flush_lock = threading.Lock()
        self._log_lock = threading.Lock()
        self._merge_lock = threading.Lock()
        self._end_lock = threading.Lock()
        self._write_error, self._dropping, self._dropped = None, False, 0
        self._append = self._points.frombytes
        self.owner = False
        self._alive_path = None


def _where(error: OSError, run: Run) -> str:
    """The folder a failed write went to (the temporary file's name says nothing)."""
    name = getattr(error, "filename", None)
    if not name:
        return str(run.layout.run_dir(run.id))
    path = Path(os.fsdecode(name))
    return str(path.parent if path.name.startswith(".") else path)


MAX_DEPTH = 100  # nesting of params and metadata


def check_depth(value: object, what: str, limit: int = MAX_DEPTH) -> None:
    """Refuse data nested deeper than ``limit`` levels with a clear error (not a
    RecursionError from somewhere inside); iterative, so any depth is measured."""
    stack = [(value, 0)]
    seen = 0
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            raise InvalidNameError(f"{what}: the value is nested deeper than {limit} levels; "
                                   "flatten it or store it as an artifact")
        if isinstance(item, Mapping):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend((v, depth + 1) for v in item)
        seen += 1
        if seen > 1_000_000:
            return  # huge but shallow: the value conversion says what it thinks


def redact(value, kind: str):
    """Secrets out before anything is stored (``nbtrack.redaction``): params with
    secret-like names keep their key and lose their value, text loses credentials."""
    from . import redaction  # compiles its patterns: imported at the first run, not with nbtrack

    if kind == "params":
        return redaction.redact_params(value)
    if kind == "metadata":
        return redaction.redact_value(value)
    return redaction.redact_text(value)


def _iter_tags(tags: tuple) -> list:
    out = []
    for t in tags:
        if isinstance(t, str):
            out.extend(x for x in t.split(",") if x.strip()) if "," in t else out.append(t)
        elif isinstance(t, Iterable):
            out.extend(t)
        else:
            out.append(t)
    return out


def write_summary(layout: Layout, run_id: str) -> dict | None:
    """Fold the run's records into its index row and write it."""
    from .store import state  # with datetime and copy: imported at the first run's end

    st = state.load(layout, run_id)
    if st is None:
        return None
    last = metric_files.last_values(layout, run_id)
    row = state.summary_row(st, last)
    index.write_row(layout, row)
    return row


def claim_name(layout: Layout, run_id: str, wanted: str | None) -> str:
    """A name unique in the store: the wanted one (suffixed -2, -3 ... if taken) or a
    generated one."""
    if wanted is not None:
        wanted = check_friendly_name(wanted)
        candidates = (wanted if i == 1 else f"{wanted}-{i}" for i in range(1, 10_000))
    else:
        candidates = (friendly_name() for _ in range(10_000))
    for name in candidates:
        if claim_file(layout.names_dir / name_file(name), run_id):
            return name
    raise InvalidNameError(f"could not find a free run name like {wanted!r}")


def run_env(run: Run) -> dict[str, str]:
    """Environment variables that let a subprocess log into ``run``."""
    return {RUN_ID_ENV: run.id, HOME_ENV: str(run.layout.root)}


def current_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return os.environ.get("USER") or os.environ.get("USERNAME") or "unknown"


def cost_rate(layout: Layout | None = None) -> float | None:
    """Cost per hour of compute: ``$NBTRACK_COST_PER_HOUR``, else ``cost_per_hour`` in
    the store's ``config.json``."""
    raw: object = os.environ.get("NBTRACK_COST_PER_HOUR")
    if not raw and layout is not None:
        raw = layout.config().get("cost_per_hour")
    if raw is None or raw == "":
        return None
    try:
        rate = float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        import warnings

        warnings.warn(f"nbtrack: ignoring cost per hour {raw!r}: not a number", stacklevel=2)
        return None
    return rate if math.isfinite(rate) and rate >= 0 else None
