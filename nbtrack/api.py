"""Read-side public functions: runs, metrics, one run's log, experiments.

Each is a thin call into ``nbtrack.query`` on the discovered store (or the
``store=`` folder given); polars is imported on first use.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from . import hooks
from .active import layout_for


def _show_live(run, metrics, **options):
    """``Run.live``: the ui layer's live chart, imported when first shown."""
    from .ui.plot import show_live

    return show_live(run, metrics, **options)


hooks.set_live_view(_show_live)


def runs(
    experiment: str | Iterable[str] | None = None,
    where: str | None = None,
    tags: str | Iterable[str] | None = None,
    status: str | Iterable[str] | None = None,
    include_archived: bool = False,
    sort: str | None = None,
    descending: bool | None = None,
    store: str | os.PathLike | None = None,
):
    """One row per run as a polars DataFrame, newest first.

    Columns: ``run_id, name, experiment, status, started, ended, duration_s,
    user, host, tags, archived, cost, parent_run_id``, then ``params.<key>``,
    ``metrics.<key>`` (last value), ``metadata.<dotted.path>``, ``inputs``,
    ``outputs``. ``where`` filters with a small language, e.g.
    ``'params.lr < 0.01 and metadata.hardware.gpu contains "A100"'``.

    >>> nbtrack.runs("bert-ft", where="metrics.acc > 0.9", sort="metrics.acc")
    """
    __tracebackhide__ = True  # noqa: F841 - IPython hides this frame
    from .query import runs as q

    return q.runs(
        layout_for(store, create=False), experiment=experiment, where=where, tags=tags,
        status=status, include_archived=include_archived, sort=sort, descending=descending,
    )


def metrics(runs=None, keys: str | Iterable[str] | None = None,
            store: str | os.PathLike | None = None):
    """Every logged point as a long polars DataFrame: ``run_id, key, step, value, time``.

    ``runs`` is run ids or names, a ``runs()`` frame, a Run, or None for every
    run ``runs()`` lists.

    >>> nbtrack.metrics(nbtrack.runs("bert-ft"), keys=["loss"])
    """
    __tracebackhide__ = True  # noqa: F841 - IPython hides this frame
    from .query import metrics as mq
    from .query import runs as rq

    layout = layout_for(store, create=False)
    key_list = [keys] if isinstance(keys, str) else (list(keys) if keys is not None else None)
    if runs is None:
        ids = rq.run_ids(layout, key_list)  # what runs() lists, runs without the keys left out
    elif hasattr(runs, "columns") and "run_id" in getattr(runs, "columns", ()):
        ids = runs["run_id"].to_list()
    elif isinstance(runs, (str, dict)) or hasattr(runs, "id"):
        ids = [rq.resolve(layout, runs)]
    elif layout.remote:  # each check is a request to the bucket: sent together
        from .store.objectstore import concurrently

        ids = concurrently(lambda r: rq.resolve(layout, r), list(runs))
    else:
        ids = [rq.resolve(layout, r) for r in runs]
    return mq.read(layout, ids, key_list)


def get_run(run, with_metrics: bool = True, store: str | os.PathLike | None = None) -> dict:
    """The whole run log as one JSON-able dict: run, params, metrics per step,
    metadata, tags, notes, inputs, outputs, artifacts, status history, timings."""
    __tracebackhide__ = True  # noqa: F841 - IPython hides this frame
    from .query import runs as q

    return q.get_run(layout_for(store, create=False), run, with_metrics=with_metrics)


def experiments(include_archived: bool = False, store: str | os.PathLike | None = None):
    """One row per experiment with run counts by status."""
    __tracebackhide__ = True  # noqa: F841 - IPython hides this frame
    from .query import experiments as q

    return q.experiments(layout_for(store, create=False), include_archived=include_archived)


def experiment(name: str, store: str | os.PathLike | None = None):
    """A handle to describe, tag and archive an experiment (an :class:`~nbtrack.edit.Experiment`)."""
    from .edit import Experiment

    return Experiment(name, store)


def show(target=None, *, experiments: bool = False, experiment=None, where: str = "",
         search: str = "", store: str | os.PathLike | None = None, **state):
    """A panel in the notebook (anywidget, over the kernel's comm: no server, works offline).

    ``show()`` is the run table of every run (search, filter, sort, group, select);
    ``show(experiment="bert-ft")`` or ``show(runs_frame)`` or ``show([a, b])`` limits it;
    ``show(experiments=True)`` opens the experiments list; ``show(run)`` (an id, a name or a
    Run) is that run's page; ``show(sweep)`` is the sweep's panel. The table's ``.selected``
    holds the selected run ids, live.

    >>> table = nbtrack.show(where="params.lr < 0.01"); table.selected
    """
    from .store.layout import Layout, resolve
    from .ui import show as _show

    if callable(getattr(target, "show", None)) and callable(getattr(target, "best_so_far", None)):
        return target.show()  # a Sweep: its own panel
    root, origin = resolve(store)
    layout = Layout(root, create=False, origin=origin)  # showing never makes a store
    return _show(layout, target, experiments=experiments, experiment=experiment, where=where,
                 search=search, **state)


def compare(runs, *, store: str | os.PathLike | None = None, **options):
    """Runs side by side in a panel: params, metadata and metrics with the differences marked,
    what changed between two of them (code cell by cell, packages, inputs, git), and charts.

    ``runs`` is a list of run ids, names or Runs, or a runs() frame. Options: ``tab``
    (params, metrics, diff, charts), ``hide_equal``, ``objective`` (a metric).

    >>> nbtrack.compare(["bert-lr3", "bert-lr4"], hide_equal=True)
    """
    from .store.layout import Layout, resolve
    from .ui import _require_widgets

    _require_widgets()
    from .ui.compare import ComparePanel

    root, origin = resolve(store)
    return ComparePanel(Layout(root, create=False, origin=origin), runs, **options)


def plot(runs=None, metrics=None, *, kind: str = "line", store: str | os.PathLike | None = None, **options):
    """Metric curves in the notebook: one chart per metric, one colour per run, live while a
    run of this process trains.

    ``runs``: ids or names, a Run, a runs() frame, a run table (its selection) or None (the
    active run); ``metrics``: a key or a list (default: the keys they logged). Options:
    ``x`` ("step", "time", "relative"), ``log_y``, ``smoothing`` (0..0.99), ``height``;
    ``kind="bar"`` draws one bar per run of each metric's ``summary`` ("last", "first",
    "min", "max", "mean", "best" with ``goal="min"|"max"``). ``.to_altair()`` gives the chart.

    >>> nbtrack.plot(nbtrack.runs("bert-ft"), "loss", log_y=True, smoothing=0.6)
    """
    from .store.layout import Layout, resolve
    from .ui import _require_widgets

    _require_widgets()
    from .ui.plot import plot as _plot

    root, origin = resolve(store)
    return _plot(Layout(root, create=False, origin=origin), runs, metrics, kind=kind, **options)


def store_root(store: str | os.PathLike | None = None) -> str:
    """The folder (or ``s3://`` URL) the store lives (or would live) in; reading this never
    makes it."""
    from .store.layout import resolve

    return str(resolve(store)[0])  # never makes it


def configure(store: str | os.PathLike | None = None, storage_options: dict | None = None) -> None:
    """Use ``store`` in this process when no ``store=`` is given: a folder, or an
    S3-compatible bucket as ``s3://bucket/prefix`` (a team store). Endpoint and credentials
    come from ``storage_options`` or the usual ``AWS_*`` variables.

    >>> nbtrack.configure(store="s3://team-bucket/nbtrack",
    ...                   storage_options={"endpoint_url": "https://s3.example.com"})
    """
    from .store.layout import configure as _configure

    _configure(store, storage_options)
    from . import active

    active._layouts.clear()


def lineage(target, depth: int | None = None, direction: str = "both",
            store: str | os.PathLike | None = None, all_versions: bool = False):
    """The runs that made a file's content and the runs that used it, or a run's
    upstream and downstream, as a :class:`~nbtrack.query.lineage.Lineage`.

    ``target`` is a file path (its current content, else every version recorded
    under the path), a sha256, a run id or name, or a Run. ``depth`` counts runs
    crossed (None: all the way); ``direction`` is ``both``, ``upstream`` or
    ``downstream``.

    >>> nbtrack.lineage("model.pt").upstream()
    >>> nodes, edges = nbtrack.lineage(run).to_polars()
    """
    __tracebackhide__ = True  # noqa: F841 - IPython hides this frame
    from .active import active_run
    from .query import lineage as q
    from .ui import lineage_display

    lineage_display.install()  # in a kernel, a Lineage shows as the graph panel
    current = active_run()
    if current is not None and not current.ended:
        current.flush()  # the active run's recorded files are part of the graph
    return q.lineage(layout_for(store, create=False), target, depth=depth, direction=direction,
                     all_versions=all_versions)


def export(run, path: str | os.PathLike, store: str | os.PathLike | None = None,
           explain: bool = False):
    """Write a notebook (nbformat v4) that reproduces ``run`` in a fresh kernel.

    It holds the earlier cells the run depends on, the run's own cells as they
    ran, a setup cell restoring the run's inputs from the store, and the run's
    identity in ``metadata.nbtrack``. ``explain=True`` prints why each earlier cell
    was kept (the export holds the same text in a collapsed markdown cell).

    >>> nbtrack.export("blazing-curie-0544", "repro.ipynb", explain=True)
    """
    __tracebackhide__ = True  # noqa: F841 - IPython hides this frame
    from .repro.export import export as _export

    return _export(layout_for(store, create=False), run, path, explain=explain)


def reproduce(notebook: str | os.PathLike, tolerance: float = 1e-9, timeout: float = 600,
              progress: bool = True, store: str | os.PathLike | None = None):
    """Run an exported notebook in a fresh kernel and compare the new run with the original.

    Returns a report: ``.ok``, ``.differences`` (code, inputs, params, metrics per step
    beyond ``tolerance`` relative), ``.timings``. ``progress`` prints a line per cell.

    >>> report = nbtrack.reproduce("repro.ipynb", tolerance=1e-6); report.ok
    """
    __tracebackhide__ = True  # noqa: F841 - IPython hides this frame
    import io

    from .repro.reproduce import reproduce as _reproduce

    stream = None if progress else io.StringIO()
    return _reproduce(layout_for(store, create=False), notebook, tolerance=tolerance,
                      timeout=timeout, stream=stream)
