"""Sweep trials on a real Dask cluster: a ``LocalCluster`` of worker processes on
loopback, reached through ``client.get_executor()``; each trial process logs straight
into the store. A worker killed mid-trial leaves that trial ``crashed`` and the sweep
going (Dask reruns the lost task, which takes the next trial)."""

from __future__ import annotations

import os
import threading
from concurrent.futures import BrokenExecutor

import pytest
from sweep_work import killed_on_trial_one, score

import nbtrack
from nbtrack.tuning import execute

distributed = pytest.importorskip("distributed")

GRID = {"a": {"values": [1, 2, 3]}, "b": {"values": [0, 1]}}
LIMIT_S = 240  # a sweep that hangs fails the test instead of the whole suite


def within(fn, *args, **kwargs):
    """``fn(*args, **kwargs)``, failing the test if it has not returned in LIMIT_S."""
    out: dict = {}

    def call():
        try:
            out["value"] = fn(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            out["error"] = exc

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    thread.join(LIMIT_S)
    if thread.is_alive():
        pytest.fail(f"{fn.__qualname__} did not return in {LIMIT_S} s")
    if "error" in out:
        raise out["error"]
    return out["value"]


@pytest.fixture(scope="module")
def client(moto):
    """Two single-threaded worker processes with nannies (a killed worker is restarted),
    on 127.0.0.1, no dashboard. The workers are started with the AWS variables that reach
    the session's moto server, as a cluster's workers have their credentials: the ``s3``
    tests' trials log straight into the test's bucket."""
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
        dashboard_address=None, silence_logs=40, env=moto.env(),  # restarted workers too
    )
    with cluster, distributed.Client(cluster) as dask_client:
        yield dask_client


@pytest.mark.backends  # trials logging into a folder, and into a bucket
def test_trials_run_on_dask_worker_processes(client, store):
    sweep = nbtrack.sweep("dask", strategy="grid", parameters=GRID, objective="score")
    # the executor names tasks by their arguments (pure=True): each must still be its own
    results = within(sweep.run, score, executor=client.get_executor(), n_jobs=2)
    assert sorted(r["value"] for r in results) == [10, 11, 20, 21, 30, 31]
    workers = set(client.run(os.getpid).values())
    logs = [nbtrack.get_run(r["run_id"]) for r in results]
    pids = {int(log["metrics"]["pid"]["values"][0]) for log in logs}
    assert pids <= workers and os.getpid() not in pids
    assert {log["status"] for log in logs} == {"completed"}
    assert sweep.status == "finished"


@pytest.mark.backends  # trials logging into a folder, and into a bucket
def test_a_worker_killed_mid_trial_leaves_it_crashed_and_the_sweep_going(client, store):
    sweep = nbtrack.sweep("dask-kill", strategy="random", objective="score", max_trials=5,
                          parameters={"a": {"values": [1, 2, 3]}, "b": {"values": [0, 1]}})
    results = within(sweep.run, killed_on_trial_one, executor=client.get_executor(), n_jobs=2,
                     n_trials=4)
    states = {a.number: a.state for a in sweep.state().attempts}
    assert states[1] == "crashed"  # its worker died; the task was rerun as a new trial
    assert [r["state"] for r in results].count("completed") == 4
    assert 1 not in {r["number"] for r in results}
    killed = nbtrack.runs(status="crashed")
    assert killed["sweep_trial"].to_list() == [1]
    points = nbtrack.metrics(runs=killed["run_id"].to_list())
    assert points["key"].to_list() == ["pid"]  # what it flushed before dying is kept


def test_a_killed_worker_of_the_default_pool_is_replaced(store):
    sweep = nbtrack.sweep("pool-kill", strategy="random", objective="score", max_trials=6,
                          parameters=GRID)
    results = within(sweep.run, killed_on_trial_one, n_jobs=2, n_trials=4)
    assert len(results) == 4
    states = {a.number: a.state for a in sweep.state().attempts}
    assert states[1] == "crashed"
    # a broken pool takes its other worker's trial down too; the new pool goes on
    assert "completed" in [r["state"] for r in results[1:]] or len(states) > 2
    crashed = [r for r in results if r["state"] == "crashed"]
    assert 1 in {r["number"] for r in crashed}


def test_lost_worker_errors_are_told_from_trial_errors():
    from distributed import KilledWorker

    assert execute.worker_lost(KilledWorker("task", "worker", 3))
    assert execute.worker_lost(BrokenExecutor("pool broke"))
    assert not execute.worker_lost(ValueError("the trial's own error"))


def test_a_task_run_again_returns_the_trial_it_finished(store):
    """Dask recomputes a task whose finished result was lost with its worker: the rerun
    must report that trial, not take (and hide) another one."""
    sweep = nbtrack.sweep("again", strategy="grid", parameters=GRID, objective="score")
    payload, root = execute._dumps(score), str(sweep.layout.root)
    first = execute.trial_task(root, sweep.id, payload, (), 1, "tok")
    assert execute.trial_task(root, sweep.id, payload, (), 1, "tok") == first
    other = execute.trial_task(root, sweep.id, payload, (), 2, "tok")
    assert other["number"] != first["number"]
    assert len(sweep.trials()) == 2
