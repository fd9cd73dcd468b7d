"""Live curves: a chart of a run this process is training, updated as the run flushes.

``Run.flush`` hands every metric segment it writes to ``flushing.listeners`` (one append per
flush, on the flusher thread); a :class:`Feed` keeps each series of its panel as a bounded
summary (M4 points with their columns' means and counts: at most ``LOD_POINTS`` a series
however long the run trains) and one pusher thread sends what is new to the browser at most
``1 / PUSH_EVERY_S`` times a second. The training loop never waits for any of it.

A panel shown mid-cell cannot ask its busy kernel for anything (comm messages wait for the
cell), so pushes carry the state: deltas (the points flushed since the last push) and now and
then a whole snapshot (at once, a few times in the first seconds, then every ``SNAPSHOT_EVERY_S``),
which a view that rendered late starts from. Status changes (completed, failed, killed) are
pushed as they happen.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections import deque

from .. import flushing
from ..query import downsample
from ..query import series as series_q
from .curves import arrow_stream

log = logging.getLogger("nbtrack.ui")

PUSH_EVERY_S = 0.25
SNAPSHOT_EVERY_S = 5.0
EARLY = (0.3, 1.0, 2.0, 4.0)  # extra snapshots (seconds after display): the view may just be rendering
EARLY_S = EARLY[-1]
LOD_POINTS, LOD_COLUMNS = 8192, 1024  # a series is thinned to LOD_COLUMNS once it holds LOD_POINTS

_feeds: dict[str, weakref.WeakSet] = {}  # run id -> feeds showing it
_lock = threading.Lock()
_wake = threading.Event()
_thread: threading.Thread | None = None
_active: set = set()  # feeds the pusher thread serves


class Lod:
    """One live series: points (step, time in epoch ms, value) and their columns
    (first point, mean, count), bounded by compaction."""

    def __init__(self):
        import numpy as np

        self.step = self.time = self.y = self.mean = np.zeros(0)
        self.first = self.count = np.zeros(0, dtype=np.int64)

    def extend(self, step, time_ms, y, first, mean, count) -> bool:
        """Add points and their columns; True when the series was compacted (send a snapshot)."""
        import numpy as np

        offset = len(self.y)
        self.step, self.time, self.y = (np.concatenate([a, b]) for a, b in
                                        ((self.step, step), (self.time, time_ms), (self.y, y)))
        self.first = np.concatenate([self.first, np.asarray(first) + offset])
        self.mean = np.concatenate([self.mean, mean])
        self.count = np.concatenate([self.count, count])
        if len(self.y) <= LOD_POINTS:
            return False
        order = downsample.series_order(np.zeros(len(self.step), dtype=np.int64), self.step)
        if not bool((order == np.arange(len(order))).all()):  # steps logged out of order
            rank = np.empty_like(order)
            rank[order] = np.arange(len(order))
            self.step, self.time, self.y = self.step[order], self.time[order], self.y[order]
            keep = np.argsort(rank[self.first], kind="stable")
            self.first, self.mean, self.count = np.sort(rank[self.first]), self.mean[keep], self.count[keep]
        picks = downsample.m4_summary(self.step, self.y, self.first, self.mean, self.count, LOD_COLUMNS)
        self.first = np.searchsorted(picks.index, picks.first)
        self.step, self.time, self.y = self.step[picks.index], self.time[picks.index], self.y[picks.index]
        self.mean, self.count = picks.mean, picks.count
        return True


def _columns_of(step, y, span: float):
    """A delta as (points, columns): every point its own column, or M4 at about the live
    series' own resolution (``span``: the steps it covers so far), so a fast loop adds a
    handful of points a push and the series is compacted only as its range grows."""
    import numpy as np

    finite = np.isfinite(y)
    width = float(step[-1]) - float(step[0]) if len(step) else 0.0
    buckets = max(1, min(LOD_COLUMNS, int(LOD_COLUMNS * width / max(span + width, 1.0)) + 1))
    if len(y) <= 4 * buckets:
        return np.arange(len(y)), np.arange(len(y)), np.where(finite, y, np.nan), finite.astype(np.int64)
    if bool(finite.all()):  # the common case: chunks of consecutive points, a few ns a point
        picks = downsample.m4_chunks(y, buckets)
    else:
        picks = downsample.m4_arrays(np.zeros(len(y), dtype=np.int8), step, y, buckets)
    return picks.index, np.searchsorted(picks.index, picks.first), picks.mean, picks.count


class Feed:
    """What one live panel shows of the runs this process is training."""

    def __init__(self, panel, runs: list, keys: list[str] | None, names: dict[str, dict]):
        self.panel = weakref.ref(panel)
        self.keys = set(keys) if keys else None
        self.names = names
        self.lods: dict[tuple[str, str], Lod] = {}
        self.pending: deque = deque()  # (run id, record batch) as flushed; append/popleft are atomic
        self.fresh: dict[tuple[str, str], list] = {}
        self.statuses = {run.id: run.status for run in runs}
        self.seq = 0
        self.sent_bytes = 0  # what the pushes carried (benchmarks/bench_panels.py reports it)
        self.born = time.monotonic()
        self.early = list(EARLY)
        self.last_snapshot = -1e9
        self.dirty = True
        self.lock = threading.Lock()
        self.sent_statuses: dict | None = None
        self.run_ids = [run.id for run in runs]
        self.runs = [weakref.ref(run) for run in runs]
        for run in runs:
            self._follow(run)

    def _follow(self, run) -> None:
        # under the run's flush lock: what the store holds now, then every later flush, once
        with run._flush_lock:  # noqa: SLF001 - the one lock that orders flushes
            history = series_q.read_run(run.layout, run.id, sorted(self.keys) if self.keys else None)
            with _lock:
                _feeds.setdefault(run.id, weakref.WeakSet()).add(self)
                if _on_flush not in flushing.listeners:
                    flushing.listeners.append(_on_flush)
        run.end_hooks.append(_EndHook(self))
        for (key,), part in history.partition_by("key", as_dict=True, maintain_order=True).items():
            self._add(run.id, key, part["step"].to_numpy(), part["time"].to_numpy(), part["value"].to_numpy(), fresh=False)

    def _add(self, run_id: str, key: str, step, time_ms, y, fresh: bool = True) -> None:
        import numpy as np

        y = np.asarray(y, dtype=np.float64)  # the stored values are float64 already: no copy
        if len(step) > 1 and not bool(np.all(step[1:] >= step[:-1])):
            order = np.argsort(step, kind="stable")
            step, time_ms, y = step[order], time_ms[order], y[order]
        lod = self.lods.setdefault((run_id, key), Lod())
        span = float(lod.step[-1] - lod.step[0]) if len(lod.step) else 0.0
        index, first, mean, count = _columns_of(step, y, span)
        # only the kept points are converted (a fast loop flushes ~10^5 points a push)
        points = (np.asarray(step[index], dtype=np.float64), np.asarray(time_ms[index], dtype=np.float64), y[index])
        compacted = lod.extend(*points, first, mean, count)
        if compacted or not fresh:
            self.dirty = True
        elif not self.dirty:
            self.fresh.setdefault((run_id, key), []).append((*points, first, mean, count))

    def flushed(self, run_id: str, batch) -> None:
        self.pending.append((run_id, batch))  # the flusher thread: one append, nothing else

    def ended(self, run_id: str, status: str) -> None:
        self.statuses[run_id] = status

    # ------------------------------------------------------------------ on the pusher thread
    def take(self) -> None:
        import numpy as np

        while self.pending:
            run_id, batch = self.pending.popleft()
            keys = batch.column(1).dictionary.to_pylist()
            step = batch.column(2).to_numpy()
            value = batch.column(3).to_numpy()
            stamp = batch.column(4).cast("int64").to_numpy()
            if len(keys) == 1:
                if self.keys is None or keys[0] in self.keys:
                    self._add(run_id, keys[0], step, stamp, value)
                continue
            codes = batch.column(1).indices.to_numpy(zero_copy_only=False)
            k, n = len(keys), len(codes)
            m = n // k * k
            if m and len(set(codes[:k].tolist())) == k and bool((codes[:m].reshape(-1, k) == codes[:k]).all()) \
                    and bool((codes[m:] == codes[:n - m]).all()):
                # log({"loss": ..., "acc": ...}) every step: the keys take turns, a strided view each
                for j, code in enumerate(codes[:k].tolist()):
                    if self.keys is None or keys[code] in self.keys:
                        self._add(run_id, keys[code], step[j::k], stamp[j::k], value[j::k])
                continue
            # otherwise group the points by key at once (a stable radix sort), not a mask per key
            order = np.argsort(codes, kind="stable")
            bounds = np.r_[0, np.cumsum(np.bincount(codes, minlength=len(keys)))]
            step, stamp, value = step[order], stamp[order], value[order]
            for code, key in enumerate(keys):
                lo, hi = bounds[code], bounds[code + 1]
                if hi > lo and (self.keys is None or key in self.keys):
                    self._add(run_id, key, step[lo:hi], stamp[lo:hi], value[lo:hi])

    def message(self, force_snapshot: bool = False) -> tuple[dict, bytes] | None:
        """The next push: a snapshot, a delta, or None when nothing changed."""
        with self.lock:
            self.take()
            now = time.monotonic()
            early = bool(self.early) and now - self.born >= self.early[0]
            if early:
                self.early = [t for t in self.early if now - self.born < t]
            snapshot = force_snapshot or self.dirty or early or now - self.last_snapshot >= SNAPSHOT_EVERY_S
            statuses_changed = self.statuses != self.sent_statuses
            if not snapshot and not self.fresh and not statuses_changed:
                return None
            self.seq += 1
            if snapshot:
                parts = [(rk, [(lod.step, lod.time, lod.y, lod.first, lod.mean, lod.count)]) for rk, lod in self.lods.items()]
                kind, after = "snapshot", None
                self.last_snapshot, self.dirty = now, False
            else:
                parts, kind, after = list(self.fresh.items()), "delta", self.seq - 1
            self.fresh = {}
            self.sent_statuses = dict(self.statuses)
            return self._encode(kind, after, parts)

    def _encode(self, kind: str, after, parts) -> tuple[dict, bytes]:
        import numpy as np

        meta = {"kind": kind, "seq": self.seq, "after": after, "statuses": dict(self.statuses), "series": [],
                "parts": []}
        cols = {n: [] for n in ("step", "time", "y", "first", "mean", "count")}
        for (run_id, key), chunks in parts:
            n_points = n_columns = 0
            for step, time_ms, y, first, mean, count in chunks:
                for name, value in zip(cols, (step, time_ms, y, np.asarray(first) + n_points, mean, count), strict=True):
                    cols[name].append(value)
                n_points += len(y)
                n_columns += len(first)
            meta["series"].append({"run_id": run_id, "key": key, "points": n_points, "columns": n_columns,
                                   "name": self.names.get(run_id, {}).get("name") or run_id,
                                   "status": self.statuses.get(run_id)})
        if not meta["series"]:
            return meta, b""

        def joined(name, dtype):
            return np.concatenate(cols[name]).astype(dtype)

        points = arrow_stream({"step": joined("step", np.float64), "time": joined("time", np.float64),
                               "y": joined("y", np.float32)})
        columns = arrow_stream({"first": joined("first", np.int32), "mean": joined("mean", np.float32),
                                "count": joined("count", np.int32)})
        meta["parts"] = [len(points), len(columns)]
        self.sent_bytes += len(points) + len(columns)
        return meta, points + columns

    def finished(self) -> bool:
        """Every run ended and made its last flush (it leaves the flusher after that)."""
        open_ = flushing.open_runs()
        gone = all(ref() is None or ref() not in open_ for ref in self.runs)
        return gone and not self.pending and time.monotonic() - self.born > EARLY_S

    def stop(self) -> None:
        with _lock:
            for run_id in self.run_ids:
                feeds = _feeds.get(run_id)
                if feeds is not None:
                    feeds.discard(self)
                    if not feeds:
                        del _feeds[run_id]
            if not _feeds and _on_flush in flushing.listeners:
                flushing.listeners.remove(_on_flush)


class _EndHook:
    """``run.end_hooks`` entry: the status reaches the panel (held weakly)."""

    def __init__(self, feed: Feed):
        self.feed = weakref.ref(feed)

    def __call__(self, run, status: str) -> None:
        feed = self.feed()
        if feed is not None:
            feed.ended(run.id, status)
            _wake.set()


def _on_flush(run, batch) -> None:
    """``flushing.listeners`` entry, called by ``Run.flush`` under the run's flush lock."""
    feeds = _feeds.get(run.id)
    if feeds:
        for feed in list(feeds):
            feed.flushed(run.id, batch)
        _wake.set()


def start(panel, runs: list, keys: list[str] | None, names: dict[str, dict]) -> Feed:
    """Follow ``runs`` (Run objects of this process) for ``panel`` until they end."""
    global _thread
    feed = Feed(panel, runs, keys, names)
    with _lock:
        _active.add(feed)
        if _thread is None or not _thread.is_alive():
            _thread = threading.Thread(target=_loop, name="nbtrack-live", daemon=True)
            _thread.start()
    _wake.set()
    return feed


def _loop() -> None:
    global _thread
    while True:
        _wake.wait(1.0)
        _wake.clear()
        with _lock:
            feeds = list(_active)
            if not feeds:
                _thread = None
                return
        for feed in feeds:
            panel = feed.panel()
            try:
                if panel is None or getattr(panel, "comm", None) is None:
                    feed.stop()
                    _active.discard(feed)
                    continue
                message = feed.message()
                if message is not None:
                    panel.push("live", *message)
                if feed.finished() and feed.fresh == {} and not feed.dirty:
                    _active.discard(feed)  # the panel keeps the feed: req_live still answers
                    feed.stop()
            except Exception:  # noqa: BLE001 - one broken panel must not stop the others
                log.debug("nbtrack live push failed", exc_info=True)
            del panel
        time.sleep(PUSH_EVERY_S)  # at most a few pushes a second, however fast the run logs
