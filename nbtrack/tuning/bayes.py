"""Bayesian suggestions: Optuna's TPE sampler through its ask interface.

Optuna is the engine, nbtrack's store the truth. Before each ask, a fresh
in-memory Optuna study is rebuilt from the sweep's attempts as the store holds
them (completed with their value, pruned with their reported values, failed,
and running ones as RUNNING), then ``study.ask`` samples the next params; the
result is told to nbtrack's store (a sweep event), not to Optuna.

Why replay rather than Optuna's JournalStorage in the store: a second journal
would be a second record of the same trials, to keep consistent with the runs
through crashes, retries and restarts; the replay is correct across processes
and kernel restarts by construction (every process reads the same files), and
costs O(trials) per ask, small next to a trial. Concurrent asks stay apart
because running trials are in the replay (TPE's ``constant_liar`` treats them
as bad outcomes) and the sampler is seeded by (sweep seed, trial number).
"""

from __future__ import annotations

import hashlib

from . import spec
from .state import SweepState

INSTALL_HINT = "bayesian sweeps need Optuna: pip install 'nbtrack[optuna]' (or pip install optuna)"


def require_optuna():
    try:
        import optuna
    except ImportError:
        raise ImportError(INSTALL_HINT) from None
    return optuna


def _seed(seed: int, number: int) -> int:
    digest = hashlib.sha256(f"{seed}:{number}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


def suggest(definition: dict, state: SweepState, number: int) -> dict:
    """Params for trial ``number`` given every attempt the store knows of."""
    optuna = require_optuna()
    from optuna.trial import TrialState, create_trial

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    distributions = spec.optuna_distributions(definition["parameters"])
    sampler = optuna.samplers.TPESampler(seed=_seed(definition["seed"], number),
                                         constant_liar=True)
    study = optuna.create_study(direction=definition["direction"], sampler=sampler)
    for a in state.attempts:
        if set(a.params) != set(distributions):
            continue  # a claim whose taker died before choosing params
        if a.state == "completed" and a.value is not None:
            kind, value = TrialState.COMPLETE, a.value
        elif a.state == "pruned":
            kind, value = TrialState.PRUNED, None
        elif a.state == "running":
            kind, value = TrialState.RUNNING, None
        else:
            kind, value = TrialState.FAIL, None
        try:
            study.add_trial(create_trial(
                state=kind, value=value, params=a.params, distributions=distributions,
                intermediate_values={int(k): float(v) for k, v in a.intermediate.items()},
            ))
        except ValueError:
            continue  # params outside the space (edited by hand): leave them out
    return dict(study.ask(distributions).params)
