"""``sweep.run``: trials one after another here, or in worker processes.

With ``n_jobs > 1`` (or an ``executor``) each task runs in a worker *process*:
the worker takes its own trial from the store (``suggest``), calls ``fn``, and
records the result, so a worker that dies leaves a ``crashed`` trial, never a
point handed out twice. Processes, not threads: a thread pool inside a notebook
kernel is what hangs the W&B agent after CUDA is initialised. The default pool
starts workers with ``spawn`` (a clean interpreter, nothing inherited from a
kernel that may hold CUDA or locks). Any ``concurrent.futures.Executor`` can be
passed instead (a Dask ``Client.get_executor()``, a pool of your own); tasks are
plain picklable calls, ``fn`` travels pickled (by value with cloudpickle when it is
installed, so a function defined in a notebook works).

A worker that dies mid-trial (killed, out of memory) leaves that trial ``crashed``, by
the store's liveness rule, and the sweep goes on: Dask reruns the lost task on another
worker (a new trial: the crashed one keeps its claim), a broken process pool is
replaced, and a task the executor gives up on counts as that crashed trial.
"""

from __future__ import annotations

import pickle
import uuid
import warnings

from ..errors import SweepError, SweepFinished, TrialPruned


def execute_trial(sweep, fn, params: dict, trial, catch: tuple) -> dict:
    """Call ``fn(params, trial)`` and end the trial from what happened."""
    try:
        out = fn(params, trial)
    except TrialPruned:
        if not trial.ended:
            sweep.prune(trial)
    except BaseException as exc:
        if not trial.ended:
            sweep.fail(trial, f"{type(exc).__name__}: {exc}")
        if not (catch and isinstance(exc, catch)):
            raise
        warnings.warn(f"nbtrack: trial {trial.number} of sweep {sweep.name!r} failed: {exc!r}",
                      RuntimeWarning, stacklevel=2)
    else:
        if not trial.ended:
            try:
                sweep.complete(trial, out if isinstance(out, dict) or out is None else out)
            except SweepError as exc:  # fn returned nothing and logged no objective
                sweep.fail(trial, str(exc))
    return {"number": trial.number, "attempt": trial.attempt, "state": trial.state,
            "params": dict(params), "run_id": trial.run.id, "run_name": trial.run.name,
            "value": _value(sweep, trial)}


def _value(sweep, trial):
    for a in sweep.state().attempts:
        if a.number == trial.number and a.attempt == trial.attempt:
            return a.value
    return None


def run(sweep, fn, n_trials: int | None = None, n_jobs: int = 1, executor=None,
        catch: tuple = ()) -> list[dict]:
    """Run trials until ``n_trials`` have ended, the sweep is finished, or it is stopped.

    ``fn(params, trial)`` trains and returns the objective's value, a dict of metrics
    holding it, or None (then the last logged objective counts). Raising
    ``nbtrack.errors.TrialPruned`` prunes the trial; any other exception fails it and
    propagates, unless its type is in ``catch`` (then the sweep goes on). Returns one
    dict per trial: number, attempt, state, params, run_id, run_name, value.
    """
    if not callable(fn):
        raise TypeError(f"sweep.run takes a function fn(params, trial), got {type(fn).__name__}")
    if n_trials is not None and (isinstance(n_trials, bool) or not isinstance(n_trials, int)
                                 or n_trials < 0):
        raise ValueError(f"n_trials must be a non-negative integer or None, got {n_trials!r}")
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs < 1:
        raise ValueError(f"n_jobs must be a positive integer, got {n_jobs!r}")
    catch = tuple(catch) if isinstance(catch, (tuple, list)) else (catch,)
    if executor is None and n_jobs == 1:
        return _sequential(sweep, fn, n_trials, catch)
    return _parallel(sweep, fn, n_trials, n_jobs, executor, catch)


def _sequential(sweep, fn, n_trials, catch) -> list[dict]:
    results: list[dict] = []
    while n_trials is None or len(results) < n_trials:
        try:
            params, trial = sweep.suggest()
        except SweepFinished:
            break
        results.append(execute_trial(sweep, fn, params, trial, catch))
    return results


def _dumps(fn) -> bytes:
    try:
        import cloudpickle
    except ImportError:
        cloudpickle = None
    try:
        return cloudpickle.dumps(fn) if cloudpickle is not None else pickle.dumps(fn)
    except Exception as exc:  # noqa: BLE001 - pickling fails in many ways
        raise SweepError(
            f"fn cannot be sent to worker processes ({exc}); define it in a module, or "
            "pip install cloudpickle to send a notebook's function by value"
        ) from None


def trial_task(root: str, sweep_id: str, payload: bytes, catch: tuple,
               task: int = 0, token: str | None = None) -> dict | None:
    """One task in a worker: take a trial, run it, record it (None: nothing left).
    ``task`` numbers the submissions: a Dask executor names a task by its arguments
    (``pure=True`` by default), and identical ones would be run once and shared.
    With ``token`` (one per ``sweep.run`` on an executor of the caller's) the trial a
    task took is recorded, so that a task run again returns the trial it finished."""
    from ..active import layout_for
    from . import open_sweep

    fn = pickle.loads(payload)  # noqa: S301 - our own pickle of the caller's function
    sweep = open_sweep(layout_for(root), sweep_id)
    if token is not None:
        earlier = _finished_before(sweep, f"{token}-{task}-")
        if earlier is not None:
            return earlier
    try:
        params, trial = sweep.suggest()
    except SweepFinished:
        return None
    if token is not None:
        _record_task(sweep, f"{token}-{task}-", trial)
    return execute_trial(sweep, fn, params, trial, catch)


# Dask recomputes a task whose result was lost with its worker, even one that had finished:
# run again, it would take (and report) a new trial while the one it finished went unreported
TASKS = "tasks"  # sweeps/<id>/tasks/<token>-<task>-<number>.<attempt>: created once, empty


def _record_task(sweep, prefix: str, trial) -> None:
    from ..store.atomic import claim_file
    from . import records

    try:
        claim_file(records.sweep_dir(sweep.layout, sweep.id) / TASKS /
                   f"{prefix}{trial.number}.{trial.attempt}", "")
    except OSError:
        pass  # only a rerun of this very task would miss it


def _finished_before(sweep, prefix: str) -> dict | None:
    """The result of the trial an earlier run of this task finished, if any (one that
    crashed with its worker is not: the task then takes a new trial)."""
    from ..store.layout import visible_files
    from . import records

    taken = set()
    for path in visible_files(records.sweep_dir(sweep.layout, sweep.id) / TASKS, ""):
        number, _, attempt = path.name[len(prefix):].partition(".")
        if path.name.startswith(prefix) and number.isdigit() and attempt.isdigit():
            taken.add((int(number), int(attempt)))
    if not taken:
        return None
    for a in sweep.state().attempts:
        if (a.number, a.attempt) in taken and a.state in ("completed", "failed", "pruned"):
            return {"number": a.number, "attempt": a.attempt, "state": a.state,
                    "params": dict(a.params), "run_id": a.run_id, "run_name": a.run_name,
                    "value": a.value}
    return None


def _parallel(sweep, fn, n_trials, n_jobs, executor, catch) -> list[dict]:
    from concurrent.futures import FIRST_COMPLETED, wait

    payload = _dumps(fn)
    own = executor is None
    if own:
        executor = _pool(n_jobs)
    root = str(sweep.layout.root)
    token = None if own else uuid.uuid4().hex[:12]  # another executor may rerun a task
    results: list[dict] = []
    in_flight: set = set()
    finished = False
    lost = submitted = 0
    try:
        while True:
            while not finished and len(in_flight) < n_jobs and (
                    n_trials is None or len(results) + len(in_flight) < n_trials):
                submitted += 1
                in_flight.add(executor.submit(trial_task, root, sweep.id, payload, catch,
                                              submitted, token))
            if not in_flight:
                break
            done, in_flight = wait(in_flight, return_when=FIRST_COMPLETED)
            for future in done:
                try:
                    result = future.result()  # a worker's uncaught error stops the sweep here
                except Exception as exc:
                    if not worker_lost(exc):
                        raise
                    lost += 1
                    if lost > max(MAX_LOST_WORKERS, n_trials or 0):
                        raise SweepError(
                            f"sweep {sweep.name!r}: {lost} worker processes died running "
                            f"trials (last: {type(exc).__name__}: {exc}); stopping") from exc
                    if own and _broken(exc):  # a dead worker breaks a whole process pool
                        executor.shutdown(wait=True, cancel_futures=True)  # reaps its dead
                        executor = _pool(n_jobs)
                    results.append(_crashed(sweep, results))
                    continue
                if result is None:
                    finished = True
                else:
                    results.append(result)
    finally:
        for future in in_flight:
            future.cancel()
        if own:
            executor.shutdown(wait=True, cancel_futures=True)
    return results


MAX_LOST_WORKERS = 3  # with no n_trials: worker deaths tolerated before the sweep stops
# what executors raise for a task whose worker process died (Dask gives up on a task that
# killed ``allowed-failures`` workers with KilledWorker; a lost connection to it reads so too)
_LOST = ("KilledWorker", "CommClosedError", "WorkerLostError")


def _pool(n_jobs: int):
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    return ProcessPoolExecutor(max_workers=n_jobs, mp_context=multiprocessing.get_context("spawn"))


def _broken(exc: BaseException) -> bool:
    from concurrent.futures import BrokenExecutor

    return isinstance(exc, BrokenExecutor)


def worker_lost(exc: BaseException) -> bool:
    """Whether a task failed because its worker process died, not because of ``fn``."""
    return _broken(exc) or any(k.__name__ in _LOST for k in type(exc).__mro__)


def _crashed(sweep, results: list[dict]) -> dict:
    """The result of a task lost with its worker: the crashed attempt not reported yet."""
    seen = {(r.get("number"), r.get("attempt")) for r in results}
    for a in sweep.state().attempts:
        if a.state == "crashed" and (a.number, a.attempt) not in seen:
            return {"number": a.number, "attempt": a.attempt, "state": "crashed",
                    "params": dict(a.params), "run_id": a.run_id, "run_name": a.run_name,
                    "value": None}
    return {"number": None, "attempt": None, "state": "crashed", "params": {},
            "run_id": None, "run_name": None, "value": None}
