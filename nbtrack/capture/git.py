"""The git state of the code a run ran: commit, branch, origin, and whether it was dirty.

Asked at every run start, because people edit between runs. The answer comes from
one ``git status --porcelain=v2 --branch`` (a few milliseconds: a process and a walk
of the tree), which gives commit, branch and the dirty flag together. It is asked
once per process and again only when something it depends on can have changed:
``git_cache`` keeps a stat fingerprint of HEAD, the index, the tracked files and
their folders, taken off the caller's thread, so a sweep's next run start costs a
few hundred ``lstat`` calls and no process. What does not change as files are
edited is cached too: the work tree's top per folder, and the origin URL, kept
until the repository's ``config`` file changes. A folder outside any repository
is answered from a few ``stat`` calls, with no subprocess.

*Dirty* means what a later checkout of ``commit`` would not reproduce: staged or
unstaged changes to tracked files, and untracked files that are not ignored (a
new module the notebook imports is code the commit lacks). Ignored files
(outputs, data, caches) do not count. ``changes`` and ``untracked`` give counts
so a reader can tell a stray output file from edited code.

>>> info("/")  # not a repository
"""

from __future__ import annotations

import os
import threading
import time

from . import git_cache

TIMEOUT_S = 3.0  # a run start must not hang on a huge or network-mounted tree

_lock = threading.Lock()
_git_exe: tuple[str | None, str | None] = (None, None)  # (PATH it was found on, git)
_roots: dict[
    tuple, tuple[str, str, str]
] = {}  # (folder, .git, GIT_DIR, GIT_WORK_TREE) -> (root, common, git dir)
_remotes: dict[str, tuple[tuple, str | None]] = {}  # config path -> (stat key, origin url)


def info(path: str | os.PathLike | None = None) -> dict | None:
    """Git facts for ``path`` (default: the working directory), or None outside a repository.

    Keys: ``root``, ``commit`` (None before the first commit), ``branch`` (None when
    detached), ``remote_url`` (origin, credentials stripped; None without one), ``dirty``
    (None when ``git status`` timed out), ``changes`` and ``untracked`` (counts).
    Never raises: git missing, failing or slow gives None or partial facts.
    """
    try:
        return _info(path)
    except (OSError, ValueError, UnicodeError):
        return None


def _info(path) -> dict | None:
    start = os.path.abspath(os.getcwd() if path is None else os.fspath(path))
    if not os.path.isdir(start):
        start = os.path.dirname(start)  # a notebook or script path: its folder
    git = _which_git()
    explicit = os.environ.get("GIT_DIR"), os.environ.get("GIT_WORK_TREE")
    dotgit = _find_dotgit(start) if explicit == (None, None) else None
    if git is None or (explicit == (None, None) and dotgit is None):
        return None
    located = _locate(git, start, (dotgit, *explicit))
    if located is None:
        return None
    root, common_dir, git_dir = located
    cacheable = explicit == (None, None)
    if cacheable:
        known = git_cache.lookup(root)
        if known is not None:
            return known
    out = {"root": root, "commit": None, "branch": None, "remote_url": None,
           "dirty": None, "changes": None, "untracked": None}  # fmt: skip
    asked_at = time.time()
    status = _git(git, root, "status", "--porcelain=v2", "--branch", "--no-renames",
                  "--untracked-files=normal")  # fmt: skip
    if status is not None:
        facts = _parse_status(status)
        untracked_dirs = facts.pop("untracked_dirs")
        out.update(facts)
        out["remote_url"] = _origin(git, root, common_dir)
        if cacheable and not any(d.startswith('"') for d in untracked_dirs):  # quoted: odd
            git_cache.remember(lambda where, *args, **kw: _git(git, where, *args, **kw), root,
                               git_dir, common_dir, out, asked_at, untracked_dirs)  # fmt: skip
        return out
    # status failed or timed out (a huge tree): commit and branch still, dirty unknown
    head = _git(git, root, "rev-parse", "--verify", "-q", "HEAD")
    out["commit"] = head.strip() or None if head else None
    branch = _git(git, root, "symbolic-ref", "-q", "--short", "HEAD")
    out["branch"] = branch.strip() or None if branch else None
    out["remote_url"] = _origin(git, root, common_dir)
    return out


def _which_git() -> str | None:
    global _git_exe
    path = os.environ.get("PATH")
    if _git_exe[0] != path:  # re-looked up only when PATH changes
        import shutil

        _git_exe = (path, shutil.which("git"))
    return _git_exe[1]


def _find_dotgit(start: str) -> str | None:
    folder = start
    while True:
        candidate = os.path.join(folder, ".git")
        if os.path.lexists(candidate):
            return candidate
        parent = os.path.dirname(folder)
        if parent == folder:
            return None
        folder = parent


def _git(git: str, where: str, *args: str, stdin: str | None = None,
         ok: tuple[int, ...] = (0,)) -> str | None:
    """``git -C where args`` stdout, or None when it failed (an exit status not in ``ok``)
    or took too long."""
    import subprocess

    try:
        done = subprocess.run(
            [git, "--no-optional-locks", "-C", where, *args],  # never take index.lock
            capture_output=True, text=True, errors="replace", timeout=TIMEOUT_S,
            **({"input": stdin} if stdin is not None else {"stdin": subprocess.DEVNULL}),
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode in ok else None


def _locate(git: str, start: str, found_by: tuple) -> tuple[str, str, str] | None:
    """(work tree top, common git dir, git dir) for ``start``, asked of git once per folder
    and ``.git`` found above it (a later ``git init`` nearer to ``start`` is a new key)."""
    key = (start, *found_by)
    with _lock:
        found = _roots.get(key)
    if found is not None and os.path.isdir(found[1]):
        return found
    out = _git(git, start, "rev-parse", "--show-toplevel", "--git-common-dir",
               "--absolute-git-dir")  # fmt: skip
    lines = out.splitlines() if out else []
    if len(lines) != 3 or not lines[0]:
        return None  # bare repository, inside .git, or git refuses it
    root, common = lines[0], os.path.join(start, lines[1])  # common dir may be relative
    found = (os.path.normpath(root), os.path.normpath(common), os.path.normpath(lines[2]))
    with _lock:
        _roots[key] = found
    return found


def _parse_status(text: str) -> dict:
    commit = branch = None
    changes = untracked = 0
    untracked_dirs = []
    for line in text.splitlines():
        if line.startswith("# branch.oid "):
            oid = line[13:].strip()
            commit = None if oid == "(initial)" else oid
        elif line.startswith("# branch.head "):
            head = line[14:].strip()
            branch = None if head == "(detached)" else head
        elif line.startswith("? "):
            untracked += 1
            if line.endswith("/"):
                untracked_dirs.append(line[2:].rstrip("/"))
        elif line[:2] in ("1 ", "2 ", "u "):
            changes += 1
    return {"commit": commit, "branch": branch, "dirty": bool(changes or untracked),
            "changes": changes, "untracked": untracked,
            "untracked_dirs": untracked_dirs}  # fmt: skip


def _origin(git: str, root: str, common_dir: str) -> str | None:
    """The origin URL, credentials stripped; re-read only when the repo's config changes."""
    from ..redaction import strip_url_credentials

    config = os.path.join(common_dir, "config")
    try:
        st = os.stat(config)
        key: tuple = (st.st_mtime_ns, st.st_size, st.st_ino)
    except OSError:
        key = ()
    with _lock:
        cached = _remotes.get(config)
    if cached is not None and cached[0] == key:
        return cached[1]
    out = _git(git, root, "remote", "get-url", "origin")  # applies url.*.insteadOf
    url = strip_url_credentials(out.strip()) if out and out.strip() else None
    with _lock:
        _remotes[config] = (key, url)
    return url
