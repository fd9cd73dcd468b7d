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


@pytest.fixture(autouse=True)
def store(tmp_path, monkeypatch) -> Path:
    """Point ``NBTRACK_HOME`` at a fresh folder and work inside ``tmp_path``; afterwards
    end whatever runs the test left open and forget cached stores and guest runs."""
    home = tmp_path / "store"
    monkeypatch.setenv("NBTRACK_HOME", str(home))
    monkeypatch.delenv("NBTRACK_RUN_ID", raising=False)
    monkeypatch.delenv("NBTRACK_COST_PER_HOUR", raising=False)
    monkeypatch.chdir(tmp_path)
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
