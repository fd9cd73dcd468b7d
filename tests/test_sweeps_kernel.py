"""A sweep survives its kernel: kill -9 mid-trial, a fresh kernel continues it."""

from __future__ import annotations

import json
import os
import sys

import nbtrack

from kernel import Kernel

SETUP = """
import nbtrack
sweep = nbtrack.sweep("restart", strategy="grid", objective="score",
                      parameters={"x": {"values": [1, 2, 3, 4, 5]}})
"""


def test_a_sweep_resumes_after_a_real_kernel_restart(store, tmp_path):
    env = {"NBTRACK_HOME": str(store), "PYTHONPATH": os.pathsep.join(sys.path)}
    k = Kernel(tmp_path, env)
    try:
        assert k.run(SETUP).ok
        assert k.run("for _ in range(2):\n"
                     "    params, trial = sweep.suggest()\n"
                     "    trial.log({'loss': 1.0})\n"
                     "    sweep.complete(trial, {'score': params['x'] * 10})").ok
        in_flight = k.run("params, trial = sweep.suggest()\nprint(sweep.id, trial.run.id)")
        assert in_flight.ok, in_flight.evalue
        sweep_id, crashed_run = in_flight.stdout.split()
        k.kill9()  # the kernel dies in the middle of trial 2
    finally:
        k.close()

    with Kernel(tmp_path, env) as k2:
        # the same cell again (as after a restart) finds the same sweep
        assert k2.run(SETUP).ok
        seen = k2.run("import json\n"
                      "print(json.dumps([sweep.id, sweep.trials()['state'].to_list()]))")
        assert seen.ok, seen.evalue
        assert json.loads(seen.stdout) == [sweep_id, ["completed", "completed", "crashed"]]
        retried = k2.run("print(sweep.retry())\n"
                         "done = sweep.run(lambda params, trial: params['x'] * 10)\n"
                         "print(len(done), sweep.status)")
        assert retried.ok, retried.evalue
        assert retried.stdout.split() == ["[2]", "3", "finished"]
        by_id = k2.run(f"print(nbtrack.sweep(id={sweep_id!r}).best['value'])")
        assert by_id.stdout.strip() == "50.0"

    sweep = nbtrack.sweep(id=sweep_id)
    attempts = sweep.state().attempts
    assert [(a.number, a.attempt, a.state) for a in attempts] == [
        (0, 0, "completed"), (1, 0, "completed"), (2, 0, "crashed"), (2, 1, "completed"),
        (3, 0, "completed"), (4, 0, "completed"),
    ]
    assert sorted(a.params["x"] for a in attempts if a.state == "completed") == [1, 2, 3, 4, 5]
    assert nbtrack.get_run(crashed_run)["status"] == "crashed"
    assert nbtrack.runs("restart").height == 6
