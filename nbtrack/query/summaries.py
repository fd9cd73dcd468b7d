"""The run index as one polars frame, and ``runs()``'s wide table built from it.

Compact index files load straight into polars; only the few small JSON rows,
running runs (refreshed from their own records, or marked crashed) and runs
missing from the index are built in Python. Params, last metric values and
metadata arrive as key/value lists and are pivoted into ``params.<key>`` ...
columns, each typed by what its values hold: all booleans -> Boolean, all
integers -> Int64, numbers -> Float64, otherwise text.
"""

from __future__ import annotations

import time

from ..store import index, state
from ..store.layout import Layout, run_ids

NUMBER = r"^-?(\d+\.?\d*([eE][-+]?\d+)?|\.\d+([eE][-+]?\d+)?|NaN|Infinity)$|^-Infinity$"


def _run_ids_on_disk(layout: Layout) -> set[str]:
    return set(run_ids(layout))


def refreshed_row(layout: Layout, run_id: str) -> dict | None:
    """A run's summary from its own records: live for a running run, ``crashed`` for one
    whose process died, and the way back for a run whose index rows were lost."""
    st = state.load(layout, run_id)
    if st is None:
        return None
    state.resolve_liveness(layout, st)
    return state.summary_row(st, last_values(layout, run_id))


def last_values(layout: Layout, run_id: str) -> dict[str, float]:
    """Each metric's last value (at its highest step, the latest logged on ties), as
    ``metric_files.last_values`` gives it, read by polars: no pyarrow for a reader."""
    import polars as pl

    from . import metrics

    points = metrics.read(layout, [run_id])
    if points.is_empty():
        return {}
    last = points.with_row_index("_order").group_by("key").agg(
        pl.col("value").sort_by("step", "_order").last()
    )
    return dict(zip(last["key"].to_list(), last["value"].to_list(), strict=True))


def _rows_frame(rows: list[dict]):
    """Index rows as a polars frame with the compact files' schema, built by polars."""
    import polars as pl

    kinds = {"string": pl.String, "int64": pl.Int64, "float64": pl.Float64, "bool_": pl.Boolean}
    schema = {name: kinds[kind] for name, kind in index.SCALAR_FIELDS.items()}
    schema |= {name: pl.List(pl.String) for name in index.STRING_LISTS}
    schema |= {name: pl.List(pl.Float64) for name in index.FLOAT_LISTS}
    schema |= {name: pl.String for name in index.JSON_FIELDS}
    return pl.DataFrame(index.rows_to_columns(rows), schema=schema)


def _read_compact(path):
    """A compact index file read by polars from the very bytes its checksum was checked
    on; None (with a warning) when it is corrupt or vanished."""
    import io

    import polars as pl

    from ..store import checksum
    from ..store.arrow_io import warn_corrupt

    try:
        return pl.read_ipc(io.BytesIO(checksum.read_checked(path)))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, pl.exceptions.PolarsError, pl.exceptions.PanicException) as exc:
        warn_corrupt(path, exc)
        return None


def latest_rows(layout: Layout) -> dict[str, dict]:
    """``index.read_rows`` read by polars: the latest summary row of every run, as dicts
    (nested values decoded from their JSON text)."""
    import json

    compacts, small = index.sources(layout)
    latest: dict[str, dict] = {}
    columns = [*index.SCALAR_FIELDS, "tags", *index.JSON_FIELDS]
    for part in map(_read_compact, compacts):
        if part is None:
            continue
        rows = part.select(columns).to_dicts()
        for row in rows:
            for key in index.JSON_FIELDS:
                text = row.get(key)
                row[key] = json.loads(text) if text else None
        index.keep_latest(rows, latest)
    index.keep_latest(small, latest)
    return latest


def frame(layout: Layout):
    """The latest summary row of every run (index schema), running runs refreshed.

    Read by polars alone (no pyarrow, whose import cost a first ``runs()`` 0.1-0.4 s)."""
    import polars as pl

    compacts, small = index.sources(layout)
    parts = [part for part in map(_read_compact, compacts) if part is not None]
    if small:
        parts.append(_rows_frame(small))
    empty = _rows_frame([])
    latest = (
        pl.concat(parts, how="vertical_relaxed").sort("rev").unique("run_id", keep="last")
        if parts else empty
    )
    fresh = []
    for run_id in latest.filter(pl.col("status") == "running")["run_id"].to_list():
        fresh.append(refreshed_row(layout, run_id))
    on_disk = _run_ids_on_disk(layout)
    listed = set(latest["run_id"].to_list())
    for run_id in on_disk - listed:
        fresh.append(refreshed_row(layout, run_id))
    for run_id in sorted(listed - on_disk):  # its folder went: say so, do not vouch for it
        from ..store.arrow_io import warn_corrupt

        warn_corrupt(layout.run_dir(run_id), FileNotFoundError(
            "the run's folder (events, metrics) is gone; it is listed from the index alone"))
    fresh = [r for r in fresh if r is not None]
    if fresh:
        big = time.time_ns()
        patch = _rows_frame([dict(r, rev=big) for r in fresh])
        latest = pl.concat([latest, patch], how="vertical_relaxed").unique(
            "run_id", keep="last", maintain_order=True
        )
    return latest


def _typed(series):
    """A column of JSON texts, typed by what all its values are."""
    import polars as pl

    values = series.drop_nulls()
    if values.len() == 0:
        return series.cast(pl.String)
    if values.is_in(["true", "false"]).all():
        return series == "true"
    if values.str.contains(r"^-?\d{1,18}$").all():
        return series.cast(pl.Int64)
    if values.str.contains(NUMBER).all():
        return series.str.replace("Infinity", "inf").cast(pl.Float64)
    quoted = series.str.starts_with('"').fill_null(False)
    strings = pl.select(pl.when(quoted).then(series)).to_series().str.json_decode(pl.String)
    return strings.zip_with(quoted, series).alias(series.name)  # other JSON stays as text


def _wide(latest, keys: str, values: str, prefix: str, numeric: bool):
    import polars as pl

    long = latest.select("run_id", keys, values).explode(keys, values).drop_nulls(keys)
    if long.is_empty():
        return None
    # user keys are prefixed before the pivot: a key named like one of nbtrack's own
    # columns (``run_id``, the pivot's index) can never collide with it
    long = long.with_columns(pl.concat_str(pl.lit(f"{prefix}."), pl.col(keys)).alias(keys))
    wide = long.unique(["run_id", keys], keep="last").pivot(
        on=keys, index="run_id", values=values
    )
    names = sorted(c for c in wide.columns if c != "run_id")
    columns = [wide["run_id"]]
    for name in names:
        columns.append(wide[name] if numeric else _typed(wide[name]))
    return pl.DataFrame(columns)


def table(latest, now: float | None = None):
    """``runs()``'s columns from index rows (already filtered)."""
    import polars as pl

    now = time.time() if now is None else now
    dt = pl.Datetime("us", "UTC")
    end = pl.when(pl.col("status") == "running").then(pl.lit(now)).otherwise(pl.col("ended"))
    duration = (end - pl.col("started")).clip(lower_bound=0.0)
    out = latest.select(
        "run_id", "name", "experiment", "status",
        (pl.col("started") * 1e6).round().cast(pl.Int64).cast(dt).alias("started"),
        (pl.col("ended") * 1e6).round().cast(pl.Int64).cast(dt).alias("ended"),
        duration.alias("duration_s"),
        "user", "host", "tags", "archived",
        (pl.col("cost_per_hour") * duration / 3600.0).alias("cost"),
        pl.col("extra").str.json_path_match("$.parent_run_id").alias("parent_run_id"),
        pl.col("extra").str.json_path_match("$.notes").alias("notes"),
        # trials of a sweep (nbtrack.sweeps) and alert firings (nbtrack.alerts)
        pl.col("extra").str.json_path_match("$.sweep.id").alias("sweep_id"),
        pl.col("extra").str.json_path_match("$.sweep.trial").cast(pl.Int64).alias("sweep_trial"),
        pl.col("extra").str.json_path_match("$.alerts").cast(pl.Int64).fill_null(0)
        .alias("alerts"),
        pl.col("inputs_path").alias("inputs"),
        pl.col("inputs_sha256").alias("input_sha256"),
        pl.col("outputs_path").alias("outputs"),
        pl.col("outputs_sha256").alias("output_sha256"),
    )
    tail = ["inputs", "input_sha256", "outputs", "output_sha256"]
    base = out.drop(tail)
    for keys, values, prefix, numeric in (
        ("param_keys", "param_values", "params", False),
        ("metric_keys", "metric_values", "metrics", True),
        ("meta_keys", "meta_values", "metadata", False),
    ):
        wide = _wide(latest, keys, values, prefix, numeric)
        if wide is not None:
            base = base.join(wide, on="run_id", how="left", maintain_order="left")
    return pl.concat([base, out.select(tail)], how="horizontal")
