"""A real JupyterLab on loopback and Debian's Chromium driven by Playwright, for tests of what
a person sees (see /work/shared/BROWSER.md for the recipe this follows).

One server and one browser serve a whole test session (fixtures in ``test_ui_browser.py``);
each test writes its own notebook under the server's root and opens it in a fresh page whose
requests are recorded (nothing may leave loopback) and whose dialogs are counted (an injected
``alert`` would show up there).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
OUTPUT = Path(__file__).parent / "output"  # what a test run leaves for a person to look at
SHOTS = OUTPUT / "screenshots"
FIGURES = OUTPUT / "ui-figures.json"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic", "--disable-default-apps",
]
LOOPBACK = ("127.0.0.1", "localhost", "[::1]")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, timeout: float = 5.0):
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - loopback only
        return json.loads(response.read() or b"null")


class JupyterServer:
    """``jupyter lab`` on 127.0.0.1 with its own config, data, runtime and workspace folders."""

    def __init__(self, root: Path, scratch: Path, env: dict | None = None, settings: dict | None = None):
        self.root = root
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        dirs = {k: scratch / k for k in ("config", "data", "runtime", "workspaces")}
        for d in dirs.values():
            d.mkdir(parents=True, exist_ok=True)
        self.runtime = dirs["runtime"]
        user_settings = scratch / "settings"
        quiet = {"@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False}}
        for plugin, values in {**quiet, **(settings or {})}.items():
            target = user_settings / f"{plugin}.jupyterlab-settings"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(values))
        full_env = dict(os.environ, JUPYTER_CONFIG_DIR=str(dirs["config"]), JUPYTER_DATA_DIR=str(dirs["data"]),
                        JUPYTER_RUNTIME_DIR=str(dirs["runtime"]), **(env or {}))
        full_env.pop("PYTEST_CURRENT_TEST", None)
        jupyter = Path(sys.executable).with_name("jupyter")
        self.log = open(scratch / "jupyter.log", "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(  # noqa: S603
            [str(jupyter), "lab", "--allow-root", "--no-browser", "--ip", "127.0.0.1", f"--port={self.port}",
             "--ServerApp.token=", "--ServerApp.password=", "--ServerApp.disable_check_xsrf=True",
             f"--ServerApp.root_dir={root}", f"--LabApp.workspaces_dir={dirs['workspaces']}",
             "--LabApp.expose_app_in_browser=True", f"--LabApp.user_settings_dir={user_settings}",
             "--ServerApp.open_browser=False", "--LabServerApp.announcements_url=",
             "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
            cwd=root, env=full_env, stdout=self.log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 90
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"jupyter lab exited; see {scratch / 'jupyter.log'}")
            try:
                _get(f"{self.url}/api/status", timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)  # polling a starting server: no event to wait on

    def sessions(self) -> list[dict]:
        return _get(f"{self.url}/api/sessions") or []

    def kernel_of(self, relpath: str) -> str:
        for s in self.sessions():
            if s.get("path", "").endswith(relpath) and s.get("kernel"):
                return s["kernel"]["id"]
        raise LookupError(f"no kernel for {relpath}")

    def evaluate(self, relpath: str, expression: str, timeout: float = 30):
        """``expression`` evaluated in the notebook's own kernel, through a second client on
        its connection file (as a console attached to the kernel would), as a Python value."""
        from jupyter_client import BlockingKernelClient

        kernel_id = self.kernel_of(relpath)
        client = BlockingKernelClient(connection_file=str(self.runtime / f"kernel-{kernel_id}.json"))
        client.load_connection_file()
        client.start_channels()
        try:
            reply = client.execute_interactive(
                f"import json as _j; print(_j.dumps({expression}))", timeout=timeout, store_history=False,
                output_hook=lambda msg: self._collect(msg))
            if reply["content"]["status"] != "ok":
                raise RuntimeError(f"{expression!r} failed in the kernel: {reply['content']}")
            text, self._out = "".join(self._out), []
            return json.loads(text)
        finally:
            client.stop_channels()

    _out: list = []

    def _collect(self, msg) -> None:
        if msg["msg_type"] == "stream" and msg["content"].get("name") == "stdout":
            self._out = [*self._out, msg["content"]["text"]]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


def write_notebook(path: Path, cells: list[str]) -> Path:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


class Page:
    """A browser tab on one notebook, with what it requested and the dialogs it opened."""

    def __init__(self, browser, server: JupyterServer, dark: bool = False, width: int = 1280, height: int = 900):
        self.server = server
        self.context = browser.new_context(viewport={"width": width, "height": height},
                                           color_scheme="dark" if dark else "light")
        self.page = self.context.new_page()
        self.requests: list[str] = []
        self.dialogs: list[str] = []
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))

    def close(self) -> None:
        self.context.close()

    def outside_loopback(self) -> list[str]:
        from urllib.parse import urlparse

        bad = []
        for url in self.requests:
            parsed = urlparse(url)
            if parsed.scheme in ("data", "blob", "about"):
                continue
            if parsed.hostname not in ("127.0.0.1", "localhost", "::1"):
                bad.append(url)
        return bad

    def open(self, relpath: str, app: str = "lab", timeout: float = 120) -> None:
        """Open a notebook and wait until its kernel is idle (polling the sessions API, as the
        toolbar's indicator can read idle before the kernel exists)."""
        # ?reset: a fresh workspace, so notebooks of earlier tests don't reopen as hidden tabs
        url = f"{self.server.url}/lab/tree/{relpath}?reset" if app == "lab" else f"{self.server.url}/notebooks/{relpath}"
        self.page.goto(url)
        deadline = time.monotonic() + timeout
        while True:
            for s in self.server.sessions():
                if s.get("path", "").endswith(relpath) and (s.get("kernel") or {}).get("execution_state") == "idle":
                    self.page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=30_000)
                    return
            dialog = self.page.query_selector(".jp-Dialog .jp-mod-accept")
            if dialog:
                dialog.click()
            if time.monotonic() > deadline:
                raise TimeoutError(f"kernel for {relpath} never became idle")
            self.page.wait_for_timeout(200)  # polling the server's sessions API

    def command(self, name: str, args: dict | None = None):
        """Run a JupyterLab/Notebook command (the app is exposed by the server's settings)."""
        return self.page.evaluate("([n, a]) => window.jupyterapp.commands.execute(n, a)", [name, args or {}])

    def run_all(self) -> float:
        """Run every cell; the perf_counter time just before asking."""
        self.page.click(".jp-Notebook .jp-Cell")
        started = time.perf_counter()
        self.command("notebook:run-all-cells")
        return started


def record(**figures) -> None:
    """Add measured figures (first paint, payload sizes ...) to ``tests/output/ui-figures.json``."""
    OUTPUT.mkdir(exist_ok=True)
    known = json.loads(FIGURES.read_text()) if FIGURES.exists() else {}
    known.update(figures)
    FIGURES.write_text(json.dumps(known, indent=1, sort_keys=True))


def shoot(tab: Page, name: str, selector: str | None = None) -> Path:
    """A screenshot of the page (or of the first element matching ``selector``) to look at."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    if selector:
        tab.page.locator(selector).first.screenshot(path=str(path))
    else:
        tab.page.screenshot(path=str(path))
    return path


def setup_cell(store: Path, folder: Path | None = None) -> str:
    """A notebook's first cell: this test's store (and working folder), and nbtrack imported."""
    cd = f"\nos.chdir({str(folder)!r})" if folder else ""
    return f"import os\nos.environ['NBTRACK_HOME'] = {str(store)!r}{cd}\nimport nbtrack"
