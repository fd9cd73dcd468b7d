"""The public surface: a fixed list of names, and a light ``import nbtrack``."""

from __future__ import annotations

import json
import types

import nbtrack

from support import finish

# Changing the public surface is a decision: update this list in the same change.
EXPECTED = {
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
    # panels in the notebook
    "show", "compare", "plot",
    # reproducing and lineage
    "export", "reproduce", "lineage",
    "errors",
}
# module attributes that are public on purpose without being API
HOOKS = {"load_ipython_extension", "unload_ipython_extension"}


def test_all_is_the_expected_surface():
    assert len(nbtrack.__all__) == len(set(nbtrack.__all__)), "a name is listed twice"
    assert set(nbtrack.__all__) == EXPECTED


def test_every_listed_name_exists():
    for name in nbtrack.__all__:
        assert getattr(nbtrack, name) is not None, name


def test_no_public_name_is_exported_by_accident():
    public = {
        name
        for name, value in vars(nbtrack).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType)
        and name != "annotations"  # from __future__
    }
    assert public - HOOKS - set(nbtrack.__all__) == set()


def test_errors_share_one_base():
    errors = nbtrack.errors
    for name in ("StoreError", "RunNotFoundError", "NoActiveRunError", "RunEndedError",
                 "MetricTypeError", "InvalidNameError", "ArtifactPathError", "FilterError"):
        assert issubclass(getattr(errors, name), errors.NbtrackError), name
    assert issubclass(errors.MetricTypeError, TypeError)
    assert issubclass(errors.FilterError, ValueError)
    assert issubclass(errors.CorruptFileWarning, UserWarning)


HEAVY = ("polars", "pyarrow", "nbformat", "nbclient", "altair", "anywidget")


def test_import_nbtrack_loads_no_heavy_library(spawn):
    code = """
        import json, sys
        import nbtrack
        nbtrack.__all__, nbtrack.start_run, nbtrack.runs, nbtrack.errors.NbtrackError
        print(json.dumps(sorted({m.split(".")[0] for m in sys.modules})))
    """
    loaded = set(json.loads(finish(spawn(code))))
    assert "nbtrack" in loaded
    assert loaded.isdisjoint(HEAVY), sorted(loaded & set(HEAVY))


def test_heavy_libraries_arrive_on_first_use(spawn):
    code = """
        import json, os, sys
        import nbtrack
        os.makedirs(os.environ["NBTRACK_HOME"])  # an empty store: reading never makes one
        nbtrack.runs()
        print(json.dumps(sorted({m.split(".")[0] for m in sys.modules})))
    """
    loaded = set(json.loads(finish(spawn(code))))
    assert "polars" in loaded  # the lazy import does happen: the check above is not vacuous
