"""Moving runs to other trackers: ``to_mlflow`` (MLflow is an optional extra, imported
on first use)."""

from __future__ import annotations

import os


def to_mlflow(runs=None, tracking_uri: str | None = None, experiment: str | None = None,
              artifact_location: str | None = None,
              store: str | os.PathLike | None = None) -> list[dict]:
    """Export runs to MLflow; exporting again creates no duplicates.

    ``runs``: run ids or names, a ``runs()`` frame, a Run, or None for every run
    ``runs()`` lists. ``tracking_uri``: where MLflow writes (``sqlite:///mlflow.db``,
    ``http://host:5000``; None: MLflow's default). ``experiment``: one MLflow
    experiment for all (default: each run's own). Returns one dict per run:
    ``run_id, name, experiment, mlflow_run_id, action`` (created, skipped, replaced).
    The mapping is described in :mod:`nbtrack.interop.mlflow`.

    >>> nbtrack.to_mlflow(nbtrack.runs("bert-ft"), tracking_uri="sqlite:///mlflow.db")
    """
    from ..active import layout_for
    from ..query import runs as rq
    from .mlflow import to_mlflow as export

    layout = layout_for(store)
    if runs is None:
        ids = rq.runs(layout)["run_id"].to_list()
    elif hasattr(runs, "columns") and "run_id" in getattr(runs, "columns", ()):
        ids = runs["run_id"].to_list()
    elif isinstance(runs, (str, dict)) or hasattr(runs, "id"):
        ids = [rq.resolve(layout, runs)]
    else:
        ids = [rq.resolve(layout, r) for r in runs]
    return export(layout, ids, tracking_uri=tracking_uri, experiment=experiment,
                  artifact_location=artifact_location)
