"""The write API of a run: statuses, metrics, params, metadata, tags, notes, ending."""

from __future__ import annotations

import math
from datetime import datetime

import polars as pl
import pytest

import nbtrack
from nbtrack.errors import MetricTypeError, NoActiveRunError, RunEndedError

pytestmark = pytest.mark.backends


def points(run, key=None) -> list[tuple[str, int, float]]:
    frame = nbtrack.metrics([run.id])
    rows = list(zip(frame["key"], frame["step"], frame["value"], strict=True))
    return [r for r in rows if key is None or r[0] == key]


def status_of(run) -> str:
    return nbtrack.get_run(run.id)["status"]


# ---------------------------------------------------------------- context manager
def test_context_manager_completes_the_run():
    with nbtrack.start_run("exp") as run:
        assert nbtrack.active_run() is run
        run.log({"loss": 1.0})
    assert nbtrack.active_run() is None
    log = nbtrack.get_run(run.id)
    assert log["status"] == "completed"
    assert [h["status"] for h in log["status_history"]] == ["running", "completed"]
    assert nbtrack.runs().filter(pl.col("run_id") == run.id)["status"].to_list() == ["completed"]


def test_exception_fails_the_run_propagates_and_keeps_the_message():
    with pytest.raises(ValueError, match="diverged at step 7"):
        with nbtrack.start_run("exp") as run:
            raise ValueError("diverged at step 7")
    log = nbtrack.get_run(run.id)
    assert log["status"] == "failed"
    assert "ValueError" in log["message"] and "diverged at step 7" in log["message"]
    assert log["status_history"][-1]["message"] == log["message"]
    assert nbtrack.active_run() is None


def test_keyboard_interrupt_kills_the_run():
    with pytest.raises(KeyboardInterrupt):
        with nbtrack.start_run("exp") as run:
            raise KeyboardInterrupt
    assert status_of(run) == "killed"


def test_end_with_status_and_unknown_status_refused():
    run = nbtrack.start_run("exp")
    with pytest.raises(ValueError, match="status"):
        run.end(status="finished-ish")
    assert status_of(run) == "running"
    run.end(status="failed")
    assert status_of(run) == "failed"
    assert nbtrack.active_run() is None


def test_end_run_twin_ends_the_active_run():
    run = nbtrack.start_run("exp")
    nbtrack.end_run(status="killed")
    assert status_of(run) == "killed"
    with pytest.raises(NoActiveRunError):
        nbtrack.end_run()


def test_nested_runs_record_their_parent_and_restore_the_outer_one():
    outer = nbtrack.start_run("exp")
    with nbtrack.start_run("exp") as inner:
        assert nbtrack.active_run() is inner
    assert nbtrack.active_run() is outer
    assert nbtrack.get_run(inner.id)["parent_run_id"] == outer.id
    outer.end()


# ---------------------------------------------------------------- metrics
def test_steps_given_or_auto_incremented_per_key():
    with nbtrack.start_run("exp") as run:
        run.log({"a": 1.0})
        run.log({"a": 2.0})
        run.log({"b": 5.0})  # b has its own counter
        run.log({"a": 3.0}, step=10)
        run.log({"a": 4.0, "b": 6.0})
    assert [(s, v) for _, s, v in points(run, "a")] == [(0, 1.0), (1, 2.0), (10, 3.0), (11, 4.0)]
    assert [(s, v) for _, s, v in points(run, "b")] == [(0, 5.0), (1, 6.0)]


def test_same_key_same_step_twice_keeps_both_points_with_times():
    with nbtrack.start_run("exp") as run:
        run.log({"loss": 0.5}, step=3)
        run.log({"loss": 0.4}, step=3)
    frame = nbtrack.metrics(run, keys="loss")
    assert frame["step"].to_list() == [3, 3]
    assert frame["value"].to_list() == [0.5, 0.4]
    assert frame["time"].null_count() == 0
    series = nbtrack.get_run(run.id)["metrics"]["loss"]
    assert series["steps"] == [3, 3] and series["values"] == [0.5, 0.4]
    assert len(series["times"]) == 2 and all(series["times"])


def test_non_numeric_value_is_a_type_error_naming_the_key_and_stores_nothing():
    with nbtrack.start_run("exp") as run:
        run.log({"good": 1.0})
        with pytest.raises(TypeError, match="'lr_name'"):
            run.log({"good": 2.0, "lr_name": "adam"})
        with pytest.raises(MetricTypeError, match="'fresh'"):
            run.log({"other": 1.0, "fresh": [1, 2]})  # both keys new: the slow path
        with pytest.raises(TypeError, match="'none'"):
            run.log({"none": None})
        run.log({"good": 3.0})  # auto step was not consumed by the refused call
    assert points(run) == [("good", 0, 1.0), ("good", 1, 3.0)]


def test_too_large_int_is_refused_and_later_points_stay_intact():
    with nbtrack.start_run("exp") as run:
        run.log({"x": 1, "y": 1.0})
        with pytest.raises((TypeError, OverflowError), match="'huge'"):
            run.log({"huge": 10**400})
        with pytest.raises((TypeError, OverflowError)):
            run.log({"x": 10**400})  # a known key: the fast path
        run.log({"x": 2, "y": 2.0})
    assert points(run, "x") == [("x", 0, 1.0), ("x", 1, 2.0)]
    assert points(run, "y") == [("y", 0, 1.0), ("y", 1, 2.0)]
    assert points(run, "huge") == []


def test_bool_is_logged_as_zero_or_one():
    with nbtrack.start_run("exp") as run:
        run.log({"converged": True})
        run.log({"converged": False})
    assert [v for _, _, v in points(run)] == [1.0, 0.0]


def test_nan_and_infinities_are_stored_as_they_are():
    with nbtrack.start_run("exp") as run:
        run.log({"a": math.nan, "b": math.inf, "c": -math.inf})
    got = {k: v for k, _, v in points(run)}
    assert math.isnan(got["a"]) and got["b"] == math.inf and got["c"] == -math.inf


def test_numpy_scalars_are_numbers():
    np = pytest.importorskip("numpy")
    with nbtrack.start_run("exp") as run:
        run.log({"f32": np.float32(0.5), "i64": np.int64(3), "b": np.bool_(True),
                 "zero_d": np.array(2.5)}, step=np.int64(4))
    got = {k: (s, v) for k, s, v in points(run)}
    assert got == {"f32": (4, 0.5), "i64": (4, 3.0), "b": (4, 1.0), "zero_d": (4, 2.5)}


def test_bad_step_refused():
    with nbtrack.start_run("exp") as run:
        for bad in (-1, "3", 1.5):
            with pytest.raises(TypeError):
                run.log({"a": 1.0}, step=bad)
        run.log({"a": 1.0}, step=2.0)  # an integral float is fine
    assert points(run) == [("a", 2, 1.0)]


def test_log_after_end_raises():
    run = nbtrack.start_run("exp")
    run.log({"a": 1.0})
    run.end()
    with pytest.raises(RunEndedError):
        run.log({"a": 2.0})
    with pytest.raises(RunEndedError):
        run.log_params({"lr": 1})
    with pytest.raises(RunEndedError):
        run.note("late")
    assert points(run) == [("a", 0, 1.0)]


def test_module_level_log_acts_on_the_active_run():
    with nbtrack.start_run("exp") as run:
        nbtrack.log(loss=0.3)
        nbtrack.log({"loss": 0.2}, step=5)
        nbtrack.log(acc=0.9, step=5)
        nbtrack.log_params({"lr": 0.1})
        nbtrack.log_param("batch", 32)
        nbtrack.log_metadata({"gpu": "A100"})
        nbtrack.add_tags("x")
        nbtrack.note("hi")
    assert sorted(points(run)) == [("acc", 5, 0.9), ("loss", 0, 0.3), ("loss", 5, 0.2)]
    log = nbtrack.get_run(run.id)
    assert log["params"] == {"lr": 0.1, "batch": 32}
    assert log["metadata"] == {"gpu": "A100"} and log["tags"] == ["x"]
    assert [n["text"] for n in log["notes"]] == ["hi"]


@pytest.mark.parametrize(
    "call",
    [
        lambda: nbtrack.log(loss=1.0),
        lambda: nbtrack.log_params({"a": 1}),
        lambda: nbtrack.log_metadata({"a": 1}),
        lambda: nbtrack.add_tags("t"),
        lambda: nbtrack.note("n"),
        lambda: nbtrack.use_input("x.csv"),
        lambda: nbtrack.child_env(),
    ],
)
def test_module_level_calls_without_a_run_raise_no_active_run(call):
    assert nbtrack.active_run() is None
    with pytest.raises(NoActiveRunError, match="start_run"):
        call()


# ---------------------------------------------------------------- params, metadata, tags, notes
def test_params_nested_become_dotted_keys():
    with nbtrack.start_run("exp", params={"lr": 1e-3}) as run:
        run.log_params({"opt": {"name": "adam", "betas": {"b1": 0.9}}, "layers": [1, 2]})
        run.log_params({"lr": 2e-3})  # a later value wins
    log = nbtrack.get_run(run.id)
    assert log["params"] == {
        "lr": 2e-3, "opt.name": "adam", "opt.betas.b1": 0.9, "layers": [1, 2],
    }
    assert [h["params"] for h in log["param_history"]] == [
        {"lr": 1e-3}, {"opt.name": "adam", "opt.betas.b1": 0.9, "layers": [1, 2]}, {"lr": 2e-3},
    ]
    row = nbtrack.runs().row(0, named=True)
    assert row["params.opt.name"] == "adam" and row["params.opt.betas.b1"] == 0.9
    assert row["params.lr"] == 2e-3


def test_metadata_stays_nested_and_is_deep_merged():
    with nbtrack.start_run("exp", metadata={"hardware": {"gpu": "A100", "count": 1}}) as run:
        run.log_metadata({"hardware": {"count": 8, "cpu": {"cores": 64}}, "data": [1, 2]})
        run.log_metadata({"hardware": {"cpu": {"arch": "x86"}}})
    assert nbtrack.get_run(run.id)["metadata"] == {
        "hardware": {"gpu": "A100", "count": 8, "cpu": {"cores": 64, "arch": "x86"}},
        "data": [1, 2],
    }
    row = nbtrack.runs().row(0, named=True)
    assert row["metadata.hardware.cpu.arch"] == "x86" and row["metadata.hardware.count"] == 8


def test_tags_added_and_removed():
    with nbtrack.start_run("exp", tags=["nlp", "draft"]) as run:
        run.add_tags("final", "baseline")
        run.add_tags("final")  # no duplicate
        run.remove_tags("draft")
        run.remove_tags("never-there")
    assert nbtrack.get_run(run.id)["tags"] == ["nlp", "final", "baseline"]
    assert nbtrack.runs()["tags"].to_list() == [["nlp", "final", "baseline"]]


def test_notes_are_appended_with_timestamps():
    with nbtrack.start_run("exp", notes="first **note**") as run:
        run.note("second")
        run.note("third\nwith lines")
    notes = nbtrack.get_run(run.id)["notes"]
    assert [n["text"] for n in notes] == ["first **note**", "second", "third\nwith lines"]
    times = [datetime.fromisoformat(n["time"]) for n in notes]
    assert all(t.tzinfo is not None for t in times)
    assert times == sorted(times)


def test_run_has_id_name_and_repr():
    with nbtrack.start_run("exp", name="my-run") as run:
        pass
    assert run.name == "my-run" and len(run.id) == 26
    assert nbtrack.get_run("my-run")["run_id"] == run.id
    assert "my-run" in repr(run)


@pytest.mark.parametrize(
    ("ending", "status", "message"),
    [
        ("pass", "completed", None),
        ("raise ValueError('bad data')", "failed", "bad data"),
        ("raise KeyboardInterrupt", "killed", "KeyboardInterrupt"),
    ],
)
def test_a_script_that_exits_with_a_run_open_ends_it(spawn, ending, status, message):
    code = f"""
        import nbtrack
        run = nbtrack.start_run("exp")
        run.log({{"loss": 0.5}})
        print(run.id, flush=True)
        {ending}
    """
    proc = spawn(code)
    out, _ = proc.communicate(timeout=60)
    log = nbtrack.get_run(out.split()[0])
    assert log["status"] == status
    assert (message is None and log["message"] is None) or message in log["message"]
    assert log["metrics"]["loss"]["values"] == [0.5]


def test_threads_logging_into_one_run_keep_every_point_in_place():
    import sys
    import threading

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    try:
        with nbtrack.start_run("exp") as run:
            def work(key: str) -> None:
                for s in range(20_000):
                    run.log({key: s, "shared": 1.0})

            threads = [threading.Thread(target=work, args=(f"k{i}",)) for i in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
    finally:
        sys.setswitchinterval(old)
    frame = nbtrack.metrics(run)
    assert frame.height == 4 * 20_000 * 2
    mine = frame.filter(pl.col("key") != "shared")
    assert mine.filter(pl.col("value") != pl.col("step")).height == 0
    assert sorted(mine["key"].unique()) == ["k0", "k1", "k2", "k3"]
    for key in ("k0", "k1", "k2", "k3"):
        assert mine.filter(pl.col("key") == key)["step"].to_list() == list(range(20_000))
    shared = frame.filter(pl.col("key") == "shared")
    assert sorted(shared["step"]) == list(range(80_000))  # auto steps never repeat
    assert set(shared["value"]) == {1.0}


def test_a_refused_call_leaves_automatic_steps_where_they_were(store):
    with nbtrack.start_run("steps") as run:
        run.log({"a": 1.0})
        with pytest.raises(MetricTypeError):
            run.log({"a": 2.0, "b": "not a number"}, step=50)
        run.log({"a": 3.0})
        run.log({"a": 4.0, "c": 1.0})
        with pytest.raises(MetricTypeError):
            run.log({"a": 5.0, "c": 2.0, "d": [1]})
        run.log({"a": 6.0, "c": 3.0})
    series = nbtrack.get_run(run.id)["metrics"]
    assert series["a"]["steps"] == [0, 1, 2, 3] and series["a"]["values"] == [1.0, 3.0, 4.0, 6.0]
    assert series["c"]["steps"] == [0, 1] and "b" not in series and "d" not in series
