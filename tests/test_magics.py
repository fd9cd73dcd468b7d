"""The %track / %%track magics in an in-process IPython shell (real kernels: see
test_capture_kernel.py). Each test gets a fresh shell with the extension loaded."""

from __future__ import annotations

import pytest

import nbtrack
from nbtrack.capture import ipython as capture


@pytest.fixture
def shell():
    from IPython.core.interactiveshell import InteractiveShell

    InteractiveShell.clear_instance()
    sh = InteractiveShell.instance()
    sh.run_cell("%load_ext nbtrack", store_history=True)
    yield sh
    capture.uninstall(sh)
    InteractiveShell.clear_instance()


def run(shell, source: str):
    result = shell.run_cell(source, store_history=True)
    return result


def test_usage_and_bad_options_change_nothing(shell, capsys):
    run(shell, "%track")
    assert "usage: %track" in capsys.readouterr().out
    run(shell, "%track --help")
    assert "start" in capsys.readouterr().out
    run(shell, "%track start --bogus")
    err = capsys.readouterr().err
    assert "usage: %track start" in err and "unrecognized arguments: --bogus" in err
    run(shell, "%track frobnicate")
    assert "unknown command 'frobnicate'" in capsys.readouterr().err
    run(shell, '%track start "unterminated')
    assert "cannot parse" in capsys.readouterr().err
    assert nbtrack.active_run() is None
    assert nbtrack.runs().height == 0


def test_start_params_log_tag_note_stop(shell, capsys):
    run(shell, "%track start exp --name first --tags a,b --note 'hello **there**'")
    assert "started run first" in capsys.readouterr().out
    run(shell, "lr = 0.5\nbatch = 32")
    run(shell, "%track params lr batch missing")
    assert "not defined in the notebook: missing" in capsys.readouterr().err
    run(shell, "%track params lr batch")
    run(shell, "val = 0.25\nstep_no = 7")
    run(shell, "%track log loss=0.5 acc=val step=step_no")
    run(shell, "%track log loss=abc")
    assert "neither a number nor a notebook variable" in capsys.readouterr().err
    run(shell, "%track tag c\n%track tag a --remove")
    run(shell, "%track note second note")
    run(shell, "%track status")
    assert "first" in capsys.readouterr().out
    run(shell, "%track stop --status failed")
    log = nbtrack.get_run("first")
    assert log["status"] == "failed"
    assert log["params"] == {"lr": 0.5, "batch": 32}
    assert log["metrics"]["loss"] == {"steps": [7], "values": [0.5], "times": log["metrics"]["loss"]["times"]}
    assert log["metrics"]["acc"]["values"] == [0.25]
    assert log["tags"] == ["b", "c"]
    assert [n["text"] for n in log["notes"]] == ["hello **there**", "second note"]


def test_start_again_ends_the_previous_magic_run(shell, capsys):
    run(shell, "%track start exp --name one")
    run(shell, "%track start exp --name two")
    assert "ended one (completed)" in capsys.readouterr().out
    assert nbtrack.active_run().name == "two"
    run(shell, "%track stop")
    run(shell, "%track stop")
    assert "no active run" in capsys.readouterr().err
    statuses = dict(zip(*nbtrack.runs().select("name", "status").to_dict(as_series=False).values(),
                        strict=True))
    assert statuses == {"one": "completed", "two": "completed"}


def test_load_ext_twice_records_each_cell_once(shell):
    run(shell, "%load_ext nbtrack")
    run(shell, "%track start exp --name once")
    run(shell, "z = 1")
    run(shell, "%track stop")
    cells = [c["source"] for c in nbtrack.get_run("once")["cells"]]
    assert cells == ["%track start exp --name once", "z = 1", "%track stop"]


def test_track_cell_magic_makes_one_run(shell, capsys):
    run(shell, "%%track cellrun --name c1 --tags x\nq = 6 * 7\nimport nbtrack\nnbtrack.log(q=q)")
    assert shell.user_ns["q"] == 42
    run(shell, "%%track cellrun --name c2\nraise RuntimeError('boom')")
    by_name = {n: nbtrack.get_run(n) for n in ("c1", "c2")}
    assert by_name["c1"]["status"] == "completed" and by_name["c1"]["tags"] == ["x"]
    assert by_name["c1"]["metrics"]["q"]["values"] == [42.0]
    assert by_name["c2"]["status"] == "failed" and "RuntimeError: boom" in by_name["c2"]["message"]
    run(shell, "%%track --nope\nprint('never')")
    out = capsys.readouterr()
    assert "usage: %%track" in out.err and "never" not in out.out


def test_runs_and_show_display_escaped(shell):
    run(shell, "%track start '<b>bold</b>' --name shown --tags '<script>x</script>'")
    run(shell, "%track note '<img src=x onerror=alert(1)>'")
    run(shell, "%track stop")
    frame = shell.run_line_magic("track", "runs")
    assert frame.height == 1 and frame["experiment"][0] == "<b>bold</b>"
    summary = shell.run_line_magic("track", "show shown")
    page = summary._repr_html_()
    assert "<script>" not in page and "<img" not in page and "<b>bold" not in page
    assert "&lt;script&gt;" in page and "&lt;img src=x" in page
    assert "<b>bold</b>" in repr(summary)
    run(shell, "%track start exp --name '<b>x</b>'")
    assert nbtrack.active_run() is None  # run names are plain words: refused, nothing started


def test_track_sh_records_command_output_and_tracked_variables(shell, monkeypatch, capsys):
    secret = "s3cr3t-" + "Zq8rT2vLx9Wm4Kp7"
    monkeypatch.setenv("SERVICE_API_TOKEN", secret)
    run(shell, "%track start exp --name sh")
    run(shell, "%track sh echo token is $SERVICE_API_TOKEN; export NBTRACK_TRACK_acc=0.75"
               " NBTRACK_TRACK_acc_STEP_2=0.8 NBTRACK_TRACK_model=resnet; exit 3")
    assert "token is" in capsys.readouterr().out
    run(shell, "%track stop")
    log = nbtrack.get_run("sh")
    command = [c for c in log["commands"] if c["kind"] == "track-sh"][0]
    assert command["exit_status"] == 3
    assert log["metrics"]["acc"]["steps"] == [0, 2] and log["metrics"]["acc"]["values"] == [0.75, 0.8]
    assert log["params"] == {"model": "resnet"}
    artifact = [a for a in log["artifacts"] if a["path"].startswith("commands/")][0]
    from nbtrack.store.layout import Layout

    kept = Layout(log["store"]).object_path(artifact["sha256"]).read_text()
    assert "token is" in kept and secret not in kept


def test_export_and_lineage_magics_are_one_api_call(shell, tmp_path):
    (tmp_path / "in.txt").write_text("1,2")
    run(shell, "%track start exp --name ex")
    run(shell, "import nbtrack\nnbtrack.use_input('in.txt')")
    run(shell, "%track stop")
    path = shell.run_line_magic("track", f"export ex {tmp_path / 'ex.ipynb'}")
    assert path.exists()
    graph = shell.run_line_magic("track", "lineage in.txt")
    assert "ex" in repr(graph)
