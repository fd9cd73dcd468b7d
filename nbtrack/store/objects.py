"""Content-addressed storage: every artifact and input is kept once, by sha256.

``objects/sha256/ab/cdef...`` holds the bytes of content ``abcdef...``. Files
are hashed streaming (1 MiB at a time, never whole in memory) and a
``(path, size, mtime, inode)`` cache skips re-hashing a file seen unchanged.
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path
from typing import NamedTuple

from .atomic import atomic_output
from .layout import Layout

CHUNK = 1 << 20


class FileDigest(NamedTuple):
    path: str
    size: int
    sha256: str
    mtime: float


_cache: dict[str, tuple[tuple[int, int, int], str]] = {}
_cache_lock = threading.Lock()


def _stat_key(st: os.stat_result) -> tuple[int, int, int]:
    return (st.st_size, st.st_mtime_ns, st.st_ino)


def hash_file(path: str | os.PathLike) -> FileDigest:
    """sha256 of a file's content, from the cache when size/mtime/inode are unchanged."""
    p = Path(path)
    st = p.stat()
    key = str(p.absolute())
    with _cache_lock:
        hit = _cache.get(key)
    if hit is not None and hit[0] == _stat_key(st):
        return FileDigest(key, st.st_size, hit[1], st.st_mtime)
    h = hashlib.sha256()
    with open(p, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    digest = h.hexdigest()
    _remember(key, st, digest)
    return FileDigest(key, st.st_size, digest, st.st_mtime)


def _remember(key: str, st: os.stat_result, digest: str) -> None:
    with _cache_lock:
        _cache[key] = (_stat_key(st), digest)


def has_object(layout: Layout, sha256: str) -> bool:
    return layout.object_path(sha256).is_file()


def put_bytes(layout: Layout, data: bytes) -> str:
    """Store a blob (an environment snapshot, a command's output) once; its sha256."""
    digest = hashlib.sha256(data).hexdigest()
    final = layout.object_path(digest)
    if not final.exists():
        from .atomic import write_bytes_atomic

        write_bytes_atomic(final, data)
    return digest


def read_bytes(layout: Layout, sha256: str) -> bytes:
    return layout.object_path(sha256).read_bytes()


def copy_to(layout: Layout, sha256: str, dest: str | os.PathLike) -> None:
    """Write the content ``sha256`` to the local file ``dest`` (streamed from a local store;
    FileNotFoundError when the store holds no such object)."""
    source = layout.object_path(sha256)  # refuses anything but a sha256 hex digest
    if not isinstance(source, Path):
        Path(dest).write_bytes(source.read_bytes())
        return
    import shutil

    shutil.copyfile(source, dest)


def read_head(layout: Layout, sha256: str, limit: int) -> tuple[bytes, int]:
    """Up to ``limit`` first bytes of an object and its whole size (OSError when absent)."""
    path = layout.object_path(sha256)  # refuses anything but a sha256 hex digest
    if not isinstance(path, Path):
        size = path.stat().st_size
        return path.backend.get_range(path.key, 0, min(limit, size)) if size else b"", size
    with open(path, "rb") as f:
        size = f.seek(0, 2)
        f.seek(0)
        return f.read(limit), size


def put_file(layout: Layout, path: str | os.PathLike) -> FileDigest:
    """Store a file's content (once) and return its digest.

    When the content is new the file is read once: hashed while it is copied to
    a temporary object, which is renamed to its hash (or dropped if another
    process stored the same content meanwhile).
    """
    p = Path(path)
    st = p.stat()
    key = str(p.absolute())
    with _cache_lock:
        hit = _cache.get(key)
    if hit is not None and hit[0] == _stat_key(st) and has_object(layout, hit[1]):
        return FileDigest(key, st.st_size, hit[1], st.st_mtime)
    if layout.remote:  # hashed where it lies, then uploaded once (in parts when big)
        digest = hash_file(p)
        final = layout.object_path(digest.sha256)
        if not final.is_file():
            final.backend.put_file(final.key, p)
        return digest
    staging = layout.objects_dir / "staging" / f"{os.getpid()}-{threading.get_ident()}"
    h = hashlib.sha256()
    with atomic_output(staging) as tmp:
        with open(p, "rb") as src, open(tmp, "wb") as dst:
            while chunk := src.read(CHUNK):
                h.update(chunk)
                dst.write(chunk)
    digest = h.hexdigest()
    final = layout.object_path(digest)
    if final.exists():
        staging.unlink()
    else:
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staging, final)
    _remember(key, st, digest)
    return FileDigest(key, st.st_size, digest, st.st_mtime)
