"""The Sweep: suggest trials, record their results, prune, retry, stop.

Every decision goes through the store, so any number of processes (notebook
kernels, ``sweep.run`` workers, a kernel restarted after a crash) can work on one
sweep: a trial number is taken by an ``O_EXCL`` claim (two processes never get
the same grid point), its params follow from the sweep's seed and the trial
number (random), from the grid (grid), or from Optuna replaying the store
(bayesian), and results are sweep events.
"""

from __future__ import annotations

import math
import statistics
import time

from ..errors import SweepError, SweepFinished, SweepSpecError
from ..run import to_number
from ..store.layout import Layout
from . import records, spec
from .state import FINISHED, Attempt, SweepState, load
from .trial import Trial

DEFAULT_PRUNER = {"kind": "median", "n_startup_trials": 5, "n_warmup_steps": 0,
                  "n_min_trials": 1}
_STATE_TTL_S = 1.0  # should_prune reads the other trials at most this often


class Sweep:
    """A hyperparameter sweep stored in nbtrack's store. Make one with :func:`nbtrack.sweep`.

    >>> sweep = nbtrack.sweep("bert-ft", strategy="bayesian", objective="val_accuracy",
    ...                       parameters={"lr": {"min": 1e-5, "max": 1e-2,
    ...                                          "distribution": "log_uniform"}})
    >>> params, trial = sweep.suggest()
    >>> sweep.complete(trial, {"val_accuracy": 0.94})
    >>> sweep.run(train, n_trials=20, n_jobs=2); sweep.best
    """

    def __init__(self, layout: Layout, definition: dict):
        self.layout = layout
        self.definition = definition
        self.id: str = definition["id"]
        self.name: str = definition["name"]
        self.experiment: str = definition["experiment"]
        self.strategy: str = definition["strategy"]
        self.parameters: dict = definition["parameters"]
        self.objective: str = definition["objective"]
        self.direction: str = definition["direction"]
        self.max_trials: int | None = definition.get("max_trials")
        self.seed: int = definition["seed"]
        self.pruner: dict | None = definition.get("pruner")
        self._cached: tuple[float, SweepState] | None = None

    # ------------------------------------------------------------------ reading
    @property
    def budget(self) -> int | None:
        """How many trial numbers the sweep has: the grid's points (at most max_trials),
        else max_trials (None: until stopped)."""
        if self.strategy == "grid":
            size = spec.grid_size(self.parameters)
            return size if self.max_trials is None else min(size, self.max_trials)
        return self.max_trials

    def state(self) -> SweepState:
        st = load(self.layout, self.id, self.objective)
        self._cached = (time.monotonic(), st)
        return st

    def _recent_state(self) -> SweepState:
        if self._cached is None or time.monotonic() - self._cached[0] > _STATE_TTL_S:
            return self.state()
        return self._cached[1]

    @property
    def status(self) -> str:
        """``running`` (trials left or in flight), ``stopped`` or ``finished``."""
        st = self.state()
        if st.stopped:
            return "stopped"
        latest = st.latest().values()
        if any(a.state == "running" for a in latest) or st.retryable():
            return "running"
        budget = self.budget
        return "running" if budget is None or len(st.claimed) < budget else "finished"

    def _better(self, a: float, b: float) -> bool:
        return a > b if self.direction == "maximize" else a < b

    @property
    def best(self) -> dict | None:
        """The best completed trial: ``number, attempt, value, params, run_id, run_name``."""
        best: Attempt | None = None
        for a in self.state().completed():
            if isinstance(a.value, (int, float)) and not math.isnan(a.value) and (
                    best is None or self._better(a.value, best.value)):
                best = a
        if best is None:
            return None
        return {"number": best.number, "attempt": best.attempt, "value": best.value,
                "params": dict(best.params), "run_id": best.run_id, "run_name": best.run_name}

    def trials(self):
        """One row per trial attempt (polars): number, attempt, state, value, best_so_far,
        run_id, run_name, started, ended, duration_s, reason, then ``params.<name>``."""
        from .frames import trials_frame

        return trials_frame(self)

    def best_so_far(self):
        """The best value after each completed trial, in completion order (polars)."""
        from .frames import best_so_far_frame

        return best_so_far_frame(self)

    def summary(self) -> dict:
        """The sweep in one JSON-able dict (definition, status, counts, best)."""
        st = self.state()
        counts: dict[str, int] = {}
        for a in st.latest().values():
            counts[a.state] = counts.get(a.state, 0) + 1
        best = self.best
        return {
            "sweep_id": self.id, "name": self.name, "experiment": self.experiment,
            "strategy": self.strategy, "objective": self.objective,
            "direction": self.direction, "budget": self.budget, "status": self.status,
            "trials": len(st.latest()), "counts": counts,
            "best_value": best["value"] if best else None,
            "best_params": best["params"] if best else None,
            "best_run_id": best["run_id"] if best else None,
            "parameters": self.parameters, "created": self.definition.get("created"),
        }

    # ------------------------------------------------------------------ suggesting
    def suggest(self) -> tuple[dict, Trial]:
        """Take the next trial: its params, and a :class:`Trial` whose run is now active.

        Raises :class:`~nbtrack.errors.SweepFinished` when nothing is left (every grid
        point taken, max_trials reached) or the sweep was stopped.
        """
        st = self.state()
        if st.stopped:
            raise SweepFinished(f"sweep {self.name!r} was stopped (sweep.resume() goes on)")
        for a in st.retryable():
            if records.claim(self.layout, self.id, a.number, a.attempt + 1):
                params = a.params or self._params_for(a.number)
                return self._start(a.number, a.attempt + 1, params)
        budget, number = self.budget, 0
        while budget is None or number < budget:
            if number not in st.claimed and records.claim(self.layout, self.id, number, 0):
                return self._start(number, 0, self._params_for(number))
            number += 1
        raise SweepFinished(f"sweep {self.name!r} has no trial left: all {budget} are taken")

    def _params_for(self, number: int) -> dict:
        if self.strategy == "grid":
            return spec.grid_point(self.parameters, number)
        if self.strategy == "random":
            return spec.random_point(self.parameters, self.seed, number)
        from . import bayes

        return bayes.suggest(self.definition, self.state(), number)

    def _start(self, number: int, attempt: int, params: dict) -> tuple[dict, Trial]:
        from ..active import start_run
        from ..store import liveness

        where = liveness.identity()
        try:
            run = start_run(
                self.experiment, name=f"{self.name} #{number}", params=params,
                store=self.layout.root,
                extra={"sweep": {"id": self.id, "name": self.name, "trial": number,
                                 "attempt": attempt}},
            )
        except BaseException as exc:
            records.write_event(self.layout, self.id, "trial", number=number, attempt=attempt,
                                run_id=None, params=params, **where)
            records.write_event(self.layout, self.id, "result", number=number, attempt=attempt,
                                state="failed", reason=f"the run did not start: {exc!r}")
            raise
        records.write_event(self.layout, self.id, "trial", number=number, attempt=attempt,
                            run_id=run.id, run_name=run.name, params=params,
                            host=where["host"], pid=where["pid"])
        return dict(params), Trial(self, number, attempt, dict(params), run)

    # ------------------------------------------------------------------ results
    def _open_trial(self, trial: Trial) -> None:
        if not isinstance(trial, Trial) or trial.sweep.id != self.id:
            raise SweepError(f"expected a trial of sweep {self.name!r}, got {trial!r}")
        trial._check_open()

    def _finish(self, trial: Trial, state: str, run_status: str, value=None, metrics=None,
                reason: str | None = None) -> None:
        self._open_trial(trial)
        records.write_event(
            self.layout, self.id, "result", number=trial.number, attempt=trial.attempt,
            state=state, value=value, metrics=metrics or {}, reason=reason,
            intermediate={str(k): v for k, v in trial.intermediate.items()},
        )
        trial.state = state
        self._cached = None
        if not trial.run.ended:
            trial.run.end(run_status, message=reason)

    def complete(self, trial: Trial, metrics: dict | float | None = None) -> None:
        """End ``trial`` with its result: ``{"val_accuracy": 0.94, ...}`` (logged on the
        run) or the objective's value; with nothing, the last value the run logged."""
        self._open_trial(trial)
        if isinstance(metrics, dict):
            values = {k: to_number(k, v) for k, v in metrics.items()}
        elif metrics is None:
            values = {}
        else:
            values = {self.objective: to_number(self.objective, metrics)}
        if values:
            trial.run.log(values)
        value = values.get(self.objective)
        if value is None:
            value = self._last_logged(trial)
        if value is None:
            raise SweepError(
                f"trial {trial.number}: no {self.objective!r} to complete with; pass "
                f"sweep.complete(trial, {{{self.objective!r}: value}})"
            )
        self._finish(trial, "completed", "completed", value=value, metrics=values)

    def _last_logged(self, trial: Trial) -> float | None:
        from ..store import metric_files

        trial.run.flush()
        return metric_files.last_values(self.layout, trial.run.id).get(self.objective)

    def fail(self, trial: Trial, reason: str = "") -> None:
        """End ``trial`` as failed (its run ``failed``, with ``reason``)."""
        self._finish(trial, "failed", "failed", reason=reason or "failed")

    def prune(self, trial: Trial) -> None:
        """End ``trial`` as pruned: stopped early because it was doing worse than the others."""
        step = max(trial.intermediate) if trial.intermediate else None
        self._finish(trial, "pruned", "killed", value=trial.best_reported(),
                     reason=f"pruned by the sweep at step {step}")

    def should_prune(self, trial: Trial) -> bool:
        """The median rule (as Optuna's MedianPruner): after ``n_startup_trials``
        completed trials and ``n_warmup_steps``, prune when the trial's best reported
        value so far is worse than the median of the completed trials' values reported
        at the same step."""
        rule = self.pruner
        best = trial.best_reported()
        if not rule or best is None:
            return False
        step = max(trial.intermediate)
        if step < rule.get("n_warmup_steps", 0):
            return False
        done = [a for a in self._recent_state().attempts if a.state == "completed"]
        if len(done) < rule.get("n_startup_trials", 5):
            return False
        at_step = [a.intermediate[step] for a in done
                   if step in a.intermediate and not math.isnan(a.intermediate[step])]
        if len(at_step) < max(1, rule.get("n_min_trials", 1)):
            return False
        return self._better(statistics.median(at_step), best)

    # ------------------------------------------------------------------ lifecycle
    def _attempts(self, which) -> list[Attempt]:
        latest = self.state().latest()
        if which is None:
            return [a for a in latest.values() if a.state == "crashed" and not a.retried]
        number = which.number if isinstance(which, Trial) else which
        if isinstance(number, bool) or not isinstance(number, int) or number not in latest:
            raise SweepError(f"sweep {self.name!r} has no trial {which!r}")
        return [latest[number]]

    def retry(self, trial: Trial | int | None = None) -> list[int]:
        """Free a crashed (or failed) trial's slot so the next ``suggest`` runs its params
        again; with no argument, every crashed trial. Returns the trial numbers freed."""
        freed = []
        for a in self._attempts(trial):
            if a.state not in ("crashed", "failed") or a.retried:
                raise SweepError(f"trial {a.number} is {a.state}: only crashed or failed "
                                 "trials are retried")
            records.write_event(self.layout, self.id, "retry", number=a.number,
                                attempt=a.attempt)
            freed.append(a.number)
        return freed

    def give_up(self, trial: Trial | int | None = None) -> list[int]:
        """Mark a crashed trial (default: every crashed trial) ``abandoned``."""
        dropped = []
        for a in self._attempts(trial):
            if a.state != "crashed":
                raise SweepError(f"trial {a.number} is {a.state}: only crashed trials are "
                                 "given up")
            if a.run_id is None:  # the taker died before its run began: record the slot
                records.write_event(self.layout, self.id, "trial", number=a.number,
                                    attempt=a.attempt, run_id=None, params={})
            records.write_event(self.layout, self.id, "result", number=a.number,
                                attempt=a.attempt, state="abandoned", reason="given up")
            dropped.append(a.number)
        return dropped

    def stop(self) -> None:
        """No new trials (in any process); trials in flight finish. ``resume()`` undoes it."""
        records.write_event(self.layout, self.id, "stop")

    def resume(self) -> None:
        records.write_event(self.layout, self.id, "resume")

    def run(self, fn, n_trials: int | None = None, n_jobs: int = 1, executor=None,
            catch: tuple[type[BaseException], ...] = ()) -> list[dict]:
        """Call ``fn(params, trial)`` for up to ``n_trials`` trials (default: until the
        sweep is finished or stopped); see :func:`nbtrack.tuning.execute.run`."""
        from .execute import run

        return run(self, fn, n_trials=n_trials, n_jobs=n_jobs, executor=executor, catch=catch)

    def show(self, tab: str = "trials"):
        """The sweep as a live panel in the notebook: trials table, best-so-far curve and
        parallel coordinates of the params against the objective (``tab``: trials, best,
        parallel)."""
        from ..ui import _require_widgets

        _require_widgets()
        from ..ui.sweep_panel import SweepPanel

        return SweepPanel(self, tab=tab)

    def __repr__(self) -> str:
        return (f"<nbtrack.Sweep {self.name!r} id={self.id} {self.strategy} "
                f"{self.direction} {self.objective!r}>")


def build_definition(name, strategy, parameters, objective, direction, max_trials,
                     experiment, seed, pruner) -> dict:
    """A checked definition for a new sweep (SweepSpecError on anything wrong)."""
    import secrets

    from ..active import check_experiment
    from ..ids import new_run_id
    from ..run import check_key

    if not isinstance(name, str) or not name.strip():
        raise SweepSpecError(f"a sweep needs a name, got {name!r}")
    params = spec.check_parameters(parameters)
    strategy = spec.check_strategy(strategy, params)
    if not isinstance(objective, str):
        raise SweepSpecError("objective names the metric to optimise, e.g. objective='val_accuracy'")
    try:
        check_key(objective, "objective")
    except ValueError as exc:
        raise SweepSpecError(str(exc)) from None
    if direction not in spec.DIRECTIONS:
        raise SweepSpecError(f"direction must be 'maximize' or 'minimize', got {direction!r}")
    if max_trials is not None and (isinstance(max_trials, bool) or not isinstance(max_trials, int)
                                   or max_trials < 1):
        raise SweepSpecError(f"max_trials must be a positive integer, got {max_trials!r}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise SweepSpecError(f"seed must be an integer, got {seed!r}")
    if pruner == "median":
        pruner = dict(DEFAULT_PRUNER)
    elif isinstance(pruner, dict):
        unknown = set(pruner) - set(DEFAULT_PRUNER)
        if unknown:
            raise SweepSpecError(f"unknown pruner settings {sorted(unknown)}; known: "
                                 f"{sorted(set(DEFAULT_PRUNER) - {'kind'})}")
        pruner = {**DEFAULT_PRUNER, **pruner}
    elif pruner is not None:
        raise SweepSpecError(f"pruner is 'median', a dict of median settings, or None; got "
                             f"{pruner!r}")
    if strategy == "bayesian":
        from .bayes import require_optuna

        require_optuna()
    return {
        "format": records.FORMAT, "id": new_run_id(), "name": name.strip(),
        "experiment": check_experiment(experiment if experiment is not None else name),
        "strategy": strategy, "parameters": params, "objective": objective,
        "direction": direction, "max_trials": max_trials,
        "seed": seed if seed is not None else secrets.randbits(32), "seed_given": seed,
        "pruner": pruner, "created": time.time(),
    }


__all__ = ["Sweep", "build_definition", "FINISHED"]
