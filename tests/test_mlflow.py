"""Export to MLflow: real runs exported into a real local MLflow store (sqlite), read
back through MLflow's own client."""

from __future__ import annotations

import json
import subprocess
import warnings

import pytest

import nbtrack

mlflow = pytest.importorskip("mlflow")
pytestmark = pytest.mark.backends  # runs read from a local store and from a bucket
from mlflow import MlflowClient  # noqa: E402


@pytest.fixture
def tracking(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    return uri, MlflowClient(tracking_uri=uri), str(tmp_path / "mlartifacts")


def _git_repo(folder):
    def git(*args):
        subprocess.run(["git", *args], cwd=folder, check=True, capture_output=True)

    git("init", "-q")
    git("-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-q",
        "--allow-empty", "-m", "start")
    return subprocess.run(["git", "rev-parse", "HEAD"], cwd=folder, check=True,
                          capture_output=True, text=True).stdout.strip()


def _by_nbtrack_id(client, experiment: str):
    found = client.get_experiment_by_name(experiment)
    assert found is not None, experiment
    return {r.data.tags["nbtrack.run_id"]: r for r in client.search_runs([found.experiment_id])}


def test_runs_read_back_through_mlflows_client(tracking, tmp_path):
    uri, client, artifacts = tracking
    commit = _git_repo(tmp_path)
    (tmp_path / "model.bin").write_bytes(b"weights")
    with nbtrack.start_run("bert-ft", name="base", tags=["nlp", "baseline"], notes="first try",
                           params={"lr": 1e-3, "opt": {"name": "adam"}, "layers": [1, 2]},
                           metadata={"hardware": {"gpu": "A100", "count": 2}}) as run:
        for step in range(3):
            run.log({"loss": 1.0 / (step + 1), "acc": 0.5 + step / 10}, step=step)
        run.log_artifact("model.bin", artifact_path="checkpoints/")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            run.alert("loss < 0.4")
            run.log({"loss": 0.3}, step=3)
    with pytest.raises(RuntimeError), nbtrack.start_run("bert-ft", name="broken"):
        raise RuntimeError("boom")

    report = nbtrack.to_mlflow(tracking_uri=uri, artifact_location=artifacts)
    assert sorted(r["action"] for r in report) == ["created", "created"]
    exported = _by_nbtrack_id(client, "bert-ft")
    assert set(exported) == {run.id, nbtrack.runs(where="name == 'broken'")["run_id"][0]}
    got = exported[run.id]

    assert got.info.status == "FINISHED" and got.info.run_name == "base"
    log = nbtrack.get_run(run.id)
    ours = nbtrack.metrics(run, keys=["loss"])
    history = client.get_metric_history(got.info.run_id, "loss")
    assert [(m.step, m.value) for m in history] == [(0, 1.0), (1, 0.5), (2, 1 / 3), (3, 0.3)]
    assert [m.timestamp for m in history] == ours["time"].dt.epoch("ms").to_list()
    assert got.data.metrics["acc"] == pytest.approx(0.7)
    assert got.data.metrics["metadata.hardware.count"] == 2.0  # numeric observation
    assert got.data.params == {"lr": "0.001", "opt.name": "adam", "layers": "[1, 2]",
                               "metadata.hardware.gpu": "A100"}  # non-numeric ones
    tags = got.data.tags
    assert tags["mlflow.note.content"] == "first try"
    assert tags["nlp"] == "true" and tags["nbtrack.tags"] == "nlp,baseline"
    assert tags["mlflow.source.git.commit"] == commit
    assert tags["nbtrack.status"] == "completed" and tags["nbtrack.alerts"] == "1"
    assert tags["mlflow.user"] == log["user"]
    assert got.info.start_time == _epoch_ms(log["started"])
    assert got.info.end_time == _epoch_ms(log["ended"])
    listed = [a.path for a in client.list_artifacts(got.info.run_id, "checkpoints")]
    assert listed == ["checkpoints/model.bin"]
    local = client.download_artifacts(got.info.run_id, "checkpoints/model.bin", str(tmp_path / "dl"))
    assert open(local, "rb").read() == b"weights"

    broken = next(r for rid, r in exported.items() if rid != run.id)
    assert broken.info.status == "FAILED"
    assert "RuntimeError: boom" in broken.data.tags["nbtrack.message"]


def _epoch_ms(iso: str) -> int:
    from datetime import datetime

    return int(round(datetime.fromisoformat(iso).timestamp() * 1000))


def test_exporting_again_does_not_duplicate(tracking):
    uri, client, artifacts = tracking
    with nbtrack.start_run("again") as first:
        first.log({"x": 1.0})
    live = nbtrack.start_run("again", name="still-going")
    live.log({"x": 2.0})
    live.flush()
    assert {r["action"] for r in nbtrack.to_mlflow(tracking_uri=uri)} == {"created"}
    assert _by_nbtrack_id(client, "again")[live.id].info.status == "RUNNING"
    assert {r["action"] for r in nbtrack.to_mlflow(tracking_uri=uri)} == {"skipped"}
    live.end()
    actions = {r["run_id"]: r["action"] for r in nbtrack.to_mlflow(tracking_uri=uri)}
    assert actions == {first.id: "skipped", live.id: "replaced"}  # its status changed
    exported = _by_nbtrack_id(client, "again")
    assert len(exported) == 2 and exported[live.id].info.status == "FINISHED"
    one = nbtrack.to_mlflow(runs=[first.id], tracking_uri=uri, experiment="elsewhere")
    assert one[0]["action"] == "created" and one[0]["experiment"] == "elsewhere"
    assert len(_by_nbtrack_id(client, "elsewhere")) == 1


def test_sweep_trials_carry_their_sweep(tracking):
    uri, client, _ = tracking
    sweep = nbtrack.sweep("sw", strategy="grid", parameters={"a": [1, 2]}, objective="v")
    sweep.run(lambda params, trial: params["a"] / 2)
    nbtrack.to_mlflow(nbtrack.runs("sw"), tracking_uri=uri)
    exported = _by_nbtrack_id(client, "sw")
    assert {r.data.tags["nbtrack.sweep_id"] for r in exported.values()} == {sweep.id}
    assert sorted(r.data.metrics["v"] for r in exported.values()) == [0.5, 1.0]
    assert sorted(r.data.params["a"] for r in exported.values()) == ["1", "2"]


def test_to_mlflow_from_the_shell(tracking, store):
    from test_cli import cli

    uri, client, _ = tracking
    with nbtrack.start_run("shell-exp", name="one") as run:
        run.log({"x": 1.0})
    first = cli("to-mlflow", "--tracking-uri", uri, store=store)
    assert first.returncode == 0, first.stderr
    assert "created  one" in first.stdout and "1 run(s): 1 created" in first.stdout
    again = json.loads(cli("to-mlflow", "one", "--tracking-uri", uri, "--json",
                           store=store).stdout)
    assert again[0]["action"] == "skipped"
    assert len(_by_nbtrack_id(client, "shell-exp")) == 1
    missing = cli("to-mlflow", "no-such-run", "--tracking-uri", uri, store=store)
    assert missing.returncode == 2 and "no run 'no-such-run'" in missing.stderr
