"""What `nbtrack show` / RunSummary (nbtrack/ui/summary.py) tell about a run: metadata,
artifacts and, for a script run, the script it ran."""

from __future__ import annotations

import subprocess
import sys

from conftest import child_environ

import nbtrack
from nbtrack import cli
from nbtrack.ui.summary import RunSummary

SCRIPT = """
from pathlib import Path
import nbtrack

Path("model.bin").write_bytes(b"weights")
with nbtrack.start_run("exp", name="scripted") as run:
    run.log_metadata({"hardware": {"gpu": "A100"}, "data": "v2"})
    run.log_artifact("model.bin", artifact_path="models/")
    run.log({"loss": 0.5})
"""


def test_show_has_metadata_artifacts_and_the_script(tmp_path, capsys):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    subprocess.run([sys.executable, str(script), "--epochs", "3"], cwd=tmp_path, check=True,
                   env=child_environ(), timeout=120)
    assert cli.main(["show", "scripted"]) == 0
    shown = capsys.readouterr().out
    for expected in ("metadata:", "  hardware.gpu: A100", "  data: v2",
                     "artifacts:", "  models/model.bin: ", "7 B",
                     f"  script: {script}", f"  argv: {script} --epochs 3", f"  cwd: {tmp_path}"):
        assert expected in shown, (expected, shown)
    page = RunSummary(nbtrack.get_run("scripted"))._repr_html_()
    for expected in ("<h4>metadata</h4>", "hardware.gpu", "<h4>artifacts</h4>", "models/model.bin",
                     str(script)):
        assert expected in page, expected


def test_metadata_strings_are_escaped_in_html():
    with nbtrack.start_run("exp", metadata={"<b>k</b>": {"x": "<script>alert(1)</script>"}}) as run:
        pass
    page = RunSummary(nbtrack.get_run(run.id))._repr_html_()
    assert "<script>" not in page and "&lt;script&gt;" in page and "&lt;b&gt;k&lt;/b&gt;.x" in page
