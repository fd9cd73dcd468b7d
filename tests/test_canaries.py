"""Secrets never land: canary secrets planted through every route a credential takes
into a tracker (cells, shell commands, %env, exceptions, argv, params, metadata, notes,
environment values, git remotes, command output), then every store file read (Arrow
decoded), every export and every run page searched for them: none may be found. An
export of a cell that held a secret still reproduces, with the secret given back from
the environment."""

from __future__ import annotations

import json
import os
import random
import string
import subprocess
import sys
from pathlib import Path

import pyarrow.ipc

import nbtrack
from nbtrack import cli

from kernel import Kernel

_rng = random.Random(2024)


def _rand(n: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    return "".join(_rng.choice(alphabet) for _ in range(n))


# each canary is unique and long enough that finding it anywhere means it leaked
C = {i: f"Cnry{i:02d}" + _rand(28) for i in range(1, 31)}
C[2] = "sk-proj-" + _rand(40)                                  # an API key format
C[7] = _rand(36)                                               # in an exception message (URL)
C[28] = "eyJ" + _rand(20) + ".eyJ" + _rand(20) + "." + _rand(30)  # a JWT, in a comment
C[29] = _rand(60, string.ascii_letters + string.digits + "+/")  # a PEM body
C[30] = "AKIA" + _rand(16, string.ascii_uppercase + string.digits)  # an AWS key id


def store_text(root: Path) -> dict[str, str]:
    """Every file of the store as text: Arrow files decoded column by column."""
    out = {}
    for path in root.rglob("*"):
        if not path.is_file():
            continue
        if path.suffix == ".arrow":
            table = pyarrow.ipc.open_file(str(path)).read_all()
            text = json.dumps(table.to_pylist(), default=str)
            text += json.dumps({k.decode(): v.decode(errors="replace")
                                for k, v in (table.schema.metadata or {}).items()})
        else:
            text = path.read_bytes().decode("latin-1")
        out[str(path.relative_to(root))] = text
    return out


def found(texts: dict[str, str]) -> list[tuple[int, str]]:
    return [(i, where) for where, text in texts.items() for i, c in C.items() if c in text]


CELLS = [
    f'api_key = "{C[1]}"',
    f'def client(key=None):\n    return key\nc = client(key="{C[2]}")',
    f'!echo curl -H "Authorization: Bearer {C[3]}" https://example.invalid',
    f'!echo pip install git+https://user:{C[4]}@github.com/org/private.git',
    f'%env MY_TOKEN={C[5]}',
    f'%env OTHER_SECRET {C[6]}',
    'import os\nos.environ["C7"] = os.environ["CANARY_7"]',
    'raise ConnectionError("auth failed for https://bob:" + os.environ["C7"] + "@db.internal")',
    f'x = !echo --token {C[9]}',
    f'headers = {{"X-Api-Key": "{C[10]}"}}',
    f'os.environ["SERVICE_PASSWORD"] = "{C[11]}"',
    f'def connect(password=None):\n    return password\nconnect(password="{C[12]}")',
    f'%%bash\nexport API_TOKEN={C[13]}\necho done',
    f'# a token pasted by mistake: {C[28]}\nz = 1',
    'key_pem = """-----BEGIN RSA PRIVATE KEY-----\n' + C[29] + '\n-----END RSA PRIVATE KEY-----"""',
    f'aws_id = "{C[30]}"',
    f'db_password: str = "{C[14]}"',
    'import nbtrack\n'
    f'nbtrack.log_params({{"api_key": "{C[15]}", "db": {{"password": "{C[16]}"}}, "lr": 0.1}})\n'
    f'nbtrack.log_metadata({{"credentials": {{"token": "{C[17]}"}}, '
    f'"url": "https://u:{C[18]}@host/x"}})\n'
    f'nbtrack.note("the service password: {C[19]}")',
    '%track params api_key',
    f'%track sh echo the token is $SERVICE_TOKEN and {C[20]}',
    f'%%track inner --name inner\nsecret_token = "{C[21]}"\nnbtrack.log({{"x": 1}})',
]


def test_canaries_planted_through_every_route_are_found_nowhere(store, tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-C", str(repo)]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / "a.txt").write_text("a")
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "a"], check=True)
    subprocess.run([*git, "remote", "add", "origin",
                    f"https://user:{C[22]}@github.com/acme/repo.git"], check=True)
    env = {"NBTRACK_HOME": str(store), "PYTHONPATH": os.pathsep.join(sys.path),
           "CANARY_7": C[7], "SERVICE_TOKEN": C[23], "HF_TOKEN": C[24],
           "SLURM_JOB_NAME": f"train --db-password={C[25]}", "MY_PRIVATE_THING": C[26],
           "PIP_INDEX_URL": f"https://me:{C[27]}@pypi.example.com/simple"}
    with Kernel(repo, env) as k:
        k.run("%load_ext nbtrack", allow_error=False)
        k.run("%track start canaries --name main", allow_error=False)
        for cell in CELLS:
            k.run(cell)
        k.run("import nbtrack\nwith nbtrack.start_run('canaries', name='failing'):\n"
              f"    raise RuntimeError('token={C[8]}')")
        k.run("%track stop", allow_error=False)
    script = repo / "train.py"
    script.write_text("import nbtrack\nwith nbtrack.start_run('canaries', name='script'):\n"
                      "    nbtrack.log({'x': 1.0})\n")
    subprocess.run([sys.executable, str(script), "--api-key", C[9] + "x", f"--password={C[10]}y",
                    "--lr", "0.1"], check=True, cwd=repo,
                   env=dict(os.environ, **env))
    C[31], C[32] = C[9] + "x", C[10] + "y"
    names = set(nbtrack.runs()["name"])
    assert {"main", "failing", "script", "inner"} <= names

    # every store file, Arrow decoded
    texts = store_text(store)
    # every export, every run page, the CLI's JSON
    for name in names:
        run_id = nbtrack.runs(where=f'name == "{name}"')["run_id"][0]
        log = nbtrack.get_run(run_id)
        texts[f"get_run {name}"] = json.dumps(log, default=str)
        from nbtrack.ui.summary import RunSummary

        page = RunSummary(log)
        texts[f"page {name}"] = repr(page) + page._repr_html_()
        if name != "script":
            path = nbtrack.export(run_id, tmp_path / f"{name}.ipynb")
            texts[f"export {name}"] = path.read_text()
    texts["runs"] = nbtrack.runs().write_json()
    assert found(texts) == []

    # the places they were planted were recorded (redacted), not skipped
    main = nbtrack.get_run("main")
    sources = "\n".join(c["source"] for c in main["cells"])
    assert sources.count("***REDACTED***") >= 15
    assert main["params"]["api_key"] == "***REDACTED***"
    assert main["params"]["db.password"] == "***REDACTED***" and main["params"]["lr"] == 0.1
    commands = [c["command"] for c in main["commands"]]
    assert any("Bearer ***REDACTED***" in c for c in commands)
    assert any("https://***@github.com/org/private.git" in c for c in commands)
    script_run = nbtrack.get_run("script")
    assert "--api-key" in script_run["argv"] and "--lr" in script_run["argv"]
    assert script_run["argv"][script_run["argv"].index("--api-key") + 1] == "***REDACTED***"
    assert cli.main(["check"]) == 0


def test_an_export_of_a_cell_that_held_a_secret_reproduces(store, tmp_path, monkeypatch):
    secret = "Cnry99" + _rand(30)
    with Kernel(tmp_path, {"NBTRACK_HOME": str(store),
                           "PYTHONPATH": os.pathsep.join(sys.path)}) as k:
        k.run("%load_ext nbtrack", allow_error=False)
        k.run(f'api_key = "{secret}"\nsig = sum(map(ord, api_key))', allow_error=False)
        k.run("%track start repro --name uses-secret", allow_error=False)
        k.run("import nbtrack\nnbtrack.log({'sig': sig})", allow_error=False)
        k.run("%track stop", allow_error=False)
    path = nbtrack.export("uses-secret", tmp_path / "repro.ipynb")
    text = path.read_text()
    assert secret not in text and "$API_KEY" in text
    monkeypatch.setenv("API_KEY", secret)  # the user gives the secret back
    report = nbtrack.reproduce(path, progress=False)
    assert report.ok, report
    monkeypatch.delenv("API_KEY")
    report = nbtrack.reproduce(path, progress=False)
    assert not report.ok and "API_KEY" in repr(report)
