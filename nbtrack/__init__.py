"""nbtrack: experiment tracking, reproducibility and lineage inside the notebook.

Write::

    with nbtrack.start_run("bert-ft", tags=["nlp"], params={"lr": 1e-3}) as run:
        run.log({"loss": 0.3, "acc": 0.9}, step=epoch)
        run.log_artifact("model.pt", artifact_path="checkpoints/")

Read (polars frames)::

    nbtrack.runs("bert-ft", where="metrics.acc > 0.9")
    nbtrack.metrics(nbtrack.runs("bert-ft"), keys=["loss"])
    nbtrack.get_run("blazing-curie-0544")

In a notebook: ``%load_ext nbtrack`` then ``%track start``. The store is a
folder of Arrow and JSON files (``$NBTRACK_HOME`` or the nearest ``.nbtrack/``);
see ``docs/store-format.md``.
"""

from __future__ import annotations

from . import errors
from .active import (
    active_run,
    add_tags,
    alert,
    child_env,
    end_run,
    log,
    log_artifact,
    log_artifacts,
    log_dataset,
    log_metadata,
    log_output,
    log_param,
    log_params,
    note,
    remove_tags,
    sh,
    start_run,
    use_input,
)
from .api import (
    compare,
    configure,
    experiment,
    experiments,
    export,
    get_run,
    lineage,
    metrics,
    plot,
    reproduce,
    runs,
    show,
    store_root,
)
from .run import Run

__version__ = "0.1.0"

__all__ = [
    # writing
    "start_run", "active_run", "Run", "end_run", "child_env",
    "log", "log_params", "log_param", "log_metadata", "add_tags", "remove_tags", "note",
    "use_input", "log_dataset", "log_artifact", "log_artifacts", "log_output", "sh", "alert",
    # sweeps and export
    "sweep", "sweeps", "to_mlflow",
    # the store (a folder, or s3://bucket/prefix) and its maintenance
    "configure", "gc", "compact",
    # reading
    "runs", "metrics", "get_run", "experiments", "experiment", "Experiment", "open_run",
    "store_root",
    # reproducing and lineage
    "export", "reproduce", "lineage",
    # panels in the notebook
    "show", "compare", "plot",
    "errors",
]


def __getattr__(name: str):
    # editing stored runs pulls in the query layer: imported on first use
    if name in ("open_run", "Experiment"):
        from . import edit

        return getattr(edit, name)
    if name in ("sweep", "sweeps"):  # nbtrack.tuning: sweeps, imported on first use
        from . import tuning

        return getattr(tuning, name)
    if name == "to_mlflow":
        from .interop import to_mlflow

        return to_mlflow
    if name in ("gc", "compact"):
        from . import maintenance

        return getattr(maintenance, name)
    raise AttributeError(f"module 'nbtrack' has no attribute {name!r}")


def load_ipython_extension(ipython) -> None:
    """``%load_ext nbtrack``: register the %track magics and the capture hooks."""
    from .magics import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython) -> None:
    from .magics import unload_ipython_extension as unload

    unload(ipython)
