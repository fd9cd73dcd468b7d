"""Hyperparameter sweeps whose trials are nbtrack runs and whose state is in the store.

(The package is ``tuning``, not ``sweeps``: a subpackage named ``sweeps`` would shadow
the public ``nbtrack.sweeps()`` function, one named ``sweep`` ``nbtrack.sweep()``.)

    sweep = nbtrack.sweep("bert-ft", strategy="bayesian", objective="val_accuracy",
                          direction="maximize", max_trials=50,
                          parameters={"lr": {"min": 1e-5, "max": 1e-2,
                                             "distribution": "log_uniform"},
                                      "batch_size": {"values": [16, 32, 64]}})
    sweep.run(train, n_jobs=2)            # train(params, trial) -> val_accuracy
    sweep.best, sweep.trials(), sweep.best_so_far()

Grid and random need nothing else; bayesian uses Optuna (``pip install
'nbtrack[optuna]'``). Calling ``nbtrack.sweep`` again with the same name and
definition (after a kernel restart, in another process) continues the same
sweep; ``nbtrack.sweep(id=...)`` or ``nbtrack.sweep("bert-ft")`` opens it.
Modules: ``spec`` (parameter specs), ``records`` (on disk), ``state`` (the fold),
``sweep`` (the API), ``trial``, ``bayes`` (Optuna), ``execute`` (``run``),
``frames`` (polars).
"""

from __future__ import annotations

import os

from ..errors import SweepError
from ..store.layout import RUN_ID_RE, Layout
from . import records
from .sweep import Sweep, build_definition
from .trial import Trial


def open_sweep(layout: Layout, ref: str) -> Sweep:
    """A sweep by id, or the newest sweep with that name."""
    if isinstance(ref, Sweep):
        return ref
    if not isinstance(ref, str) or not ref.strip():
        raise SweepError(f"expected a sweep id or name, got {ref!r}")
    if RUN_ID_RE.match(ref) and records.has_definition(layout, ref):
        return Sweep(layout, records.read_definition(layout, ref))
    named = [d for d in records.all_definitions(layout) if d.get("name") == ref.strip()]
    if not named:
        raise SweepError(f"no sweep {ref!r} in the store at {layout.root}")
    return Sweep(layout, max(named, key=lambda d: d.get("created") or 0))


def sweep(name: str | None = None, strategy: str = "random", parameters: dict | None = None,
          objective: str | None = None, direction: str = "maximize",
          max_trials: int | None = None, experiment: str | None = None,
          seed: int | None = None, pruner: str | dict | None = "median",
          id: str | None = None, resume: bool = True,
          store: str | os.PathLike | None = None) -> Sweep:
    """Create a sweep, or continue the one with the same name and definition.

    ``parameters``: ``{"values": [...]}`` or ``{"min": a, "max": b, "distribution":
    "uniform" | "log_uniform" | "int"}`` per name. ``strategy``: ``grid`` (every
    point once), ``random`` (seeded per trial number) or ``bayesian`` (Optuna's TPE).
    ``max_trials``: the budget (grid: at most the grid). ``experiment`` holds the
    trial runs (default: the sweep's name). ``pruner``: ``"median"``, a dict of its
    settings (``n_startup_trials``, ``n_warmup_steps``, ``n_min_trials``), or None.
    With only a name (or ``id=``), opens an existing sweep; ``resume=False``
    always starts a new one.

    >>> sweep = nbtrack.sweep("lr-grid", strategy="grid", objective="acc",
    ...                       parameters={"lr": {"values": [1e-3, 1e-2]}})
    """
    from ..active import layout_for

    creating = id is None and (parameters is not None or objective is not None)
    layout = layout_for(store, create=creating)  # opening a sweep never makes a store
    if id is not None:
        found = open_sweep(layout, id)
        if parameters is not None and spec_differs(found, parameters):
            raise SweepError(f"sweep {id} has other parameters: {found.parameters}")
        return found
    if parameters is None and objective is None:
        if name is None:
            raise SweepError("give a sweep's name (or id=) to open it, or parameters= and "
                             "objective= to create one")
        return open_sweep(layout, name)
    definition = build_definition(name, strategy, parameters, objective, direction,
                                  max_trials, experiment, seed, pruner)
    if resume:
        made = records.definition_claim(layout, definition)
        if made is not None:
            return Sweep(layout, records.read_definition(layout, made))
    else:
        definition["seed_given"] = definition["id"]  # a new definition key: a new sweep
    return Sweep(layout, records.read_definition(layout, records.create(layout, definition)))


def spec_differs(found: Sweep, parameters: dict) -> bool:
    from .spec import check_parameters

    return check_parameters(parameters) != found.parameters


def sweeps(store: str | os.PathLike | None = None):
    """Every sweep in the store, newest first (polars): id, name, strategy, objective,
    status, trial counts by state, best value and run."""
    from ..active import layout_for
    from .frames import sweeps_frame

    layout = layout_for(store, create=False)
    return sweeps_frame([Sweep(layout, d) for d in records.all_definitions(layout)])


__all__ = ["Sweep", "Trial", "open_sweep", "sweep", "sweeps"]
