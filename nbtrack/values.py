"""How params and metadata values become JSON, keeping the shape people give them.

The rules (also in the README):

- ``None``, ``bool``, ``int``, ``float``, ``str`` stay as they are (subclasses such as
  ``numpy.float64`` become the plain type); an ``Enum`` becomes its value.
- Dicts stay dicts (keys as strings); lists and tuples become lists; sets become
  sorted lists.
- A pydantic model (v2 or v1) becomes the dict it dumps, **by alias**, as the runnable
  seed does; a dataclass or an attrs class becomes the dict of its fields.
- numpy and torch scalars become numbers; arrays and tensors of up to ``MAX_ITEMS``
  items become (nested) lists.
- ``pathlib`` paths become strings, ``datetime`` / ``date`` / ``time`` ISO 8601
  strings, ``timedelta`` seconds, ``Decimal`` a float, ``UUID`` a string.
- Anything else (``object()``, a function, bytes, a big array) raises
  :class:`~nbtrack.errors.ValueTypeError` naming the key: no silent ``repr`` that
  looks like data but is not. Pass ``str(value)`` when text is what you mean.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import enum
from collections.abc import Mapping
from decimal import Decimal
from pathlib import PurePath
from uuid import UUID

from .errors import ValueTypeError

MAX_ITEMS = 1000  # elements of an array/tensor kept as a list; more belongs in an artifact
_PLAIN = (str, int, float, bool)
_NOTHING = object()


def to_json(value: object, where: str = "value") -> object:
    """``value`` as JSON-able data (see the module docstring); ``where`` names it in errors,
    e.g. ``"param 'opt.lr'"``."""
    __tracebackhide__ = True  # noqa: F841 - IPython hides this frame
    if value is None or type(value) in _PLAIN:
        return value
    if isinstance(value, enum.Enum):
        return to_json(value.value, where)
    for plain in (bool, int, float, str):  # numpy.float64, IntEnum-like and str subclasses
        if isinstance(value, plain):
            return plain(value)
    if isinstance(value, Mapping):
        return {str(k): to_json(v, _child(where, k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, (set, frozenset)):
        items = [to_json(v, f"{where} item") for v in value]
        try:
            return sorted(items)  # type: ignore[type-var]
        except TypeError:
            return sorted(items, key=repr)
    simple = _simple(value)
    if simple is not _NOTHING:
        return simple
    fields = _fields(value)
    if fields is not _NOTHING:
        return to_json(fields, where)
    array = _array(value, where)
    if array is not _NOTHING:
        return to_json(array, where)
    raise ValueTypeError(
        f"{where} is {_describe(value)}, which has no JSON form. Log a str, number, bool, None,"
        " list or dict (pydantic models, dataclasses, attrs classes, numpy/torch values, paths"
        " and datetimes are converted), or str(value) if text is what you mean"
    )


def as_mapping(value: object, what: str) -> Mapping:
    """A dict for ``log_params`` / ``log_metadata``: a mapping, or a model/dataclass/attrs
    instance (``nbtrack.log_params(cfg)``)."""
    if isinstance(value, Mapping):
        return value
    fields = _fields(value)
    if isinstance(fields, Mapping):
        return fields
    raise TypeError(
        f"{what} takes a dict (or a pydantic model, dataclass or attrs instance),"
        f" got {type(value).__name__}"
    )


def metadata_json(value: object, what: str = "log_metadata") -> dict:
    """Metadata as a JSON dict, each error naming its key (``metadata 'hardware'``)."""
    __tracebackhide__ = True  # noqa: F841 - IPython hides this frame
    return {str(k): to_json(v, f"metadata {str(k)!r}") for k, v in as_mapping(value, what).items()}


def _child(where: str, key: object) -> str:
    if where.endswith("'") and "'" in where[:-1]:  # "param 'opt'" -> "param 'opt.lr'"
        return f"{where[:-1]}.{key}'"
    return f"{where}[{key!r}]"


def _simple(value: object) -> object:
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return value.isoformat()
    if isinstance(value, _dt.timedelta):
        return value.total_seconds()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, UUID):
        return str(value)
    return _NOTHING


def _fields(value: object) -> object:
    """The dict a structured object stands for: pydantic (by alias), dataclass, attrs."""
    cls = type(value)
    if isinstance(value, type):
        return _NOTHING
    if hasattr(cls, "model_fields") and callable(getattr(value, "model_dump", None)):
        return value.model_dump(by_alias=True)  # pydantic v2
    if hasattr(cls, "__fields__") and callable(getattr(value, "dict", None)) \
            and hasattr(cls, "__config__"):
        return value.dict(by_alias=True)  # pydantic v1 (and pydantic.v1 under v2)
    if dataclasses.is_dataclass(value):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    attrs_fields = getattr(cls, "__attrs_attrs__", None)
    if attrs_fields is not None:
        return {a.name: getattr(value, a.name) for a in attrs_fields}
    return _NOTHING


def _array(value: object, where: str) -> object:
    """numpy/torch (and alike) scalars as numbers, small arrays as lists."""
    if isinstance(value, (bytes, bytearray)):
        return _NOTHING
    shape = getattr(value, "shape", None)
    if shape is not None:
        numel = getattr(value, "numel", None)  # torch: .size() is the shape, numel() counts
        size = numel() if callable(numel) else getattr(value, "size", None)
        if isinstance(size, int):
            if size > MAX_ITEMS:
                raise ValueTypeError(
                    f"{where} is {_describe(value)} of {size:,} items; params and metadata keep"
                    f" arrays of up to {MAX_ITEMS:,}. Save it to a file and log_artifact() it,"
                    " or log a summary"
                )
            method = "item" if len(shape) == 0 else "tolist"  # 0-d: a scalar
            convert = getattr(value, method, None)
            if callable(convert):
                return convert()
    item = getattr(value, "item", None)  # other one-value wrappers
    if callable(item):
        try:
            return item()
        except (TypeError, ValueError, RuntimeError):
            return _NOTHING
    return _NOTHING


def _describe(value: object) -> str:
    cls = type(value)
    module = cls.__module__
    name = cls.__qualname__ if module in ("builtins", "__main__") else f"{module}.{cls.__qualname__}"
    article = "an" if name[:1].lower() in "aeiou" else "a"
    return f"{article} {name} ({value!r:.60})"
