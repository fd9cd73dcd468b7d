"""Checksums in file names: every record file says what its bytes hash to.

A file written with a checksum is named ``<name>.crc32-<8 hex><ext>`` (the zlib
CRC-32 of the whole file, as IEEE 802.3 / ``zlib.crc32`` computes it), so any tool
can check a file with one line of its standard library, and polars and pyarrow read
the file as they always did. The sum is taken over the bytes as written, before the
rename that publishes the file, and readers recompute it before they trust one byte:
Arrow IPC has no checksums of its own, and zstd stores a buffer raw when compressing
does not shrink it, so a flipped bit would otherwise read back as a wrong number.

Files are immutable, so a file that checked out once in this process is not hashed
again while its size, mtime and inode stay the same. Files without a sum in their
name (written by format version 1) are read as before, checked for structure only.
"""

from __future__ import annotations

import os
import re
import threading
import zlib
from pathlib import Path

SUM_RE = re.compile(r"\.crc32-([0-9a-f]{8})(\.[A-Za-z0-9]+)$")
CHUNK = 1 << 20
_CACHE_MAX = 500_000

_ok: dict[str, tuple[int, int, int]] = {}
_lock = threading.Lock()


class ChecksumMismatch(ValueError):
    """A file's bytes do not hash to the sum its name carries."""


def crc_bytes(data) -> int:
    return zlib.crc32(data) & 0xFFFFFFFF


def crc_file(path: Path) -> int:
    crc = 0
    with open(path, "rb", buffering=0) as f:
        while chunk := f.read(CHUNK):
            crc = zlib.crc32(chunk, crc)
    return crc & 0xFFFFFFFF


def with_sum(path: Path, crc: int) -> Path:
    """``a/b.arrow`` -> ``a/b.crc32-0a1b2c3d.arrow``."""
    stem, dot, ext = path.name.rpartition(".")
    if not dot:
        return path.with_name(f"{path.name}.crc32-{crc:08x}")
    return path.with_name(f"{stem}.crc32-{crc:08x}.{ext}")


def expected(path: Path) -> int | None:
    """The sum a file's name carries, or None (a version-1 file)."""
    found = SUM_RE.search(path.name)
    return int(found.group(1), 16) if found else None


def _key(st: os.stat_result) -> tuple[int, int, int]:
    return (st.st_size, st.st_mtime_ns, st.st_ino)


def mismatch(path: Path, data=None) -> str | None:
    """Why ``path`` does not hold what its name says, or None when it does (or says
    nothing). ``data``: the file's bytes when the caller has read them already.
    Raises ``FileNotFoundError`` when the file vanished (a compaction removed it)."""
    want = expected(path)
    if want is None:
        return None
    if not isinstance(path, Path):  # an object store: objects never change once written
        return _remote_mismatch(path, want, data)
    st = os.stat(path)
    key = str(path)
    with _lock:
        if _ok.get(key) == _key(st):
            return None
    got = crc_bytes(data) if data is not None else crc_file(path)
    if got != want:
        return f"checksum mismatch: the bytes hash to crc32 {got:08x}, the name says {want:08x}"
    with _lock:
        if len(_ok) >= _CACHE_MAX:
            _ok.clear()
        _ok[key] = _key(st)
    return None


_remote_ok: set[str] = set()
_fetched: dict[str, bytes] = {}  # bytes fetched to check a sum, kept for the read that follows
_FETCHED_MAX = 64 << 20


def _remote_mismatch(path, want: int, data) -> str | None:
    key = str(path)
    with _lock:
        if key in _remote_ok:
            return None
    if data is None:
        data = path.read_bytes()  # FileNotFoundError when it vanished
        with _lock:  # the reader asks for these bytes next: one GET, not two
            if sum(map(len, _fetched.values())) + len(data) > _FETCHED_MAX:
                _fetched.clear()
            _fetched[key] = data
    got = crc_bytes(data)
    if got != want:
        return f"checksum mismatch: the bytes hash to crc32 {got:08x}, the name says {want:08x}"
    with _lock:
        if len(_remote_ok) >= _CACHE_MAX:
            _remote_ok.clear()
        _remote_ok.add(key)
    return None


def cached(path) -> bytes | None:
    """The bytes of an object fetched a moment ago to check its sum, if still kept."""
    with _lock:
        return _fetched.get(str(path))


def fetched(path) -> bytes:
    """An object's bytes: those fetched a moment ago to check its sum, else from the store."""
    with _lock:
        data = _fetched.pop(str(path), None)
    return path.read_bytes() if data is None else data


def read_checked(path) -> bytes:
    """A stored file's bytes, checked against the sum its name carries (one read, one GET):
    :class:`ChecksumMismatch` when they differ, ``FileNotFoundError`` when it vanished."""
    data = fetched(path)
    check(path, data)
    return data


def check(path: Path, data=None) -> None:
    """Raise :class:`ChecksumMismatch` unless ``path`` holds what its name says."""
    why = mismatch(path, data)
    if why is not None:
        raise ChecksumMismatch(why)


def forget() -> None:
    """Drop the cache of files checked (tests that damage a file in place use it)."""
    with _lock:
        _ok.clear()
        _remote_ok.clear()
        _fetched.clear()
