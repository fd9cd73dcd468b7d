"""A real ipykernel for tests: execute cells one by one, read what they printed,
kill it with SIGKILL. Built on jupyter_client, as a notebook frontend is."""

from __future__ import annotations

import os
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class CellResult:
    status: str
    stdout: str = ""
    stderr: str = ""
    ename: str | None = None
    evalue: str | None = None
    data: list = field(default_factory=list)
    execution_count: int | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"


class Kernel:
    """``with Kernel(cwd, env) as k: k.run("x = 1")``"""

    def __init__(self, cwd: Path, env: dict[str, str] | None = None, startup_timeout: float = 90):
        from jupyter_client.manager import KernelManager

        self.km = KernelManager(kernel_name="python3")
        full_env = dict(os.environ)
        full_env.update(env or {})
        full_env.pop("PYTEST_CURRENT_TEST", None)
        # the kernel runs the interpreter of the tests (the project's venv)
        self.km.kernel_spec.argv[0] = sys.executable
        self.km.start_kernel(cwd=str(cwd), env=full_env,
                             extra_arguments=["--IPKernelApp.log_level=ERROR"])
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=startup_timeout)

    @property
    def pid(self) -> int:
        return self.km.provisioner.process.pid

    def run(self, code: str, timeout: float = 120, allow_error: bool = True) -> CellResult:
        out: list[str] = []
        err: list[str] = []
        data: list = []
        error: dict = {}

        def hook(msg):
            kind = msg["msg_type"]
            content = msg["content"]
            if kind == "stream":
                (out if content["name"] == "stdout" else err).append(content["text"])
            elif kind in ("execute_result", "display_data"):
                data.append(content["data"])
            elif kind == "error":
                error.update(content)

        reply = self.kc.execute_interactive(code, timeout=timeout, output_hook=hook)
        content = reply["content"]
        result = CellResult(
            status=content["status"], stdout="".join(out), stderr="".join(err),
            ename=error.get("ename"), evalue=error.get("evalue"), data=data,
            execution_count=content.get("execution_count"),
        )
        if not allow_error and not result.ok:
            raise AssertionError(f"cell failed: {result.ename}: {result.evalue}\n{code}")
        return result

    def kill9(self) -> None:
        os.kill(self.pid, signal.SIGKILL)
        self.km.provisioner.process.wait()

    def close(self) -> None:
        try:
            self.kc.stop_channels()
        finally:
            if self.km.is_alive():  # as a frontend does: ask, so atexit handlers run
                self.km.shutdown_kernel(now=False)

    def __enter__(self) -> Kernel:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
