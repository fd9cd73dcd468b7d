"""git.info on real repositories: commit, branch, origin without credentials, and a dirty
flag that stays right across calls while the tree changes under it."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from nbtrack.capture import git

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
