"""``%track sh CMD``: run a shell command as part of a run, runnable-style.

The command runs in ``bash`` with the run's environment variables (so an
``nbtrack.log`` inside it logs to the run), its output is streamed to the
notebook and kept as an artifact, and any variable it exports named
``NBTRACK_TRACK_<KEY>`` becomes a metric (numeric) or a param (text);
``NBTRACK_TRACK_<KEY>_STEP_<N>`` gives the step.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..run import run_env

PREFIX = "NBTRACK_TRACK_"
_STEP = re.compile(r"^(?P<key>.+?)_STEP_(?P<step>\d+)$")


@dataclass
class ShellResult:
    command: str
    exit_status: int
    output: str
    metrics: dict = field(default_factory=dict)  # key -> {step: value}
    params: dict = field(default_factory=dict)
    artifact: str | None = None

    def __repr__(self) -> str:
        return (
            f"<nbtrack sh exit={self.exit_status} metrics={sorted(self.metrics)} "
            f"params={sorted(self.params)}>"
        )


def parse_tracked(environ: dict[str, str]) -> tuple[dict, dict]:
    """Split ``NBTRACK_TRACK_*`` variables into metrics ``{key: {step: value}}`` and params."""
    metrics: dict[str, dict[int, float]] = {}
    params: dict[str, str] = {}
    for name, value in environ.items():
        if not name.startswith(PREFIX) or len(name) == len(PREFIX):
            continue
        key = name[len(PREFIX):]
        step = 0
        match = _STEP.match(key)
        if match:
            key, step = match["key"], int(match["step"])
        try:
            number = float(value)
        except ValueError:
            params[key if not match else f"{key}_{step}"] = value
            continue
        metrics.setdefault(key, {})[step] = number
    return metrics, params


def _read_env_dump(path: Path) -> dict[str, str]:
    try:
        raw = path.read_bytes()
    except OSError:
        return {}
    out = {}
    for entry in raw.split(b"\0"):
        name, sep, value = entry.partition(b"=")
        if sep:
            out[name.decode(errors="replace")] = value.decode(errors="replace")
    return out


def _keep_output(run, path: Path, artifact: str) -> None:
    """Keep the command's output as an artifact of the run. Not an *output* of the run:
    the file is nbtrack's own temporary copy, gone when the command is done."""
    from ..store import objects

    digest = objects.put_file(run.layout, path)
    run._event("artifact", path=artifact, source="%track sh output", sha256=digest.sha256,
               size=digest.size)


def run_tracked(command: str, run, stream=None) -> ShellResult:
    """Run ``command`` for ``run`` and record it; returns what happened."""
    from ..redaction import redact_known_values, redact_text

    if not isinstance(command, str) or not command.strip():
        raise ValueError("%track sh needs a command, e.g. %track sh python train.py")
    stream = stream or sys.stdout
    env = dict(os.environ, **run_env(run))
    with tempfile.TemporaryDirectory(prefix="nbtrack-sh-") as tmp:
        dump = Path(tmp) / "env"
        out_path = Path(tmp) / "output.txt"
        # dump the environment the command exported when the shell exits, even by `exit N`
        script = f"trap 'env -0 > \"{dump}\"' EXIT\n{command}\n"
        started = time.time()
        chunks: list[str] = []
        proc = subprocess.Popen(
            ["bash", "-c", script], env=env, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, errors="replace", bufsize=1,
        )
        assert proc.stdout is not None
        for line in proc.stdout:
            stream.write(line)
            chunks.append(line)
        status = proc.wait()
        # the kept copy never holds a secret the command printed
        out_path.write_text(redact_known_values("".join(chunks), os.environ), encoding="utf-8")
        metrics, params = parse_tracked(
            {k: v for k, v in _read_env_dump(dump).items() if k.startswith(PREFIX)}
        )
        artifact = f"commands/{int(started * 1000)}/output.txt"
        run._event(
            "command", command=redact_text(command), kind="track-sh", exit_status=status,
            started=started, ended=time.time(), changes_env=False, output_artifact=artifact,
        )
        _keep_output(run, out_path, artifact)
    for key, series in metrics.items():
        for step, value in sorted(series.items()):
            run.log({key: value}, step=step)
    if params:
        run.log_params(params)
    return ShellResult(command, status, "".join(chunks), metrics, params, artifact)
