"""``runs()`` and ``get_run()``: the store as a polars frame and as one run's log."""

from __future__ import annotations

import json
from collections.abc import Iterable

from ..errors import RunNotFoundError
from ..store import files, state
from ..store.atomic import read_claim
from ..store.layout import RUN_ID_RE, Layout, check_friendly_name, name_file
from . import experiments as experiments_mod
from . import metrics as metrics_mod
from . import summaries
from .filters import compile_filter, resolve_field


def resolve(layout: Layout, ref: object) -> str:
    """A run id from an id, a friendly name, a Run, or a row/dict holding ``run_id``."""
    __tracebackhide__ = True  # noqa: F841 - IPython hides this frame
    if hasattr(ref, "id") and isinstance(ref.id, str):
        ref = ref.id
    elif isinstance(ref, dict) and "run_id" in ref:
        ref = ref["run_id"]
    if not isinstance(ref, str):
        raise RunNotFoundError(f"expected a run id or name, got {type(ref).__name__}")
    if RUN_ID_RE.match(ref) and files.is_folder(layout.run_dir(ref)):
        return ref
    try:
        run_id = read_claim(layout.names_dir / name_file(check_friendly_name(ref))) or ""
    except (OSError, ValueError):
        run_id = ""
    if RUN_ID_RE.match(run_id) and files.is_folder(layout.run_dir(run_id)):
        return run_id
    raise RunNotFoundError(f"no run {ref!r} in the store at {layout.root}")


def current_rows(layout: Layout) -> list[dict]:
    """Every run's summary row as a dict, with running runs refreshed from their records
    and runs whose process died marked ``crashed``."""
    rows = summaries.latest_rows(layout)
    out = []
    for rid, row in rows.items():
        if row.get("status") == "running":
            row = summaries.refreshed_row(layout, rid) or row
        out.append(row)
    # a run whose index rows were lost (a corrupt index file) is rebuilt from its own records
    for rid in summaries._run_ids_on_disk(layout) - rows.keys():
        row = summaries.refreshed_row(layout, rid)
        if row is not None:
            out.append(row)
    return out


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
    __tracebackhide__ = True  # noqa: F841 - IPython hides this frame
    latest = _selected(layout, experiment, tags, status, include_archived)
    frame = summaries.table(latest)
    if where:
        frame = frame.filter(compile_filter(where, dict(frame.schema)))
    if sort is None:
        return frame.sort("started", descending=True if descending is None else descending,
                          nulls_last=True)
    column = resolve_field(sort, dict(frame.schema), sort, 0)
    return frame.sort(column, descending=bool(descending), nulls_last=True)


def run_ids(layout: Layout, keys: list[str] | None = None) -> list[str]:
    """The ids ``runs(layout)`` lists, in its order, without building its wide table
    (``metrics()`` with no runs given needs only these). With ``keys``, only runs whose
    index row names one of them (their files are not even opened) and running ones."""
    import polars as pl

    latest = _selected(layout, None, None, None, False)
    if keys is not None:
        named = pl.col("metric_keys").list.eval(pl.element().is_in(list(keys))).list.any()
        latest = latest.filter(named.fill_null(False) | (pl.col("status") == "running"))
    return latest.sort("started", descending=True, nulls_last=True)["run_id"].to_list()


def _selected(layout: Layout, experiment, tags, status, include_archived: bool):
    """The index rows ``runs`` shows, before ``where``."""
    import polars as pl

    latest = summaries.frame(layout)
    wanted_exp = _as_set(experiment)
    wanted_status = _as_set(status)
    wanted_tags = _as_set(tags.split(",") if isinstance(tags, str) else tags)
    if wanted_tags is not None:
        wanted_tags = {t.strip() for t in wanted_tags if t.strip()}
    if wanted_exp is not None:
        latest = latest.filter(pl.col("experiment").is_in(list(wanted_exp)))
    if wanted_status is not None:
        latest = latest.filter(pl.col("status").is_in(list(wanted_status)))
    for tag in wanted_tags or ():
        latest = latest.filter(pl.col("tags").list.contains(tag))
    if not include_archived:
        hidden = list(experiments_mod.archived(layout))
        latest = latest.filter(~pl.col("archived").fill_null(False))
        if hidden:
            latest = latest.filter(~pl.col("experiment").is_in(hidden))
    return latest


def _as_set(value) -> set | None:
    if value is None:
        return None
    if isinstance(value, str):
        return {value}
    return set(value)


def _stored_json(layout: Layout, sha256: str) -> dict | None:
    from ..store import objects

    try:
        return json.loads(objects.read_bytes(layout, sha256))
    except (OSError, ValueError):
        return None


def get_run(layout: Layout, ref: object, with_metrics: bool = True) -> dict:
    """The whole run log as one JSON-able dict."""
    __tracebackhide__ = True  # noqa: F841 - IPython hides this frame
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
    for key in ("notes", "param_history", "alerts"):
        for item in log.get(key) or ():
            item["time"] = state.iso(item.pop("t", None))
    log["timings"] = {"started": log["started"], "ended": log["ended"], "duration_s": dur}
    log["store"] = str(layout.root)
    if log.get("env_sha256"):
        log["env"] = _stored_json(layout, log["env_sha256"])
    if with_metrics:
        log["metrics"] = metrics_mod.series(layout, run_id)
    return log
