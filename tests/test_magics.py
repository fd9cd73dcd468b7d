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


def usage_error(result) -> str:
    """The message of the UsageError a cell raised (the cell must have failed with one)."""
    from IPython.core.error import UsageError

    assert type(result.error_in_exec) is UsageError, result.error_in_exec
    return str(result.error_in_exec)


def test_usage_and_bad_options_change_nothing(shell, capsys, store):
    run(shell, "%track")
    assert "usage: %track" in capsys.readouterr().out
    run(shell, "%track --help")
    assert "start" in capsys.readouterr().out
    message = usage_error(run(shell, "%track start --bogus"))
    assert "usage: %track start" in message and "unrecognized arguments: --bogus" in message
    assert "UsageError: %track start: unrecognized arguments" in capsys.readouterr().err
    assert "unknown command 'frobnicate'" in usage_error(run(shell, "%track frobnicate"))
    assert "cannot parse" in usage_error(run(shell, '%track start "unterminated'))
    assert nbtrack.active_run() is None
    assert not store.exists()  # nothing was started, so no store was made


def test_every_failure_is_a_usage_error_so_run_all_stops(shell):
    """Printing and carrying on let "Run All" go past a broken %track line."""
    assert "no active run" in usage_error(run(shell, "%track stop"))
    assert "no active run" in usage_error(run(shell, "%track log loss=0.5"))
    assert "no active run" in usage_error(run(shell, "%track note hello"))
    assert "neither a number" in usage_error(run(shell, "%track log loss=abc"))
    assert "invalid choice" in usage_error(run(shell, "%track stop --status weird"))
    run(shell, "%track start exp --name ok")
    assert "no run" in usage_error(run(shell, "%track show no-such-run")).lower()
    assert "not defined in the notebook: nope" in usage_error(run(shell, "%track params nope"))
    assert run(shell, "%track stop").success


def test_typo_suggests_the_nearest_subcommand(shell):
    assert "did you mean 'start'?" in usage_error(run(shell, "%track strat exp"))
    assert "did you mean 'params'?" in usage_error(run(shell, "%track param lr"))
    message = usage_error(run(shell, "%track xyzzy"))
    assert "unknown command 'xyzzy'" in message and "did you mean" not in message


def test_help_is_printed_once_to_stdout_and_names_the_line_magic(shell, capsys):
    for line in ("%track start --help", "%track help start", "%track sh --help"):
        result = run(shell, line)
        assert result.success, line
        out, err = capsys.readouterr()
        assert err == "" and out.count("usage: %track ") == 1, (line, out, err)
        assert "%%track" not in out, out
    assert run(shell, "%track --help").success
    out = capsys.readouterr().out
    assert out.count("usage: %track") == 1 and "%track start --help" not in out
    assert "`%track CMD --help`" in out and "%%track CMD" not in out
    assert "%%track" not in out.replace("`%%track` makes one cell one run", "")
    assert run(shell, "%%track --help\nprint('never')").success
    out = capsys.readouterr().out
    assert out.count("usage: %%track") == 1 and "never" not in out


def test_comments_in_magic_lines_are_comments(shell):
    run(shell, "lr = 1e-3")
    run(shell, "%track start exp --name commented --tags a,b   # the first try")
    assert run(shell, "%track params lr                 # log notebook variables as params").success
    assert run(shell, "%track log loss=0.5 step=1  # after one epoch").success
    assert run(shell, "%track note 'run #1 is the baseline'  # quoted: kept").success
    run(shell, "%track stop  # done")
    log = nbtrack.get_run("commented")
    assert log["params"] == {"lr": 1e-3}
    assert log["tags"] == ["a", "b"]
    assert log["metrics"]["loss"]["steps"] == [1]
    assert [n["text"] for n in log["notes"]] == ["run #1 is the baseline"]
    assert log["status"] == "completed"


def test_load_ext_puts_nbtrack_in_the_namespace(shell):
    assert shell.user_ns["nbtrack"] is nbtrack
    assert "nbtrack" in shell.user_ns_hidden  # like get_ipython: not listed by %who
    result = run(shell, "%track start exp --name ns\nnbtrack.log(loss=0.25)\n%track stop")
    assert result.success and nbtrack.get_run("ns")["metrics"]["loss"]["values"] == [0.25]


def test_load_ext_stays_light(spawn, store):
    """No polars, nbformat, widgets or charts at %load_ext; nbtrack is there, no store made."""
    import json

    from support import finish

    code = """
        import json, sys
        from IPython.core.interactiveshell import InteractiveShell
        shell = InteractiveShell.instance()
        assert shell.run_cell("%load_ext nbtrack").success
        heavy = ("polars", "nbformat", "nbclient", "anywidget", "altair", "optuna")
        print(json.dumps([sorted(m for m in heavy if m in sys.modules),
                          shell.user_ns["nbtrack"].__name__]))
    """
    assert json.loads(finish(spawn(code))) == [[], "nbtrack"]
    assert not store.exists()


def test_load_ext_keeps_a_users_own_nbtrack_name():
    from IPython.core.interactiveshell import InteractiveShell

    InteractiveShell.clear_instance()
    sh = InteractiveShell.instance()
    try:
        sh.run_cell("nbtrack = 'mine'\n%load_ext nbtrack")
        assert sh.user_ns["nbtrack"] == "mine"
    finally:
        capture.uninstall(sh)
        InteractiveShell.clear_instance()


def test_track_sh_gets_the_rest_of_the_line_verbatim(shell, capsys):
    run(shell, "%track start exp --name verbatim")
    capsys.readouterr()
    assert run(shell, "%track sh printf '%s|' \"a  b\" 'c#d' # a bash comment").success
    assert capsys.readouterr().out.startswith("a  b|c#d|")
    run(shell, "%track stop")


def test_track_cell_returns_its_last_value_and_compiles_through_ipython(shell):
    import linecache

    result = run(shell, "%%track cells --name last\nq = 6 * 7\nq + 1")
    assert result.result == 43 and nbtrack.get_run("last")["status"] == "completed"
    result = run(shell, "%%track cells --name boom\nq = 1\nraise ValueError('boom')")
    tb = result.error_in_exec.__traceback__
    while tb.tb_next is not None:
        tb = tb.tb_next
    code = tb.tb_frame.f_code
    # the failing line is found by its number in the cell (line 3: the magic line is line 1)
    assert tb.tb_lineno == 3
    assert linecache.getline(code.co_filename, tb.tb_lineno).strip() == "raise ValueError('boom')"
    assert "%%track cells --name boom" in linecache.getline(code.co_filename, 1)
    syntax = run(shell, "%%track cells --name never\nq = (")
    assert isinstance(syntax.error_in_exec, SyntaxError)
    assert "never" not in set(nbtrack.runs()["name"])  # a cell that cannot compile starts no run


def test_start_params_log_tag_note_stop(shell, capsys):
    run(shell, "%track start exp --name first --tags a,b --note 'hello **there**'")
    assert "started run first" in capsys.readouterr().out
    run(shell, "lr = 0.5\nbatch = 32")
    assert "not defined in the notebook: missing" in usage_error(run(shell, "%track params lr batch missing"))
    run(shell, "%track params lr batch")
    run(shell, "val = 0.25\nstep_no = 7")
    run(shell, "%track log loss=0.5 acc=val step=step_no")
    assert "neither a number nor a notebook variable" in usage_error(run(shell, "%track log loss=abc"))
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
    table = shell.run_line_magic("track", "runs")  # the run table panel; text where no widgets
    assert table.runs.height == 1 and table.runs["experiment"][0] == "<b>bold</b>"
    data, _ = table._repr_mimebundle_()
    assert "1 of 1 runs shown" in data["text/html"] and "<b>bold" not in data["text/html"]
    assert "&lt;b&gt;bold&lt;/b&gt;" in data["text/html"] and "<b>bold</b>" in data["text/plain"]
    page = shell.run_line_magic("track", "show shown")
    html = page.fallback_html()
    assert "<script>" not in html and "<img" not in html and "<b>bold" not in html
    assert "&lt;script&gt;" in html and "&lt;img src=x" in html
    assert "<b>bold</b>" in repr(page)
    run(shell, "%track start exp --name '<b>x</b>'")  # any printable name, shown as text
    assert nbtrack.active_run().name == "<b>x</b>"
    run(shell, "%track stop")
    assert "&lt;b&gt;x&lt;/b&gt;" in shell.run_line_magic("track", "runs").fallback_html()


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
    assert command["output_artifact"] == artifact["path"]


def test_track_sh_outputs_are_only_the_files_the_command_made(shell, tmp_path):
    """The kept copy of the command's output is an artifact, never an output: its
    temporary file is deleted when the command is done."""
    run(shell, "%track start exp --name sh-outputs")
    run(shell, "%track sh echo hi > made.txt && echo done")
    run(shell, "import nbtrack\nnbtrack.log_output('made.txt')")
    run(shell, "%track stop")
    log = nbtrack.get_run("sh-outputs")
    assert [o["path"] for o in log["outputs"]] == ["made.txt"]
    assert [a["path"].split("/")[-1] for a in log["artifacts"]] == ["output.txt"]
    assert "nbtrack-sh-" not in str(log["artifacts"])  # no temporary path anywhere


def test_export_and_lineage_magics_are_one_api_call(shell, tmp_path):
    (tmp_path / "in.txt").write_text("1,2")
    run(shell, "%track start exp --name ex")
    run(shell, "import nbtrack\nnbtrack.use_input('in.txt')")
    run(shell, "%track stop")
    path = shell.run_line_magic("track", f"export ex {tmp_path / 'ex.ipynb'}")
    assert path.exists()
    graph = shell.run_line_magic("track", "lineage in.txt")
    # the run that used the file is in its lineage, by name and id (a repr mentions "ex" anyway)
    assert [r["name"] for r in graph.runs] == ["ex"]
    assert nbtrack.runs(where='name == "ex"')["run_id"][0] in graph


# ---------------------------------------------------------------- in a real kernel
@pytest.fixture(scope="module")
def kernel(tmp_path_factory):
    from kernel import Kernel

    folder = tmp_path_factory.mktemp("kernel")
    with Kernel(folder, {"NBTRACK_HOME": str(folder / "store")}) as k:
        k.run("%load_ext nbtrack", allow_error=False)
        yield k


def traceback_of(kernel, code: str) -> str:
    import re

    shown: list[str] = []
    kernel.kc.execute_interactive(
        code, timeout=60, output_hook=lambda m: shown.extend(m["content"].get("traceback") or []))
    return re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(shown))


def nbtrack_frames(text: str) -> list[str]:
    import re

    return re.findall(r"^File \S*/nbtrack/\S+, in \S+", text, re.M)


def test_a_failing_track_cell_shows_its_own_source(kernel):
    text = traceback_of(kernel, "%%track cells\ny = 1\nraise ValueError('boom')")
    assert "Could not get source" not in text
    assert "----> 3 raise ValueError('boom')" in text  # the cell's own line, numbered as in it
    assert nbtrack_frames(text) == []


@pytest.mark.parametrize("code", [
    "nbtrack.log(loss=1)",  # no active run
    "with nbtrack.start_run('e'):\n    nbtrack.log(loss='high')",
    "with nbtrack.start_run('e') as r:\n    r.log_params({'model': object()})",
    "nbtrack.get_run('no-such-run')",
    "nbtrack.start_run('')",
    "with nbtrack.start_run('e', params={'lr': 1}):\n    pass\nnbtrack.runs(where='params.lr >')",
    "nbtrack.runs(where='params.lr == [1]')",  # raised while compiling, not parsing
    "nbtrack.export('no-such-run', 'x.ipynb')",
    "nbtrack.reproduce('missing.ipynb')",
])
def test_api_errors_show_the_users_frame_and_nbtracks_message(kernel, code):
    """IPython honours __tracebackhide__: of nbtrack's frames only the one that raised shows."""
    text = traceback_of(kernel, code)
    import re

    assert "Cell In[" in text and re.search(r"^\w+Error: \S", text, re.M), text
    assert len(nbtrack_frames(text)) <= 1, text


def test_run_all_stops_at_a_failing_track_line(tmp_path):
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(src) for src in (
        "%load_ext nbtrack", "%track strat demo", "print('after')")])
    client = NotebookClient(nb, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}})
    with pytest.raises(CellExecutionError, match="did you mean 'start'"):
        client.execute()
    assert nb.cells[2].get("execution_count") is None and not nb.cells[2].outputs
