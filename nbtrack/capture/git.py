"""The git state of the code a run ran: commit, branch, origin, and whether it was dirty.

Read at every run start, because people edit between runs. The cost is one
``git status --porcelain=v2 --branch`` (a few milliseconds): it is needed for
the dirty flag anyway, which no cheap fingerprint can stand in for (an edited
file changes no file under ``.git``), and it reports commit and branch for
free, so those need no cache keyed on ``HEAD``. What does not change as files
are edited is cached: the work tree's top per folder, and the origin URL, kept
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

TIMEOUT_S = 3.0  # a run start must not hang on a huge or network-mounted tree

_lock = threading.Lock()
_git_exe: tuple[str | None, str | None] = (None, None)  # (PATH it was found on, git)
_roots: dict[
    tuple, tuple[str, str]
] = {}  # (folder, .git, GIT_DIR, GIT_WORK_TREE) -> (root, common)
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
    root, common_dir = located
    out = {"root": root, "commit": None, "branch": None, "remote_url": None,
           "dirty": None, "changes": None, "untracked": None}  # fmt: skip
    status = _git(git, root, "status", "--porcelain=v2", "--branch", "--no-renames",
                  "--untracked-files=normal")  # fmt: skip
    if status is not None:
        out.update(_parse_status(status))
    else:  # status failed or timed out (a huge tree): commit and branch still, dirty unknown
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


def _git(git: str, where: str, *args: str) -> str | None:
    """``git -C where args`` stdout, or None when it failed or took too long."""
    import subprocess

    try:
        done = subprocess.run(
            [git, "--no-optional-locks", "-C", where, *args],  # never take index.lock
            capture_output=True, text=True, errors="replace", timeout=TIMEOUT_S,
            stdin=subprocess.DEVNULL,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def _locate(git: str, start: str, found_by: tuple) -> tuple[str, str] | None:
    """(work tree top, common git dir) for ``start``, asked of git once per folder and
    ``.git`` found above it (a later ``git init`` nearer to ``start`` is a new key)."""
    key = (start, *found_by)
    with _lock:
        found = _roots.get(key)
    if found is not None and os.path.isdir(found[1]):
        return found
    out = _git(git, start, "rev-parse", "--show-toplevel", "--git-common-dir")
    lines = out.splitlines() if out else []
    if len(lines) != 2 or not lines[0]:
        return None  # bare repository, inside .git, or git refuses it
    root, common = lines[0], os.path.join(start, lines[1])  # common dir may be relative
    found = (os.path.normpath(root), os.path.normpath(common))
    with _lock:
        _roots[key] = found
    return found


def _parse_status(text: str) -> dict:
    commit = branch = None
    changes = untracked = 0
    for line in text.splitlines():
        if line.startswith("# branch.oid "):
            oid = line[13:].strip()
            commit = None if oid == "(initial)" else oid
        elif line.startswith("# branch.head "):
            head = line[14:].strip()
            branch = None if head == "(detached)" else head
        elif line.startswith("? "):
            untracked += 1
        elif line[:2] in ("1 ", "2 ", "u "):
            changes += 1
    return {"commit": commit, "branch": branch, "dirty": bool(changes or untracked),
            "changes": changes, "untracked": untracked}  # fmt: skip


def _origin(git: str, root: str, common_dir: str) -> str | None:
    """The origin URL, credentials stripped; re-read only when the repo's config changes."""
    from .secrets import strip_url_credentials

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
