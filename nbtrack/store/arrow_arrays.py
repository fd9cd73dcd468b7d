"""Arrow arrays built from Python values buffer by buffer, so pandas is never imported.

Every pyarrow call that converts Python objects (``pa.array([...])``, ``pa.scalar(x)``,
``pa.table({"a": [1.0]})``, a Python number passed to a compute function) first asks
pyarrow's pandas shim whether the object is a pandas one, and that imports pandas
(~0.2-0.9 s) when it is installed, as it is for most data scientists. Arrays made with
``pa.Array.from_buffers`` from ``array`` buffers ask nothing, so the writers build
every array they need here: offsets, values and validity bitmaps by hand.

>>> strings(["loss", None]).to_pylist()
['loss', None]
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from itertools import accumulate

from .arrow_io import pa


def _bitmap(flags: Sequence[bool]) -> bytes:
    """Arrow's bitmaps: bit i of the buffer (least significant first) is ``flags[i]``."""
    bits = 0
    for i, flag in enumerate(flags):
        if flag:
            bits |= 1 << i
    return bits.to_bytes((len(flags) + 7) // 8 or 1, "little")


def _validity(values: Sequence) -> tuple[bytes | None, int]:
    nulls = sum(v is None for v in values)
    return (_bitmap([v is not None for v in values]) if nulls else None), nulls


def _from_buffers(kind, n: int, buffers: list, nulls: int, children=None):
    arrow = pa()
    buffers = [None if b is None else arrow.py_buffer(b) for b in buffers]
    return arrow.Array.from_buffers(kind, n, buffers, null_count=nulls, children=children)


def float64s(values: Sequence[float | None]):
    """float64 array (None is null)."""
    validity, nulls = _validity(values)
    data = array("d", (0.0 if v is None else float(v) for v in values))
    return _from_buffers(pa().float64(), len(values), [validity, data], nulls)


def int64s(values: Sequence[int | None]):
    validity, nulls = _validity(values)
    data = array("q", (0 if v is None else int(v) for v in values))
    return _from_buffers(pa().int64(), len(values), [validity, data], nulls)


def int32s(values: Sequence[int]):
    return _from_buffers(pa().int32(), len(values), [None, array("i", values)], 0)


def bools(values: Sequence[bool | None]):
    validity, nulls = _validity(values)
    data = _bitmap([bool(v) for v in values])
    return _from_buffers(pa().bool_(), len(values), [validity, data], nulls)


def strings(values: Sequence[str | None], large: bool = False):
    """string (or large_string) array; anything not str or None is written as ``str()``."""
    validity, nulls = _validity(values)
    encoded = [b"" if v is None else (v if isinstance(v, str) else str(v)).encode() for v in values]
    offsets = array("q" if large else "i", accumulate(map(len, encoded), initial=0))
    kind = pa().large_string() if large else pa().string()
    return _from_buffers(kind, len(values), [validity, offsets, b"".join(encoded)], nulls)


def lists(values: Sequence[Sequence | None], child_type: str = "string"):
    """list<string> or list<float64> array (a None list is null)."""
    validity, nulls = _validity(values)
    flat: list = [x for v in values if v is not None for x in v]
    offsets = array("i", accumulate((0 if v is None else len(v) for v in values), initial=0))
    child = strings(flat) if child_type == "string" else float64s(flat)
    arrow = pa()
    return _from_buffers(arrow.list_(child.type), len(values), [validity, offsets], nulls,
                         children=[child])


def constant_large_string(text: str, n: int):
    """``text`` repeated ``n`` times (a run's id on every point of a segment)."""
    arrow = pa()
    one = strings([text], large=True)
    return arrow.repeat(one[0], n) if n else one.slice(0, 0)


def float64_scalar(x: float):
    return float64s([x])[0]


def column(values: Sequence, type_name: str):
    """A column of an index schema type name (``string``, ``int64``, ``float64``, ``bool_``)."""
    if type_name == "string":
        return strings(values)
    if type_name == "int64":
        return int64s(values)
    if type_name == "float64":
        return float64s(values)
    if type_name == "bool_":
        return bools(values)
    raise ValueError(f"no builder for Arrow type {type_name}")
