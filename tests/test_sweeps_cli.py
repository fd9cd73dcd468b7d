"""Sweeps and alerts from the shell (``nbtrack sweep ...``) and from ``%track`` magics."""

from __future__ import annotations

import json
import warnings

import pytest
from test_cli import cli

import nbtrack
from nbtrack.capture import ipython as capture

pytestmark = pytest.mark.backends  # sweeps from the shell, on a local store and a bucket


def _grid_sweep():
    sweep = nbtrack.sweep("cli-grid", strategy="grid", objective="acc",
                          parameters={"lr": {"values": [0.1, 0.01, 0.001]}})
    sweep.run(lambda params, trial: 1 - params["lr"], n_trials=2)
    return sweep


def test_sweep_commands(store):
    sweep = _grid_sweep()
    listing = cli("sweep", "list", store=store)
    assert listing.returncode == 0 and "cli-grid" in listing.stdout
    rows = json.loads(cli("sweep", "list", "--json", store=store).stdout)
    assert rows[0]["sweep_id"] == sweep.id and rows[0]["completed"] == 2
    shown = cli("sweep", "show", "cli-grid", store=store)
    assert shown.returncode == 0 and "2 completed" in shown.stdout and "params.lr" in shown.stdout
    trials = json.loads(cli("sweep", "show", sweep.id, "--json", store=store).stdout)
    assert [t["number"] for t in trials] == [0, 1]
    best = json.loads(cli("sweep", "best", "cli-grid", "--json", store=store).stdout)
    assert best["value"] == pytest.approx(0.99) and best["params"] == {"lr": 0.01}
    assert "best acc = 0.99" in cli("sweep", "best", "cli-grid", store=store).stdout
    assert cli("sweep", "stop", "cli-grid", store=store).returncode == 0
    assert sweep.status == "stopped"
    assert cli("sweep", "resume", "cli-grid", store=store).returncode == 0
    assert "none" in cli("sweep", "retry", "cli-grid", store=store).stdout
    missing = cli("sweep", "show", "no-such-sweep", store=store)
    assert missing.returncode == 2 and "no sweep 'no-such-sweep'" in missing.stderr
    assert "Traceback" not in missing.stderr
    bad = cli("sweep", "retry", "cli-grid", "0", store=store)
    assert bad.returncode == 2 and "only crashed or failed" in bad.stderr
    for words in (("sweep", "--help"), ("sweep", "show", "--help"), ("to-mlflow", "--help"),
                  ("gc", "--help"), ("compact", "--help")):
        helped = cli(*words, store=store)
        assert helped.returncode == 0 and "usage: nbtrack" in helped.stdout, words


def test_sweep_gc_and_compact_never_make_a_store(tmp_path):
    absent = tmp_path / "no-store-here"
    for words in (("sweep", "list"), ("sweep", "show", "x"), ("gc", "--dry-run"), ("compact",)):
        done = cli(*words, store=absent)
        assert done.returncode == 2 and "no nbtrack store at" in done.stderr, words
    assert not absent.exists()
    with pytest.raises(nbtrack.errors.StoreError):
        nbtrack.sweeps(store=absent)
    assert not absent.exists()


@pytest.fixture
def shell():
    from IPython.core.interactiveshell import InteractiveShell

    InteractiveShell.clear_instance()
    sh = InteractiveShell.instance()
    sh.run_cell("%load_ext nbtrack", store_history=True)
    yield sh
    capture.uninstall(sh)
    InteractiveShell.clear_instance()


def test_track_sweep_and_alert_magics(shell, capsys):
    made = shell.run_cell(
        "%track sweep create mg --strategy grid --objective acc "
        """--params '{"lr": {"values": [0.1, 0.2]}}'""")
    assert made.success, made.error_in_exec
    assert "sweep mg (" in capsys.readouterr().out
    shell.run_cell("def train(params, trial):\n    return params['lr'] * 2")
    ran = shell.run_cell("%track sweep run mg train")
    assert ran.success and ran.result.height == 2
    assert set(ran.result["state"]) == {"completed"}
    best = shell.run_cell("%track sweep best mg")
    assert best.result["value"] == pytest.approx(0.4)
    assert shell.run_cell("%track sweep list").result.height == 1
    bad = shell.run_cell("%track sweep run mg no_such_fn")
    assert not bad.success and "not a function" in str(bad.error_in_exec)
    wrong = shell.run_cell("%track sweep create x --objective acc --params '{not json'")
    assert not wrong.success and "--params is not JSON" in str(wrong.error_in_exec)

    assert shell.run_cell("%track start alerts").success
    set_up = shell.run_cell("%track alert val_loss > 2.0 --message diverging")
    assert set_up.success, set_up.error_in_exec
    assert "alert on" in capsys.readouterr().out
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        shell.run_cell("nbtrack.log(val_loss=3.0)")
    assert any("diverging" in str(w.message) for w in record)
    refused = shell.run_cell("%track alert __import__('os') > 1")
    assert not refused.success and "unknown function '__import__'" in str(refused.error_in_exec)
    run = nbtrack.active_run()
    shell.run_cell("%track stop")
    assert len(nbtrack.get_run(run.id)["alerts"]) == 1
