"""M4 thinning (nbtrack/query/downsample.py): spikes kept, at most four points a column, the
same points as a plain per-column reference implementation, column means and counts for the
smoothed line, summaries of summaries for live series, and the string-keyed frame API."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from nbtrack.query import downsample


def reference_m4(xs, ys, buckets, lo=None, hi=None):
    """Per column, the first, last, lowest and highest point (first of ties), written the slow,
    obvious way: the ground truth the numpy version must match."""
    lo = xs[0] if lo is None else lo
    hi = xs[-1] if hi is None else hi
    width = hi - lo if hi > lo else 1.0
    columns: dict[int, list[int]] = {}
    for i, x in enumerate(xs):
        b = min(buckets - 1, max(0, math.floor((x - lo) / width * buckets)))
        columns.setdefault(b, []).append(i)
    keep, stats = set(), []
    for b in sorted(columns):
        idx = columns[b]
        finite = [i for i in idx if math.isfinite(ys[i])]
        keep |= {idx[0], idx[-1]}
        if finite:
            keep.add(min(finite, key=lambda i: (ys[i], i)))
            keep.add(max(finite, key=lambda i: (ys[i], -i)))
        mean = sum(ys[i] for i in finite) / len(finite) if finite else math.nan
        stats.append((idx[0], mean, len(finite)))
    return sorted(keep), stats


def test_a_one_step_spike_survives_a_100000_to_400_reduction():
    ys = np.linspace(1.0, 0.0, 100_000)
    ys[31_337] = 50.0  # up
    ys[77_777] = -9.0  # down
    picks = downsample.m4_arrays(np.zeros(100_000, dtype=np.int64), np.arange(100_000.0), ys, 100)
    assert len(picks.index) <= 400
    kept = ys[picks.index]
    assert 50.0 in kept and -9.0 in kept
    assert {31_337, 77_777} <= set(picks.index.tolist())


def test_it_matches_the_obvious_implementation_with_ties_nans_and_infinities():
    rng = np.random.default_rng(7)
    for trial in range(30):
        n = int(rng.integers(1, 3000))
        xs = np.sort(rng.integers(0, int(rng.integers(1, 5000)), n)).astype(float)
        ys = rng.integers(0, 5, n).astype(float)  # many ties
        ys[rng.random(n) < 0.05] = np.nan
        ys[rng.random(n) < 0.02] = np.inf
        buckets = int(rng.integers(1, 200))
        picks = downsample.m4_arrays(np.zeros(n, dtype=np.int64), xs, ys, buckets)
        keep, stats = reference_m4(xs.tolist(), ys.tolist(), buckets)
        assert picks.index.tolist() == keep, trial
        assert picks.first.tolist() == [s[0] for s in stats]
        assert picks.count.tolist() == [s[2] for s in stats]
        np.testing.assert_allclose(picks.mean, [s[1] for s in stats], equal_nan=True)


def test_many_series_at_once_equal_each_series_alone_and_stay_bounded():
    rng = np.random.default_rng(1)
    sizes = rng.integers(1, 40_000, 60)
    sid = np.repeat(np.arange(60), sizes)
    xs = np.concatenate([np.sort(rng.random(n)) * 1000 for n in sizes])
    ys = rng.normal(size=len(xs))
    together = downsample.m4_arrays(sid, xs, ys, 250, lo=0, hi=1000)  # one shared axis, in blocks
    starts = np.r_[0, np.cumsum(sizes)[:-1]]
    alone = np.concatenate([downsample.m4_arrays(np.zeros(n), xs[s:s + n], ys[s:s + n], 250, lo=0, hi=1000).index + s
                            for s, n in zip(starts, sizes, strict=True)])
    assert together.index.tolist() == alone.tolist()
    per_series = np.bincount(sid[together.index], minlength=60)
    assert per_series.max() <= 4 * 250
    assert together.count.sum() == len(xs)  # every point is in exactly one column


def test_a_shared_axis_puts_a_short_series_in_few_columns():
    xs = np.r_[np.arange(100.0), np.arange(100_000.0)]
    sid = np.r_[np.zeros(100), np.ones(100_000)].astype(int)
    picks = downsample.m4_arrays(sid, xs, np.sin(xs), 1000, lo=0, hi=99_999)
    assert (sid[picks.index] == 0).sum() <= 4  # the short run spans one pixel column of this chart
    own = downsample.m4_arrays(sid, xs, np.sin(xs), 1000)
    assert (sid[own.index] == 0).sum() == 100  # on its own axis it is drawn whole


def test_a_summary_of_a_summary_keeps_the_spike_and_the_mean():
    rng = np.random.default_rng(3)
    xs = np.arange(200_000.0)
    ys = rng.normal(size=200_000)
    ys[123_456] = 99.0
    first = downsample.m4_arrays(np.zeros(len(xs)), xs, ys, 4000)
    px, py = xs[first.index], ys[first.index]
    again = downsample.m4_summary(px, py, np.searchsorted(first.index, first.first), first.mean, first.count, 500)
    assert len(again.index) <= 2000 and 99.0 in py[again.index]
    assert again.count.sum() == 200_000
    # the merged means are the means over every original point of the new columns
    direct = downsample.m4_arrays(np.zeros(len(xs)), xs, ys, 500)
    np.testing.assert_allclose(np.sort(again.mean), np.sort(direct.mean), rtol=1e-9, atol=1e-9)


def test_the_frame_api_thins_string_keyed_series_and_keeps_small_ones_whole():
    rng = np.random.default_rng(5)
    parts = []
    for run in ("run-b", "run-a"):
        for key in ("loss", "acc"):
            n = 50_000 if key == "loss" else 30
            steps = rng.permutation(n)  # logged out of order: the output is in step order
            values = rng.random(n)
            if key == "loss":
                values[steps == 4242] = 1e6
            parts.append(pl.DataFrame({"run_id": [run] * n, "key": [key] * n, "step": steps, "value": values}))
    frame = pl.concat(parts)
    out = downsample.m4(frame, 100)
    counts = out.group_by("run_id", "key").len()
    assert counts.filter(pl.col("key") == "acc")["len"].to_list() == [30, 30]  # whole
    assert counts.filter(pl.col("key") == "loss")["len"].max() <= 400
    assert out.filter(pl.col("value") == 1e6).height == 2  # each run's spike
    assert out.equals(out.sort("run_id", "key", "step", maintain_order=True))
    zoom = downsample.m4(frame, 200, x_range=(4000, 4500))
    assert zoom["step"].min() >= 4000 and zoom["step"].max() <= 4500
    assert zoom.filter(pl.col("key") == "loss").height == 2 * 501  # few enough: every point


@pytest.mark.parametrize("n", [0, 1])
def test_tiny_inputs(n):
    picks = downsample.m4_arrays(np.zeros(n), np.arange(float(n)), np.ones(n), 10)
    assert picks.index.tolist() == list(range(n))


def test_chunks_of_consecutive_points_keep_the_extremes_and_count_every_point():
    rng = np.random.default_rng(11)
    for n in (1, 7, 999, 100_003):
        ys = rng.random(n)
        ys[n // 2] = 42.0
        picks = downsample.m4_chunks(ys, 50)
        assert picks.count.sum() == n and len(picks.first) <= 50
        assert picks.index[0] == 0 and picks.index[-1] == n - 1 and bool(np.all(np.diff(picks.index) > 0))
        assert 42.0 in ys[picks.index]
        for start, count, mean in zip(picks.first, picks.count, picks.mean, strict=True):
            chunk = ys[start:start + count]
            assert {start + chunk.argmin(), start + chunk.argmax()} <= set(picks.index.tolist())
            assert mean == pytest.approx(chunk.mean())
