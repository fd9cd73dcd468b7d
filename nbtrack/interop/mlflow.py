"""Export runs to MLflow, mapped as the runnable seed maps its run log.

- metric series: MLflow metrics with their step and timestamp (ms);
- params: MLflow params (text); nbtrack already names a stepped text value
  ``key_<step>`` (``%track sh`` exports), as runnable does;
- metadata leaves: numbers become metrics at step 0, anything else a param
  ``metadata.<dotted.path>`` (JSON text for lists);
- the experiment is the MLflow experiment name (or ``experiment=`` for all);
- tags become MLflow tags (``<tag>: "true"``, and ``nbtrack.tags`` listing them),
  notes ``mlflow.note.content``, the git commit/branch/remote
  ``mlflow.source.git.*``, the code identity ``nbtrack.code_identity``, the
  notebook or script ``mlflow.source.name``;
- artifacts are copied from the store into the MLflow run's artifacts;
- status: completed -> FINISHED, failed and crashed -> FAILED, killed -> KILLED,
  running -> RUNNING.

Idempotent: each MLflow run carries ``nbtrack.run_id``; exporting again skips
runs already there with the same status, and replaces (deletes and re-creates)
one whose status changed since (a run exported while running, then finished).
"""

from __future__ import annotations

import json
import math
import re
import tempfile
from pathlib import Path

from ..store import objects
from ..store.layout import Layout

ID_TAG = "nbtrack.run_id"
STATUS_TAG = "nbtrack.status"
STATUS = {"completed": "FINISHED", "failed": "FAILED", "crashed": "FAILED",
          "killed": "KILLED", "running": "RUNNING"}
INSTALL_HINT = ("exporting to MLflow needs MLflow: pip install 'nbtrack[mlflow]' "
                "(or pip install mlflow)")
MAX_PARAM = 6000  # MLflow refuses longer param values
_BAD_KEY = re.compile(r"[^\w\-. :/]")  # MLflow keys: alphanumerics, _ - . space : /


def require_mlflow():
    try:
        import mlflow  # noqa: F401
        from mlflow import MlflowClient
    except ImportError:
        raise ImportError(INSTALL_HINT) from None
    return MlflowClient


def _key(key: str) -> str:
    return _BAD_KEY.sub("_", key)[:250]


def _text(value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= MAX_PARAM else text[:MAX_PARAM - 1] + "…"


def _ms(t: float | None) -> int | None:
    return None if t is None else int(round(t * 1000))


def _flat(nested: dict, prefix: str = "") -> dict:
    out: dict = {}
    for key, value in nested.items():
        if isinstance(value, dict) and value:
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _tags(log: dict) -> dict[str, str]:
    tags = {ID_TAG: log["run_id"], STATUS_TAG: log["status"],
            "nbtrack.experiment": log.get("experiment") or "",
            "nbtrack.store": log.get("store") or ""}
    if log.get("user"):
        tags["mlflow.user"] = log["user"]
    for tag in log.get("tags") or []:
        tags[_key(tag)] = "true"
    if log.get("tags"):
        tags["nbtrack.tags"] = ",".join(log["tags"])
    notes = [n.get("text", "") for n in log.get("notes") or []]
    if notes:
        tags["mlflow.note.content"] = "\n\n".join(notes)
    git = log.get("git") or {}
    for ours, theirs in (("commit", "mlflow.source.git.commit"),
                         ("branch", "mlflow.source.git.branch"),
                         ("remote_url", "mlflow.source.git.repoURL")):
        if git.get(ours):
            tags[theirs] = str(git[ours])
    if git.get("dirty") is not None:
        tags["nbtrack.git.dirty"] = str(bool(git["dirty"])).lower()
    code = log.get("code") or {}
    if code.get("adhoc_identity"):
        tags["nbtrack.code_identity"] = code["adhoc_identity"]
    script = log.get("script")
    source = code.get("notebook") or (script.get("path") if isinstance(script, dict) else script)
    if source:
        tags["mlflow.source.name"] = str(source)
        tags["mlflow.source.type"] = "NOTEBOOK" if code.get("notebook") else "LOCAL"
    for key, tag in (("parent_run_id", "nbtrack.parent_run_id"),
                     ("message", "nbtrack.message")):
        if log.get(key):
            tags[tag] = str(log[key])
    sweep = log.get("sweep") or {}
    if sweep.get("id"):
        tags["nbtrack.sweep_id"] = sweep["id"]
        tags["nbtrack.sweep_trial"] = str(sweep.get("trial"))
    if log.get("alerts"):
        tags["nbtrack.alerts"] = str(len(log["alerts"]))
    return {k: _text(v) for k, v in tags.items()}


def _observations(layout: Layout, log: dict):
    """(metrics, params): MLflow Metric and Param entities for one run."""
    from mlflow.entities import Metric, Param

    from ..query import metrics as mq

    metrics = []
    frame = mq.read(layout, [log["run_id"]])
    if not frame.is_empty():
        times = frame["time"].dt.epoch("ms").to_list()
        for key, step, value, t in zip(frame["key"].to_list(), frame["step"].to_list(),
                                       frame["value"].to_list(), times, strict=True):
            metrics.append(Metric(_key(key), float(value), int(t), int(step)))
    params = {_key(k): _text(v) for k, v in (log.get("params") or {}).items()}
    start = _ms(_epoch(log.get("started"))) or 0
    for path, value in _flat(log.get("metadata") or {}).items():
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if number and math.isfinite(value):
            metrics.append(Metric(_key(f"metadata.{path}"), float(value), start, 0))
        else:
            params[_key(f"metadata.{path}")] = _text(value)
    return metrics, [Param(k, v) for k, v in params.items()]


def _epoch(iso: str | None) -> float | None:
    if not iso:
        return None
    from datetime import datetime

    return datetime.fromisoformat(iso).timestamp()


def _experiment_id(client, name: str, artifact_location: str | None) -> str:
    found = client.get_experiment_by_name(name)
    if found is not None:
        if found.lifecycle_stage == "deleted":
            client.restore_experiment(found.experiment_id)
        return found.experiment_id
    return client.create_experiment(name, artifact_location=artifact_location)


def _existing(client, experiment_id: str, run_id: str):
    found = client.search_runs([experiment_id], filter_string=f"tags.`{ID_TAG}` = '{run_id}'",
                               max_results=10)
    return list(found)


def _chunks(items: list, size: int):
    for i in range(0, len(items), size):
        yield items[i:i + size]


def export_run(client, layout: Layout, log: dict, experiment: str | None,
               artifact_location: str | None) -> dict:
    from mlflow.entities import RunTag

    name = experiment or log.get("experiment") or "default"
    experiment_id = _experiment_id(client, name, artifact_location)
    out = {"run_id": log["run_id"], "name": log.get("name"), "experiment": name}
    action = "created"
    for old in _existing(client, experiment_id, log["run_id"]):
        if old.data.tags.get(STATUS_TAG) == log["status"]:
            return dict(out, mlflow_run_id=old.info.run_id, action="skipped")
        client.delete_run(old.info.run_id)
        action = "replaced"
    tags = _tags(log)
    created = client.create_run(experiment_id, start_time=_ms(_epoch(log.get("started"))),
                                tags=tags, run_name=log.get("name"))
    mlflow_id = created.info.run_id
    metrics, params = _observations(layout, log)
    for part in _chunks(params, 100):
        client.log_batch(mlflow_id, params=part, synchronous=True)
    for part in _chunks(metrics, 1000):
        client.log_batch(mlflow_id, metrics=part, synchronous=True)
    with tempfile.TemporaryDirectory(prefix="nbtrack-mlflow-") as tmp:
        for i, item in enumerate(log.get("artifacts") or []):
            rel = Path(item["path"])
            local = Path(tmp) / str(i) / rel.name
            local.parent.mkdir(parents=True)
            objects.copy_to(layout, item["sha256"], local)
            parent = rel.parent.as_posix()
            client.log_artifact(mlflow_id, str(local), artifact_path=None if parent == "." else parent)
    status = STATUS.get(log["status"], "FAILED")
    if status != "RUNNING":
        client.set_terminated(mlflow_id, status=status, end_time=_ms(_epoch(log.get("ended"))))
    client.log_batch(mlflow_id, tags=[RunTag(STATUS_TAG, log["status"])], synchronous=True)
    return dict(out, mlflow_run_id=mlflow_id, action=action)


def to_mlflow(layout: Layout, run_ids: list[str], tracking_uri: str | None = None,
              experiment: str | None = None, artifact_location: str | None = None) -> list[dict]:
    """Export ``run_ids``; one dict per run: run_id, name, experiment, mlflow_run_id,
    action (created, skipped, replaced)."""
    MlflowClient = require_mlflow()
    from ..query import runs as rq

    client = MlflowClient(tracking_uri=tracking_uri)
    results = []
    for run_id in run_ids:
        log = rq.get_run(layout, run_id, with_metrics=False)
        results.append(export_run(client, layout, log, experiment, artifact_location))
    return results
