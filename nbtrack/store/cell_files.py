"""Kernel session history: every executed cell, as Arrow IPC files.

``sessions/<session_id>/session.json`` describes the kernel (host, pid, notebook
path, start time); ``sessions/<session_id>/cells/<seg>.arrow`` hold one row per
executed cell, including the cells run before ``%load_ext nbtrack`` (recovered
from IPython's input history, with ``before_load`` true and no timings)::

    session_id       string
    execution_count  int64
    cell_id          string      the notebook cell's id when the frontend sends it
    source           large_string  exactly as executed
    sha256           string      of ``source`` (UTF-8)
    started, ended   timestamp[us, UTC]
    ok               bool        null when unknown (before_load)
    error_type       string
    error_message    string
    bound            list<string>  global names the cell bound or rebound (observed)
    deleted          list<string>  global names the cell removed (observed)
    run_ids          list<string>  runs active while it ran
    before_load      bool
"""

from __future__ import annotations

from pathlib import Path

from . import arrow_arrays as arrays
from .arrow_io import pa, read_table, write_batches
from .atomic import WRITER, write_json_atomic
from .layout import Layout, visible_files

SESSIONS = "sessions"
FIELDS = (
    "session_id", "execution_count", "cell_id", "source", "sha256", "started", "ended", "ok",
    "error_type", "error_message", "bound", "deleted", "run_ids", "before_load",
)


def schema():
    arrow = pa()
    ts = arrow.timestamp("us", tz="UTC")
    names = arrow.list_(arrow.string())
    return arrow.schema(
        [
            ("session_id", arrow.string()),
            ("execution_count", arrow.int64()),
            ("cell_id", arrow.string()),
            ("source", arrow.large_string()),
            ("sha256", arrow.string()),
            ("started", ts),
            ("ended", ts),
            ("ok", arrow.bool_()),
            ("error_type", arrow.string()),
            ("error_message", arrow.string()),
            ("bound", names),
            ("deleted", names),
            ("run_ids", names),
            ("before_load", arrow.bool_()),
        ]
    )


def session_dir(layout: Layout, session_id: str) -> Path:
    from .layout import check_run_id

    return layout.root / SESSIONS / check_run_id(session_id)


def write_session_info(layout: Layout, session_id: str, info: dict) -> Path:
    return write_json_atomic(session_dir(layout, session_id) / "session.json", info)


def write_cells(layout: Layout, session_id: str, rows: list[dict]) -> Path | None:
    """Append cell rows (dicts with FIELDS; times as epoch seconds) as one new file."""
    if not rows:
        return None
    arrow = pa()
    columns = {name: [] for name in FIELDS}
    for row in rows:
        for name in FIELDS:
            value = row.get(name)
            if name in ("started", "ended") and value is not None:
                value = int(round(value * 1_000_000))
            columns[name].append(value)
    sch = schema()
    built = []  # from buffers: pa.array() of Python values would import pandas
    for field in sch:
        values = columns[field.name]
        if field.name in ("started", "ended"):
            built.append(arrays.int64s(values).cast(field.type))
        elif field.type == arrow.int64():
            built.append(arrays.int64s(values))
        elif field.type == arrow.bool_():
            built.append(arrays.bools(values))
        elif field.type in (arrow.string(), arrow.large_string()):
            built.append(arrays.strings(values, large=field.type == arrow.large_string()))
        else:  # list<string>
            built.append(arrays.lists(values))
    batch = arrow.record_batch(built, schema=sch)
    path = session_dir(layout, session_id) / "cells" / WRITER.segment_name(".arrow")
    return write_batches(path, sch, [batch])


def read_cells(layout: Layout, session_id: str) -> list[dict]:
    """Every recorded cell of a session in execution order (times as epoch seconds)."""
    rows: list[dict] = []
    for path in visible_files(session_dir(layout, session_id) / "cells", ".arrow"):
        table = read_table(path, schema())
        if table is None:
            continue
        arrow = pa()
        for key in ("started", "ended"):  # as integers: datetimes would import pandas
            table = table.set_column(table.schema.get_field_index(key), key,
                                     table.column(key).cast(arrow.int64()))
        for row in table.to_pylist():
            for key in ("started", "ended"):
                if row[key] is not None:
                    row[key] = row[key] / 1_000_000
            rows.append(row)
    # before-load rows carry no time; order by count, keeping re-executions in time order
    rows.sort(key=lambda r: (r["started"] is not None, r["started"] or 0, r["execution_count"]))
    return rows


def read_session_info(layout: Layout, session_id: str) -> dict | None:
    from .records import read_file

    found = read_file(session_dir(layout, session_id) / "session.json")
    return found[0] if found else None
