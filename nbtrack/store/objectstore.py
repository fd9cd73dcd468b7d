"""The store on S3-compatible object storage: the store's primitives over obstore.

A store root may be ``s3://bucket/prefix``. Every location under it is a
:class:`RemotePath`, which answers the few path questions the store asks (name,
parent, ``/``, read, exists, stat) from the bucket, and the store's primitives
(``atomic``, ``layout.visible_files``, ``arrow_io``) hand a ``RemotePath`` to the
:class:`S3Backend` instead of the file system. Its primitives::

    put(key, data)            write-once: a conditional create (If-None-Match: *)
    create(key, data) -> bool the same, False when someone else created it first
    get(key) / get_range      read bytes; FileNotFoundError when absent
    listing(prefix)           the objects and sub-prefixes one level below a prefix
    delete(key)               for compaction, quarantine and gc

Nothing is ever overwritten: record files carry a writer id and a sequence in their
name, so a conditional create of one never meets another; names, claims and sweep
names are won by the first conditional create. Credentials and the endpoint come
from ``storage_options`` or the usual ``AWS_*`` variables (``AWS_ALLOW_HTTP=true`` for
a plain-http endpoint).

When the bucket cannot be reached, a write-once object is *spooled*: written under
``$NBTRACK_SPOOL`` (default ``~/.cache/nbtrack/spool``) at ``<bucket>/<key>`` and
uploaded, oldest first, when the bucket answers again (retried with exponential
backoff by the flusher thread, and by the next process that opens the store). While
anything is spooled every new object joins the queue, so the bucket receives them in
the order they were written, and this process reads its spooled objects as if they
were there. Conditional creates (names, claims) need the bucket's answer: they raise
:class:`StoreUnreachable`, an ``OSError``, as a full disk does.
"""

from __future__ import annotations

import errno
import os
import threading
import time
import warnings
from collections import OrderedDict
from pathlib import Path, PurePosixPath

SCHEME = "s3://"
SPOOL_ENV = "NBTRACK_SPOOL"
CONNECT_TIMEOUT = os.environ.get("NBTRACK_S3_CONNECT_TIMEOUT", "3s")
REQUEST_TIMEOUT = os.environ.get("NBTRACK_S3_TIMEOUT", "10s")
BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 30.0
CACHE_OBJECT_MAX = 1 << 20  # listed objects up to this size are kept once read ...
CACHE_TOTAL_MAX = 64 << 20  # ... up to this much in all, least recently read dropped first
_ENV_OPTIONS = {  # the usual variables, as obstore's S3 config keys
    "AWS_ENDPOINT_URL": "endpoint", "AWS_ENDPOINT_URL_S3": "endpoint",
    "AWS_ACCESS_KEY_ID": "access_key_id", "AWS_SECRET_ACCESS_KEY": "secret_access_key",
    "AWS_SESSION_TOKEN": "session_token", "AWS_REGION": "region",
    "AWS_DEFAULT_REGION": "region",
}


def is_url(root: object) -> bool:
    return isinstance(root, str) and root.startswith(SCHEME)


class StoreUnreachable(OSError):
    """The bucket did not answer (network, endpoint or credentials)."""

    def __init__(self, url: str, exc: BaseException):
        super().__init__(errno.EHOSTUNREACH, f"the store {url} cannot be reached ({exc})", url)


class Entry:
    """One listed object: its key, size, last-modified time (epoch seconds) and ETag."""

    __slots__ = ("key", "size", "mtime", "etag")

    def __init__(self, key: str, size: int, mtime: float, etag: str | None = None):
        self.key, self.size, self.mtime, self.etag = key, size, mtime, etag

    @classmethod
    def of(cls, meta: dict) -> Entry:
        """From obstore's ``ObjectMeta``."""
        return cls(meta["path"], meta["size"], meta["last_modified"].timestamp(),
                   meta.get("e_tag"))


class _Stat:
    __slots__ = ("st_size", "st_mtime", "st_mtime_ns", "st_ino")

    def __init__(self, size: int, mtime: float):
        self.st_size, self.st_mtime = size, mtime
        self.st_mtime_ns, self.st_ino = int(mtime * 1e9), 0


_backends: dict[tuple, S3Backend] = {}
_backends_lock = threading.Lock()


def backend_for(url: str, storage_options: dict | None = None) -> S3Backend:
    """One backend (one connection pool, one spool) per bucket and options per process."""
    bucket, _, prefix = url[len(SCHEME):].partition("/")
    key = (bucket, tuple(sorted((storage_options or {}).items())))
    with _backends_lock:
        found = _backends.get(key)
        if found is None:
            found = _backends[key] = S3Backend(bucket, storage_options)
    return found


def root_path(url: str, storage_options: dict | None = None) -> RemotePath:
    """``s3://bucket/prefix`` as the RemotePath of the store's root."""
    from ..errors import StoreError

    bucket, _, prefix = url[len(SCHEME):].partition("/")
    if not bucket:
        raise StoreError(f"{url!r} names no bucket: use s3://bucket/prefix")
    prefix = prefix.strip("/")
    if any(p in ("", ".", "..") for p in prefix.split("/")) and prefix:
        raise StoreError(f"{url!r}: the prefix must not hold empty, '.' or '..' parts")
    return RemotePath(backend_for(url, storage_options), prefix)


class S3Backend:
    """The store's primitives on one bucket (see the module docstring)."""

    def __init__(self, bucket: str, storage_options: dict | None = None):
        self.bucket = bucket
        self.options = dict(storage_options or {})
        self._store = None
        self._lock = threading.Lock()  # the spool's order
        self._down_until = 0.0
        self._backoff = BACKOFF_FIRST_S
        self._spooled: set[str] = set()  # keys waiting in the spool (this process)
        self._warned = False
        self._cache: OrderedDict[str, tuple[tuple[int, str], bytes]] = OrderedDict()
        self._cache_bytes = 0
        self._cache_lock = threading.Lock()
        self.spool_dir = Path(os.environ.get(SPOOL_ENV) or
                              Path.home() / ".cache" / "nbtrack" / "spool") / bucket
        self._load_spool()
        if self._spooled:  # an earlier process could not upload these: now, in order
            try:
                self.drain(force=True)
            except OSError:
                pass

    # ----------------------------------------------------------- connection
    @property
    def store(self):
        if self._store is None:
            try:
                from obstore.store import S3Store
            except ImportError:
                from ..errors import StoreError

                raise StoreError("an s3:// store needs obstore: pip install 'nbtrack[s3]'"
                                 " (or pip install obstore)") from None
            config: dict = {}
            for var, name in _ENV_OPTIONS.items():
                if os.environ.get(var) and name not in config:
                    config[name] = os.environ[var]
            client = {"connect_timeout": CONNECT_TIMEOUT, "timeout": REQUEST_TIMEOUT}
            if os.environ.get("AWS_ALLOW_HTTP", "").lower() in ("1", "true", "yes"):
                client["allow_http"] = True
            for raw, value in self.options.items():
                name = raw.lower().removeprefix("aws_")
                name = {"endpoint_url": "endpoint", "allow_http": "allow_http"}.get(name, name)
                if name == "allow_http":
                    client["allow_http"] = str(value).lower() in ("1", "true", "yes")
                else:
                    config[name] = value
            from datetime import timedelta

            retry = {"max_retries": 2, "retry_timeout": timedelta(seconds=5),
                     "backoff": {"init_backoff": timedelta(milliseconds=100),
                                 "max_backoff": timedelta(seconds=1), "base": 2}}
            self._store = S3Store(self.bucket, config=config, client_options=client,
                                  retry_config=retry)
        return self._store

    def url(self, key: str) -> str:
        return f"{SCHEME}{self.bucket}/{key}"

    def polars_options(self) -> dict:
        """``storage_options`` for polars' own cloud reads of this bucket."""
        out = {}
        for var in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                    "AWS_SESSION_TOKEN", "AWS_REGION", "AWS_ALLOW_HTTP"):
            if os.environ.get(var):
                out[var.lower()] = os.environ[var]
        out.update({k if k.startswith("aws_") else f"aws_{k}": str(v)
                    for k, v in self.options.items()})
        return out

    def _call(self, what: str, fn, *args, **kwargs):
        """One request; a network failure becomes StoreUnreachable and starts a backoff."""
        import obstore

        store = self.store  # a bad configuration is no network failure: raised as it is
        try:
            out = fn(store, *args, **kwargs)
        except (FileNotFoundError, obstore.exceptions.AlreadyExistsError,
                obstore.exceptions.NotFoundError):
            raise
        except obstore.exceptions.PermissionDeniedError as exc:
            raise PermissionError(errno.EACCES, f"{self.url(what)}: {exc}") from exc
        except Exception as exc:  # noqa: BLE001 - network, endpoint, credentials
            self._down_until = time.monotonic() + self._backoff
            self._backoff = min(self._backoff * 2, BACKOFF_MAX_S)
            raise StoreUnreachable(self.url(what), exc) from exc
        self._backoff = BACKOFF_FIRST_S
        return out

    # ----------------------------------------------------------- primitives
    def create(self, key: str, data: bytes) -> bool:
        """Create ``key`` unless it exists; True when this call created it."""
        import obstore

        try:
            self._call(key, obstore.put, key, data, mode="create")
        except obstore.exceptions.AlreadyExistsError:
            return False
        return True

    def put(self, key: str, data: bytes | memoryview) -> None:
        """Write a write-once object (its name is unique to this writer); spooled while the
        bucket cannot be reached, or while older objects still wait in the spool."""
        data = bytes(data)
        if self._spooled or time.monotonic() < self._down_until:
            self._spool(key, data)
            return
        try:
            self.create(key, data)  # False: a retry after a lost answer had stored it
        except StoreUnreachable as exc:
            self._spool(key, data, exc)

    def put_file(self, key: str, path: Path) -> None:
        """Upload a local file (an artifact) as a write-once object, in parts when big."""
        import obstore

        if self._spooled or time.monotonic() < self._down_until:
            self._spool(key, path.read_bytes())
            return
        try:
            self._call(key, obstore.put, key, path, mode="create")
        except obstore.exceptions.AlreadyExistsError:
            pass  # content-addressed: the same bytes are there
        except StoreUnreachable as exc:
            self._spool(key, path.read_bytes(), exc)

    def get(self, key: str) -> bytes:
        if self._spooled and key in self._spooled:
            try:
                return (self.spool_dir / key).read_bytes()
            except FileNotFoundError:
                pass  # uploaded meanwhile
        import obstore

        try:
            return bytes(self._call(key, obstore.get, key).bytes())
        except obstore.exceptions.NotFoundError:
            raise FileNotFoundError(errno.ENOENT, "no such object", self.url(key)) from None

    def get_listed(self, entry: Entry) -> bytes:
        """The bytes of a listed record (JSON, a claim), kept in memory once read while the
        listing shows the same ETag and size: objects are written once, and readers that fold
        a folder (a sweep's events and claims, a run's events) read them again and again.
        Arrow files are not kept: big, read once, and a reader must see one merged away."""
        if entry.etag is None or entry.key.endswith(".arrow"):
            return self.get(entry.key)
        stamp = (entry.size, entry.etag)
        with self._cache_lock:
            hit = self._cache.get(entry.key)
            if hit is not None and hit[0] == stamp:
                self._cache.move_to_end(entry.key)
                return hit[1]
        data = self.get(entry.key)
        if len(data) == entry.size <= CACHE_OBJECT_MAX and entry.key not in self._spooled:
            with self._cache_lock:
                old = self._cache.pop(entry.key, None)
                if old is not None:
                    self._cache_bytes -= len(old[1])
                self._cache[entry.key] = (stamp, data)
                self._cache_bytes += len(data)
                while self._cache_bytes > CACHE_TOTAL_MAX:
                    _, (_, dropped) = self._cache.popitem(last=False)
                    self._cache_bytes -= len(dropped)
        return data

    def get_range(self, key: str, start: int, end: int) -> bytes:
        import obstore

        try:
            return bytes(self._call(key, obstore.get_range, key, start=start, end=end))
        except obstore.exceptions.NotFoundError:
            raise FileNotFoundError(errno.ENOENT, "no such object", self.url(key)) from None

    def head(self, key: str) -> Entry:
        if self._spooled and key in self._spooled:
            try:
                st = (self.spool_dir / key).stat()
                return Entry(key, st.st_size, st.st_mtime)
            except FileNotFoundError:
                pass
        import obstore

        try:
            meta = self._call(key, obstore.head, key)
        except obstore.exceptions.NotFoundError:
            raise FileNotFoundError(errno.ENOENT, "no such object", self.url(key)) from None
        return Entry.of(meta)

    def listing(self, prefix: str) -> tuple[list[Entry], list[str]]:
        """The objects directly under ``prefix`` (sorted by key) and the names of the
        sub-prefixes (folders) there."""
        import obstore

        prefix = prefix.strip("/")
        found = self._call(prefix, obstore.list_with_delimiter, prefix or None)
        objects = [Entry.of(o) for o in found["objects"]]
        folders = [p.rstrip("/").rsplit("/", 1)[-1] for p in found["common_prefixes"]]
        if self._spooled:
            here = {e.key for e in objects}
            base = f"{prefix}/" if prefix else ""
            for key in list(self._spooled):
                if key.startswith(base):
                    rest = key[len(base):]
                    if "/" in rest:
                        folders.append(rest.split("/", 1)[0])
                    elif key not in here:
                        objects.append(Entry(key, 0, time.time()))
            folders = sorted(set(folders))
        objects.sort(key=lambda e: e.key)
        return objects, folders

    def walk(self, prefix: str) -> list[Entry]:
        """Every object under ``prefix``, at any depth."""
        import obstore

        prefix = prefix.strip("/")
        out = []
        for batch in self._call(prefix, lambda s, p: list(obstore.list(s, p)), prefix or None):
            out.extend(Entry.of(o) for o in batch)
        return out

    def delete(self, key: str) -> None:
        import obstore

        if self._spooled and key in self._spooled:
            with self._lock:
                (self.spool_dir / key).unlink(missing_ok=True)
                self._spooled.discard(key)
        self._call(key, obstore.delete, key)

    def copy(self, src: str, dest: str) -> None:
        """A server-side copy (S3 has no copy-if-absent: ``dest`` must be a key only this
        copy writes, as ``quarantine/<the file's own key>`` is)."""
        import obstore

        self._call(src, obstore.copy, src, dest, overwrite=True)

    # ----------------------------------------------------------- the spool
    def _load_spool(self) -> None:
        """Objects an earlier process spooled for this bucket (uploaded by ``drain``)."""
        if not self.spool_dir.is_dir():
            return
        for folder, _, names in os.walk(self.spool_dir):
            for name in names:
                if not name.startswith(".tmp-"):
                    path = Path(folder) / name
                    self._spooled.add(path.relative_to(self.spool_dir).as_posix())

    def _spool(self, key: str, data: bytes, exc: BaseException | None = None) -> None:
        from .atomic import write_bytes_atomic

        with self._lock:
            path = self.spool_dir / key
            write_bytes_atomic(path, data, durable=True)
            os.utime(path, ns=(time.time_ns(), _order_ns()))  # the upload order
            self._spooled.add(key)
        if not self._warned:
            self._warned = True
            why = f" ({exc.strerror})" if isinstance(exc, OSError) and exc.strerror else ""
            warnings.warn(
                f"nbtrack: the store s3://{self.bucket} cannot be reached{why}; what is "
                f"written meanwhile is kept in {self.spool_dir} and uploaded, in order, as soon "
                "as it answers (retried with backoff); nothing is lost",
                _warning_class(), stacklevel=4)

    def pending(self) -> int:
        """How many objects wait in the spool."""
        return len(self._spooled)

    def drain(self, force: bool = False) -> int:
        """Upload spooled objects, oldest first, until the spool is empty or the bucket
        fails again; the number uploaded. Skipped during a backoff unless ``force``."""
        if not self._spooled or (not force and time.monotonic() < self._down_until):
            return 0
        done = 0
        with self._lock:
            pending = []
            for key in self._spooled:
                try:
                    pending.append(((self.spool_dir / key).stat().st_mtime_ns, key))
                except FileNotFoundError:
                    pending.append((0, key))
            for _, key in sorted(pending):
                path = self.spool_dir / key
                try:
                    data = path.read_bytes()
                except FileNotFoundError:
                    self._spooled.discard(key)
                    continue
                try:
                    self.create(key, data)
                except StoreUnreachable:
                    return done
                path.unlink(missing_ok=True)
                self._spooled.discard(key)
                done += 1
            self._warned = False
        if done:
            warnings.warn(f"nbtrack: the store s3://{self.bucket} answers again; the {done} "
                          "objects kept while it could not be reached are uploaded",
                          _warning_class(), stacklevel=3)
        return done


_last_order = 0
_order_lock = threading.Lock()


def _order_ns() -> int:
    """Strictly increasing nanoseconds: the spool's upload order survives a restart."""
    global _last_order
    with _order_lock:
        _last_order = max(time.time_ns(), _last_order + 1)
        return _last_order


def _warning_class():
    from ..errors import StoreWriteWarning

    return StoreWriteWarning


def drain_all() -> int:
    """Upload what every backend of this process has spooled (the flusher calls it)."""
    with _backends_lock:
        backends = list(_backends.values())
    done = 0
    for backend in backends:
        try:
            done += backend.drain()
        except OSError:
            continue
    return done


def concurrently(fn, items: list, workers: int = 16) -> list:
    """``[fn(x) for x in items]`` with requests in flight together (obstore releases the
    GIL while it waits on the network); the first error is raised."""
    if len(items) < 2:
        return [fn(x) for x in items]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(min(workers, len(items)), thread_name_prefix="nbtrack-s3") as pool:
        return list(pool.map(fn, items))


def prefetch(paths: list) -> None:
    """Fetch the bytes of many objects at once, for the checksum checks that follow (kept
    by ``checksum`` for the read after them)."""
    from . import checksum

    todo = [p for p in paths if checksum.cached(p) is None and checksum.expected(p) is not None]

    def fetch(path):
        try:
            checksum.mismatch(path)
        except OSError:
            pass  # the check itself says so, one by one

    concurrently(fetch, todo)


def at_exit() -> None:
    """At interpreter exit: one last upload of what is spooled, then say where what could
    not be uploaded lies (the next process that opens the store uploads it)."""
    with _backends_lock:
        backends = list(_backends.values())
    for backend in backends:
        if not backend.pending():
            continue
        try:
            backend.drain(force=True)
        except OSError:
            pass
        if backend.pending():
            import sys

            print(f"nbtrack: the store s3://{backend.bucket} could not be reached; "
                  f"{backend.pending()} objects are kept in {backend.spool_dir} and are uploaded "
                  "by the next nbtrack process that opens this store", file=sys.stderr)


class RemotePath:
    """A key in a bucket, with the part of ``pathlib.Path``'s interface the store uses.
    Listing fills in size and mtime, so ``stat()`` of a listed object asks nothing."""

    __slots__ = ("backend", "key", "_entry")

    def __init__(self, backend: S3Backend, key: str, entry: Entry | None = None):
        self.backend, self.key, self._entry = backend, key.strip("/"), entry

    # ------------------------------------------------------------ pure parts
    def __truediv__(self, part) -> RemotePath:
        part = str(part).strip("/")
        return RemotePath(self.backend, f"{self.key}/{part}" if self.key else part)

    @property
    def name(self) -> str:
        return self.key.rsplit("/", 1)[-1]

    @property
    def parent(self) -> RemotePath:
        return RemotePath(self.backend, self.key.rsplit("/", 1)[0] if "/" in self.key else "")

    @property
    def parents(self) -> list[RemotePath]:
        out, here = [], self
        while here.key:
            here = here.parent
            out.append(here)
        return out

    @property
    def parts(self) -> tuple[str, ...]:
        return PurePosixPath(self.key).parts

    @property
    def suffix(self) -> str:
        return PurePosixPath(self.name).suffix

    @property
    def stem(self) -> str:
        return PurePosixPath(self.name).stem

    def with_name(self, name: str) -> RemotePath:
        return self.parent / name

    def relative_to(self, other: RemotePath) -> PurePosixPath:
        base = other.key
        if base and not (self.key == base or self.key.startswith(base + "/")):
            raise ValueError(f"{self} is not under {other}")
        return PurePosixPath(self.key[len(base):].lstrip("/") or ".")

    def absolute(self) -> RemotePath:
        return self

    def resolve(self) -> RemotePath:
        return self

    def expanduser(self) -> RemotePath:
        return self

    def __str__(self) -> str:
        return self.backend.url(self.key)

    def __repr__(self) -> str:
        return f"RemotePath({str(self)!r})"

    def __eq__(self, other) -> bool:
        return (isinstance(other, RemotePath) and other.key == self.key
                and other.backend is self.backend)

    def __hash__(self) -> int:
        return hash((id(self.backend), self.key))

    def __lt__(self, other: RemotePath) -> bool:
        return self.key < other.key

    # ------------------------------------------------------------ the bucket
    def read_bytes(self) -> bytes:
        if self._entry is not None:
            return self.backend.get_listed(self._entry)
        return self.backend.get(self.key)

    def read_text(self, encoding: str = "utf-8", errors: str = "strict") -> str:
        return self.read_bytes().decode(encoding, errors)

    def stat(self) -> _Stat:
        entry = self._entry or self.backend.head(self.key)
        return _Stat(entry.size, entry.mtime)

    def exists(self) -> bool:
        try:
            self.backend.head(self.key)
            return True
        except FileNotFoundError:
            return self.is_dir()

    def is_file(self) -> bool:
        try:
            self.backend.head(self.key)
            return True
        except FileNotFoundError:
            return False

    def is_dir(self) -> bool:
        objects, folders = self.backend.listing(self.key)
        return bool(objects or folders)

    def is_symlink(self) -> bool:
        return False

    def mkdir(self, *args, **kwargs) -> None:
        """Prefixes need no making."""

    def rmdir(self) -> None:
        """An empty prefix is no object."""

    def unlink(self, missing_ok: bool = False) -> None:
        self.backend.delete(self.key)  # S3 deletes of absent keys succeed

    def iterdir(self) -> list[RemotePath]:
        objects, folders = self.backend.listing(self.key)
        return [RemotePath(self.backend, e.key, e) for e in objects] + [
            self / f for f in folders]

    def glob(self, pattern: str) -> list[RemotePath]:
        """The objects directly under this prefix whose names match ``pattern``."""
        from fnmatch import fnmatchcase

        return [p for p in self.files() if fnmatchcase(p.name, pattern)]

    def rglob(self, pattern: str) -> list[RemotePath]:
        """Every object under this prefix, at any depth, whose name matches ``pattern``."""
        from fnmatch import fnmatchcase

        return [RemotePath(self.backend, e.key, e) for e in self.backend.walk(self.key)
                if fnmatchcase(e.key.rsplit("/", 1)[-1], pattern)]

    def files(self) -> list[RemotePath]:
        """The objects directly under this prefix, listed with their size and mtime."""
        objects, _ = self.backend.listing(self.key)
        return [RemotePath(self.backend, e.key, e) for e in objects]

    def folders(self) -> list[str]:
        return self.backend.listing(self.key)[1]

    def write_once(self, data: bytes | memoryview) -> None:
        self.backend.put(self.key, data)

    def create(self, data: bytes) -> bool:
        return self.backend.create(self.key, data)
