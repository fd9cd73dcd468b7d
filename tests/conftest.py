"""Shared fixtures: a fresh store per test, the active-run globals reset after it,
and a helper that runs Python code in a real subprocess against the same store."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import nbtrack
from nbtrack import active, flushing

# the folder that holds the nbtrack package under test, so subprocesses import the same one
PACKAGE_PARENT = str(Path(nbtrack.__file__).resolve().parent.parent)


# ---------------------------------------------------------------- the store, on both backends
def pytest_configure(config):
    config.addinivalue_line(
        "markers", "backends: run each test of the module twice, on a local store and on a "
        "fresh bucket of a moto S3 server on loopback (the `backend` parameter: local, s3)")
    config.addinivalue_line(
        "markers", "local_only(reason): in a `backends` module, a test that only applies to "
        "a local store (pid liveness, file-system faults, files opened by path)")


def pytest_generate_tests(metafunc):
    """A test in a module (or class) marked ``backends`` runs once per backend, unless it
    is marked ``local_only`` (with the reason) or asks for ``backend`` itself."""
    if "backend" not in metafunc.fixturenames or metafunc.definition.get_closest_marker(
            "backends") is None:
        return
    if any(m.args and "backend" in str(m.args[0]).split(",") for m in
           metafunc.definition.iter_markers("parametrize")):
        return
    only_local = metafunc.definition.get_closest_marker("local_only") is not None
    metafunc.parametrize("backend", ["local"] if only_local else ["local", "s3"], indirect=True)


@pytest.fixture
def backend(request) -> str:
    """``local`` or ``s3``: where this test's store lives (``local`` unless the module is
    marked ``backends``)."""
    return getattr(request, "param", "local")


@pytest.fixture(scope="session")
def moto():
    """One moto S3 server on loopback for the whole session, started on first use."""
    from s3server import MotoServer

    server = MotoServer()
    yield server
    server.stop()


@pytest.fixture
def s3_env(moto, monkeypatch) -> dict[str, str]:
    """The AWS variables set to reach ``moto`` (for this process and its children)."""
    for key, value in moto.env().items():
        monkeypatch.setenv(key, value)
    return moto.env()


@pytest.fixture(autouse=True)
def store(tmp_path, monkeypatch, backend, request):
    """Point ``NBTRACK_HOME`` at a fresh store and work inside ``tmp_path``: a folder
    (a ``Path``), or for ``backend == "s3"`` a fresh bucket on the session's moto server
    (the root's ``RemotePath``; the AWS variables set, the spool under tmp_path).
    Afterwards end whatever runs the test left open and forget cached stores and guest runs."""
    monkeypatch.delenv("NBTRACK_RUN_ID", raising=False)
    monkeypatch.delenv("NBTRACK_COST_PER_HOUR", raising=False)
    monkeypatch.chdir(tmp_path)
    if backend == "s3":
        server = request.getfixturevalue("moto")
        request.getfixturevalue("s3_env")
        monkeypatch.setenv("NBTRACK_SPOOL", str(tmp_path / "spool"))
        url = server.bucket()
        monkeypatch.setenv("NBTRACK_HOME", url)
        from nbtrack.store.layout import as_root

        home = as_root(url)
    else:
        home = tmp_path / "store"
        monkeypatch.setenv("NBTRACK_HOME", str(home))
    yield home
    for run in reversed(list(active._stack)):
        try:
            run.end("killed")
        except Exception:  # noqa: BLE001 - cleanup must reach every run
            pass
    active._stack.clear()
    for run in list(active._guest):
        flushing.unregister(run)
    active._guest.clear()
    active._layouts.clear()
    # per-process state that a test may leave behind (monkeypatch restores the variables)
    for name in ("_env_before", "_reproducing"):
        getattr(active, name, {}).clear()
    if backend == "s3":
        _forget_bucket(home)


def _forget_bucket(root) -> None:
    """Drop this test's bucket from the process's backends (each test has its own)."""
    from nbtrack.store import objectstore

    with objectstore._backends_lock:
        for key, found in list(objectstore._backends.items()):
            if found is root.backend:
                del objectstore._backends[key]


def child_environ(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (PACKAGE_PARENT, env.get("PYTHONPATH")) if p
    )
    env.update(extra)
    return env


@pytest.fixture
def spawn():
    """``spawn(code, **env)`` starts ``python -c code`` (dedented) with the test's
    environment (store included); returns the Popen. Every process is reaped after
    the test, killed if still running."""
    procs: list[subprocess.Popen] = []

    def start(code: str, env: dict[str, str] | None = None) -> subprocess.Popen:
        proc = subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(code)],
            stdin=subprocess.PIPE,
            env=child_environ(**(env or {})),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


# ---------------------------------------------------------------- browser tests (tests/browser.py)
@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """One JupyterLab per browser-test module, saving widget state with notebooks (the worst
    case for a saved notebook's size)."""
    from browser import JupyterServer

    server = JupyterServer(tmp_path_factory.mktemp("lab"), tmp_path_factory.mktemp("lab-scratch"), settings={
        "@jupyter-widgets/jupyterlab-manager/plugin": {"saveState": True},
    })
    yield server
    server.stop()


@pytest.fixture(scope="module")
def chromium():
    """Debian's Chromium under Playwright, one per browser-test module."""
    from playwright.sync_api import sync_playwright

    from browser import CHROMIUM, CHROMIUM_ARGS

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(lab, chromium):
    """``page(name, cells, dark=False, app="lab", width=1280, height=900)`` writes a notebook,
    opens it in a fresh tab with the theme set and the kernel idle; afterwards every tab must
    have opened no dialog (an injected ``alert`` would) and asked for nothing off this machine."""
    from browser import Page, write_notebook

    opened = []

    def open_(name: str, cells: list[str], dark: bool = False, app: str = "lab", width: int = 1280,
              height: int = 900) -> Page:
        write_notebook(lab.root / name, cells)
        tab = Page(chromium, lab, dark=dark, width=width, height=height)
        opened.append(tab)
        tab.open(name, app=app)
        if app == "lab":
            theme = "JupyterLab Dark" if dark else "JupyterLab Light"
            tab.command("apputils:change-theme", {"theme": theme})
            tab.page.wait_for_selector(f"body[data-jp-theme-name='{theme}']", timeout=30_000, state="attached")
            if tab.page.is_visible("#jp-left-stack"):
                tab.command("application:toggle-left-area")
        return tab

    yield open_
    for tab in opened:
        assert tab.dialogs == [], f"a dialog opened: {tab.dialogs}"
        assert tab.outside_loopback() == [], "the page asked for something off this machine"
        tab.close()
