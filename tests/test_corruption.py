"""Damaged files: checksums catch every flipped bit, truncation never crashes a read,
a damaged file costs only itself, and ``nbtrack check`` lists and quarantines it.

The fast versions below damage a sample of offsets; ``scripts/stress.sh`` damages
every byte (``stress/corruption.py``)."""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import pytest

import nbtrack
from nbtrack import cli
from nbtrack.errors import CorruptFileWarning
from nbtrack.store import checksum, metric_files
from nbtrack.store.layout import Layout

from faults import flip_bits, make_runs, offsets, snapshot, truncate
from support import overwrite

SAMPLES = int(os.environ.get("NBTRACK_FLIP_SAMPLES", "32"))


def files_of(store: Path, run_id: str, folder: str) -> list[Path]:
    return sorted(p for p in (store / "runs" / run_id / folder).iterdir()
                  if not p.name.startswith("."))


@pytest.fixture
def damaged_store(store, monkeypatch):
    """Three finished runs, and a fourth whose two flush segments stay unmerged."""
    made = make_runs(3)
    with nbtrack.start_run("exp", name="segments") as seg:
        for step in range(30):
            seg.log({"loss": step * 0.5}, step=step)
            if step % 15 == 14:
                seg.flush()
        with monkeypatch.context() as m:
            m.setattr(metric_files, "compact", lambda *a, **k: None)
            seg.end()
    return made, seg


def test_every_record_file_carries_the_crc32_of_its_bytes(damaged_store, store):
    import zlib

    named = [p for p in store.rglob("*") if p.is_file() and ".crc32-" in p.name]
    kinds = {p.parent.name for p in named}
    assert {"metrics", "events", "index", "experiments"} <= kinds | {"experiments"}
    for path in named:
        want = path.name.split(".crc32-")[1][:8]
        assert f"{zlib.crc32(path.read_bytes()) & 0xFFFFFFFF:08x}" == want, path


@pytest.mark.parametrize("which", ["segment", "compact", "events", "index"])
def test_single_bit_flips_are_all_detected_and_cost_only_their_file(damaged_store, store,
                                                                  which):
    (a, b, c), seg = damaged_store
    if which == "segment":
        target, bad = files_of(store, seg.id, "metrics")[0], seg.id
        assert ".compact" not in target.name
    elif which == "compact":
        [target], bad = files_of(store, b.id, "metrics"), b.id
        assert ".compact" in target.name
    elif which == "events":
        target, bad = files_of(store, b.id, "events")[-1], b.id
    else:
        from nbtrack.store import index

        target, bad = index.compact(Layout(store)), None
    expected = snapshot()
    size = target.stat().st_size
    tally = flip_bits(target, offsets(size, SAMPLES), expected, bad)
    assert tally.silent_wrong == 0 and tally.crashed == 0 and tally.others_lost == 0, (
        str(tally), tally.examples)
    assert tally.detected == tally.cases, (str(tally), tally.examples)
    assert snapshot() == expected  # restored


@pytest.mark.parametrize("which", ["segment", "events", "index-row"])
def test_truncation_at_any_offset_never_crashes_a_read(damaged_store, store, which):
    (a, b, c), seg = damaged_store
    if which == "segment":
        target, bad = files_of(store, seg.id, "metrics")[0], seg.id
    elif which == "events":
        target, bad = files_of(store, b.id, "events")[0], b.id
    else:
        target, bad = sorted((store / "index").glob("*.json"))[-1], None
    expected = snapshot()
    size = target.stat().st_size
    tally = truncate(target, offsets(size, SAMPLES), expected, bad)
    assert tally.silent_wrong == 0 and tally.crashed == 0 and tally.others_lost == 0, (
        str(tally), tally.examples)
    assert tally.detected == tally.cases, (str(tally), tally.examples)


def test_a_version_1_file_without_a_checksum_never_crashes_a_read(damaged_store, store):
    """Files written before checksums can only be checked for structure: flipped bits
    there may read back as other numbers, but never crash the read of every run."""
    (a, b, c), seg = damaged_store
    [target] = files_of(store, b.id, "metrics")
    plain = target.with_name(target.name.replace(target.name[target.name.index(".crc32-"):
                                                               -len(".arrow")], ""))
    target.rename(plain)
    assert checksum.expected(plain) is None
    expected = snapshot()
    tally = flip_bits(plain, offsets(plain.stat().st_size, SAMPLES), expected, b.id)
    assert tally.crashed == 0 and tally.others_lost == 0, (str(tally), tally.examples)


def test_a_corrupt_compact_file_gives_way_to_the_files_it_replaced(store):
    run = nbtrack.start_run("exp")
    for i in range(3):
        run.log({"loss": float(i)})
        run.flush()
    kept = [(p.name, p.read_bytes()) for p in files_of(store, run.id, "metrics")]
    run.end()
    [compact] = files_of(store, run.id, "metrics")
    for name, data in kept:  # a crash between the commit and the deletes
        (compact.parent / name).write_bytes(data)
    data = bytearray(compact.read_bytes())
    data[len(data) // 2] ^= 0x10
    compact.write_bytes(bytes(data))
    checksum.forget()
    with pytest.warns(CorruptFileWarning, match=compact.name):
        values = nbtrack.metrics(run)["value"].to_list()
    assert values == [0.0, 1.0, 2.0]


@pytest.mark.backends  # on a bucket, quarantine is a server-side copy, then a delete
def test_a_merge_puts_a_corrupt_input_in_quarantine(store):
    run = nbtrack.start_run("exp")
    for i in range(3):
        run.log({"loss": float(i)})
        run.flush()
    first = files_of(store, run.id, "metrics")[0]
    overwrite(first, first.read_bytes()[:-3] + b"xyz")
    with pytest.warns(CorruptFileWarning, match=first.name):
        run.end()
    assert [p.name for p in files_of(store, run.id, "metrics") if ".compact" in p.name]
    moved = store / "quarantine" / "runs" / run.id / "metrics" / first.name
    assert moved.is_file() and not first.exists()
    why = json.loads(moved.with_name(moved.name + ".why.json").read_text())
    assert "checksum" in why["reason"]
    with warnings.catch_warnings():
        warnings.simplefilter("error", CorruptFileWarning)
        assert nbtrack.metrics(run)["value"].to_list() == [1.0, 2.0]


@pytest.mark.backends
def test_nbtrack_check_lists_and_quarantines_bad_files(damaged_store, store, capsys, backend):
    (a, b, c), seg = damaged_store
    assert cli.main(["check"]) == 0
    assert "0 corrupt" in capsys.readouterr().out
    [metrics] = files_of(store, a.id, "metrics")
    events = files_of(store, c.id, "events")[0]
    for path in (metrics, events):
        data = bytearray(path.read_bytes())
        data[7] ^= 1
        overwrite(path, bytes(data))
    obj = next(iter((store / "objects" / "sha256").rglob("*")))
    while obj.is_dir():
        obj = next(obj.iterdir())
    overwrite(obj, obj.read_bytes() + b" ")
    leftover = store / "runs" / a.id / "metrics" / ".tmp-0123456789-x.arrow"
    if backend == "local":  # a bucket has no temporary files: a put is whole or nothing
        leftover.write_bytes(b"half")
        os.utime(leftover, (1, 1))
    checksum.forget()
    assert cli.main(["check"]) == 1
    out = capsys.readouterr().out
    for path in (metrics, events, obj):
        assert f"CORRUPT  {path.relative_to(store)}" in out
    if backend == "local":
        assert "LEFTOVER" in out and leftover.name in out
        assert "3 corrupt, 1 leftover" in out
    else:
        assert "3 corrupt, 0 leftover" in out
    assert cli.main(["check", "--quarantine", "--tidy"]) == 0
    out = capsys.readouterr().out
    assert out.count("moved to quarantine/") == 3
    assert not metrics.exists() and not leftover.exists()
    assert cli.main(["check"]) == 0
    assert "0 corrupt, 0 leftover" in capsys.readouterr().out
    with warnings.catch_warnings():
        warnings.simplefilter("error", CorruptFileWarning)
        assert nbtrack.runs().height == 4
        assert set(nbtrack.metrics()["run_id"]) == {b.id, c.id, seg.id}


def test_a_version_1_store_reads_and_new_files_get_checksums(store):
    made = make_runs(2)
    for path in list(store.rglob("*")):
        if path.is_file() and ".crc32-" in path.name:
            head, _, tail = path.name.partition(".crc32-")
            path.rename(path.with_name(head + tail[8:]))
    (store / "nbtrack-store.json").write_text('{"format": "nbtrack-store", "version": 1}')
    nbtrack.active._layouts.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("error", CorruptFileWarning)
        frame = nbtrack.runs(sort="started")
        assert frame["run_id"].to_list() == [r.id for r in made]
        assert nbtrack.metrics().height == 2 * 2 * 40
        with nbtrack.start_run("exp") as run:
            run.log({"x": 1.0})
    assert all(".crc32-" in p.name for p in files_of(store, run.id, "metrics"))
    assert json.loads((store / "nbtrack-store.json").read_text())["version"] == 1
    assert nbtrack.runs().height == 3


def test_segment_files_checks_only_what_it_has_not_checked(store, monkeypatch):
    run = nbtrack.start_run("exp")
    run.log({"a": 1.0})
    run.end()
    layout = Layout(store)
    checksum.forget()
    hashed = []
    real = checksum.crc_file
    monkeypatch.setattr(checksum, "crc_file", lambda p: hashed.append(p) or real(p))
    metric_files.segment_files(layout, run.id)
    metric_files.segment_files(layout, run.id)
    assert len(hashed) == 1  # an immutable file is hashed once per process


def test_restore_never_puts_back_a_corrupt_copy(store, tmp_path):
    from nbtrack.repro import runtime

    (tmp_path / "data.csv").write_text("a,b\n1,2\n")
    with nbtrack.start_run("exp") as run:
        run.use_input("data.csv")
    [item] = nbtrack.get_run(run.id)["inputs"]
    copy = store / "objects" / "sha256" / item["sha256"][:2] / item["sha256"][2:]
    (tmp_path / "data.csv").unlink()
    copy.write_text("a,b\n1,3\n")  # the store's copy went bad
    layout = runtime._open_store(str(store))
    state = runtime._restore({"path": "data.csv", "sha256": item["sha256"]}, layout)
    assert "corrupt" in state and "not restored" in state
    assert not (tmp_path / "data.csv").exists()
    assert not list(tmp_path.glob(".data.csv*"))
    copy.write_text("a,b\n1,2\n")
    assert runtime._restore({"path": "data.csv", "sha256": item["sha256"]}, layout).endswith(
        "restored from the store")
    assert (tmp_path / "data.csv").read_text() == "a,b\n1,2\n"
