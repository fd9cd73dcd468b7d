"""Reading and writing whole Arrow IPC files; pyarrow is imported here, lazily.

Shared by metric segments and the run index: validated reads that turn a torn
or corrupt file into a warning, and streamed atomic writes whose footer can name
the files a compaction replaced.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Iterable
from pathlib import Path

from ..errors import CorruptFileWarning
from .atomic import atomic_output

REPLACES_KEY = b"nbtrack.replaces"
_warned: set[str] = set()


def pa():
    import pyarrow
    import pyarrow.ipc  # noqa: F401  (registers pyarrow.ipc)

    return pyarrow


def release_memory() -> None:
    """Give cached free memory back to the OS: the Arrow allocator's, and glibc's (which
    keeps freed multi-megabyte buffers once it has raised its mmap threshold). Called
    after big transient work (a merge, a busy flush), so a long logging loop or a
    merge of a big run does not leave RSS at its high-water mark."""
    import sys

    arrow = sys.modules.get("pyarrow")
    if arrow is not None:
        arrow.default_memory_pool().release_unused()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim():
    try:
        import ctypes

        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


def warn_corrupt(path: Path, exc: BaseException) -> None:
    """Say once per process which file was skipped and why."""
    key = str(path)
    if key in _warned:
        return
    _warned.add(key)
    warnings.warn(
        f"nbtrack: skipped unreadable store file {path} ({type(exc).__name__}: {exc}); "
        "every other file was read",
        CorruptFileWarning,
        stacklevel=3,
    )


def read_table(path: Path, expected_schema=None):
    """Read a file fully, checking every buffer; None (and a warning) if it is corrupt,
    None silently if it vanished (a compaction removed it after listing)."""
    arrow = pa()
    try:
        with arrow.memory_map(str(path)) as source:
            table = arrow.ipc.open_file(source).read_all()
        if expected_schema is not None and not table.schema.equals(expected_schema):
            raise ValueError(f"unexpected schema {table.schema}")
        table.validate(full=True)
        return table
    except FileNotFoundError:
        return None
    except (OSError, ValueError, arrow.ArrowException) as exc:
        warn_corrupt(path, exc)
        return None


def replaced_by(path: Path) -> set[str]:
    """Names of the files a compact file says it replaced."""
    arrow = pa()
    try:
        with arrow.memory_map(str(path)) as source:
            meta = arrow.ipc.open_file(source).schema.metadata or {}
    except (OSError, arrow.ArrowException):
        return set()
    raw = meta.get(REPLACES_KEY, b"")
    return set(raw.decode().split("\n")) if raw else set()


def with_replaces(schema, inputs: Iterable[Path]):
    return schema.with_metadata({REPLACES_KEY: "\n".join(p.name for p in inputs).encode()})


def write_batches(path: Path, schema, batches: Iterable, level: int = 1) -> Path:
    """Stream record batches into a new file at ``path``, atomically."""
    arrow = pa()
    # one thread: Arrow's pool threads would each keep their own allocator arenas,
    # and a long logging loop's RSS would grow with every flush
    options = arrow.ipc.IpcWriteOptions(
        compression=arrow.Codec("zstd", compression_level=level), use_threads=False
    )
    with atomic_output(path) as tmp, arrow.OSFile(str(tmp), "wb") as sink:
        with arrow.ipc.new_file(sink, schema, options=options) as writer:
            for batch in batches:
                writer.write(batch)
    return path


def live_files(files: list[Path]) -> list[Path]:
    """Drop files that a compact file in the same list says it replaced.

    Only reads footers when something could be stale: the usual folder after a
    compaction holds one compact file and nothing else.
    """
    from .layout import is_compact

    compacts = [p for p in files if is_compact(p)]
    if not compacts or len(files) == 1:
        return files
    replaced: set[str] = set()
    for path in compacts:
        replaced |= replaced_by(path)
    return [p for p in files if p.name not in replaced]
