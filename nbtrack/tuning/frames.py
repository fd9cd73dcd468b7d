"""A sweep as polars frames: what a table, a best-so-far curve and a parallel
coordinates plot need (``param_columns`` and ``objective`` name their axes)."""

from __future__ import annotations

from datetime import datetime, timezone


def _time(t: float | None):
    return datetime.fromtimestamp(t, tz=timezone.utc) if t is not None else None


def _best_so_far(sweep, attempts) -> dict[tuple[int, int], float]:
    """For each completed attempt, the best value among those completed by then."""
    done = sorted((a for a in attempts if a.state == "completed" and a.value is not None),
                  key=lambda a: (a.ended or 0, a.number, a.attempt))
    best, out = None, {}
    for a in done:
        if best is None or sweep._better(a.value, best):
            best = a.value
        out[(a.number, a.attempt)] = best
    return out


def param_columns(sweep) -> list[str]:
    """The ``params.<name>`` columns of ``trials()``, in the definition's order."""
    return [f"params.{name}" for name in sweep.parameters]


def trials_frame(sweep):
    import polars as pl

    attempts = sweep.state().attempts
    best = _best_so_far(sweep, attempts)
    rows = []
    for a in attempts:
        row = {
            "number": a.number, "attempt": a.attempt, "state": a.state,
            "value": float(a.value) if isinstance(a.value, (int, float)) else None,
            "best_so_far": best.get((a.number, a.attempt)),
            "run_id": a.run_id, "run_name": a.run_name,
            "started": _time(a.started), "ended": _time(a.ended),
            "duration_s": (a.ended - a.started) if a.ended and a.started else None,
            "retried": a.retried, "reason": a.reason,
        }
        for name in sweep.parameters:
            row[f"params.{name}"] = a.params.get(name)
        rows.append(row)
    schema = {
        "number": pl.Int64, "attempt": pl.Int64, "state": pl.String, "value": pl.Float64,
        "best_so_far": pl.Float64, "run_id": pl.String, "run_name": pl.String,
        "started": pl.Datetime("us", "UTC"), "ended": pl.Datetime("us", "UTC"),
        "duration_s": pl.Float64, "retried": pl.Boolean, "reason": pl.String,
    }
    columns = {}
    for key, dtype in schema.items():
        columns[key] = pl.Series(key, [r[key] for r in rows], dtype=dtype)
    for name in param_columns(sweep):
        columns[name] = _param_series(name, [r[name] for r in rows])
    return pl.DataFrame(columns)


def _param_series(name: str, values: list):
    """A param column typed by its values; mixed kinds (a choice of 1 and "auto") as text."""
    import polars as pl

    kinds = {type(v) for v in values if v is not None}
    if kinds <= {bool}:
        return pl.Series(name, values, dtype=pl.Boolean)
    if kinds <= {int}:
        return pl.Series(name, values, dtype=pl.Int64)
    if kinds <= {int, float}:
        return pl.Series(name, [None if v is None else float(v) for v in values], dtype=pl.Float64)
    return pl.Series(name, [None if v is None else str(v) for v in values], dtype=pl.String)


def best_so_far_frame(sweep):
    """``order, number, attempt, value, best, ended``: one row per completed trial, in the
    order they completed: the best-so-far curve."""
    import polars as pl

    attempts = sweep.state().attempts
    best = _best_so_far(sweep, attempts)
    done = sorted((a for a in attempts if (a.number, a.attempt) in best),
                  key=lambda a: (a.ended or 0, a.number, a.attempt))
    return pl.DataFrame(
        {
            "order": list(range(1, len(done) + 1)),
            "number": [a.number for a in done],
            "attempt": [a.attempt for a in done],
            "value": [float(a.value) for a in done],
            "best": [best[(a.number, a.attempt)] for a in done],
            "ended": [_time(a.ended) for a in done],
        },
        schema={"order": pl.Int64, "number": pl.Int64, "attempt": pl.Int64,
                "value": pl.Float64, "best": pl.Float64, "ended": pl.Datetime("us", "UTC")},
    )


def sweeps_frame(sweeps: list):
    """One row per sweep: what a list of sweeps shows."""
    import polars as pl

    rows = []
    for sw in sweeps:
        s = sw.summary()
        counts = s["counts"]
        rows.append({
            "sweep_id": s["sweep_id"], "name": s["name"], "experiment": s["experiment"],
            "strategy": s["strategy"], "objective": s["objective"],
            "direction": s["direction"], "status": s["status"], "budget": s["budget"],
            "trials": s["trials"],
            **{k: counts.get(k, 0) for k in ("completed", "running", "crashed", "failed",
                                               "pruned", "abandoned")},
            "best_value": s["best_value"], "best_run_id": s["best_run_id"],
            "created": _time(s["created"]),
        })
    schema = {
        "sweep_id": pl.String, "name": pl.String, "experiment": pl.String,
        "strategy": pl.String, "objective": pl.String, "direction": pl.String,
        "status": pl.String, "budget": pl.Int64, "trials": pl.Int64,
        "completed": pl.Int64, "running": pl.Int64, "crashed": pl.Int64, "failed": pl.Int64,
        "pruned": pl.Int64, "abandoned": pl.Int64, "best_value": pl.Float64,
        "best_run_id": pl.String, "created": pl.Datetime("us", "UTC"),
    }
    frame = pl.DataFrame(rows, schema=schema) if rows else pl.DataFrame(schema=schema)
    return frame.sort("created", descending=True, nulls_last=True)
