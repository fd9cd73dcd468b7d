"""What killed writers leave is swept up: old temporary files (a merge's partial output
too) and the unmerged files of runs whose writer died, never a live writer's."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

import nbtrack
from nbtrack.store import tidy
from nbtrack.store.layout import Layout

from support import read_line


def metric_files(store: Path, run_id: str) -> list[Path]:
    return sorted(p for p in (store / "runs" / run_id / "metrics").iterdir()
                  if not p.name.startswith("."))


WRITER = """
    import time, nbtrack
    run = nbtrack.start_run("exp")
    for i in range(40):
        run.log({"loss": float(i)}, step=i)
        if i % 4 == 3:
            run.flush()
    print(run.id, flush=True)
    while True:
        time.sleep(1)
"""


@pytest.mark.backends
def test_a_dead_writers_unmerged_run_is_merged_and_a_live_ones_is_not(spawn, store):
    dead, live = spawn(WRITER), spawn(WRITER)
    dead_id, live_id = read_line(dead), read_line(live)
    os.kill(dead.pid, signal.SIGKILL)  # killed before (or during) its end-of-run merge
    dead.wait(timeout=30)
    assert len(metric_files(store, dead_id)) == 10 and len(metric_files(store, live_id)) == 10
    before = nbtrack.metrics([dead_id])["value"].to_list()
    done = tidy.compact_abandoned(Layout(store))
    assert any(dead_id in line for line in done)
    [merged] = metric_files(store, dead_id)
    assert ".compact" in merged.name
    assert nbtrack.metrics([dead_id])["value"].to_list() == before == [float(i) for i in range(40)]
    assert len(metric_files(store, live_id)) == 10  # its writer may still merge it itself
    assert nbtrack.get_run(dead_id)["status"] == "crashed"


def test_old_temporary_files_go_and_fresh_ones_stay(store):
    with nbtrack.start_run("exp") as run:
        run.log({"x": 1.0})
    folder = store / "runs" / run.id / "metrics"
    old = folder / ".tmp-0123456789-1796000000000000000-0123456789-000001.compact1-aa-000002.arrow"
    fresh = folder / ".tmp-0123456789-fresh.arrow"
    index_old = store / "index" / ".tmp-0123456789-x.json"
    for path in (old, fresh, index_old):
        path.write_bytes(b"ARROW1\0\0partial")
    an_hour_ago = time.time() - tidy.LEFTOVER_AGE_S - 60
    os.utime(old, (an_hour_ago, an_hour_ago))
    os.utime(index_old, (an_hour_ago, an_hour_ago))
    done = tidy.compact_abandoned(Layout(store))
    assert not old.exists() and not index_old.exists() and fresh.exists()
    assert sum("removed" in line for line in done) == 2
    assert nbtrack.metrics(run)["value"].to_list() == [1.0]


@pytest.mark.backends  # on a bucket the hour's sweep is won by creating tidy/<hour>
def test_a_store_is_swept_at_most_once_an_hour(store, monkeypatch, backend):
    with nbtrack.start_run("exp"):
        pass
    layout = Layout(store)
    monkeypatch.setattr(tidy, "_swept", {})
    hour = int(time.time() // tidy.SWEEP_EVERY_S)
    assert tidy.maybe_sweep(layout) is True
    if backend == "s3":
        [lease] = (store / "tidy").iterdir()
        assert lease.name in (str(hour), str(hour + 1))
    else:
        assert (store / tidy.STAMP).is_file()
    monkeypatch.setattr(tidy, "_swept", {})  # another process: the stamp says it was done
    assert tidy.maybe_sweep(layout) is False
    later = time.time() + tidy.SWEEP_EVERY_S + 1
    assert tidy.maybe_sweep(layout, now=later) is True
