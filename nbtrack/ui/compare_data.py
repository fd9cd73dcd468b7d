"""What the compare panel shows, computed in the kernel from the runs' logs: a table per
section (run fields, params, metadata) with the keys whose values differ marked, and a
metric summary (last / min / max per key and run).

Pure data over ``query``: no widget here, so every rule is testable without a browser.
Values are compared by their JSON form, so ``1e-3`` and ``0.001`` are equal and a list or
dict param compares by content; a key a run lacks counts as a difference.
"""

from __future__ import annotations

import json

from ..errors import NbtrackError
from ..query import metrics as metrics_q
from ..query import runs as runs_q
from ..store.layout import Layout

MAX_RUNS = 200
# always different (times) or shown in the column headers: not compared row by row
RUN_FIELDS = ("experiment", "status", "user", "host", "tags", "parent_run_id", "sweep")


class CompareError(NbtrackError, ValueError):
    """``compare`` was given nothing to compare, or too many runs."""


def logs(layout: Layout, refs) -> list[dict]:
    """The logs of the runs ``refs`` names (ids, names, Runs, a runs() frame), each once, in
    the order given."""
    if hasattr(refs, "columns"):
        refs = refs["run_id"].to_list()
    elif isinstance(refs, (str, bytes)) or not hasattr(refs, "__iter__"):
        refs = [refs]
    ids = list(dict.fromkeys(runs_q.resolve(layout, r) for r in refs))
    if not ids:
        raise CompareError("compare needs at least one run: nbtrack.compare([run_a, run_b])")
    if len(ids) > MAX_RUNS:
        raise CompareError(f"compare shows at most {MAX_RUNS} runs side by side, got {len(ids)};"
                           " narrow the selection (nbtrack.runs(where=...))")
    return [runs_q.get_run(layout, rid, with_metrics=False) for rid in ids]


def _whole(value):
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, (list, tuple)):
        return [_whole(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _whole(v) for k, v in value.items()}
    return value


def canonical(value) -> str:
    """A value's comparable form: JSON with sorted keys, whole floats as ints (at any depth)."""
    return json.dumps(_whole(value), sort_keys=True, default=str)


def dotted(nested, prefix: str = "") -> dict:
    """``{"hw": {"gpu": "A100"}}`` -> ``{"hw.gpu": "A100"}`` (empty dicts kept as leaves)."""
    out: dict = {}
    if not isinstance(nested, dict):
        return out
    for key, value in nested.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(dotted(value, name + "."))
        else:
            out[name] = value
    return out


def rows(per_run: list[dict], order: list[str] | None = None) -> list[dict]:
    """One row per key over the runs' ``{key: value}`` dicts:
    ``{key, values, present, differs, changed}``. ``changed[i]`` says run i differs from
    the first run (the baseline the panel highlights against)."""
    keys = order if order is not None else sorted({k for values in per_run for k in values})
    out = []
    for key in keys:
        present = [key in values for values in per_run]
        values = [values.get(key) for values in per_run]
        forms = [canonical(v) if p else None for v, p in zip(values, present, strict=True)]
        differs = len(set(forms)) > 1
        out.append({"key": key, "values": values, "present": present, "differs": differs,
                    "changed": [f != forms[0] for f in forms]})
    return out


def _run_fields(log: dict) -> dict:
    fields = {k: log.get(k) for k in RUN_FIELDS if log.get(k) not in (None, "", [])}
    if "tags" in fields:
        fields["tags"] = ", ".join(str(t) for t in fields["tags"])
    sweep = log.get("sweep") or {}
    if isinstance(sweep, dict) and sweep:
        fields["sweep"] = f"{sweep.get('name') or sweep.get('id')} #{sweep.get('trial')}"
    return fields


def sections(run_logs: list[dict]) -> dict:
    """``{"run": rows, "params": rows, "metadata": rows}``."""
    run_rows = rows([_run_fields(log) for log in run_logs],
                    order=[k for k in RUN_FIELDS if any(_run_fields(log).get(k) is not None for log in run_logs)])
    return {
        "run": run_rows,
        "params": rows([dict(log.get("params") or {}) for log in run_logs]),
        "metadata": rows([dotted(log.get("metadata") or {}) for log in run_logs]),
    }


def metric_summary(layout: Layout, run_ids: list[str]) -> list[dict]:
    """One row per metric key: ``{key, runs: [{last, min, max, count, last_step} | None],
    differs}`` (``differs``: the last values are not all equal)."""
    import polars as pl

    points = metrics_q.read(layout, run_ids)
    if points.is_empty():
        return []
    table = (
        points.sort("step", maintain_order=True)
        .group_by("run_id", "key", maintain_order=True)
        .agg(pl.col("value").last().alias("last"), pl.col("value").min().alias("min"),
             pl.col("value").max().alias("max"), pl.len().alias("count"),
             pl.col("step").last().alias("last_step"))
    )
    by_key: dict[str, dict] = {}
    for row in table.iter_rows(named=True):
        by_key.setdefault(row["key"], {})[row["run_id"]] = {
            k: row[k] for k in ("last", "min", "max", "count", "last_step")}
    out = []
    for key in sorted(by_key):
        cells = [by_key[key].get(rid) for rid in run_ids]
        lasts = {canonical(c["last"]) if c else None for c in cells}
        out.append({"key": key, "runs": cells, "differs": len(lasts) > 1})
    return out


def head(run_logs: list[dict]) -> list[dict]:
    """What the panel's column headers show for each run."""
    return [{"run_id": log["run_id"], "name": log.get("name"), "experiment": log.get("experiment"),
             "status": log.get("status"), "started": log.get("started"),
             "duration_s": log.get("duration_s")} for log in run_logs]


def points(layout: Layout, run_ids: list[str]):
    """One row per run with ``run_id, name, status`` and every ``params.*`` / ``metrics.*``
    column (the last value of each metric): what parallel coordinates and scatters plot."""
    import polars as pl

    frame = runs_q.runs(layout, include_archived=True).filter(pl.col("run_id").is_in(run_ids))
    keep = ["run_id", "name", "status", *[c for c in frame.columns if c.startswith(("params.", "metrics."))]]
    order = {rid: i for i, rid in enumerate(run_ids)}
    return (frame.select(keep).with_columns(pl.col("run_id").replace_strict(order, default=None).alias("_o"))
            .sort("_o").drop("_o"))


def axes(frame) -> dict:
    """The params and metrics a chart can use, each with its kind (``number`` or ``text``)
    and whether it varies across the runs (varying ones first)."""
    def describe(names):
        out = []
        for name in names:
            dtype = frame.schema[name]
            kind = "number" if dtype.is_numeric() else "text"
            values = frame[name].cast(str) if kind == "text" and not dtype.is_numeric() else frame[name]
            try:
                varies = values.n_unique() > 1
            except Exception:  # noqa: BLE001 - a list column: count it as varying
                varies = True
            out.append({"name": name, "kind": kind, "varies": varies})
        out.sort(key=lambda a: (not a["varies"], a["name"]))
        return out

    return {"params": describe([c for c in frame.columns if c.startswith("params.")]),
            "metrics": describe([c for c in frame.columns if c.startswith("metrics.")])}
