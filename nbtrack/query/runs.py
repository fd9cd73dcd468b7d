"""``runs()`` and ``get_run()``: the store as a polars frame and as one run's log."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable

from ..errors import RunNotFoundError
from ..store import index, metric_files
from ..store.layout import RUN_ID_RE, Layout, check_friendly_name
from . import experiments as experiments_mod
from . import metrics as metrics_mod
from . import state
from .filters import compile_filter, resolve_field

BASE_COLUMNS = (
    "run_id", "name", "experiment", "status", "started", "ended", "duration_s",
    "user", "host", "tags", "archived", "cost", "parent_run_id",
)


def resolve(layout: Layout, ref: object) -> str:
    """A run id from an id, a friendly name, a Run, or a row/dict holding ``run_id``."""
    if hasattr(ref, "id") and isinstance(ref.id, str):
        ref = ref.id
    elif isinstance(ref, dict) and "run_id" in ref:
        ref = ref["run_id"]
    if not isinstance(ref, str):
        raise RunNotFoundError(f"expected a run id or name, got {type(ref).__name__}")
    if RUN_ID_RE.match(ref) and layout.run_dir(ref).is_dir():
        return ref
    try:
        check_friendly_name(ref)
        run_id = (layout.names_dir / ref).read_text().strip()
    except (OSError, ValueError):
        run_id = ""
    if RUN_ID_RE.match(run_id) and layout.run_dir(run_id).is_dir():
        return run_id
    raise RunNotFoundError(f"no run {ref!r} in the store at {layout.root}")


def current_rows(layout: Layout) -> list[dict]:
    """Every run's summary row, with running runs refreshed from their records and
    runs whose process died marked ``crashed``."""
    rows = index.read_rows(layout)
    out = []
    for rid, row in rows.items():
        if row.get("status") == "running":
            st = state.load(layout, rid)
            if st is not None:
                state.resolve_liveness(layout, st)
                row = state.summary_row(st, metric_files.last_values(layout, rid))
        out.append(row)
    # a run whose index rows were lost (a corrupt index file) is rebuilt from its own records
    for rid in _run_ids_on_disk(layout) - rows.keys():
        st = state.load(layout, rid)
        if st is not None:
            state.resolve_liveness(layout, st)
            out.append(state.summary_row(st, metric_files.last_values(layout, rid)))
    return out


def _run_ids_on_disk(layout: Layout) -> set[str]:
    try:
        with os.scandir(layout.runs_dir) as entries:
            return {e.name for e in entries if RUN_ID_RE.match(e.name) and e.is_dir()}
    except FileNotFoundError:
        return set()


def runs(
    layout: Layout,
    experiment: str | Iterable[str] | None = None,
    where: str | None = None,
    tags: str | Iterable[str] | None = None,
    status: str | Iterable[str] | None = None,
    include_archived: bool = False,
    sort: str | None = None,
    descending: bool | None = None,
):
    """One row per run; see ``nbtrack.runs``."""

    rows = current_rows(layout)
    wanted_exp = _as_set(experiment)
    wanted_status = _as_set(status)
    wanted_tags = _as_set(tags.split(",") if isinstance(tags, str) else tags)
    if wanted_tags is not None:
        wanted_tags = {t.strip() for t in wanted_tags if t.strip()}
    hidden_exps = set() if include_archived else experiments_mod.archived(layout)
    selected = [
        r
        for r in rows
        if (wanted_exp is None or r.get("experiment") in wanted_exp)
        and (wanted_status is None or r.get("status") in wanted_status)
        and (wanted_tags is None or wanted_tags <= set(r.get("tags") or ()))
        and (include_archived or (not r.get("archived") and r.get("experiment") not in hidden_exps))
    ]
    frame = _frame(selected)
    if where:
        frame = frame.filter(compile_filter(where, dict(frame.schema)))
    if sort is None:
        return frame.sort("started", descending=True if descending is None else descending,
                          nulls_last=True)
    column = resolve_field(sort, dict(frame.schema), sort, 0)
    return frame.sort(column, descending=bool(descending), nulls_last=True)


def _as_set(value) -> set | None:
    if value is None:
        return None
    if isinstance(value, str):
        return {value}
    return set(value)


def _frame(rows: list[dict]):
    import polars as pl

    now = _now()
    base: dict[str, list] = {c: [] for c in BASE_COLUMNS}
    for r in rows:
        dur = state.duration_s(r, now)
        rate = r.get("cost_per_hour")
        extra = r.get("extra") or {}
        base["run_id"].append(r["run_id"])
        base["name"].append(r.get("name"))
        base["experiment"].append(r.get("experiment"))
        base["status"].append(r.get("status"))
        base["started"].append(_us(r.get("started")))
        base["ended"].append(_us(r.get("ended")))
        base["duration_s"].append(dur)
        base["user"].append(r.get("user"))
        base["host"].append(r.get("host"))
        base["tags"].append(list(r.get("tags") or []))
        base["archived"].append(bool(r.get("archived")))
        base["cost"].append(rate * dur / 3600.0 if rate is not None and dur is not None else None)
        base["parent_run_id"].append(extra.get("parent_run_id"))
    dt = pl.Datetime("us", "UTC")
    columns = [
        pl.Series("run_id", base["run_id"], pl.String),
        pl.Series("name", base["name"], pl.String),
        pl.Series("experiment", base["experiment"], pl.String),
        pl.Series("status", base["status"], pl.String),
        pl.Series("started", base["started"], pl.Int64).cast(dt),
        pl.Series("ended", base["ended"], pl.Int64).cast(dt),
        pl.Series("duration_s", base["duration_s"], pl.Float64),
        pl.Series("user", base["user"], pl.String),
        pl.Series("host", base["host"], pl.String),
        pl.Series("tags", base["tags"], pl.List(pl.String)),
        pl.Series("archived", base["archived"], pl.Boolean),
        pl.Series("cost", base["cost"], pl.Float64),
        pl.Series("parent_run_id", base["parent_run_id"], pl.String),
    ]
    columns += _wide(rows, "params", lambda r: r.get("params") or {})
    columns += _wide(rows, "metrics", lambda r: r.get("metrics") or {}, numeric=True)
    columns += _wide(rows, "metadata", lambda r: _flat(r.get("metadata") or {}))
    for kind in ("inputs", "outputs"):
        refs = [r.get(kind) or [] for r in rows]
        columns.append(pl.Series(kind, [[x.get("path") for x in v] for v in refs], pl.List(pl.String)))
        columns.append(
            pl.Series(
                kind[:-1] + "_sha256", [[x.get("sha256") for x in v] for v in refs], pl.List(pl.String)
            )
        )
    return pl.DataFrame(columns)


def _now() -> float:
    import time

    return time.time()


def _us(t: float | None) -> int | None:
    return None if t is None else int(round(t * 1_000_000))


def _flat(nested: dict, prefix: str = "") -> dict:
    out: dict = {}
    for key, value in nested.items():
        if isinstance(value, dict) and value:
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _wide(rows: list[dict], prefix: str, get, numeric: bool = False) -> list:
    """One column per key, typed by what the rows hold: all bool -> Boolean,
    all int -> Int64, numbers -> Float64, otherwise text (JSON for non-strings)."""
    import polars as pl

    dicts = [get(r) for r in rows]
    keys = sorted({k for d in dicts for k in d})
    columns = []
    for key in keys:
        values = [d.get(key) for d in dicts]
        name = f"{prefix}.{key}"
        if numeric:
            columns.append(pl.Series(name, [_num(v) for v in values], pl.Float64))
            continue
        kinds = {type(v) for v in values if v is not None}
        if kinds <= {bool}:
            dtype = pl.Boolean
        elif kinds <= {int} and all(v is None or -(2**63) <= v < 2**63 for v in values):
            dtype = pl.Int64
        elif kinds <= {int, float}:
            dtype = pl.Float64
            values = [None if v is None else float(v) for v in values]
        else:
            dtype = pl.String
            values = [v if v is None or isinstance(v, str) else json.dumps(v) for v in values]
        columns.append(pl.Series(name, values, dtype))
    return columns


def _num(v) -> float | None:
    if v is None:
        return None
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


def _stored_json(layout: Layout, sha256: str) -> dict | None:
    from ..store import objects

    try:
        return json.loads(objects.read_bytes(layout, sha256))
    except (OSError, ValueError):
        return None


def get_run(layout: Layout, ref: object, with_metrics: bool = True) -> dict:
    """The whole run log as one JSON-able dict."""
    run_id = resolve(layout, ref)
    st = state.load(layout, run_id)
    if st is None:
        raise RunNotFoundError(f"run {run_id} has no readable records in {layout.root}")
    state.resolve_liveness(layout, st)
    dur = state.duration_s(st)
    log = dict(st)
    log["duration_s"] = dur
    log["cost"] = state.cost(st)
    for key in ("started", "ended"):
        log[key] = state.iso(st.get(key))
    for item in log["status_history"]:
        item["time"] = state.iso(item.pop("t", None))
    for key in ("notes", "param_history"):
        for item in log[key]:
            item["time"] = state.iso(item.pop("t", None))
    log["timings"] = {"started": log["started"], "ended": log["ended"], "duration_s": dur}
    log["store"] = os.fspath(layout.root)
    if log.get("env_sha256"):
        log["env"] = _stored_json(layout, log["env_sha256"])
    if with_metrics:
        log["metrics"] = metrics_mod.series(layout, run_id)
    return log
