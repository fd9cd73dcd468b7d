"""Sweeps with real runs in a real store: specs, grid/random/bayesian, resuming, crashed
trials, pruning, stopping, two processes on one grid, worker processes.
(A real kernel restart: test_sweeps_kernel.py.)"""

from __future__ import annotations

import json
import math
import statistics
from collections import Counter
from concurrent.futures import ProcessPoolExecutor

import pytest
from sweep_work import fails_on_odd, score

import nbtrack
from nbtrack.errors import SweepError, SweepFinished, SweepSpecError, TrialPruned
from nbtrack.tuning import records

from support import finish, overwrite, read_line

pytestmark = pytest.mark.backends

GRID = {"a": {"values": [1, 2, 3]}, "b": {"min": 0, "max": 1, "distribution": "int"}}


# ----------------------------------------------------------------- specs
@pytest.mark.parametrize(
    ("kwargs", "says"),
    [
        ({"parameters": {"lr": {"min": 1.0, "max": 0.1}}}, "min 1.0 is above max 0.1"),
        ({"parameters": {"lr": {"min": 0, "max": 1, "distribution": "normal"}}},
         "unknown distribution 'normal'"),
        ({"parameters": {"bs": {"values": []}}}, "'values' must be a non-empty list"),
        ({"parameters": {"bs": {"values": [1, 1]}}}, "values repeat"),
        ({"parameters": {"lr": {"min": 0, "max": 1, "distribution": "log_uniform"}}},
         "log_uniform needs min > 0"),
        ({"parameters": {"n": {"min": 0.5, "max": 3, "distribution": "int"}}}, "whole min and max"),
        ({"parameters": {"lr": {"min": 0, "max": float("inf")}}}, "finite number"),
        ({"parameters": {"lr": {"min": 0}}}, "'min' and 'max' are needed"),
        ({"parameters": {"lr": {"min": 0, "max": 1, "step": 2}}}, "unknown keys ['step']"),
        ({"parameters": {"lr": 0.1}}, "give {'values': [...]}"),
        ({"parameters": {}}, "non-empty dict"),
        ({"parameters": {"lr": {"min": 0, "max": 1}}, "strategy": "grid"}, "a grid needs the values"),
        ({"strategy": "hyperband"}, "strategy must be one of grid, random, bayesian"),
        ({"direction": "up"}, "direction must be 'maximize' or 'minimize'"),
        ({"max_trials": 0}, "max_trials must be a positive integer"),
        ({"objective": None}, "objective names the metric"),
        ({"pruner": {"patience": 3}}, "unknown pruner settings"),
    ],
)
def test_bad_specs_are_refused_with_a_clear_error(kwargs, says):
    args = {"parameters": {"lr": {"values": [0.1]}}, "objective": "acc", **kwargs}
    with pytest.raises(SweepSpecError) as info:
        nbtrack.sweep("bad", **args)
    assert says in str(info.value)
    assert not (records.sweeps_dir(nbtrack.active.layout_for()) / records.BY_NAME).exists()


# ----------------------------------------------------------------- grid
def test_a_grid_sweep_runs_each_point_once_and_ends():
    sweep = nbtrack.sweep("grid", strategy="grid", parameters=GRID, objective="score")
    assert sweep.budget == 6
    results = sweep.run(score)
    assert len(results) == 6 and all(r["state"] == "completed" for r in results)
    with pytest.raises(SweepFinished):
        sweep.suggest()
    assert sweep.status == "finished"
    points = sorted((r["params"]["a"], r["params"]["b"]) for r in results)
    assert points == [(a, b) for a in (1, 2, 3) for b in (0, 1)]
    assert sweep.best["value"] == 31.0 and sweep.best["params"] == {"a": 3, "b": 1}

    trials = sweep.trials()
    assert trials.height == 6 and set(trials["state"]) == {"completed"}
    assert {"number", "attempt", "value", "best_so_far", "run_id", "params.a", "params.b"} \
        <= set(trials.columns)
    curve = sweep.best_so_far()
    assert curve["best"].to_list() == sorted(curve["best"].to_list())  # never gets worse
    assert curve["best"][-1] == 31.0

    runs = nbtrack.runs("grid")  # trials are ordinary runs, grouped by sweep_id
    assert runs.height == 6 and set(runs["sweep_id"]) == {sweep.id}
    assert sorted(runs["sweep_trial"].to_list()) == list(range(6))
    assert set(runs["status"]) == {"completed"}
    assert runs.filter(runs["sweep_trial"] == 5)["metrics.score"][0] == 31.0
    assert runs.filter(runs["sweep_trial"] == 5)["params.a"][0] == 3

    listing = nbtrack.sweeps()
    assert listing.row(0, named=True)["completed"] == 6
    assert listing.row(0, named=True)["status"] == "finished"


def test_max_trials_caps_a_grid_and_suggest_complete_by_hand():
    sweep = nbtrack.sweep("cap", strategy="grid", parameters=GRID, objective="score",
                          max_trials=2, direction="minimize")
    params, trial = sweep.suggest()
    assert params == {"a": 1, "b": 0} and nbtrack.active_run() is trial.run
    trial.log({"score": 5.0})
    sweep.complete(trial)  # the last logged objective
    params, trial = sweep.suggest()
    sweep.complete(trial, {"score": 3.0, "other": 1.0})
    with pytest.raises(SweepError, match="already completed"):
        sweep.complete(trial, 1.0)
    with pytest.raises(SweepFinished):
        sweep.suggest()
    assert sweep.best["value"] == 3.0  # minimize
    assert nbtrack.get_run(trial.run.id)["metrics"]["other"]["values"] == [1.0]


def test_complete_needs_a_value_and_fail_records_the_reason():
    sweep = nbtrack.sweep("f", strategy="random", parameters=GRID, objective="score")
    _, trial = sweep.suggest()
    with pytest.raises(SweepError, match="no 'score' to complete with"):
        sweep.complete(trial)
    sweep.fail(trial, "out of memory")
    row = sweep.trials().row(0, named=True)
    assert row["state"] == "failed" and row["reason"] == "out of memory"
    assert nbtrack.get_run(trial.run.id)["status"] == "failed"


# ----------------------------------------------------------------- random
def test_random_params_follow_the_seed_and_the_trial_number():
    space = {"lr": {"min": 1e-5, "max": 1e-1, "distribution": "log_uniform"},
             "drop": {"min": 0.1, "max": 0.5}, "layers": {"min": 1, "max": 4, "distribution": "int"},
             "opt": ["adam", "sgd"]}
    first = nbtrack.sweep("r1", parameters=space, objective="acc", seed=7, max_trials=5)
    second = nbtrack.sweep("r2", parameters=space, objective="acc", seed=7, max_trials=5)
    drawn = []
    for sweep in (first, second):
        got = []
        for _ in range(5):
            params, trial = sweep.suggest()
            sweep.complete(trial, 0.5)
            got.append(params)
        drawn.append(got)
    assert drawn[0] == drawn[1]
    for p in drawn[0]:
        assert 1e-5 <= p["lr"] <= 1e-1 and 0.1 <= p["drop"] <= 0.5
        assert p["layers"] in range(1, 5) and isinstance(p["layers"], int) and p["opt"] in ("adam", "sgd")
    assert len({p["lr"] for p in drawn[0]}) == 5


# ----------------------------------------------------------------- resuming
def test_the_same_sweep_again_continues_and_a_changed_one_is_new():
    sweep = nbtrack.sweep("same", strategy="grid", parameters=GRID, objective="score")
    sweep.run(score, n_trials=2)
    again = nbtrack.sweep("same", strategy="grid", parameters=GRID, objective="score")
    assert again.id == sweep.id
    assert nbtrack.sweep("same").id == sweep.id and nbtrack.sweep(id=sweep.id).id == sweep.id
    assert len(again.run(score)) == 4  # the rest of the grid
    changed = nbtrack.sweep("same", strategy="grid", parameters={"a": [1], "b": [0]},
                            objective="score")
    assert changed.id != sweep.id
    assert nbtrack.sweep("same").id == changed.id  # by name: the newest
    fresh = nbtrack.sweep("same", strategy="grid", parameters=GRID, objective="score",
                          resume=False)
    assert fresh.id not in (sweep.id, changed.id)
    with pytest.raises(SweepError, match="no sweep 'nope'"):
        nbtrack.sweep("nope")


def test_a_trial_whose_process_died_reads_crashed_then_is_retried_or_given_up(spawn):
    sweep = nbtrack.sweep("crash", strategy="grid", parameters=GRID, objective="score")
    proc = spawn(f"""
        import nbtrack
        sweep = nbtrack.sweep(id={sweep.id!r})
        params, trial = sweep.suggest()
        print(trial.run.id, flush=True)
        input()  # hold the trial until killed
    """)
    run_id = read_line(proc)
    assert sweep.trials().row(0, named=True)["state"] == "running"
    proc.kill()
    proc.wait()
    row = sweep.trials().row(0, named=True)
    assert row["state"] == "crashed" and row["run_id"] == run_id
    assert nbtrack.get_run(run_id)["status"] == "crashed"
    assert sweep.status == "running"  # points left

    assert sweep.retry() == [0]
    params, trial = sweep.suggest()  # the crashed point again, as attempt 1
    assert params == {"a": 1, "b": 0} and trial.number == 0 and trial.attempt == 1
    sweep.complete(trial, 10.0)
    with pytest.raises(SweepError, match="only crashed or failed"):
        sweep.retry(0)

    # a taker that died between its claim and its run: crashed too, and can be given up
    dead = {"host": nbtrack.store.liveness.hostname(), "pid": 2 ** 22 + 7, "pid_start": 1, "t": 0}
    overwrite(records.claims_dir(sweep.layout, sweep.id) / "1.0", json.dumps(dead))
    states = {(a.number, a.attempt): a.state for a in sweep.state().attempts}
    assert states[(1, 0)] == "crashed"
    assert sweep.give_up(1) == [1]
    assert {(a.number, a.attempt): a.state for a in sweep.state().attempts}[(1, 0)] == "abandoned"
    assert sweep.suggest()[0] == {"a": 2, "b": 0}  # trial 1 is not handed out again


def test_stop_and_resume():
    sweep = nbtrack.sweep("stop", strategy="grid", parameters=GRID, objective="score")

    def stop_after_two(params, trial):
        if trial.number == 1:
            sweep.stop()
        return 1.0

    assert len(sweep.run(stop_after_two)) == 2
    assert sweep.status == "stopped"
    with pytest.raises(SweepFinished, match="stopped"):
        sweep.suggest()
    sweep.resume()
    assert len(sweep.run(lambda p, t: 1.0)) == 4


# ----------------------------------------------------------------- pruning
def test_median_pruning_stops_the_trials_below_the_median():
    sweep = nbtrack.sweep("prune", strategy="random", objective="acc", max_trials=10,
                          parameters={"q": {"min": 0.0, "max": 1.0}},
                          pruner={"n_startup_trials": 3, "n_warmup_steps": 1})

    def train(params, trial):
        quality = trial.number if trial.number < 4 else (0 if trial.number % 2 else 9)
        for step in range(5):
            trial.report(quality * (step + 1) / 10, step=step)
            if trial.should_prune():
                raise TrialPruned()
        return quality / 2

    results = sweep.run(train, n_trials=8)
    states = {r["number"]: r["state"] for r in results}
    assert [states[n] for n in range(4)] == ["completed"] * 4  # too few completed to judge
    assert [states[n] for n in (5, 7)] == ["pruned", "pruned"]  # worse than every other
    assert [states[n] for n in (4, 6)] == ["completed", "completed"]
    pruned = sweep.trials().filter(sweep.trials()["state"] == "pruned")
    assert pruned["reason"].to_list() == ["pruned by the sweep at step 1"] * 2  # after warm-up
    run = nbtrack.get_run(pruned["run_id"][0])
    assert run["status"] == "killed" and run["metrics"]["acc"]["steps"] == [0, 1]


def test_fn_errors_fail_the_trial_and_stop_unless_caught():
    sweep = nbtrack.sweep("err", strategy="grid", parameters={"a": [2, 1, 4, 3]},
                          objective="a")
    with pytest.raises(ValueError, match="odd a=1"):
        sweep.run(fails_on_odd)
    assert [a.state for a in sweep.state().attempts] == ["completed", "failed"]
    with pytest.warns(RuntimeWarning, match="odd a=3"):
        results = sweep.run(fails_on_odd, catch=(ValueError,))
    assert [r["state"] for r in results] == ["completed", "failed"]


# ----------------------------------------------------------------- processes
def test_two_processes_share_a_grid_with_no_point_twice(spawn, tmp_path):
    grid = {"a": {"values": list(range(8))}, "b": {"values": [0, 1, 2]}}
    code = f"""
        import os, pathlib, time
        import nbtrack
        ready = pathlib.Path({str(tmp_path)!r})
        (ready / f"ready-{{os.getpid()}}").touch()
        while len(list(ready.glob("ready-*"))) < 2:  # start together
            time.sleep(0.005)
        sweep = nbtrack.sweep("shared", strategy="grid", parameters={grid!r}, objective="v")
        def work(params, trial):
            time.sleep(0.02)  # a little training, so the two overlap
            return params["a"] * 3 + params["b"]
        done = sweep.run(work)
        print(sweep.id, len(done), flush=True)
    """
    procs = [spawn(code), spawn(code)]
    outs = [finish(p, timeout=120).split() for p in procs]
    assert outs[0][0] == outs[1][0]  # both made/opened the same sweep
    assert int(outs[0][1]) + int(outs[1][1]) == 24
    assert int(outs[0][1]) > 0 and int(outs[1][1]) > 0
    sweep = nbtrack.sweep(id=outs[0][0])
    attempts = sweep.state().attempts
    points = Counter((a.params["a"], a.params["b"]) for a in attempts)
    assert len(points) == 24 and set(points.values()) == {1}
    assert {a.state for a in attempts} == {"completed"} and len(attempts) == 24
    assert len({a.pid for a in attempts}) == 2
    with pytest.raises(SweepFinished):
        sweep.suggest()


def test_run_with_n_jobs_uses_worker_processes():
    sweep = nbtrack.sweep("jobs", strategy="grid", parameters=GRID, objective="score")
    results = sweep.run(score, n_jobs=2)
    assert sorted(r["value"] for r in results) == [10, 11, 20, 21, 30, 31]
    logs = [nbtrack.get_run(r["run_id"]) for r in results]
    pids = {int(log["metrics"]["pid"]["values"][0]) for log in logs}
    import os

    assert os.getpid() not in pids and 1 <= len(pids) <= 2
    assert {log["status"] for log in logs} == {"completed"}
    assert sweep.status == "finished"


def test_run_takes_any_executor_and_a_notebook_style_function():
    sweep = nbtrack.sweep("exec", strategy="random", parameters={"x": {"min": 0, "max": 1}},
                          objective="y", max_trials=3)
    offset = 100.0
    import multiprocessing

    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        results = sweep.run(lambda params, trial: params["x"] + offset, executor=pool, n_jobs=2)
    assert len(results) == 3 and all(100 <= r["value"] <= 101 for r in results)


# ----------------------------------------------------------------- bayesian
def _known_function(params, trial):
    """A smooth bowl with its top (0) at x=0.7, y=-0.3, lr=2e-3."""
    return -((params["x"] - 0.7) ** 2 + (params["y"] + 0.3) ** 2
             + (math.log10(params["lr"]) - math.log10(2e-3)) ** 2)


@pytest.mark.local_only("a check of the sampler over 400 trials, not of the store; the bayesian "
                        "sweep's records in a bucket: test_bayesian_sweeps_resume_from_the_store")
def test_bayesian_beats_random_on_a_known_function_with_40_trials():
    pytest.importorskip("optuna")
    space = {"x": {"min": -2, "max": 2}, "y": {"min": -2, "max": 2},
             "lr": {"min": 1e-5, "max": 1e-1, "distribution": "log_uniform"}}
    best: dict[str, list[float]] = {"random": [], "bayesian": []}
    for seed in range(5):
        for strategy in best:
            sweep = nbtrack.sweep(f"{strategy}-{seed}", strategy=strategy, parameters=space,
                                  objective="v", max_trials=40, seed=seed)
            assert len(sweep.run(_known_function)) == 40
            best[strategy].append(sweep.best["value"])
    wins = sum(b > r for b, r in zip(best["bayesian"], best["random"], strict=True))
    print("best values (0 is the optimum):", json.dumps(best))
    assert statistics.mean(best["bayesian"]) > statistics.mean(best["random"])
    assert wins >= 3, best


def test_bayesian_sweeps_resume_from_the_store():
    pytest.importorskip("optuna")
    space = {"x": {"min": 0.0, "max": 1.0}, "k": {"values": ["a", "b"]}}
    first = nbtrack.sweep("bo", strategy="bayesian", parameters=space, objective="v",
                          max_trials=14, seed=3)
    first.run(lambda p, t: -abs(p["x"] - 0.25) + (p["k"] == "b"), n_trials=12)
    again = nbtrack.sweep(id=first.id)  # a new handle, as after a restart
    results = again.run(lambda p, t: -abs(p["x"] - 0.25) + (p["k"] == "b"))
    assert [r["number"] for r in results] == [12, 13]
    assert len(again.trials()) == 14 and again.status == "finished"
    assert again.best["params"]["k"] == "b"
