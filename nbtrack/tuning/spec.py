"""A sweep's parameter specification: checked once, then enumerated or sampled.

Each parameter is one of (as in the Podstack seed)::

    {"values": [16, 32, 64]}                                  a choice (a plain list works too)
    {"min": 1e-5, "max": 1e-2, "distribution": "log_uniform"}
    {"min": 0.1, "max": 0.5}                                  "uniform" is the default
    {"min": 1, "max": 8, "distribution": "int"}               integers, both ends included

Grid search takes choices and int ranges; random and bayesian take all four.
Random sampling is seeded per trial number, so a trial's params are the same in
every process and after a restart.
"""

from __future__ import annotations

import itertools
import math
import random

from ..errors import SweepSpecError

DISTRIBUTIONS = ("uniform", "log_uniform", "int")
STRATEGIES = ("grid", "random", "bayesian")
DIRECTIONS = ("maximize", "minimize")
MAX_GRID = 1_000_000


def _scalar(value: object) -> bool:
    return value is None or isinstance(value, (bool, int, float, str))


def _finite(name: str, key: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise SweepSpecError(f"parameter {name!r}: {key!r} must be a finite number, got {value!r}")
    return value


def check_parameters(parameters: object) -> dict[str, dict]:
    """The specification in its stored form, or SweepSpecError saying what is wrong."""
    from ..run import check_key

    if not isinstance(parameters, dict) or not parameters:
        raise SweepSpecError(
            "parameters must be a non-empty dict, e.g. {'lr': {'min': 1e-5, 'max': 1e-2, "
            "'distribution': 'log_uniform'}, 'batch_size': {'values': [16, 32]}}"
        )
    out: dict[str, dict] = {}
    for name, spec in parameters.items():
        try:
            check_key(name, "parameter")
        except ValueError as exc:
            raise SweepSpecError(str(exc)) from None
        if isinstance(spec, (list, tuple, range)):
            spec = {"values": list(spec)}
        if not isinstance(spec, dict):
            raise SweepSpecError(
                f"parameter {name!r}: give {{'values': [...]}} or {{'min': a, 'max': b}}, "
                f"got {spec!r}"
            )
        out[name] = _check_one(name, spec)
    return out


def _check_one(name: str, spec: dict) -> dict:
    keys = set(spec)
    if "values" in spec:
        if keys != {"values"}:
            raise SweepSpecError(f"parameter {name!r}: 'values' goes alone, not with "
                                 f"{sorted(keys - {'values'})}")
        values = spec["values"]
        if isinstance(values, (tuple, range)):
            values = list(values)
        if not isinstance(values, list) or not values:
            raise SweepSpecError(f"parameter {name!r}: 'values' must be a non-empty list")
        if not all(_scalar(v) for v in values):
            raise SweepSpecError(f"parameter {name!r}: values must be numbers, text, "
                                 "true/false or None")
        if isinstance(values[0], float) and any(v != v for v in values):
            raise SweepSpecError(f"parameter {name!r}: NaN is not a value to try")
        if len({(type(v).__name__, v) for v in values}) != len(values):
            raise SweepSpecError(f"parameter {name!r}: values repeat: {values!r}")
        return {"values": values}
    unknown = keys - {"min", "max", "distribution"}
    if unknown or not {"min", "max"} <= keys:
        raise SweepSpecError(
            f"parameter {name!r}: a range is {{'min': a, 'max': b, 'distribution': ...}}"
            + (f"; unknown keys {sorted(unknown)}" if unknown else "; 'min' and 'max' are needed")
        )
    dist = spec.get("distribution", "uniform")
    if dist not in DISTRIBUTIONS:
        raise SweepSpecError(f"parameter {name!r}: unknown distribution {dist!r}; "
                             f"use one of {', '.join(DISTRIBUTIONS)}")
    low, high = _finite(name, "min", spec["min"]), _finite(name, "max", spec["max"])
    if low > high:
        raise SweepSpecError(f"parameter {name!r}: min {low!r} is above max {high!r}")
    if dist == "log_uniform" and low <= 0:
        raise SweepSpecError(f"parameter {name!r}: log_uniform needs min > 0, got {low!r}")
    if dist == "int":
        if not (float(low).is_integer() and float(high).is_integer()):
            raise SweepSpecError(f"parameter {name!r}: an int range needs whole min and max")
        low, high = int(low), int(high)
    else:
        low, high = float(low), float(high)
    return {"min": low, "max": high, "distribution": dist}


def check_strategy(strategy: object, parameters: dict[str, dict]) -> str:
    if strategy not in STRATEGIES:
        raise SweepSpecError(f"strategy must be one of {', '.join(STRATEGIES)}; got {strategy!r}")
    if strategy == "grid":
        for name, spec in parameters.items():
            if "values" not in spec and spec["distribution"] != "int":
                raise SweepSpecError(
                    f"parameter {name!r}: a grid needs the values to try; give "
                    "{'values': [...]} or an int range, or use strategy='random' or 'bayesian'"
                )
        if grid_size(parameters) > MAX_GRID:
            raise SweepSpecError(f"the grid has {grid_size(parameters):,} points, more than "
                                 f"{MAX_GRID:,}: use strategy='random' or 'bayesian'")
    return strategy


def _choices(spec: dict) -> list:
    if "values" in spec:
        return list(spec["values"])
    return list(range(spec["min"], spec["max"] + 1))


def grid_size(parameters: dict[str, dict]) -> int:
    return math.prod(len(_choices(s)) if "values" in s or s["distribution"] == "int" else 0
                     for s in parameters.values())


def grid_point(parameters: dict[str, dict], number: int) -> dict:
    """The ``number``-th point of the grid (the last parameter varies fastest)."""
    choices = [(name, _choices(spec)) for name, spec in parameters.items()]
    point = {}
    for name, values in reversed(choices):
        number, index = divmod(number, len(values))
        point[name] = values[index]
    return {name: point[name] for name, _ in choices}


def grid_points(parameters: dict[str, dict]) -> list[dict]:
    names = list(parameters)
    return [dict(zip(names, combo, strict=True))
            for combo in itertools.product(*(_choices(parameters[n]) for n in names))]


def random_point(parameters: dict[str, dict], seed: int, number: int) -> dict:
    """Trial ``number``'s params: seeded by (seed, number), the same in every process."""
    rng = random.Random(f"nbtrack-sweep:{seed}:{number}")
    out = {}
    for name, spec in parameters.items():
        if "values" in spec:
            out[name] = rng.choice(spec["values"])
        elif spec["distribution"] == "int":
            out[name] = rng.randint(spec["min"], spec["max"])
        elif spec["distribution"] == "log_uniform":
            out[name] = math.exp(rng.uniform(math.log(spec["min"]), math.log(spec["max"])))
        else:
            out[name] = rng.uniform(spec["min"], spec["max"])
    return out


def optuna_distributions(parameters: dict[str, dict]) -> dict:
    """The same space as Optuna distributions (imported here, only for bayesian sweeps)."""
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    out = {}
    for name, spec in parameters.items():
        if "values" in spec:
            out[name] = CategoricalDistribution(spec["values"])
        elif spec["distribution"] == "int":
            out[name] = IntDistribution(spec["min"], spec["max"])
        else:
            out[name] = FloatDistribution(spec["min"], spec["max"],
                                          log=spec["distribution"] == "log_uniform")
    return out
