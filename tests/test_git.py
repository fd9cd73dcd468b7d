"""git.info on real repositories: commit, branch, origin without credentials, and a dirty
flag that stays right across calls while the tree changes under it."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from nbtrack.capture import git, git_cache

TOKEN = "ghp_" + "Pl4ntedT0kenPl4ntedT0kenPl4ntedT0ken"


@pytest.fixture(autouse=True)
def isolated_git(monkeypatch, tmp_path):
    """No user or system git config; a fixed identity for commits."""
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for var in ("GIT_DIR", "GIT_WORK_TREE"):
        monkeypatch.delenv(var, raising=False)
    for who in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{who}_NAME", "Test")
        monkeypatch.setenv(f"GIT_{who}_EMAIL", "test@example.com")


def sh(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                          text=True).stdout.strip()  # fmt: skip


@pytest.fixture
def repo(tmp_path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    sh(root, "init", "-q", "-b", "main")
    (root / "train.py").write_text("print('hi')\n")
    (root / ".gitignore").write_text("outputs/\n")
    sh(root, "add", ".")
    sh(root, "commit", "-q", "-m", "first")
    return root


def test_clean_repository(repo):
    facts = git.info(repo)
    assert facts == {
        "root": os.path.realpath(repo), "commit": sh(repo, "rev-parse", "HEAD"), "branch": "main",
        "remote_url": None, "dirty": False, "changes": 0, "untracked": 0,
    }  # fmt: skip
    assert len(facts["commit"]) == 40


def test_defaults_to_the_working_directory_and_finds_the_top(repo, monkeypatch):
    (repo / "src" / "deep").mkdir(parents=True)
    monkeypatch.chdir(repo / "src" / "deep")
    assert git.info()["root"] == os.path.realpath(repo)
    assert git.info(repo / "train.py")["root"] == os.path.realpath(repo)  # a file: its folder


def test_dirty_is_right_at_every_call(repo):
    assert git.info(repo)["dirty"] is False
    (repo / "train.py").write_text("print('edited')\n")
    facts = git.info(repo)
    assert facts["dirty"] is True and facts["changes"] == 1 and facts["untracked"] == 0
    sh(repo, "checkout", "--", "train.py")
    assert git.info(repo)["dirty"] is False
    (repo / "helper.py").write_text("x = 1\n")  # untracked code counts
    facts = git.info(repo)
    assert facts["dirty"] is True and facts["untracked"] == 1
    (repo / "helper.py").unlink()
    (repo / "outputs").mkdir()
    (repo / "outputs" / "model.pt").write_bytes(b"weights")  # ignored outputs do not
    assert git.info(repo)["dirty"] is False
    (repo / "train.py").write_text("print('staged')\n")
    sh(repo, "add", "train.py")
    assert git.info(repo)["dirty"] is True


def test_commit_and_branch_follow_head(repo):
    first = git.info(repo)["commit"]
    (repo / "train.py").write_text("print(2)\n")
    sh(repo, "commit", "-q", "-am", "second")
    second = git.info(repo)
    assert second["commit"] == sh(repo, "rev-parse", "HEAD") != first
    sh(repo, "checkout", "-q", "-b", "feature/x")
    assert git.info(repo)["branch"] == "feature/x"
    sh(repo, "checkout", "-q", "--detach", first)
    detached = git.info(repo)
    assert detached["branch"] is None and detached["commit"] == first


def test_repository_without_commits(tmp_path):
    sh(tmp_path, "init", "-q", "-b", "trunk")
    facts = git.info(tmp_path)
    assert facts["commit"] is None and facts["branch"] == "trunk" and facts["dirty"] is False


def test_remote_credentials_are_stripped_and_changes_seen(repo):
    sh(repo, "remote", "add", "origin", f"https://alice:{TOKEN}@github.com/acme/model.git")
    facts = git.info(repo)
    assert facts["remote_url"] == "https://***@github.com/acme/model.git"
    assert TOKEN not in json.dumps(facts) and "alice" not in json.dumps(facts)
    sh(repo, "remote", "set-url", "origin", "git@github.com:acme/renamed.git")
    assert git.info(repo)["remote_url"] == "git@github.com:acme/renamed.git"
    sh(repo, "remote", "remove", "origin")
    assert git.info(repo)["remote_url"] is None


def test_worktree_reads_the_shared_config(repo, tmp_path):
    sh(repo, "remote", "add", "origin", "https://example.com/acme/model.git")
    sh(repo, "worktree", "add", "-q", "-b", "side", str(tmp_path / "wt"))
    facts = git.info(tmp_path / "wt")
    assert facts["root"] == os.path.realpath(tmp_path / "wt") and facts["branch"] == "side"
    assert facts["remote_url"] == "https://example.com/acme/model.git"


def test_outside_a_repository(tmp_path):
    (tmp_path / "plain").mkdir()
    assert git.info(tmp_path / "plain") is None
    assert git.info(tmp_path / "does-not-exist" / "x") is None


def test_git_not_installed(repo, tmp_path, monkeypatch):
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert git.info(repo) is None


def test_a_nested_repository_created_later_is_seen(repo):
    (repo / "sub").mkdir()
    assert git.info(repo / "sub")["root"] == os.path.realpath(repo)
    sh(repo / "sub", "init", "-q", "-b", "inner")
    nested = git.info(repo / "sub")
    assert nested["root"] == os.path.realpath(repo / "sub") and nested["branch"] == "inner"


# ---------------------------------------------------------------- asked once, while nothing changes
def age(root: Path, seconds: float = 60.0) -> None:
    """Date every file and folder of the repository (its .git too) ``seconds`` back, as a
    tree that was last edited a while ago (fresh ones are asked again: racy timestamps)."""
    past = time.time() - seconds
    for folder, dirs, files in os.walk(root):
        for name in files + dirs:
            os.utime(os.path.join(folder, name), (past, past), follow_symlinks=False)
    os.utime(root, (past, past))


@pytest.fixture
def statuses(monkeypatch):
    """The folders ``git status`` was run in, in order."""
    asked: list[str] = []
    real = git._git

    def counting(exe, where, *args, **options):
        if args and args[0] == "status":
            asked.append(where)
        return real(exe, where, *args, **options)

    monkeypatch.setattr(git, "_git", counting)
    git_cache.forget()
    yield asked
    git_cache.settle()
    git_cache.forget()


def cached_clean(repo: Path, statuses: list) -> dict:
    """Age the tree, ask once, let the fingerprint settle, and check the next ask is free."""
    age(repo)
    first = git.info(repo)
    git_cache.settle()
    n = len(statuses)
    again = git.info(repo)
    assert again == first and len(statuses) == n, "an unchanged tree ran git status again"
    return first


def test_an_unchanged_tree_is_answered_without_git(repo, statuses):
    (repo / "src" / "pkg").mkdir(parents=True)
    (repo / "src" / "pkg" / "mod.py").write_text("x = 1\n")
    sh(repo, "add", ".")
    sh(repo, "commit", "-q", "-m", "more")
    facts = cached_clean(repo, statuses)
    assert facts["dirty"] is False and facts["commit"] == sh(repo, "rev-parse", "HEAD")
    for _ in range(5):
        assert git.info(repo) == facts
    assert len(statuses) == 1
    (repo / "outputs").mkdir()
    age(repo)  # an ignored folder made a while ago: a new output in it changes nothing
    git.info(repo)
    git_cache.settle()
    n = len(statuses)
    (repo / "outputs" / "model.pt").write_bytes(b"weights")
    assert git.info(repo)["dirty"] is False and len(statuses) == n


def test_an_edit_after_a_cached_answer_reads_dirty(repo, statuses):
    cached_clean(repo, statuses)
    before = (repo / "train.py").stat()
    (repo / "train.py").write_text("print('HI')\n")  # same size, same inode, same second
    assert (repo / "train.py").stat().st_size == before.st_size
    facts = git.info(repo)
    assert facts["dirty"] is True and facts["changes"] == 1
    sh(repo, "checkout", "--", "train.py")
    assert git.info(repo)["dirty"] is False


def test_a_new_untracked_file_after_a_cached_answer_reads_dirty(repo, statuses):
    (repo / "src").mkdir()
    (repo / "src" / "a.py").write_text("a = 1\n")
    sh(repo, "add", ".")
    sh(repo, "commit", "-q", "-m", "src")
    cached_clean(repo, statuses)
    (repo / "src" / "helper.py").write_text("x = 1\n")  # in a folder, not at the top
    facts = git.info(repo)
    assert facts["dirty"] is True and facts["untracked"] == 1
    (repo / "src" / "helper.py").unlink()
    cached_clean(repo, statuses)
    (repo / "notes").mkdir()  # a new untracked folder with a file in it
    (repo / "notes" / "todo.md").write_text("- x\n")
    assert git.info(repo)["untracked"] == 1
    cached_clean(repo, statuses)  # an untracked folder is watched too
    (repo / "notes" / "todo.md").unlink()
    (repo / "notes").rmdir()
    assert git.info(repo)["dirty"] is False


def test_staging_and_commits_after_a_cached_answer_are_seen(repo, statuses):
    cached_clean(repo, statuses)
    (repo / "train.py").write_text("print('staged')\n")
    sh(repo, "add", "train.py")
    assert git.info(repo)["dirty"] is True
    sh(repo, "commit", "-q", "-m", "second")
    cached_clean(repo, statuses)
    first = sh(repo, "rev-parse", "HEAD")
    sh(repo, "commit", "-q", "--allow-empty", "-m", "third")  # HEAD moves, no file changes
    facts = git.info(repo)
    assert facts["commit"] == sh(repo, "rev-parse", "HEAD") != first
    cached_clean(repo, statuses)
    sh(repo, "checkout", "-q", "-b", "feature")
    assert git.info(repo)["branch"] == "feature"


def test_a_tree_edited_just_before_is_asked_again(repo, statuses):
    (repo / "train.py").write_text("print('just now')\n")  # not aged: racy timestamps
    git.info(repo)
    git_cache.settle()
    git.info(repo)
    assert len(statuses) == 2, "a fingerprint taken in the same instant as an edit was trusted"


def test_run_starts_in_a_git_tree_see_edits(repo, statuses, monkeypatch):
    import nbtrack

    monkeypatch.chdir(repo)
    age(repo)
    nbtrack.start_run("e").end()
    git_cache.settle()
    n = len(statuses)
    second = nbtrack.start_run("e")
    second.end()
    assert len(statuses) == n  # the store is outside the tree: nothing changed
    (repo / "train.py").write_text("print('edit')\n")
    third = nbtrack.start_run("e")
    third.end()
    events = {r: nbtrack.get_run(r.id)["git"] for r in (second, third)}
    assert events[second]["dirty"] is False and events[third]["dirty"] is True


def test_a_new_file_in_a_folder_of_ignored_files_reads_dirty(repo, statuses):
    (repo / ".gitignore").write_text("outputs/\ndata/**/*.csv\n")
    sh(repo, "commit", "-q", "-am", "ignore csv")
    (repo / "data" / "deep").mkdir(parents=True)
    (repo / "data" / "a.csv").write_text("1\n")  # a folder git looks in, but nothing shown
    (repo / "data" / "deep" / "b.csv").write_text("2\n")
    assert cached_clean(repo, statuses)["dirty"] is False
    (repo / "data" / "deep" / "load.py").write_text("x = 1\n")  # not ignored: code
    facts = git.info(repo)
    assert facts["dirty"] is True and facts["untracked"] == 1
