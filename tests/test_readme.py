"""The README works as written, and so does every notebook in notebooks/.

Every fenced block of README.md runs, in order, in one fresh folder with the default
store discovery (no ``$NBTRACK_HOME``), as a new user would run it:

- ``python`` blocks marked ``<!-- readme-test: notebook cell -->`` are cells of one
  real kernel (one block, one cell);
- other ``python`` blocks run in one plain ``python`` process, one after another, sharing
  their names (as pasted into a REPL or a script);
- ``sh`` blocks run in bash with the installed CLI (``. .venv/bin/activate`` puts it on
  PATH);
- only the install commands listed in ``NOT_RUN`` are left out, each with the reason.

Each ``notebooks/*.ipynb`` is executed by ``scripts/run_quickstart.py`` (the quick
start's own runner) on a copy, in a real kernel.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
NOTEBOOK_MARK = "<!-- readme-test: notebook cell -->"
NOT_RUN = {
    "./scripts/quickstart.sh": "installs into the shared .venv; its notebook run is "
                               "test_notebook_runs_as_shipped",
    "./scripts/test.sh": "installs into .venv and runs this very suite (CI runs it)",
}
FENCE = re.compile(r"^```(?P<lang>[\w-]*)\n(?P<body>.*?)^```\n", re.M | re.S)


@dataclass
class Block:
    kind: str  # "notebook", "python", "sh"
    source: str
    line: int  # where it starts in README.md

    def __str__(self) -> str:
        return f"README.md line {self.line} ({self.kind})"


def readme_blocks(text: str) -> list[Block]:
    blocks = []
    for m in FENCE.finditer(text):
        lang, body = m["lang"], m["body"]
        line = text.count("\n", 0, m.start()) + 1
        before = text[:m.start()].rstrip().splitlines()[-1:] or [""]
        if lang == "python":
            kind = "notebook" if before[0].strip() == NOTEBOOK_MARK else "python"
        elif lang in ("sh", "bash", "shell", "console"):
            kind = "sh"
        else:
            raise AssertionError(f"README.md line {line}: a ```{lang} block; the README test "
                                 "knows python (plain or notebook cell) and sh")
        blocks.append(Block(kind, body, line))
    return blocks


def test_the_readme_blocks_are_all_known():
    blocks = readme_blocks(README.read_text())
    assert {b.source.strip() for b in blocks if b.source.strip() in NOT_RUN} == set(NOT_RUN)
    for b in blocks:
        if b.kind == "python":  # IPython syntax cannot run in a plain process: mark it
            assert not re.search(r"^\s*[%!]", b.source, re.M), f"{b}: mark it {NOTEBOOK_MARK}"
    assert {"notebook", "python", "sh"} <= {b.kind for b in blocks}


# A plain Python process that runs blocks one by one in one namespace: a block comes in as
# one JSON line on stdin, its outcome goes out as one JSON line on stdout.
DRIVER = textwrap.dedent('''
    import contextlib, io, json, sys, traceback
    out = sys.stdout
    namespace = {"__name__": "__main__"}
    for line in sys.stdin:
        block = json.loads(line)
        shown = io.StringIO()
        try:
            with contextlib.redirect_stdout(shown):
                code = compile(block["source"], f"README.md:{block['line']}", "exec")
                exec(code, namespace)
            result = {"ok": True}
        except BaseException:
            result = {"ok": False, "error": traceback.format_exc()}
        result["stdout"] = shown.getvalue()
        out.write(json.dumps(result) + "\\n")
        out.flush()
''')


class PlainPython:
    def __init__(self, cwd: Path, env: dict):
        self.proc = subprocess.Popen([sys.executable, "-c", DRIVER], cwd=cwd, env=env, text=True,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def run(self, block: Block) -> dict:
        self.proc.stdin.write(json.dumps({"source": block.source, "line": block.line}) + "\n")
        self.proc.stdin.flush()
        reply = self.proc.stdout.readline()
        assert reply, f"{block}: the python process died"
        return json.loads(reply)

    def close(self) -> int:
        self.proc.stdin.close()  # the process ends; a script's open runs end with it
        return self.proc.wait(timeout=60)


def user_env(work: Path) -> dict:
    """The test's environment less nbtrack's variables: the store is discovered."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("NBTRACK_") and k != "PYTEST_CURRENT_TEST"}
    if any((p / ".nbtrack").is_dir() for p in work.parents):
        env["NBTRACK_HOME"] = str(work / ".nbtrack")  # a store further up would be found
    return env


def activate_script(work: Path) -> None:
    """``.venv/bin/activate`` in the user's folder: the installed CLI onto PATH."""
    bindir = Path(sys.executable).parent
    assert (bindir / "nbtrack").exists(), f"nbtrack is not installed next to {sys.executable}"
    (work / ".venv" / "bin").mkdir(parents=True)
    (work / ".venv" / "bin" / "activate").write_text(f'export PATH="{bindir}:$PATH"\n')
    (work / ".venv" / "bin" / "nbtrack").symlink_to(bindir / "nbtrack")


def test_every_readme_block_runs_as_written(tmp_path, monkeypatch):
    import nbtrack

    from kernel import Kernel

    work = tmp_path / "user"
    work.mkdir()
    activate_script(work)
    env = user_env(work)
    for name in [k for k in os.environ if k.startswith("NBTRACK_")]:
        monkeypatch.delenv(name)  # the kernel starts from this process's environment
    blocks = [b for b in readme_blocks(README.read_text()) if b.source.strip() not in NOT_RUN]
    kernel = None
    python = PlainPython(work, env)
    shown: dict[int, str] = {}
    try:
        for block in blocks:
            if block.kind == "notebook":
                if kernel is None:
                    kernel = Kernel(work, env)
                result = kernel.run(block.source, timeout=300)
                assert result.ok, f"{block}: {result.ename}: {result.evalue}\n{result.stderr}"
                shown[block.line] = result.stdout + "".join(
                    d.get("text/plain", "") for d in result.data)
            elif block.kind == "python":
                result = python.run(block)
                assert result["ok"], f"{block}:\n{result['error']}"
                shown[block.line] = result["stdout"]
            else:
                done = subprocess.run(["bash", "-e", "-c", block.source], cwd=work, env=env,
                                      capture_output=True, text=True, timeout=300)
                assert done.returncode == 0, f"{block}: exit {done.returncode}\n{done.stderr}"
                shown[block.line] = done.stdout
        assert python.close() == 0
    finally:
        if kernel is not None:
            kernel.close()
        if python.proc.poll() is None:
            python.proc.kill()

    # what the README says happened, happened, in the store a new user gets
    store = work / ".nbtrack"
    assert store.is_dir(), "the README's runs went to a store other than ./.nbtrack"
    monkeypatch.setenv("NBTRACK_HOME", str(store))
    tour = nbtrack.get_run("first-try")
    assert tour["status"] == "completed" and tour["params"] == {"lr": 1e-3}
    assert tour["tags"] == ["nlp", "baseline"] and tour["metrics"]["loss"]["steps"] == [0, 1, 2]
    reproductions = nbtrack.runs("bert-ft").filter(nbtrack.runs("bert-ft")["tags"].list.contains(
        "reproduction"))
    assert reproductions.height == 2  # the notebook's reproduce() and the shell's
    assert all(nbtrack.get_run(r)["reproduces"] == tour["run_id"] for r in reproductions["run_id"])
    script_runs = nbtrack.runs("bert-ft", where='metadata.hardware.gpu contains "A100"')
    assert script_runs.height == 1 and script_runs["status"][0] == "completed"
    notebook_blocks = [b.line for b in blocks if b.kind == "notebook"]
    assert "(True, [])" in shown[notebook_blocks[-1]]  # report.ok, report.differences
    shell = "".join(shown[b.line] for b in blocks if b.kind == "sh")
    assert "  name: first-try" in shell and "  params.lr" not in shell and "lr: 0.001" in shell


@pytest.mark.parametrize("notebook", sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb")
                                            if ".executed" not in p.name and "-repro" not in p.name))
def test_notebook_runs_as_shipped(notebook, tmp_path):
    """Executed as the quick start does (a real kernel, the default store next to it), and
    the quick start's report says which run is which and where the store is."""
    work = tmp_path / "nb"
    work.mkdir()
    shutil.copy(ROOT / "notebooks" / notebook, work / notebook)
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "run_quickstart.py"),
                           str(work / notebook)], cwd=work, env=user_env(work),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert f"in the store at {work / '.nbtrack'}" in out
    assert "made by the first run: no $NBTRACK_HOME" in out or "NBTRACK_HOME" in user_env(work)
    if notebook == "quickstart.ipynb":
        original = re.search(r"^  (\S+) +original +completed", out, re.M)
        assert original, out
        assert re.search(rf"^  \S+ +reproduction of {original[1]} +completed", out, re.M), out
        assert f"nbtrack show {original[1]} --store" in out
