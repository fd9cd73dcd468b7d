"""When git's last answer still holds: a stat fingerprint of what ``git status`` looked at.

``git status`` costs a process and a walk of the tree (3-7 ms), and a sweep starts
thousands of runs between which nothing changes. What it answers can only change
when one of these does: ``HEAD``, the ref it names, ``packed-refs``, the index, the
repository's config or excludes, a tracked file, or a folder git looks in for untracked
files (a new file changes its folder's mtime; ignored folders do not count, as they do
not for the dirty flag). So after each ``git status`` a background thread
lists the tracked files (``git ls-files``, once per index) and stats all of those; the
next run start stats them again (a few hundred ``lstat`` calls, no process) and reuses
the answer only if every one is unchanged.

A stat taken in the same clock tick as a later write would miss it ("racy git"), so a
fingerprint is trusted only if everything in it was last modified ``RACY_S`` before the
``git status`` it vouches for began: a tree edited just before a run start is asked
again at the next one. Submodules (whose own edits change no file of the superproject),
reftable repositories and ``GIT_DIR``/``GIT_WORK_TREE`` are always asked.

An untracked folder is watched at its top only: emptying a subfolder of it changes no
stat we keep, so the answer stays "dirty" until something else changes (never the
other way round: a new file anywhere git would report changes some folder we watch).
The cost is one ``lstat`` per tracked file and folder (~2 us each here: 240 paths in
0.4 ms), so it grows with the tree, as ``git status`` itself does.
"""

from __future__ import annotations

import os
import threading

RACY_S = 2.0  # coarser than any filesystem's timestamps (FAT: 2 s)
MAX_FOLDERS = 20_000  # a tree with more folders than this is always asked
MAX_DEPTH = 64

_lock = threading.Lock()
_answers: dict[str, _Answer] = {}  # work tree top -> the last answer and its fingerprint
_tracked: dict[str, tuple[list, list[str], bool]] = {}  # root -> (index signature, paths, ok)
_pending: list[threading.Thread] = []


class _Answer:
    __slots__ = ("facts", "paths", "stats", "pid", "env")

    def __init__(self, facts: dict, env: tuple):
        self.facts = facts
        self.paths: list[str] | None = None  # None until the background snapshot is done
        self.stats: list | None = None
        self.pid = os.getpid()
        self.env = env


def _git_env() -> tuple:
    """Variables that change what git answers (config, excludes, identity of the repo)."""
    return tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("GIT_")))


def _signature(paths: list[str]) -> list:
    out = []
    append, lstat = out.append, os.lstat
    for path in paths:
        try:
            st = lstat(path)
        except OSError:
            append(None)
            continue
        append((st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino))
    return out


def lookup(root: str) -> dict | None:
    """The last answer for ``root`` if nothing it depends on changed, else None."""
    with _lock:
        answer = _answers.get(root)
    if answer is None or answer.paths is None or answer.pid != os.getpid():
        return None
    if answer.env != _git_env() or _signature(answer.paths) != answer.stats:
        return None
    return dict(answer.facts)


def remember(git_call, root: str, git_dir: str, common_dir: str, facts: dict,
             asked_at: float, untracked_dirs: list[str]) -> None:
    """Note ``facts`` (what ``git status`` begun at ``asked_at`` answered) and fingerprint
    the tree off the caller's thread; until that is done the next start asks git again."""
    answer = _Answer(dict(facts), _git_env())
    with _lock:
        _answers[root] = answer
    thread = threading.Thread(
        target=_snapshot, name="nbtrack-git-snapshot", daemon=True,
        args=(answer, git_call, root, git_dir, common_dir, asked_at, untracked_dirs),
    )  # fmt: skip
    with _lock:
        _pending[:] = [t for t in _pending if t.is_alive()] + [thread]
    thread.start()


def settle(timeout: float | None = None) -> None:
    """Wait for the background snapshots (tests, benchmarks)."""
    with _lock:
        threads = list(_pending)
    for thread in threads:
        thread.join(timeout)


def forget() -> None:
    with _lock:
        _answers.clear()
        _tracked.clear()


def _meta_paths(git_dir: str, common_dir: str) -> list[str] | None:
    """The repository files that say what HEAD is and how the tree is read."""
    if os.path.exists(os.path.join(common_dir, "reftable")):
        return None
    paths = [os.path.join(git_dir, "HEAD"), os.path.join(git_dir, "index"),
             os.path.join(common_dir, "packed-refs"), os.path.join(common_dir, "config"),
             os.path.join(common_dir, "info", "exclude")]  # fmt: skip
    try:
        with open(paths[0], encoding="utf-8", errors="replace") as f:
            head = f.read(4096).strip()
    except OSError:
        return None
    if head.startswith("ref: "):
        paths.append(os.path.join(common_dir, *head[5:].split("/")))  # may be packed: absent
    home = os.path.expanduser("~")
    xdg = os.environ.get("XDG_CONFIG_HOME") or os.path.join(home, ".config")
    paths += [os.path.join(home, ".gitconfig"), os.path.join(xdg, "git", "config"),
              os.path.join(xdg, "git", "ignore")]  # fmt: skip
    if os.environ.get("GIT_CONFIG_GLOBAL"):
        paths.append(os.environ["GIT_CONFIG_GLOBAL"])
    return paths


def _tracked_files(git_call, root: str, index_sig) -> tuple[list[str], bool]:
    """Absolute paths of the tracked files (asked of git once per index state); False
    when the tree holds something a stat cannot vouch for (a submodule)."""
    with _lock:
        known = _tracked.get(root)
    if known is not None and known[0] == index_sig:
        return known[1], known[2]
    out = git_call(root, "ls-files", "-z", "--stage")
    if out is None:
        return [], False
    paths, ok = [], True
    for entry in out.split("\0"):
        if not entry:
            continue
        meta, _, rel = entry.partition("\t")
        if meta.startswith("160000"):
            ok = False  # a submodule's own edits change nothing we can stat
        paths.append(os.path.join(root, rel))
    with _lock:
        _tracked[root] = (index_sig, paths, ok)
    return paths, ok


def _folders(git_call, root: str, untracked_dirs: list[str]) -> list[str] | None:
    """Every folder git looks in for untracked files: the top, and below it each folder
    that is not ignored (asked of ``git check-ignore``, one call per level, so ignored
    trees are never walked), not ``.git``, and not inside a folder ``git status`` already
    reported as untracked (that one is watched at its top). None when there are too many."""
    watched = [root]
    frontier = [root]
    reported = {os.path.join(root, d) for d in untracked_dirs}
    for _ in range(MAX_DEPTH):
        children = []
        for folder in frontier:
            try:
                with os.scandir(folder) as entries:
                    children += [e.path for e in entries
                                 if e.name != ".git" and e.is_dir(follow_symlinks=False)]
            except OSError:
                continue
        if not children:
            return watched
        rel = [os.path.relpath(c, root) for c in children]
        out = git_call(root, "check-ignore", "-z", "--stdin", stdin="\0".join(rel) + "\0",
                       ok=(0, 1))  # 1: none of them is ignored
        if out is None:
            return None
        ignored = set(out.split("\0"))
        keep = [c for c, r in zip(children, rel, strict=True) if r not in ignored]
        watched += keep
        if len(watched) > MAX_FOLDERS:
            return None
        frontier = [c for c in keep if c not in reported]
    return None


def _snapshot(answer: _Answer, git_call, root: str, git_dir: str, common_dir: str,
              asked_at: float, untracked_dirs: list[str]) -> None:
    try:
        meta = _meta_paths(git_dir, common_dir)
        if meta is None:
            return
        files, ok = _tracked_files(git_call, root, _signature(meta[1:2]))
        if not ok:
            return
        looked_in = _folders(git_call, root, untracked_dirs)
        if looked_in is None:
            return
        folders = set(looked_in)
        for path in files:  # and the folders of tracked files, even ignored ones
            parent = os.path.dirname(path)
            while parent not in folders and len(parent) > len(root):
                folders.add(parent)
                parent = os.path.dirname(parent)
        paths = meta + sorted(folders) + files
        stats = _signature(paths)
        limit = int((asked_at - RACY_S) * 1e9)
        if any(st is not None and st[0] >= limit for st in stats):
            return  # something changed just before (or while) git looked: ask again
        with _lock:
            if _answers.get(root) is answer:
                answer.stats, answer.paths = stats, paths
    except Exception:  # noqa: BLE001 - a failed snapshot only means git is asked next time
        return
