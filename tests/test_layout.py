"""Store discovery (nbtrack/store/layout.py): reading never makes a store, and every
store error says where the root came from."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import nbtrack
from nbtrack import cli
from nbtrack.errors import StoreError

READERS = {
    "runs": lambda: nbtrack.runs(),
    "metrics": lambda: nbtrack.metrics(),
    "get_run": lambda: nbtrack.get_run("some-run"),
    "experiments": lambda: nbtrack.experiments(),
    "lineage": lambda: nbtrack.lineage("model.pt"),
    "export": lambda: nbtrack.export("some-run", "x.ipynb"),
    "open_run": lambda: nbtrack.open_run("some-run"),
    "experiment": lambda: nbtrack.experiment("exp").archive(),
}


@pytest.mark.backends  # an empty bucket prefix is no store either
@pytest.mark.parametrize("name", sorted(READERS))
def test_reading_an_absent_store_says_where_it_looked_and_makes_nothing(name, store):
    with pytest.raises(StoreError) as caught:
        READERS[name]()
    message = str(caught.value)
    assert f"no nbtrack store at {store} (found by $NBTRACK_HOME)" in message
    assert "Start a run to make one" in message
    assert not store.exists()


def test_the_message_names_the_discovery_rule(tmp_path, monkeypatch):
    monkeypatch.delenv("NBTRACK_HOME")
    if any((p / ".nbtrack").is_dir() for p in tmp_path.parents):
        pytest.skip("a .nbtrack folder exists above the test's folder")
    work = tmp_path / "proj" / "sub"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    with pytest.raises(StoreError, match=r"no \.nbtrack/ folder in .*sub or above") as caught:
        nbtrack.runs()
    assert f"no nbtrack store at {work / '.nbtrack'} (found by the default" in str(caught.value)
    (tmp_path / "proj" / ".nbtrack").mkdir()
    assert nbtrack.runs().height == 0  # an empty folder is an empty store
    assert nbtrack.store_root() == str(tmp_path / "proj" / ".nbtrack")
    assert not (work / ".nbtrack").exists()


def test_store_root_reports_the_folder_without_making_it(store):
    assert nbtrack.store_root() == str(store)
    assert not store.exists()


def test_a_bad_root_names_where_it_came_from(tmp_path, monkeypatch):
    plain_file = tmp_path / "a-file"
    plain_file.write_text("not a store")
    monkeypatch.setenv("NBTRACK_HOME", str(plain_file))
    with pytest.raises(StoreError, match=r"a-file \(from \$NBTRACK_HOME\) exists and is not a folder"):
        nbtrack.start_run("exp")
    with pytest.raises(StoreError, match=r"a-file \(from \$NBTRACK_HOME\) is not a folder"):
        nbtrack.runs()
    monkeypatch.setenv("NBTRACK_HOME", str(plain_file / "below"))
    with pytest.raises(StoreError, match=r"cannot make the store at .*below \(from \$NBTRACK_HOME\)"):
        nbtrack.start_run("exp")
    with pytest.raises(StoreError, match=r"\(from the store= argument\) exists and is not a folder"):
        nbtrack.start_run("exp", store=plain_file)


@pytest.mark.parametrize("argv", [["runs"], ["show", "some-run"], ["experiments"],
                                  ["lineage", "model.pt"], ["archive", "some-run"]])
@pytest.mark.backends
def test_cli_read_commands_never_make_a_store(argv, store, capsys):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert f"nbtrack {argv[0]}: no nbtrack store at {store} (found by $NBTRACK_HOME)" in err
    assert not store.exists()


def test_cli_store_typo_is_reported_as_the_option(tmp_path, store, capsys):
    with nbtrack.start_run("exp"):
        pass
    typo = tmp_path / "stroe"
    assert cli.main(["--store", str(typo), "runs"]) == 2
    assert f"no nbtrack store at {typo} (found by --store)" in capsys.readouterr().err
    assert not typo.exists()
    assert cli.main(["--store", str(store), "runs"]) == 0


def test_installed_cli_on_an_absent_store(tmp_path, store):
    exe = Path(sys.executable).with_name("nbtrack")
    done = subprocess.run([str(exe), "runs"], capture_output=True, text=True, cwd=tmp_path,
                          env=dict(os.environ), timeout=60)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip().startswith(f"nbtrack runs: no nbtrack store at {store}")
    assert not store.exists()


def test_load_ext_makes_no_store_and_the_first_run_takes_the_history_along(store, tmp_path):
    from IPython.core.interactiveshell import InteractiveShell

    from nbtrack import flushing
    from nbtrack.capture import ipython as capture

    InteractiveShell.clear_instance()
    shell = InteractiveShell.instance()
    try:
        shell.run_cell("%load_ext nbtrack", store_history=True)
        shell.run_cell("base = 40", store_history=True)
        flushing.flush_all()
        assert not store.exists(), sorted(str(p.relative_to(store)) for p in store.rglob("*"))
        shell.run_cell("%track start exp --name first", store_history=True)
        shell.run_cell("answer = base + 2", store_history=True)
        shell.run_cell("%track stop", store_history=True)
        assert store.is_dir()
        exported = nbtrack.export("first", tmp_path / "first.ipynb").read_text()
        assert "base = 40" in exported  # the cell before the store existed was kept
    finally:
        capture.uninstall(shell)
        InteractiveShell.clear_instance()
