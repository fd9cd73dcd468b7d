"""Atomic file writes and unique segment names: the store's only way of writing.

A file appears under its final name complete or not at all: bytes go to a
``.tmp-`` sibling, are fsynced, renamed over the final name, and the folder is
fsynced. On an object store (``objectstore``) a write is one put of the whole object,
which S3 makes visible complete or not at all, as a conditional create: nothing is
ever overwritten. Record files carry the CRC-32 of their bytes in the final name (see
``checksum``). Each process has its own *writer id*, and every name it writes carries
it, so two processes never write the same file and need no lock.
"""

from __future__ import annotations

import itertools
import json
import os
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .layout import TMP_PREFIX
from .objectstore import RemotePath

_PosixPath = type(Path())  # the local store's paths: the fast path checks this type only

_FSYNC = os.environ.get("NBTRACK_FSYNC", "1") != "0"
# the system calls a write goes through, by name, so fault-injection tests can fail them
_write = os.write
_fsync = os.fsync
_replace = os.replace


class _Writer:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.id = secrets.token_hex(5)
        self._seq = itertools.count()
        self._lock = threading.Lock()

    def segment_name(self, suffix: str, prefix: str = "") -> str:
        """``<prefix><time_ns>-<writer>-<seq><suffix>``: unique, sorted by write time."""
        with self._lock:
            seq = next(self._seq)
        return f"{prefix}{time.time_ns():019d}-{self.id}-{seq:06d}{suffix}"


WRITER = _Writer()
if hasattr(os, "register_at_fork"):  # a forked child is a new writer
    os.register_at_fork(after_in_child=WRITER.reset)


def _fsync_dir(folder: Path) -> None:
    if not _FSYNC:
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        _fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def temp_path(path: Path) -> Path:
    """Where ``path`` is written before it is renamed into place (readers skip it)."""
    return path.with_name(f"{TMP_PREFIX}{WRITER.id}-{path.name}")


def _drop(tmp: Path) -> None:
    try:
        tmp.unlink()
    except FileNotFoundError:
        pass


def write_bytes_atomic(path: Path, data: bytes | memoryview, durable: bool = True,
                       checksum: bool = False) -> Path:
    """Write ``data`` so that ``path`` is either absent or complete; returns the final
    path (with the bytes' CRC-32 in its name when ``checksum``).

    The rename is what keeps readers from seeing half a file when a process dies.
    ``durable`` also fsyncs file and folder, so the bytes survive a power cut;
    small JSON records skip that (a few ms each on ordinary disks) and rely on
    readers skipping a file an OS crash left empty. A failed write (a full disk)
    removes its temporary file and raises.
    """
    if type(path) is not _PosixPath:
        if isinstance(path, RemotePath):  # an object store: one write-once put
            if checksum:
                from .checksum import crc_bytes, with_sum

                path = with_sum(path, crc_bytes(data))
            path.write_once(data)
            return path
        path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            view = memoryview(data)
            while view:
                written = _write(fd, view)
                view = view[written:]
            if _FSYNC and durable:
                _fsync(fd)
        finally:
            os.close(fd)
        if checksum:
            from .checksum import crc_bytes, with_sum

            path = with_sum(path, crc_bytes(data))
        _replace(tmp, path)
    except BaseException:
        _drop(tmp)
        raise
    if durable:
        _fsync_dir(path.parent)
    return path


def commit(tmp: Path, path: Path, checksum: bool = False) -> Path:
    """Publish a finished temporary file: fsync it, name it (with its CRC-32 when
    ``checksum``), rename it into place and fsync the folder; the final path."""
    if _FSYNC:
        fd = os.open(tmp, os.O_RDONLY)
        try:
            _fsync(fd)
        finally:
            os.close(fd)
    if checksum:
        from .checksum import crc_file, with_sum

        path = with_sum(path, crc_file(tmp))  # read back from the page cache
    _replace(tmp, path)
    _fsync_dir(path.parent)
    return path


def upload(tmp: Path, path: RemotePath, checksum: bool = False) -> RemotePath:
    """Publish a finished local temporary file as the write-once object ``path`` (with
    its CRC-32 in the name when ``checksum``), then drop the temporary file."""
    try:
        if checksum:
            from .checksum import crc_file, with_sum

            path = with_sum(path, crc_file(tmp))
        path.backend.put_file(path.key, tmp)
    finally:
        _drop(tmp)
    return path


def local_temp(path: RemotePath) -> Path:
    """Where a file bound for an object store is written first: a local temporary."""
    import tempfile

    return Path(tempfile.gettempdir()) / f"{TMP_PREFIX}{WRITER.id}-{os.getpid()}-{path.name}"


@contextmanager
def atomic_output(path: Path) -> Iterator[Path]:
    """Yield a temporary path to stream a big file into; on success it is fsynced and
    renamed to ``path`` (uploaded, on an object store), on error removed."""
    if isinstance(path, RemotePath):
        tmp = local_temp(path)
        try:
            yield tmp
        except BaseException:
            _drop(tmp)
            raise
        upload(tmp, path)
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path)
    try:
        yield tmp
        commit(tmp, path)
    except BaseException:
        _drop(tmp)
        raise


def _json_default(value: object) -> object:
    """Make the common non-JSON values storable instead of failing a flush."""
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, Path):
        return str(value)
    item = getattr(value, "item", None)  # numpy / torch scalars
    if callable(item):
        try:
            return item()
        except (TypeError, ValueError):
            pass
    iso = getattr(value, "isoformat", None)
    if callable(iso):
        return iso()
    return repr(value)


def dumps(value: object) -> str:
    return json.dumps(value, default=_json_default, ensure_ascii=False, separators=(",", ":"))


def write_json_atomic(path: Path, value: object, durable: bool = False,
                      checksum: bool = False) -> Path:
    return write_bytes_atomic(path, dumps(value).encode(), durable=durable, checksum=checksum)


def read_claim(path: Path) -> str | None:
    """What a claim made by :func:`claim_file` holds, stripped; None when there is none.
    On a local store the claim's content lands just after its creation: "" meanwhile."""
    try:
        return path.read_text().strip()
    except (FileNotFoundError, NotADirectoryError):
        return None


def claim_file(path: Path, content: str) -> bool:
    """Create ``path`` only if nobody has; True when this call created it.

    ``O_EXCL`` makes the claim atomic across processes on one filesystem; on an object
    store it is a conditional create (``If-None-Match: *``), atomic across machines.
    """
    if isinstance(path, RemotePath):
        return path.create(content.encode())
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return False
    try:
        os.write(fd, content.encode())
    finally:
        os.close(fd)
    return True
