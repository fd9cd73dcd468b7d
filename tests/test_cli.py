"""The ``nbtrack`` command line, run as a real subprocess against a real store."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import nbtrack

from kernel import Kernel

pytestmark = pytest.mark.backends  # the CLI on a local store and on a bucket


def cli(*args: str, store) -> subprocess.CompletedProcess:
    env = dict(os.environ, NBTRACK_HOME=str(store), PYTHONPATH=os.pathsep.join(sys.path))
    return subprocess.run([sys.executable, "-m", "nbtrack.cli", *args], capture_output=True,
                          text=True, env=env, timeout=300)


def test_runs_show_metrics_and_errors(store):
    with nbtrack.start_run("cli", name="first", params={"lr": 0.1}) as run:
        run.log({"loss": 0.5}, step=0)
        run.log({"loss": 0.25}, step=1)
    listing = cli("runs", store=store)
    assert listing.returncode == 0 and "first" in listing.stdout and "metrics.loss" in listing.stdout
    as_json = json.loads(cli("runs", "--json", store=store).stdout)
    assert as_json[0]["name"] == "first" and as_json[0]["params.lr"] == 0.1
    shown = cli("show", "first", store=store)
    assert "completed" in shown.stdout and "lr: 0.1" in shown.stdout
    log = json.loads(cli("show", "first", "--json", store=store).stdout)
    assert log["metrics"]["loss"]["values"] == [0.5, 0.25]
    points = cli("metrics", "first", "--keys", "loss", store=store)
    assert points.returncode == 0 and "0.25" in points.stdout
    missing = cli("show", "no-such-run", store=store)
    assert missing.returncode == 2 and "no run 'no-such-run'" in missing.stderr
    bad = cli("runs", "--where", "params.lr >", store=store)
    assert bad.returncode == 2 and "expected a value" in bad.stderr
    assert cli("archive", "first", store=store).returncode == 0
    assert "first" not in cli("runs", store=store).stdout
    assert "first" in cli("runs", "--all", store=store).stdout


@pytest.mark.local_only("where --store stands in the line is the parser's business, not the store's")
def test_store_may_follow_the_command_as_the_quick_start_prints_it(store, tmp_path):
    """`nbtrack runs --store DIR` (what scripts/run_quickstart.py tells a newcomer to type)
    works as `nbtrack --store DIR runs` does, for nested verbs too; a typo still says so."""
    with nbtrack.start_run("cli", name="here"):
        pass
    env = {k: v for k, v in os.environ.items() if k != "NBTRACK_HOME"}
    env["PYTHONPATH"] = os.pathsep.join(sys.path)

    def shell(*args):
        return subprocess.run([sys.executable, "-m", "nbtrack.cli", *args], capture_output=True,
                              text=True, env=env, cwd=tmp_path, timeout=300)

    for args in (["runs", "--store", str(store)], ["--store", str(store), "runs"],
                 ["show", "here", "--store", str(store)], ["sweep", "list", "--store", str(store)]):
        done = shell(*args)
        assert done.returncode == 0, (args, done.stderr)
    assert "here" in shell("runs", "--store", str(store)).stdout
    typo = shell("runs", "--store", str(tmp_path / "nope"))
    assert typo.returncode == 2 and "found by --store" in typo.stderr


def test_export_then_reproduce_from_the_shell(store, tmp_path):
    env = {"NBTRACK_HOME": str(store), "PYTHONPATH": os.pathsep.join(sys.path)}
    with Kernel(tmp_path, env) as k:
        for cell in ["%load_ext nbtrack", "k = 2", "%track start cli --name shell-run",
                     "import nbtrack\nnbtrack.log(v=k * 21)", "%track stop"]:
            assert k.run(cell).ok
    out = tmp_path / "repro.ipynb"
    exported = cli("export", "shell-run", str(out), store=store)
    assert exported.returncode == 0 and out.exists()
    ok = cli("reproduce", str(out), store=store)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "REPRODUCED" in ok.stdout
    text = out.read_text().replace("k = 2", "k = 3")
    out.write_text(text)
    bad = cli("reproduce", str(out), store=store)
    assert bad.returncode == 1 and "NOT REPRODUCED" in bad.stdout and "edited after export" in bad.stdout
