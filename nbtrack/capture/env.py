"""The environment a run ran in: Python, packages, OS, hardware, GPUs, container.

Captured once per process and reused, because sweeps start thousands of runs
and the environment does not change between them; ``invalidate()`` drops it
when something does (a ``%pip``/``!pip`` command). Only ``env_vars`` and
``cwd`` are re-read on every call (a cheap comparison), since ``%env`` and
``os.chdir`` change them between runs.

Cold capture is a few milliseconds: packages come from the names of the
``*.dist-info`` folders on ``sys.path`` (no metadata parsing, no ``pip freeze``)
and ``nvidia-smi``, the slow part on GPU machines, runs while the rest is read.

>>> snap = snapshot()
>>> snap is snapshot(), "AWS_SECRET_ACCESS_KEY" in snap["env_vars"]
(True, False)
"""

from __future__ import annotations

import os
import re
import sys
import threading
import time

from .. import redaction

GPU_TIMEOUT_S = 3.0  # nvidia-smi can hang on a wedged driver; a run start must not
_GPU_QUERY = "name,memory.total,driver_version,uuid"
_SEPARATORS = re.compile(r"[-_.]+")  # PEP 503 name normalisation

_lock = threading.Lock()
_static: dict | None = None  # everything but env_vars and cwd
_seen: tuple[dict, str | None] | None = None  # the os.environ and cwd the cached snapshot used
_full: dict | None = None


def snapshot(refresh: bool = False) -> dict:
    """The process's environment as a JSON-able dict, cached; treat it as read-only.

    Keys: ``python``, ``packages``, ``package_sources``, ``os``, ``host``, ``user``,
    ``cpu``, ``memory_bytes``, ``gpus``, ``gpus_reason``, ``container``, ``env_vars``,
    ``cwd``, ``captured_at``, ``capture_ms``.
    """
    global _static, _seen, _full
    environ = dict(getattr(os.environ, "_data", os.environ))  # the raw dict: ~1 µs to copy
    try:
        cwd: str | None = os.getcwd()
    except OSError:  # the working directory was deleted under us
        cwd = None
    with _lock:
        if refresh or _static is None:
            _static, _seen = _capture(), None
        if _seen is None or _seen[0] != environ or _seen[1] != cwd:
            _full = {**_static, "env_vars": redaction.redact_env(os.environ), "cwd": cwd}
            _seen = (environ, cwd)
        return _full


def invalidate() -> None:
    """Forget the snapshot: the next ``snapshot()`` captures afresh (after ``pip install``)."""
    global _static, _seen, _full
    with _lock:
        _static = _seen = _full = None


def _capture() -> dict:
    import getpass
    import socket

    t0 = time.perf_counter()
    gpu_probe = _start_nvidia_smi()
    packages, sources = _packages()
    try:
        user = getpass.getuser()
    except (KeyError, OSError, ImportError):
        user = None
    snap = {
        "captured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "python": _python(),
        "packages": packages,
        "package_sources": sources,
        "os": _os(),
        "host": socket.gethostname(),
        "user": user,
        "cpu": _cpu(),
        "memory_bytes": _memory(),
        "container": _container(),
    }
    snap["gpus"], snap["gpus_reason"] = _finish_nvidia_smi(gpu_probe)
    snap["capture_ms"] = round((time.perf_counter() - t0) * 1000, 2)
    return snap


def _python() -> dict:
    import platform

    # the interpreter's own prefix, not $VIRTUAL_ENV: a kernel may run outside the shell's venv
    venv = sys.prefix if sys.prefix != sys.base_prefix else None
    conda = os.environ.get("CONDA_DEFAULT_ENV") or os.environ.get("CONDA_PREFIX")
    return {"version": platform.python_version(), "implementation": platform.python_implementation(),
            "executable": sys.executable, "prefix": sys.prefix, "virtualenv": venv,
            "conda_env": conda}  # fmt: skip


def _packages() -> tuple[dict[str, str], dict[str, dict]]:
    """``{name: version}`` of every distribution on ``sys.path`` (first one wins, as for
    imports), and where editable, VCS and local installs came from (``direct_url.json``)."""
    packages: dict[str, str] = {}
    sources: dict[str, dict] = {}
    for entry in sys.path:
        try:
            with os.scandir(entry or ".") as it:
                found = [e for e in it if e.name.endswith((".dist-info", ".egg-info"))]
        except OSError:
            continue
        for item in found:
            stem, _, version = item.name.rpartition(".")[0].partition("-")
            name = _SEPARATORS.sub("-", stem).lower()
            source = _direct_url(item.path) if item.name.endswith(".dist-info") else None
            if name in packages:
                # a stale ``X.egg-info`` in the project folder shadows the editable
                # install's dist-info: keep where the install came from all the same
                if source and source["editable"]:
                    sources.setdefault(name, source)
                continue
            if not version[:1].isdigit() or "-" in version:  # egg-info, unescaped old names
                version = _metadata_version(item.path)
            if version:
                packages[name] = version
                if source:
                    sources[name] = source
    return dict(sorted(packages.items())), dict(sorted(sources.items()))


def _metadata_version(path: str) -> str | None:
    """The ``Version:`` header of a dist's metadata, read directly: importing
    importlib.metadata (email, zipfile, csv ...) would cost more than the whole capture."""
    names = ("METADATA", "PKG-INFO") if os.path.isdir(path) else ("",)  # or a PKG-INFO file
    for file in (os.path.join(path, n) if n else path for n in names):
        for line in (_read(file) or "").splitlines():
            if not line:
                break  # the headers end at the first blank line
            if line.startswith("Version:"):
                return line[8:].strip() or None
    return None


def _direct_url(dist_info: str) -> dict | None:
    import json

    try:
        with open(os.path.join(dist_info, "direct_url.json"), encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("url"), str):
        return None
    vcs = data.get("vcs_info") or {}
    return {"url": redaction.strip_url_credentials(data["url"]),
            "editable": bool((data.get("dir_info") or {}).get("editable")), "vcs": vcs.get("vcs"),
            "commit_id": vcs.get("commit_id"),
            "requested_revision": vcs.get("requested_revision")}  # fmt: skip


def _os() -> dict:
    import platform

    uname = platform.uname()
    try:  # instant, where platform.libc_ver() reads the whole interpreter binary
        libc = os.confstr("CS_GNU_LIBC_VERSION") or ""
    except (AttributeError, ValueError, OSError):
        libc = ""
    suffix = "-with-" + libc.replace(" ", "") if libc else ""
    info = {"system": uname.system, "release": uname.release, "version": uname.version,
            "machine": uname.machine, "libc": libc or None,
            "platform": f"{uname.system}-{uname.release}-{uname.machine}{suffix}",
            "distro": None}  # fmt: skip
    try:
        info["distro"] = platform.freedesktop_os_release().get("PRETTY_NAME")
    except (OSError, AttributeError):
        pass
    return info


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return None


def _cpu() -> dict:
    import platform

    model, cores = None, set()
    info = _read("/proc/cpuinfo") or ""
    physical = core = None
    for line in info.splitlines():
        key, _, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if key in ("model name", "Model", "cpu model") and model is None:
            model = value
        elif key == "physical id":
            physical = value
        elif key == "core id":
            core = value
            cores.add((physical, core))
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = None
    return {"model": model or platform.machine() or None, "logical_cores": os.cpu_count(),
            "physical_cores": len(cores) or None, "usable_cores": usable}  # fmt: skip


def _memory() -> int | None:
    for line in (_read("/proc/meminfo") or "").splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def _container() -> dict:
    """Docker, Podman or Kubernetes, from the markers each leaves; never certain, so the
    markers found are kept for whoever reads the run."""
    markers = [p for p in ("/.dockerenv", "/run/.containerenv") if os.path.exists(p)]
    cgroup = _read("/proc/1/cgroup") or ""
    words = [w for w in ("kubepods", "docker", "podman", "containerd", "lxc") if w in cgroup]
    markers += [f"/proc/1/cgroup:{w}" for w in words]
    if os.environ.get("KUBERNETES_SERVICE_HOST"):
        markers.append("env:KUBERNETES_SERVICE_HOST")
    found = " ".join(markers).lower()
    kinds = (("kubernetes", "kube"), ("podman", "podman"), ("podman", "containerenv"),
             ("docker", "docker"), ("other", "/"), ("none", ""))  # fmt: skip
    kind = next(k for k, clue in kinds if clue in found)
    image = os.environ.get("NBTRACK_IMAGE") or None
    if image is None and "/run/.containerenv" in markers:  # podman writes image="..." there
        for line in (_read("/run/.containerenv") or "").splitlines():
            if line.startswith("image="):
                image = line[6:].strip('"') or None
    limit = (_read("/sys/fs/cgroup/memory.max") or "").strip()  # cgroup v2
    return {"in_container": bool(markers), "kind": kind,
            "image": redaction.strip_url_credentials(image) if image else None,
            "markers": markers, "memory_limit_bytes": int(limit) if limit.isdigit() else None}  # fmt: skip


def _start_nvidia_smi():
    """Start ``nvidia-smi`` in the background (the slow part on GPU hosts), or say why not."""
    import shutil

    exe = shutil.which("nvidia-smi")
    if exe is None:
        return "nvidia-smi not found on PATH"
    import subprocess

    args = [exe, f"--query-gpu={_GPU_QUERY}", "--format=csv,noheader,nounits"]
    try:
        return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                stdin=subprocess.DEVNULL, text=True, errors="replace")  # fmt: skip
    except OSError as e:
        return f"nvidia-smi could not start: {e}"


def _finish_nvidia_smi(probe) -> tuple[list[dict], str | None]:
    import subprocess

    if isinstance(probe, str):
        return [], probe
    try:
        out, err = probe.communicate(timeout=GPU_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        probe.kill()
        probe.communicate()
        return [], f"nvidia-smi timed out after {GPU_TIMEOUT_S:g}s"
    if probe.returncode != 0:
        detail = (err or out).strip().splitlines()
        return [], f"nvidia-smi exited {probe.returncode}: {detail[0] if detail else ''}".strip()
    gpus = [_parse_gpu(line) for line in out.splitlines() if line.strip()]
    gpus = [gpu for gpu in gpus if gpu is not None]
    return gpus, None if gpus else "nvidia-smi listed no GPUs"


def _parse_gpu(line: str) -> dict | None:
    parts = [p.strip() for p in line.rsplit(",", 3)]  # a name may hold commas; the rest not
    if len(parts) != 4:
        return None
    name, memory, driver, uuid = (None if p in ("", "[N/A]", "N/A") else p for p in parts)
    try:
        memory_mb = int(float(memory)) if memory else None
    except ValueError:
        memory_mb = None
    return {"name": name, "memory_total_mb": memory_mb, "driver_version": driver, "uuid": uuid}
