"""What crosses the widget comm: polars frames as Arrow IPC stream bytes, everything else as
JSON that a browser's ``JSON.parse`` accepts (no NaN, no infinities, no datetimes).

Times go out as epoch milliseconds (floats), so JavaScript needs no date parsing and the
panel formats them in the viewer's time zone.
"""

from __future__ import annotations

import io
import math
from datetime import date, datetime


def frame_bytes(frame) -> bytes:
    """``frame`` as uncompressed Arrow IPC stream bytes, datetimes as epoch milliseconds."""
    import polars as pl

    times = [n for n, t in frame.schema.items() if isinstance(t, pl.Datetime)]
    if times:
        frame = frame.with_columns(pl.col(n).dt.epoch("us").cast(pl.Float64) / 1000.0 for n in times)
    buffer = io.BytesIO()
    frame.write_ipc_stream(buffer, compression="uncompressed", compat_level=pl.CompatLevel.oldest())
    return buffer.getvalue()


def jsonable(value):
    """``value`` with non-finite floats as text ("NaN", "inf"), datetimes in ISO 8601, tuples
    and sets as lists, and any other object as its ``str``: safe for a comm message."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value)
