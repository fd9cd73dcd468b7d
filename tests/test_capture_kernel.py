"""Notebook capture in real ipykernels: cells, history, commands, secrets, crashes,
subprocesses. Each test drives a kernel cell by cell, as JupyterLab does."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time

import pytest

import nbtrack
from nbtrack.capture.cells import identity_hash
from nbtrack.store import cell_files
from nbtrack.store.layout import Layout

from kernel import Kernel
from support import wait_for

FAKE_AWS = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"
FAKE_GH = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _kernel_env(store, **extra) -> dict:
    env = {"NBTRACK_HOME": str(store), "PYTHONPATH": os.pathsep.join(sys.path)}
    env.update(extra)
    return env


def test_a_notebook_session_is_captured_cell_by_cell(store, tmp_path):
    env = _kernel_env(
        store,
        AWS_SECRET_ACCESS_KEY=FAKE_AWS,
        GITHUB_TOKEN=FAKE_GH,
        JPY_SESSION_NAME=str(tmp_path / "analysis.ipynb"),
        NBTRACK_COST_PER_HOUR="3.6",
    )
    cells = [
        "import os\ndata = [1, 2, 3]",
        "%load_ext nbtrack",
        "%load_ext nbtrack",
        "%track start demo --tags a,b",
        "lr = 0.1\n%track params lr",
        "x = sum(data)\nimport nbtrack\nnbtrack.log(x=x)",
        "x = sum(data)\nimport nbtrack\nnbtrack.log(x=x)",
        "1/0",
        "!true",
        "!false",
        "%pip install --no-index --quiet nbtrack-no-such-package",
        "import subprocess, sys\n"
        "subprocess.run([sys.executable, '-c', 'import nbtrack; nbtrack.log(sub=7)'], check=True)",
        "!{sys.executable} -c 'import nbtrack; nbtrack.log(bang=3)'",
        "%track sh export NBTRACK_TRACK_acc=0.5 NBTRACK_TRACK_loss_STEP_3=0.25"
        " NBTRACK_TRACK_opt=adam; echo shell-said-hi",
        "%track stop",
    ]
    with Kernel(tmp_path, env) as k:
        results = [k.run(c) for c in cells]
    assert [r.ok for r in results].count(False) == 1 and results[7].ename == "ZeroDivisionError"
    assert "shell-said-hi" in results[13].stdout

    frame = nbtrack.runs()
    assert frame.height == 1
    log = nbtrack.get_run(frame["run_id"][0])
    assert log["status"] == "completed"
    assert log["tags"] == ["a", "b"]

    # every cell executed while the run was active, in order, exactly as executed
    recorded = log["cells"]
    assert [c["source"] for c in recorded] == cells[3:]
    assert [c["execution_count"] for c in recorded] == list(range(4, 4 + len(cells) - 3))
    assert all(c["sha256"] == _sha(c["source"]) for c in recorded)
    assert recorded[3]["sha256"] == recorded[2]["sha256"]  # re-execution: two records
    assert recorded[4]["ok"] is False and recorded[4]["error_type"] == "ZeroDivisionError"
    assert "x" in recorded[2]["bound"] and "lr" in recorded[1]["bound"]
    assert log["code"]["adhoc_identity"] == identity_hash([c["sha256"] for c in recorded])
    assert log["code"]["notebook"] == str(tmp_path / "analysis.ipynb")

    # the whole kernel history, including what ran before %load_ext
    session = cell_files.read_cells(Layout(store), log["code"]["session_id"])
    assert session[0]["before_load"] and session[0]["source"] == cells[0]
    assert [r["execution_count"] for r in session] == list(range(1, len(cells) + 1))

    # shell commands, with exit status; the pip install is an environment change
    commands = {c["command"].split()[0] if c["kind"] == "shell" else c["kind"]: c
                for c in log["commands"]}
    assert commands["true"]["exit_status"] == 0
    assert commands["false"]["exit_status"] == 1
    assert commands["pip"]["changes_env"] is True and commands["pip"]["exit_status"] != 0
    assert "track-sh" in commands

    # subprocesses logged into the same run; %track sh exported metrics and params
    last = {k: v["values"][-1] for k, v in log["metrics"].items()}
    assert last["x"] == 6 and last["sub"] == 7 and last["bang"] == 3 and last["acc"] == 0.5
    assert log["metrics"]["loss"]["steps"] == [3]
    assert log["params"] == {"lr": 0.1, "opt": "adam"}
    assert any(a["path"].startswith("commands/") for a in log["artifacts"])

    # environment and cost
    assert log["env"]["python"]["version"].startswith(f"{sys.version_info[0]}.")
    assert "polars" in {k.lower() for k in log["env"]["packages"]}
    assert log["cost_per_hour"] == 3.6
    assert log["cost"] == pytest.approx(log["duration_s"] * 0.001, rel=1e-6)

    # no secret reached any file of the store
    for path in store.rglob("*"):
        if path.is_file():
            blob = path.read_bytes()
            assert FAKE_AWS.encode() not in blob, path
            assert FAKE_GH.encode() not in blob, path


def test_kill_9_of_the_kernel_reads_as_crashed(store, tmp_path):
    with Kernel(tmp_path, _kernel_env(store)) as k:
        k.run("%load_ext nbtrack", allow_error=False)
        k.run("%track start doomed", allow_error=False)
        k.run("import nbtrack\nfor i in range(5): nbtrack.log(loss=1.0 / (i + 1))",
              allow_error=False)
        run_id = nbtrack.runs()["run_id"][0]
        wait_for(lambda: len(nbtrack.metrics(run_id)) == 5, what="points flushed")
        assert nbtrack.runs()["status"][0] == "running"
        k.kill9()
    frame = nbtrack.runs()
    assert frame["status"].to_list() == ["crashed"]
    assert frame["metrics.loss"][0] == pytest.approx(0.2)
    log = nbtrack.get_run(run_id)
    assert log["status"] == "crashed" and log["status_history"][-1]["status"] == "crashed"


def test_track_cell_magic_statuses_and_bad_options(store, tmp_path):
    with Kernel(tmp_path, _kernel_env(store)) as k:
        k.run("%load_ext nbtrack", allow_error=False)
        bad = k.run("%track start --no-such-option")
        # the cell fails (Run All stops there) with IPython's one-line UsageError
        assert bad.status == "error" and "UsageError: %track start" in bad.stderr
        assert "unrecognized arguments" in bad.stderr and "usage: %track start" in bad.stderr
        assert not store.exists()  # the bad line changed nothing, not even made a store
        helped = k.run("%track")
        assert "usage: %track" in helped.stdout and "start" in helped.stdout
        good = k.run("%%track cells --name one-cell\ny = 21 * 2\nimport nbtrack\nnbtrack.log(y=y)")
        assert good.ok
        failed = k.run("%%track cells --name bad-cell\nraise ValueError('nope')")
        assert failed.ename == "ValueError"
        # an interrupt while a %%track cell runs ends that run killed
        msg_id = k.kc.execute("%%track cells --name stopped-cell\nimport time\n"
                              "print('sleeping', flush=True)\ntime.sleep(60)")
        # the cell's own output says its run started and its body runs (the run's record
        # appearing does not: the interrupt could then land before the body began)
        deadline = time.monotonic() + 60
        while True:
            msg = k.kc.get_iopub_msg(timeout=max(0.1, deadline - time.monotonic()))
            if (msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "stream"
                    and "sleeping" in msg["content"]["text"]):
                break
        k.km.interrupt_kernel()
        reply = k.kc.get_shell_msg(timeout=60)
        while reply["parent_header"].get("msg_id") != msg_id:
            reply = k.kc.get_shell_msg(timeout=60)
        assert reply["content"]["status"] == "error"
        k.run("pass")
    by_name = dict(zip(*nbtrack.runs().select("name", "status").to_dict(as_series=False).values(),
                       strict=True))
    assert by_name == {"one-cell": "completed", "bad-cell": "failed", "stopped-cell": "killed"}
    one = nbtrack.get_run("one-cell")
    assert one["metrics"]["y"]["values"] == [42.0]
    assert [c["source"] for c in one["cells"]] == [
        "%%track cells --name one-cell\ny = 21 * 2\nimport nbtrack\nnbtrack.log(y=y)"
    ]
    assert nbtrack.get_run("bad-cell")["message"] == "ValueError: nope"


def test_git_state_is_recorded_with_the_run(store, tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q", "-b", "main", str(repo)], check=True)
    (repo / "train.py").write_text("print('hi')\n")
    subprocess.run([*git, "-C", str(repo), "add", "."], check=True)
    subprocess.run([*git, "-C", str(repo), "commit", "-qm", "first"], check=True)
    subprocess.run(
        ["git", "-C", str(repo), "remote", "add", "origin",
         f"https://user:{FAKE_GH}@github.com/acme/repo.git"], check=True,
    )
    commit = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], check=True,
                            capture_output=True, text=True).stdout.strip()
    with Kernel(repo, _kernel_env(store)) as k:
        k.run("import nbtrack\nrun = nbtrack.start_run('git')\nrun.end()", allow_error=False)
    log = nbtrack.get_run(nbtrack.runs()["run_id"][0])
    assert log["git"]["commit"] == commit and log["git"]["branch"] == "main"
    assert log["git"]["dirty"] is False
    assert FAKE_GH not in json.dumps(log) and "github.com/acme/repo.git" in log["git"]["remote_url"]
    # a run made with the plain API in a kernel still records its cell
    assert log["cells"][0]["source"].startswith("import nbtrack\nrun = nbtrack.start_run")


def test_a_plain_script_run_records_its_file_and_ends_itself(store, tmp_path):
    script = tmp_path / "train.py"
    script.write_text("import nbtrack\nrun = nbtrack.start_run('script')\nrun.log({'a': 1})\n")
    env = dict(os.environ, NBTRACK_HOME=str(store), PYTHONPATH=os.pathsep.join(sys.path))
    before = time.monotonic()
    subprocess.run([sys.executable, str(script)], check=True, env=env, cwd=tmp_path)
    took = time.monotonic() - before
    log = nbtrack.get_run(nbtrack.runs()["run_id"][0])
    assert log["status"] == "completed"
    assert log["script"]["sha256"] == hashlib.sha256(script.read_bytes()).hexdigest()
    # the run lasted no longer than the process that made it (a running clock would grow)
    assert 0 <= log["duration_s"] <= took
    assert nbtrack.get_run(log["run_id"])["duration_s"] == log["duration_s"]
