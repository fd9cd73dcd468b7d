"""Property tests of the write API and the magics: any sequence of calls with any
arguments either works or raises an nbtrack error, and afterwards the store reads back
whole, with exactly what was accepted. ``stress/fuzz.py`` runs them with many more cases."""

from __future__ import annotations

import math
import os
import warnings

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import nbtrack  # noqa: E402
from nbtrack.errors import CorruptFileWarning, NbtrackError  # noqa: E402

EXAMPLES = int(os.environ.get("NBTRACK_FUZZ_EXAMPLES", "60"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow, HealthCheck.data_too_large])

KEYS = st.one_of(st.text(max_size=12), st.sampled_from(
    ["loss", "run_id", "params.x", "a.b.c", "", " ", "x" * 300, "\x00", "../x", "é", "tags"]))
NUMBERS = st.one_of(st.floats(), st.integers(-(10**30), 10**30), st.booleans())
VALUES = st.one_of(NUMBERS, st.none(), st.text(max_size=10), st.binary(max_size=4))
STEPS = st.one_of(st.none(), st.integers(-5, 2**60), st.floats(allow_nan=True),
                  st.sampled_from([0, 1, 2**53 - 1, 2**53, -1]))
JSONISH = st.recursive(
    st.one_of(st.none(), st.booleans(), st.floats(), st.integers(-(10**20), 10**20),
              st.text(max_size=8)),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(KEYS, inner, max_size=3)),
    max_leaves=12,
)


def nested(depth: int) -> dict:
    value: dict = {"leaf": 1}
    for _ in range(depth):
        value = {"k": value}
    return value


CALLS = st.one_of(
    st.tuples(st.just("log"), st.dictionaries(KEYS, VALUES, max_size=3), STEPS),
    st.tuples(st.just("log_params"), st.dictionaries(KEYS, JSONISH, max_size=3)),
    st.tuples(st.just("log_metadata"), st.dictionaries(KEYS, JSONISH, max_size=3)),
    st.tuples(st.just("deep"), st.sampled_from([50, 99, 101, 600, 3000])),
    st.tuples(st.just("add_tags"), st.lists(st.text(max_size=8), max_size=3)),
    st.tuples(st.just("note"), st.text(max_size=20)),
    st.tuples(st.just("artifact"), st.sampled_from(
        [None, "", "models/", "../x", "/abs", "a/../../b", "c:\\x", "%2e%2e/x", "a\x00b",
         "ok/./y", "x\\y"])),
)


def apply(run, call, tmp_path) -> object | None:
    """Make the call; None if it was refused with an nbtrack error, else what to expect."""
    kind, *args = call
    try:
        if kind == "log":
            run.log(*args[:1], step=args[1])
            return ("log", args[0], args[1])
        if kind == "log_params":
            run.log_params(args[0])
        elif kind == "log_metadata":
            run.log_metadata(args[0])
        elif kind == "deep":
            run.log_metadata(nested(args[0]))
        elif kind == "add_tags":
            run.add_tags(*args[0])
        elif kind == "note":
            run.note(args[0])
        elif kind == "artifact":
            (tmp_path / "f.bin").write_bytes(b"x")
            run.log_artifact(tmp_path / "f.bin", artifact_path=args[0])
        return (kind,)
    except NbtrackError:
        return None


def reads_whole(run_id: str) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("error", CorruptFileWarning)
        frame = nbtrack.runs()
        assert run_id in frame["run_id"].to_list()
        nbtrack.metrics(frame)
        return nbtrack.get_run(run_id)


@SETTINGS
@given(calls=st.lists(CALLS, max_size=8))
def test_any_calls_work_or_raise_an_nbtrack_error_and_the_store_reads(store, tmp_path, calls):
    run = nbtrack.start_run("fuzz")
    logged = []
    for call in calls:
        done = apply(run, call, tmp_path)
        if done and done[0] == "log":
            logged.append(done)
    run.end()
    log = reads_whole(run.id)
    assert log["status"] == "completed"
    expected_points = sum(len(metrics) for _, metrics, _ in logged)
    assert sum(len(s["values"]) for s in log["metrics"].values()) == expected_points
    for _, metrics, step in logged:
        for key, value in metrics.items():
            series = log["metrics"][key]
            got = series["values"]
            want = float(value)
            assert any(g == want or (math.isnan(g) and math.isnan(want)) for g in got), key
            if step is not None:
                assert int(step) in series["steps"]


@pytest.mark.parametrize("depth", [99, 101, 5000])
def test_deep_nesting_is_refused_cleanly_or_kept(store, depth):
    with nbtrack.start_run("deep") as run:
        if depth > 100:
            with pytest.raises(NbtrackError, match="nested deeper"):
                run.log_metadata(nested(depth))
            with pytest.raises(NbtrackError, match="nested deeper"):
                run.log_params(nested(depth))
        else:
            run.log_metadata(nested(depth))
    reads_whole(run.id)
    if depth > 100:
        with pytest.raises(NbtrackError, match="nested deeper"):
            nbtrack.start_run("deep", params=nested(depth))


MAGIC_WORDS = st.lists(st.sampled_from(
    ["start", "stop", "params", "log", "tag", "note", "status", "runs", "show", "x=1",
     "loss=0.5", "step=2", "step=-1", "--name", "--tags", "a,b", "--status", "failed", "'",
     '"', "--", "-h", "../x", "nope", "lr", "=", "x=", "=1", "1e400", "nan"]), max_size=5)


@pytest.fixture(scope="module")
def ipython():
    from IPython import get_ipython
    from IPython.testing.globalipapp import start_ipython

    from nbtrack.capture import ipython as capture

    shell = start_ipython() or get_ipython()  # start_ipython makes its shell once per process
    shell.run_line_magic("load_ext", "nbtrack")
    yield shell
    capture.uninstall(shell)  # its recorders would otherwise watch later tests' runs too


@SETTINGS
@given(words=MAGIC_WORDS)
def test_any_track_line_works_or_is_a_usage_error(store, ipython, words):
    from IPython.core.error import UsageError

    ipython.user_ns["lr"] = 0.1
    try:
        ipython.run_line_magic("track", " ".join(words))
    except (UsageError, NbtrackError):
        pass
    finally:
        for run in nbtrack.active.open_runs():
            run.end()
    if (store / "nbtrack-store.json").exists():
        with warnings.catch_warnings():
            warnings.simplefilter("error", CorruptFileWarning)
            frame = nbtrack.runs()
            nbtrack.metrics(frame)
            assert set(frame["status"]) <= {"completed", "failed", "killed"}
