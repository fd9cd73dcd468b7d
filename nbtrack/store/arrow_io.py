"""Reading and writing whole Arrow IPC files; pyarrow is imported here, lazily.

Shared by metric segments, the run index and kernel sessions: validated reads
that turn a torn or corrupt file into a warning (the checksum in its name first,
then the Arrow structure), and streamed atomic writes, named with their CRC-32,
whose footer can name the files a compaction replaced.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Iterable
from pathlib import Path

from ..errors import CorruptFileWarning
from . import atomic, checksum

REPLACES_KEY = b"nbtrack.replaces"
KEY_ROWS_KEY = b"nbtrack.key_rows"  # a run's merged metrics grouped by key: where each key's rows are
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
    """Read a file fully, checking its sum and every buffer; None (and a warning) if it
    is corrupt, None silently if it vanished (a compaction removed it after listing)."""
    arrow = pa()
    try:
        checksum.check(path)
        if isinstance(path, Path):
            with arrow.memory_map(str(path)) as source:
                table = arrow.ipc.open_file(source).read_all()
        else:  # an object store: the bytes fetched for the checksum
            table = arrow.ipc.open_file(arrow.py_buffer(checksum.fetched(path))).read_all()
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
    """Names of the files a compact file says it replaced (read from its footer without
    pyarrow: a reader that lists a folder should not have to import it)."""
    from .ipc_footer import schema_metadata

    try:
        meta = schema_metadata(path)
    except (OSError, ValueError):
        return set()
    raw = meta.get(REPLACES_KEY, b"")
    return set(raw.decode().split("\n")) if raw else set()


def with_replaces(schema, inputs: Iterable[Path], extra: dict | None = None):
    return schema.with_metadata({REPLACES_KEY: "\n".join(p.name for p in inputs).encode(), **(extra or {})})


def key_rows(path: Path) -> dict[str, tuple[int, int]] | None:
    """A key-grouped metrics file's ``{key: (first row, end row)}`` (its footer, read
    without pyarrow), or None when the file is in log order."""
    import json

    from .ipc_footer import schema_metadata

    try:
        raw = schema_metadata(path).get(KEY_ROWS_KEY)
        return {k: (int(a), int(b)) for k, (a, b) in json.loads(raw).items()} if raw else None
    except (OSError, ValueError, TypeError):
        return None


def _sink(path: Path):
    """The file a new Arrow file is streamed into (fault-injection tests replace it)."""
    return pa().OSFile(str(path), "wb")


def write_batches(path: Path, schema, batches: Iterable, level: int = 1) -> Path:
    """Stream record batches into a new file, atomically; returns its final path:
    ``path`` with the file's CRC-32 in the name."""
    arrow = pa()
    # one thread: Arrow's pool threads would each keep their own allocator arenas,
    # and a long logging loop's RSS would grow with every flush
    options = arrow.ipc.IpcWriteOptions(
        compression=arrow.Codec("zstd", compression_level=level), use_threads=False
    )
    remote = not isinstance(path, Path)
    if remote:  # an object store: streamed to a local temporary, then one write-once put
        tmp = atomic.local_temp(path)
    else:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = atomic.temp_path(path)
    try:
        with _sink(tmp) as sink, arrow.ipc.new_file(sink, schema, options=options) as writer:
            for batch in batches:
                writer.write(batch)
        if remote:
            return atomic.upload(tmp, path, checksum=True)
        return atomic.commit(tmp, path, checksum=True)
    except BaseException:
        try:
            tmp.unlink()
        except FileNotFoundError:
            pass
        raise


def live_files(files: list[Path]) -> list[Path]:
    """Drop files that a compact file in the same list says it replaced.

    Only reads footers when something could be stale: the usual folder after a
    compaction holds one compact file and nothing else. A compact file is trusted
    only when its checksum holds: if it is corrupt, the files it replaced (still
    there after a crash between its commit and their deletion) are read instead.
    """
    from .layout import is_compact

    compacts = [p for p in files if is_compact(p)]
    if not compacts or len(files) == 1:
        return files
    replaced: set[str] = set()
    for path in compacts:
        try:
            if checksum.mismatch(path) is not None:
                continue
        except FileNotFoundError:
            continue
        replaced |= replaced_by(path)
    return [p for p in files if p.name not in replaced]


def shadowed(inputs: list[Path], folder_files: list[Path]) -> list[Path]:
    """Files of the folder that compact files among ``inputs`` replaced but that are still
    there (a crash between a merge's commit and its deletes). A new merge of those compact
    files must replace them too, or they would count again once the old compact is gone."""
    from .layout import is_compact

    replaced: set[str] = set()
    for path in inputs:
        if is_compact(path):
            replaced |= replaced_by(path)
    taken = {p.name for p in inputs}
    return [p for p in folder_files if p.name in replaced and p.name not in taken]


def verified(files: list[Path]) -> list[Path]:
    """The files whose bytes match the checksum in their name (version-1 files, which
    carry none, pass); the others are warned about, and vanished ones left out."""
    good = []
    if files and not isinstance(files[0], Path):  # an object store: all requests at once
        from .objectstore import prefetch

        prefetch(files)
    for path in files:
        try:
            why = checksum.mismatch(path)
        except FileNotFoundError:
            continue
        except OSError as exc:
            warn_corrupt(path, exc)
            continue
        if why is None:
            good.append(path)
        else:
            warn_corrupt(path, checksum.ChecksumMismatch(why))
    return good
