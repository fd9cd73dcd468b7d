"""The on-disk contract of an nbtrack store, format version 2.

Everything nbtrack keeps lives under one *store root* folder. Any tool can read
it: the ``.arrow`` files are Arrow IPC files (zstd-compressed buffers) that
``polars.scan_ipc`` or ``pyarrow.ipc.open_file`` read, everything else is JSON.
The full description, with examples, is in ``docs/store-format.md``::

    <root>/
      nbtrack-store.json                 {"format": "nbtrack-store", "version": 2}
      config.json                        optional settings, e.g. {"cost_per_hour": 2.5}
      runs/<run_id>/
        events/<seg>.json                JSON list of events (start, params, tags, status, ...)
        metrics/<seg>.arrow              run_id, key, step, value, time; one row per point
        metrics/<seg>.compact<L>-<w>-<n>.arrow  the same, merged (level L, named after its first input)
        alive/<writer>.json              a live writer's host/pid; its mtime is the heartbeat
      index/<seg>.json                   one run summary row (written at start, end, edits)
      index/<seg>.compact<L>-<w>-<n>.arrow  many summary rows merged; latest ``rev`` per run wins
      objects/sha256/<2 hex>/<62 hex>    artifact and input content, stored once by hash
      names/<name-file>                  claimed run names (content: the run id); see name_file
      experiments/<seg>.json             experiment events (description, tags, archive)

``<seg>`` is ``<time_ns:019d>-<writer>-<seq:06d>``: one writer owns a file name,
files are written under a ``.tmp-`` name, fsynced and renamed, so readers never
see half a file. Names starting with ``.`` are never read. Since version 2 every
``<seg>`` file's name ends ``.crc32-<8 hex>.<ext>``: the CRC-32 of its bytes, which
readers check (``checksum``); ``quarantine/`` holds files found corrupt. A
version-1 store (no sums in its names) is read as it is.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import unicodedata
from pathlib import Path

from ..errors import InvalidNameError, RunNotFoundError, StoreError

FORMAT_NAME = "nbtrack-store"
FORMAT_VERSION = 2  # 2: checksums in record file names, quarantine/ (1 is read as is)
MARKER_FILE = "nbtrack-store.json"
CONFIG_FILE = "config.json"
ROOT_ENV = "NBTRACK_HOME"
DEFAULT_DIRNAME = ".nbtrack"

RUNS = "runs"
EVENTS = "events"
METRICS = "metrics"
ALIVE = "alive"
INDEX = "index"
OBJECTS = "objects"
NAMES = "names"
EXPERIMENTS = "experiments"
COMPACT_MARK = ".compact"  # <first input's stem>.compact.<ext>: sorts where its data began
TMP_PREFIX = ".tmp-"

# Crockford base32, lower case: the alphabet of run ids (see nbtrack.ids).
RUN_ID_RE = re.compile(r"^[0-9a-hjkmnp-tv-z]{26}$")
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
# names that are their own file name under names/ (every name stores before format 1.1 was one)
PLAIN_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
MAX_NAME_LENGTH = 200


_configured: dict = {}


def configure(store: str | os.PathLike | None = None,
              storage_options: dict | None = None) -> None:
    """The store this process uses when none is named (``nbtrack.configure``): a folder or
    ``s3://bucket/prefix``, and ``storage_options`` for the bucket (endpoint, credentials,
    ``allow_http``; the ``AWS_*`` variables fill in what is not given). ``None`` forgets
    the setting: ``$NBTRACK_HOME`` and the nearest ``.nbtrack/`` apply again."""
    _configured.clear()
    if storage_options is not None:
        if not isinstance(storage_options, dict):
            raise TypeError(f"storage_options must be a dict, got {type(storage_options).__name__}")
        _configured["storage_options"] = dict(storage_options)
    if store is not None:
        _configured["root"] = as_root(os.fspath(store) if isinstance(store, os.PathLike)
                                      else store)


def resolve(store=None) -> tuple[Path, str]:
    """The root a ``store=`` argument names (default: :func:`discover`), and how."""
    if store is None:
        return discover()
    return as_root(os.fspath(store) if isinstance(store, os.PathLike) else store), \
        "the store= argument"


def discover(start: str | os.PathLike | None = None) -> tuple[Path, str]:
    """Where the store lives and how that was decided: ``nbtrack.configure(store=...)``,
    else ``$NBTRACK_HOME`` (a folder or ``s3://bucket/prefix``), else the nearest
    ``.nbtrack/`` walking up from ``start`` (as git finds ``.git``), else ``./.nbtrack``.
    The second value names the rule, for messages."""
    if "root" in _configured:
        return _configured["root"], "nbtrack.configure(store=...)"
    env = os.environ.get(ROOT_ENV)
    if env:
        return as_root(env), f"${ROOT_ENV}"
    here = Path(start or os.getcwd()).absolute()
    for folder in (here, *here.parents):
        candidate = folder / DEFAULT_DIRNAME
        if candidate.is_dir():
            where = "in the working directory" if folder == here else f"above {here}"
            return candidate, f"the nearest {DEFAULT_DIRNAME}/ folder, {where}"
    return here / DEFAULT_DIRNAME, (
        f"the default: no ${ROOT_ENV} and no {DEFAULT_DIRNAME}/ folder in {here} or above"
    )


def as_root(root, storage_options: dict | None = None):
    """A store root as the store addresses it: a local folder as an absolute ``Path``, an
    ``s3://bucket/prefix`` URL as a ``RemotePath`` on that bucket (``objectstore``)."""
    from .objectstore import RemotePath, is_url, root_path

    if isinstance(root, RemotePath):
        return root
    if is_url(root):
        if storage_options is None:
            storage_options = _configured.get("storage_options")
        return root_path(root, storage_options)
    return Path(root).expanduser().absolute()


def is_remote(root) -> bool:
    """Whether ``root`` (a path or URL) is on an object store."""
    from .objectstore import RemotePath, is_url

    return isinstance(root, RemotePath) or is_url(root)


def find_root(start: str | os.PathLike | None = None) -> Path:
    """The store root :func:`discover` finds."""
    return discover(start)[0]


def check_run_id(run_id: str) -> str:
    """Refuse anything that is not a well-formed run id before it names a path."""
    if not isinstance(run_id, str) or not RUN_ID_RE.match(run_id):
        raise RunNotFoundError(f"{run_id!r} is not a run id (26 characters of lower-case base32)")
    return run_id


def check_friendly_name(name: str) -> str:
    """A run name as stored: any printable text (NFC-normalised, outer spaces dropped) of
    1 to 200 characters, e.g. ``"bert lr=1e-3 (baseline)"`` or ``"résumé"``."""
    if not isinstance(name, str):
        raise InvalidNameError(f"run name must be text, got {type(name).__name__}")
    text = unicodedata.normalize("NFC", name).strip()
    if not text or len(text) > MAX_NAME_LENGTH or not text.isprintable():
        raise InvalidNameError(
            f"run name {name!r} is not allowed: use 1 to {MAX_NAME_LENGTH} printable characters"
            " (no newlines or control characters)"
        )
    return text


def name_file(name: str) -> str:
    """The file under ``names/`` that claims ``name``: the name itself when it is plain
    ASCII (letters, digits, ``._-``), else ``~`` and the sha256 of its UTF-8 text, so
    that no name can form a path, collide with another's file, or exceed a file-name limit."""
    if PLAIN_NAME_RE.match(name) and ".." not in name:
        return name
    return "~" + hashlib.sha256(name.encode()).hexdigest()


class Layout:
    """Named paths inside one store root. ``create=True`` makes the root if needed;
    readers use ``create=False`` and :meth:`check_exists`, so reading never makes a
    store. ``origin`` says where the root came from (``$NBTRACK_HOME``, ...)."""

    def __init__(self, root: str | os.PathLike | None = None, create: bool = True,
                 origin: str | None = None, storage_options: dict | None = None):
        if root is None:
            self.root, self.origin = discover()
        else:
            self.root, self.origin = as_root(root, storage_options), origin or "the store given"
        self.remote = is_remote(self.root)
        if create:
            self._ensure()

    def check_exists(self) -> None:
        """Raise :class:`StoreError` saying where the store was looked for and how to
        make one, unless the root is a folder."""
        if self.remote:
            if not self._check_marker():
                raise StoreError(
                    f"no nbtrack store at {self.root} (found by {self.origin}). Start a run to"
                    " make one there (nbtrack.start_run(...) or %track start), or point"
                    " $NBTRACK_HOME or --store at an existing store")
            return
        if self.root.is_dir():
            self._check_marker()
            return
        if self.root.exists():
            raise StoreError(f"store root {self.root} (from {self.origin}) is not a folder")
        raise StoreError(
            f"no nbtrack store at {self.root} (found by {self.origin}). Start a run to make"
            " one there (nbtrack.start_run(...) or %track start), or point $NBTRACK_HOME or"
            " --store at an existing store"
        )

    def ensure(self) -> None:
        """Make the store if it is not there yet (idempotent)."""
        self._ensure()

    def _check_marker(self) -> bool:
        """Whether the store's marker is there; a newer format than ours is refused."""
        marker = self.root / MARKER_FILE
        if not self.remote and not marker.exists():
            return False
        try:
            info = json.loads(marker.read_text())
            info.get("version")
        except FileNotFoundError:
            return False
        except (OSError, ValueError, AttributeError) as exc:
            if self.remote and isinstance(exc, OSError):
                raise StoreError(f"cannot read the store at {self.root} (from {self.origin}):"
                                 f" {exc}") from exc
            # a damaged marker must not hide every run: say so, read the store as ours
            from .arrow_io import warn_corrupt

            warn_corrupt(marker, exc)
            return True
        if info.get("version", 0) > FORMAT_VERSION:
            raise StoreError(
                f"the store at {self.root} (from {self.origin}) has format version"
                f" {info.get('version')}, newer than this nbtrack understands"
                f" ({FORMAT_VERSION}); upgrade nbtrack"
            )
        return True

    def _ensure(self) -> None:
        marker = self.root / MARKER_FILE
        if self._check_marker():
            return
        if not self.remote and self.root.exists() and not self.root.is_dir():
            raise StoreError(
                f"store root {self.root} (from {self.origin}) exists and is not a folder"
            )
        from .atomic import claim_file, dumps, write_json_atomic

        try:
            if self.remote:  # prefixes need no making; the first creator's marker stays
                claim_file(marker, dumps({"format": FORMAT_NAME, "version": FORMAT_VERSION}))
                return
            for sub in (RUNS, INDEX, OBJECTS, NAMES, EXPERIMENTS):
                (self.root / sub).mkdir(parents=True, exist_ok=True)
            write_json_atomic(marker, {"format": FORMAT_NAME, "version": FORMAT_VERSION},
                              durable=True)
        except OSError as exc:
            raise StoreError(
                f"cannot make the store at {self.root} (from {self.origin}): {exc}"
            ) from exc

    def run_dir(self, run_id: str) -> Path:
        return self.root / RUNS / check_run_id(run_id)

    def events_dir(self, run_id: str) -> Path:
        return self.run_dir(run_id) / EVENTS

    def metrics_dir(self, run_id: str) -> Path:
        return self.run_dir(run_id) / METRICS

    def alive_dir(self, run_id: str) -> Path:
        return self.run_dir(run_id) / ALIVE

    @property
    def runs_dir(self) -> Path:
        return self.root / RUNS

    @property
    def index_dir(self) -> Path:
        return self.root / INDEX

    @property
    def objects_dir(self) -> Path:
        return self.root / OBJECTS

    @property
    def names_dir(self) -> Path:
        return self.root / NAMES

    @property
    def experiments_dir(self) -> Path:
        return self.root / EXPERIMENTS

    def config(self) -> dict:
        """``<root>/config.json`` (optional): store-wide settings such as ``cost_per_hour``."""
        path = self.root / CONFIG_FILE
        try:
            value = json.loads(path.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise StoreError(f"{path} is not valid JSON: {exc}") from exc
        return value if isinstance(value, dict) else {}

    def object_path(self, sha256: str) -> Path:
        if not SHA256_RE.match(sha256 or ""):
            raise StoreError(f"{sha256!r} is not a sha256 hex digest")
        return self.root / OBJECTS / "sha256" / sha256[:2] / sha256[2:]

    def __repr__(self) -> str:
        return f"Layout({str(self.root)!r})"


def visible_files(folder: Path, suffix: str) -> list[Path]:
    """Final (non-temporary) files with ``suffix`` in ``folder``, sorted by name
    (names start with a nanosecond time, so this is write order)."""
    if type(folder) is not _PosixPath and not isinstance(folder, Path):
        return [p for p in folder.files()  # an object store's prefix: one listing
                if p.name.endswith(suffix) and not p.name.startswith(".")]
    try:
        entries = os.scandir(folder)
    except FileNotFoundError:
        return []
    with entries:
        names = [
            e.name
            for e in entries
            if e.name.endswith(suffix) and not e.name.startswith(".") and e.is_file()
        ]
    names.sort()
    return [folder / n for n in names]


def subfolders(folder: Path) -> list[str]:
    """The names of the folders in ``folder`` (prefixes, on an object store), sorted."""
    if not isinstance(folder, Path):
        return folder.folders()
    try:
        with os.scandir(folder) as entries:
            return sorted(e.name for e in entries if e.is_dir())
    except (FileNotFoundError, NotADirectoryError):
        return []


def fingerprint(folder: Path) -> object:
    """Something that changes when a file lands in (or leaves) ``folder``: its mtime, or
    on an object store what one listing shows (how many objects, the newest key)."""
    if not isinstance(folder, Path):
        try:
            objects, folders = folder.backend.listing(folder.key)
        except OSError:
            return 0
        return (len(objects), objects[-1].key if objects else "", len(folders))
    try:
        return os.stat(folder).st_mtime_ns
    except OSError:
        return 0


def run_ids(layout: Layout) -> list[str]:
    """The ids of every run with a folder in the store, sorted (so by start time)."""
    return [n for n in subfolders(layout.runs_dir) if RUN_ID_RE.match(n)]


_PosixPath = type(Path())
_LEVEL = re.compile(r"\.compact(\d*)-")


def is_compact(path: Path) -> bool:
    return COMPACT_MARK in path.name


def compact_level(path: Path) -> int:
    """0 for a flush segment; a merge of level-k files is level k + 1."""
    found = _LEVEL.search(path.name)
    return (int(found.group(1) or 1)) if found else 0


def compact_name(first_input: Path, suffix: str, level: int = 1) -> str:
    """``<first input's stem>.compact<level>-<writer>-<seq><suffix>``: named after its
    first input so that name order stays log order, never equal to an input's name."""
    from .atomic import WRITER

    stem = first_input.name.split(".", 1)[0]
    return f"{stem}{COMPACT_MARK}{level}-{WRITER.segment_name(suffix).split('-', 1)[1]}"
