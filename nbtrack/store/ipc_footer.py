"""The schema metadata of an Arrow IPC file, read from its footer without pyarrow.

A compact file lists the files it replaced in its schema metadata
(``nbtrack.replaces``), and a reader must know that list before it scans a folder
that still holds both (a crash between a merge's commit and its deletes). Reading it
with pyarrow cost its import (0.1-0.4 s, numpy included) on the first ``runs()`` or
``metrics()`` of a process that had no other use for pyarrow, so it is read here: the
last bytes of the file are ``<footer> <int32 footer length> ARROW1``, and the footer is
a flatbuffer ``Footer { version, schema: Schema { endianness, fields, custom_metadata:
[KeyValue { key, value }] }, ... }`` (Arrow's ``File.fbs`` and ``Schema.fbs``).
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

MAGIC = b"ARROW1"
_TAIL = 4 + len(MAGIC)
_FOOTER_SCHEMA = 1  # field ids in File.fbs / Schema.fbs
_SCHEMA_METADATA = 2
_KEY, _VALUE = 0, 1


class FooterError(ValueError):
    """The file does not end with a readable Arrow IPC footer."""


def schema_metadata(path: str | os.PathLike) -> dict[bytes, bytes]:
    """The key/value metadata of the file's schema (empty when it has none)."""
    with (open(path, "rb") if isinstance(path, (str, os.PathLike)) else _tail_reader(path)) as f:
        size = f.seek(0, os.SEEK_END)
        if size < len(MAGIC) + 2 + _TAIL:
            raise FooterError(f"{Path(path).name}: too short for an Arrow IPC file")
        f.seek(size - _TAIL)
        tail = f.read(_TAIL)
        if tail[4:] != MAGIC:
            raise FooterError(f"{Path(path).name}: no Arrow IPC footer (torn or not Arrow)")
        (length,) = struct.unpack("<i", tail[:4])
        if not 0 < length <= size - _TAIL - len(MAGIC):
            raise FooterError(f"{Path(path).name}: footer length {length} out of range")
        f.seek(size - _TAIL - length)
        footer = f.read(length)
    try:
        return _metadata(footer)
    except (struct.error, IndexError, ValueError) as exc:
        raise FooterError(f"{Path(path).name}: unreadable footer ({exc})") from None


def _tail_reader(path):
    """An object store's object as a file that reads only the ranges asked for (or the
    bytes fetched a moment ago to check its sum)."""
    import io

    from .checksum import cached

    data = cached(path)
    return io.BytesIO(data) if data is not None else _Ranges(path)


class _Ranges:
    def __init__(self, path):
        self.path, self.size, self.at = path, path.stat().st_size, 0

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        pass

    def seek(self, offset: int, whence: int = 0) -> int:
        self.at = offset if whence == 0 else self.size + offset if whence == 2 else self.at + offset
        return self.at

    def read(self, n: int) -> bytes:
        end = min(self.size, self.at + n)
        data = self.path.backend.get_range(self.path.key, self.at, end) if end > self.at else b""
        self.at = end
        return data


def _metadata(buf: bytes) -> dict[bytes, bytes]:
    root = _u32(buf, 0)
    schema_at = _field(buf, root, _FOOTER_SCHEMA)
    if schema_at is None:
        raise ValueError("footer without a schema")
    schema = _deref(buf, schema_at)
    entries = _field(buf, schema, _SCHEMA_METADATA)
    out: dict[bytes, bytes] = {}
    if entries is None:
        return out
    vector = _deref(buf, entries)
    for k in range(_u32(buf, vector)):
        pair = _deref(buf, vector + 4 + 4 * k)
        key_at, value_at = _field(buf, pair, _KEY), _field(buf, pair, _VALUE)
        if key_at is not None:
            out[_string(buf, key_at)] = _string(buf, value_at) if value_at is not None else b""
    return out


def _u32(buf: bytes, at: int) -> int:
    if at < 0:
        raise ValueError("offset before the buffer")
    return struct.unpack_from("<I", buf, at)[0]


def _deref(buf: bytes, at: int) -> int:
    """Where the offset stored at ``at`` points (offsets are relative to themselves)."""
    return at + _u32(buf, at)


def _field(buf: bytes, table: int, index: int) -> int | None:
    """Position of field ``index`` of the table at ``table``, or None when absent."""
    if table < 0:
        raise ValueError("offset before the buffer")
    vtable = table - struct.unpack_from("<i", buf, table)[0]
    if vtable < 0:
        raise ValueError("offset before the buffer")
    (vtable_len,) = struct.unpack_from("<H", buf, vtable)
    slot = 4 + 2 * index
    if slot + 2 > vtable_len:
        return None
    (offset,) = struct.unpack_from("<H", buf, vtable + slot)
    return table + offset if offset else None


def _string(buf: bytes, at: int) -> bytes:
    start = _deref(buf, at)
    n = _u32(buf, start)
    if start + 4 + n > len(buf):
        raise ValueError("string past the end of the footer")
    return bytes(buf[start + 4:start + 4 + n])
