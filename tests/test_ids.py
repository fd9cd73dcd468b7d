"""Run ids (unique, time-sortable, monotonic) and friendly names (unique in a store)."""

from __future__ import annotations

import re
import time

import pytest

import nbtrack
from nbtrack import ids

from support import finish

RUN_ID = re.compile(r"^[0-9a-hjkmnp-tv-z]{26}$")


@pytest.fixture
def fresh_sequence(monkeypatch):
    """Ids made with a forced clock must not leak their sequence into other tests."""
    monkeypatch.setattr(ids, "_last", [0, 0])


def test_run_id_shape_and_time_roundtrip(fresh_sequence):
    rid = ids.new_run_id(now_ms=1_700_000_000_123)
    assert RUN_ID.match(rid)
    assert ids.run_id_time(rid) == pytest.approx(1_700_000_000.123)
    now = time.time()
    assert abs(ids.run_id_time(ids.new_run_id()) - now) < 5


def test_run_ids_sort_by_start_time(fresh_sequence):
    times = [1_600_000_000_000 + k * 997 for k in range(200)]
    made = [ids.new_run_id(now_ms=t) for t in times]
    assert sorted(made) == made
    assert [ids.run_id_time(r) for r in made] == [t / 1000 for t in times]


def test_run_ids_strictly_increase_within_one_millisecond(fresh_sequence):
    made = [ids.new_run_id(now_ms=1_650_000_000_000) for _ in range(5000)]
    assert len(set(made)) == len(made)
    assert sorted(made) == made
    # a clock that steps back does not break the order either
    later = ids.new_run_id(now_ms=1_649_999_999_000)
    assert later > made[-1]


def test_run_ids_stay_monotonic_when_the_random_part_overflows(fresh_sequence):
    ms = 1_650_000_000_000
    ids._last[:] = [ms, (1 << 80) - 1]  # the largest random part: the next one wraps
    nxt = ids.new_run_id(now_ms=ms)
    assert nxt > ids._encode(ms, 10) + ids._encode((1 << 80) - 1, 16)


def test_run_ids_unique_across_processes(spawn):
    code = """
        from nbtrack.ids import new_run_id
        print("\\n".join(new_run_id() for _ in range(3000)))
    """
    procs = [spawn(code) for _ in range(4)]
    per_process = [finish(p).split() for p in procs]
    everything = [r for chunk in per_process for r in chunk]
    assert len(everything) == 12000 and len(set(everything)) == 12000
    assert all(RUN_ID.match(r) for r in everything)
    for chunk in per_process:
        assert chunk == sorted(chunk)


def test_run_ids_of_runs_sort_by_start():
    made = []
    for _ in range(20):
        with nbtrack.start_run("exp") as run:
            made.append(run.id)
    assert made == sorted(made)
    frame = nbtrack.runs(sort="started")
    assert frame["run_id"].to_list() == made


def test_friendly_names_look_friendly_and_are_unique():
    names = []
    for _ in range(100):
        with nbtrack.start_run("exp") as run:
            names.append(run.name)
    assert len(set(names)) == 100
    assert all(re.fullmatch(r"[a-z]+-[a-z]+-\d{4}", n) for n in names)


def test_a_taken_name_gets_a_suffix():
    with nbtrack.start_run("exp", name="baseline") as one:
        pass
    with nbtrack.start_run("exp", name="baseline") as two:
        pass
    assert (one.name, two.name) == ("baseline", "baseline-2")
    assert nbtrack.get_run("baseline-2")["run_id"] == two.id


@pytest.mark.parametrize("bad", ["", "   ", "x" * 201, "two\nlines", "tab\there", "nul\x00", 7])
def test_bad_run_names_are_refused(bad):
    with pytest.raises(nbtrack.errors.InvalidNameError):
        nbtrack.start_run("exp", name=bad)
    assert nbtrack.active_run() is None


@pytest.mark.parametrize("name", [
    "bert lr=1e-3 (baseline)", "résumé", "../etc", "a/b", ".hidden", "日本語の実験",
    "<img src=x onerror=alert(1)>", "x" * 200, "C:\\temp\\run",
])
def test_any_printable_name_is_kept_as_given_and_never_forms_a_path(name, store):
    with nbtrack.start_run("exp", name=name) as run:
        pass
    assert run.name == name
    assert nbtrack.get_run(name)["run_id"] == run.id
    assert nbtrack.runs()["name"].to_list() == [name]
    claimed = list((store / "names").iterdir())
    assert len(claimed) == 1 and claimed[0].parent == store / "names"
    assert claimed[0].read_text().strip() == run.id
    for path in store.rglob("*"):  # nothing was written outside the store's own folders
        assert path.resolve().is_relative_to(store.resolve())


def test_names_are_normalised_so_one_name_is_one_claim():
    composed, decomposed = "r\u00e9sum\u00e9", "re\u0301sume\u0301"
    with nbtrack.start_run("exp", name=composed) as one:
        pass
    with nbtrack.start_run("exp", name=f"  {decomposed} ") as two:
        pass
    assert (one.name, two.name) == (composed, f"{composed}-2")
    assert nbtrack.get_run(decomposed)["run_id"] == one.id


def test_names_unique_when_many_processes_start_runs_at_once(spawn, store):
    code = """
        import sys, nbtrack
        sys.stdin.readline()  # start together
        for _ in range(50):
            with nbtrack.start_run("exp", name="same") as run:
                print(run.id, run.name, flush=True)
    """
    procs = [spawn(code) for _ in range(4)]
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()
    lines = [line for p in procs for line in finish(p).splitlines()]
    pairs = [line.split() for line in lines]
    assert len(pairs) == 200
    run_names = [name for _, name in pairs]
    assert len(set(run_names)) == 200
    assert set(run_names) == {"same"} | {f"same-{i}" for i in range(2, 201)}
    frame = nbtrack.runs()
    assert frame.height == 200 and frame["name"].n_unique() == 200
    assert dict(pairs) == dict(zip(frame["run_id"], frame["name"], strict=True))
