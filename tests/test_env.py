"""The environment snapshot: contents, cache and invalidation, GPUs via a fake nvidia-smi,
container markers, and planted secrets that must never reach the snapshot."""

from __future__ import annotations

import json
import os
import re
import stat
import sys
from importlib import metadata
from pathlib import Path

import pytest

from nbtrack.capture import env

AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
GH_TOKEN = "ghp_" + "Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0FeDcBa"


@pytest.fixture(autouse=True)
def fresh_snapshot():
    env.invalidate()
    yield
    env.invalidate()


def fake_tool(folder: Path, name: str, script: str) -> Path:
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def only_on_path(monkeypatch, folder: Path) -> None:
    monkeypatch.setenv("PATH", str(folder))


def dist_info(site: Path, name: str, version: str, direct_url: dict | None = None) -> Path:
    folder = site / f"{name}-{version}.dist-info"
    folder.mkdir(parents=True)
    (folder / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    if direct_url is not None:
        (folder / "direct_url.json").write_text(json.dumps(direct_url))
    return folder


def test_snapshot_holds_the_environment_and_is_json():
    snap = env.snapshot()
    assert json.loads(json.dumps(snap)) == snap
    python = snap["python"]
    assert python["version"] == ".".join(map(str, sys.version_info[:3]))
    assert python["executable"] == sys.executable and python["prefix"] == sys.prefix
    assert snap["os"]["system"] and snap["os"]["machine"]
    assert snap["host"] and snap["cwd"] == os.getcwd()
    assert snap["cpu"]["logical_cores"] == os.cpu_count()
    assert snap["memory_bytes"] > 2**26
    assert isinstance(snap["gpus"], list)
    assert snap["capture_ms"] >= 0 and re.fullmatch(
        r"\d{4}-\d\d-\d\dT[\d:]{8}Z", snap["captured_at"]
    )


def test_packages_match_importlib_metadata():
    expected: dict[str, str] = {}
    for dist in metadata.distributions():  # first found wins, as for imports
        name = re.sub(r"[-_.]+", "-", dist.metadata["Name"]).lower()
        expected.setdefault(name, dist.version)
    assert env.snapshot()["packages"] == expected
    assert "pytest" in expected


def test_cached_until_invalidated(tmp_path, monkeypatch):
    first = env.snapshot()
    assert env.snapshot() is first  # reused, not recaptured
    site = tmp_path / "site"
    dist_info(site, "freshly_installed", "1.2.3")
    monkeypatch.syspath_prepend(str(site))
    assert "freshly-installed" not in env.snapshot()["packages"]
    env.invalidate()  # what a %pip install triggers
    assert env.snapshot()["packages"]["freshly-installed"] == "1.2.3"
    assert env.snapshot(refresh=True) is not env.snapshot(refresh=True)


def test_env_vars_and_cwd_follow_changes_without_recapture(tmp_path, monkeypatch):
    first = env.snapshot()
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    second = env.snapshot()
    assert second["env_vars"]["OMP_NUM_THREADS"] == "3"
    assert second["captured_at"] == first["captured_at"] and second["packages"] is first["packages"]
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert env.snapshot()["cwd"] == str(tmp_path / "elsewhere")


def test_planted_secrets_never_reach_the_snapshot(tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", AWS_SECRET)
    monkeypatch.setenv("GITHUB_TOKEN", GH_TOKEN)
    monkeypatch.setenv("HF_TOKEN", "hf_plantedvalue")
    monkeypatch.setenv("PIP_EXTRA_INDEX_URL", "https://bob:pl4nted-pw@pypi.corp.example/simple")
    monkeypatch.setenv("CUDA_NOTE", GH_TOKEN)  # allow-listed name, secret value
    monkeypatch.setenv("NBTRACK_IMAGE", "https://ci:pl4nted-img@registry.example/img:1")
    site = tmp_path / "site"
    dist_info(site, "private_lib", "0.1", {"url": "https://oauth2:pl4nted-vcs@git.corp/x.git",
              "vcs_info": {"vcs": "git", "commit_id": "4e03cf90e148656e104d8cc6aac64fbede502f94"}})  # fmt: skip
    monkeypatch.syspath_prepend(str(site))
    snap = env.snapshot()
    dumped = json.dumps(snap)
    for planted in (AWS_SECRET, GH_TOKEN, "hf_plantedvalue", "pl4nted-pw", "pl4nted-img",
                    "pl4nted-vcs", "AWS_SECRET_ACCESS_KEY", "GITHUB_TOKEN"):  # fmt: skip
        assert planted not in dumped
    assert snap["env_vars"]["HF_TOKEN"] == "***REDACTED***"
    assert snap["env_vars"]["CUDA_NOTE"] == "***REDACTED***"
    assert snap["env_vars"]["PIP_EXTRA_INDEX_URL"] == "https://***@pypi.corp.example/simple"
    assert snap["package_sources"]["private-lib"] == {
        "url": "https://***@git.corp/x.git", "editable": False, "vcs": "git",
        "commit_id": "4e03cf90e148656e104d8cc6aac64fbede502f94", "requested_revision": None,
    }  # fmt: skip


def test_egg_info_and_editable_sources(tmp_path, monkeypatch):
    project, site = tmp_path / "project", tmp_path / "site"
    (project / "mylib.egg-info").mkdir(parents=True)  # setuptools leaves this in the project
    (project / "mylib.egg-info" / "PKG-INFO").write_text(
        "Metadata-Version: 2.1\nName: mylib\nVersion: 0.5\n"
    )
    dist_info(site, "mylib", "0.5", {"url": "file:///src/mylib", "dir_info": {"editable": True}})
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.syspath_prepend(str(project))  # the project folder first, as when run from it
    snap = env.snapshot()
    assert snap["packages"]["mylib"] == "0.5"
    assert snap["package_sources"]["mylib"]["editable"] is True
    assert snap["package_sources"]["mylib"]["url"] == "file:///src/mylib"


def test_gpus_from_nvidia_smi(tmp_path, monkeypatch):
    calls = tmp_path / "calls.txt"
    fake_tool(tmp_path / "bin", "nvidia-smi", f"""echo "$@" > {calls}
echo "NVIDIA H100 80GB HBM3, 81559, 550.54.15, GPU-5e7f5c59-5c3a-0e3f-9a4e-6f0c1b2a3d4e"
echo "Tesla T4, with a comma, 15360, 550.54.15, [N/A]"
""")  # fmt: skip
    only_on_path(monkeypatch, tmp_path / "bin")
    snap = env.snapshot()
    assert snap["gpus_reason"] is None
    assert snap["gpus"] == [
        {"name": "NVIDIA H100 80GB HBM3", "memory_total_mb": 81559, "driver_version": "550.54.15",
         "uuid": "GPU-5e7f5c59-5c3a-0e3f-9a4e-6f0c1b2a3d4e"},
        {"name": "Tesla T4, with a comma", "memory_total_mb": 15360,
         "driver_version": "550.54.15", "uuid": None},
    ]  # fmt: skip
    assert "--query-gpu=name,memory.total,driver_version,uuid" in calls.read_text()


def test_nvidia_smi_absent(tmp_path, monkeypatch):
    (tmp_path / "empty").mkdir()
    only_on_path(monkeypatch, tmp_path / "empty")
    snap = env.snapshot()
    assert snap["gpus"] == [] and "not found" in snap["gpus_reason"]


def test_nvidia_smi_failing(tmp_path, monkeypatch):
    fake_tool(tmp_path / "bin", "nvidia-smi", """echo "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver." >&2
exit 9
""")  # fmt: skip
    only_on_path(monkeypatch, tmp_path / "bin")
    snap = env.snapshot()
    assert snap["gpus"] == []
    assert snap["gpus_reason"].startswith("nvidia-smi exited 9: NVIDIA-SMI has failed")


def test_nvidia_smi_hanging_is_cut_short(tmp_path, monkeypatch):
    fake_tool(tmp_path / "bin", "nvidia-smi", "exec /bin/sleep 60\n")
    only_on_path(monkeypatch, tmp_path / "bin")
    monkeypatch.setattr(env, "GPU_TIMEOUT_S", 0.3)
    snap = env.snapshot()
    assert snap["gpus"] == [] and "timed out" in snap["gpus_reason"]
    assert snap["capture_ms"] < 5000


def test_container_markers(monkeypatch):
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("NBTRACK_IMAGE", "ghcr.io/acme/train:1.4")
    container = env.snapshot()["container"]
    assert container["image"] == "ghcr.io/acme/train:1.4"
    assert ("/.dockerenv" in container["markers"]) == os.path.exists("/.dockerenv")
    assert container["in_container"] == bool(container["markers"])
    assert (container["kind"] == "none") == (not container["markers"])
    env.invalidate()
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
    monkeypatch.delenv("NBTRACK_IMAGE")
    container = env.snapshot()["container"]
    assert container["kind"] == "kubernetes" and container["in_container"]
    assert "env:KUBERNETES_SERVICE_HOST" in container["markers"]
