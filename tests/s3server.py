"""A real S3-compatible server on loopback for the tests: moto's server mode.

``MotoServer`` starts ``python -m moto.server`` on 127.0.0.1 with a free port (moto >=
5.2.5 answers a conditional create, ``If-None-Match: *``, with 412 as S3 does) and
stops it with the test session. ``bucket()`` makes a fresh bucket; ``env()`` and
``storage_options()`` are what nbtrack and polars need to reach it, the usual AWS
variables included (``AWS_ALLOW_HTTP=true``: the loopback server speaks plain http).
The server can be paused (SIGSTOP) and resumed to play an unreachable store.
The fixtures are in ``conftest.py``: ``moto`` (one server per session), ``s3_env``, and
the ``store`` fixture's ``s3`` backend (a fresh bucket per test).
"""

from __future__ import annotations

import itertools
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

REGION = "us-east-1"
KEY_ID = "testing"
SECRET = "testing"  # noqa: S105 - moto accepts any credentials
_names = itertools.count()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class MotoServer:
    """One moto S3 server process on 127.0.0.1."""

    def __init__(self) -> None:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{self.endpoint}/moto-api/", timeout=2).close()
                break
            except (urllib.error.URLError, OSError):
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"moto server did not start on {self.endpoint}") from None
                time.sleep(0.05)

    def bucket(self, prefix: str = "nbtrack") -> str:
        """A new empty bucket; the store URL ``s3://<bucket>/<prefix>``."""
        name = f"test-{os.getpid()}-{next(_names)}"
        request = urllib.request.Request(f"{self.endpoint}/{name}", method="PUT")
        urllib.request.urlopen(request, timeout=10).close()
        return f"s3://{name}/{prefix}" if prefix else f"s3://{name}"

    def env(self) -> dict[str, str]:
        """The AWS variables that point nbtrack (and polars, obstore) at this server."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": KEY_ID,
            "AWS_SECRET_ACCESS_KEY": SECRET,
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ALLOW_HTTP": "true",
        }

    def storage_options(self) -> dict[str, str]:
        """The same as polars' / obstore's ``storage_options``."""
        return {
            "aws_endpoint_url": self.endpoint,
            "aws_access_key_id": KEY_ID,
            "aws_secret_access_key": SECRET,
            "aws_region": REGION,
            "aws_allow_http": "true",
        }

    def pause(self) -> None:
        """The store becomes unreachable (connections hang, then time out)."""
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.proc.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
