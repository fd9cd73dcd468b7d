"""``%track`` and ``%%track``: words over the public API.

Each subcommand is parsed once by its argparse parser and routed through one
table (``TrackMagics.sub``: name -> parser, handled by ``do_<name>``) to one public
call. Lines are split like a shell line, ``# comments`` included. Every failure
(a bad option, an unknown subcommand, an nbtrack error such as no active run)
raises IPython's ``UsageError``: the cell fails with one red line and "Run All"
stops there. ``--help`` prints once, to stdout. ``%load_ext nbtrack`` registers
the magics and the capture hooks once per shell, however often it is run, and
puts ``nbtrack`` in the notebook's namespace.
"""

from __future__ import annotations

import argparse
import re
import shlex

from IPython.core.error import UsageError

import nbtrack

from .errors import NbtrackError

HELP_WORDS = ("-h", "--help", "help")
RAW_COMMANDS = ("sh",)  # take the rest of the line verbatim (bash reads it, quotes and all)
_RAW = re.compile(r"\s*(?P<name>\S+)(?:\s+(?P<rest>.*))?\Z", re.S)


class _HelpShown(Exception):
    """argparse printed ``--help``: nothing else to do."""


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting the kernel."""

    def error(self, message: str):  # noqa: D401
        raise UsageError(f"{self.prog}: {message}\n{self.format_usage().strip()}")

    def exit(self, status: int = 0, message: str | None = None):
        if status == 0 and not message:
            raise _HelpShown  # the help action has printed the help already
        raise UsageError((message or "").strip() or f"{self.prog}: failed")


def _parsers() -> tuple[_Parser, dict[str, _Parser]]:
    top = _Parser(prog="%track", add_help=True,
                  description="Track the runs of this notebook. `%track CMD --help` for one command;"
                              " `%%track` makes one cell one run.")
    sub = top.add_subparsers(dest="cmd", parser_class=_Parser)
    p: dict[str, _Parser] = {}

    def add(name: str, help_: str) -> _Parser:
        # argparse %-formats `help` (so it says %%), never `description`
        p[name] = sub.add_parser(name, help=help_, description=help_.replace("%%", "%"))
        return p[name]

    s = add("start", "start a run (ends the one %%track start began before)")
    s.add_argument("experiment", nargs="?", default=None)
    s.add_argument("--name")
    s.add_argument("--tags", help="comma-separated")
    s.add_argument("--note")
    s.add_argument("--trace-files", action="store_true", help="record files the code opens")
    s = add("stop", "end the active run")
    s.add_argument("--status", default="completed",
                   choices=["completed", "failed", "killed"])
    s = add("params", "log notebook variables as params (values now)")
    s.add_argument("names", nargs="+")
    s = add("log", "log metrics: %%track log loss=0.3 acc=0.9 [step=N]")
    s.add_argument("pairs", nargs="+", metavar="key=value")
    s = add("tag", "add tags to the active run (--remove to remove)")
    s.add_argument("tags", nargs="+")
    s.add_argument("--remove", action="store_true")
    s = add("note", "append a markdown note to the active run")
    s.add_argument("text", nargs="+")
    add("status", "show the active run")
    s = add("runs", "list runs")
    s.add_argument("experiment", nargs="?", default=None)
    s.add_argument("--where")
    s.add_argument("--limit", type=int, default=20)
    s.add_argument("--all", action="store_true", help="include archived runs")
    s = add("show", "show one run's log")
    s.add_argument("run")
    s = add("export", "export a run to a reproducible notebook")
    s.add_argument("run")
    s.add_argument("path")
    s = add("lineage", "producers and consumers of a file, or a run's upstream/downstream")
    s.add_argument("target")
    s.add_argument("--depth", type=int, default=None)
    s = add("sh", "run a shell command as part of the active run")
    s.add_argument("command", nargs=argparse.REMAINDER)
    return top, p


def _cell_parser() -> _Parser:
    c = _Parser(prog="%%track", description="Run this cell as one run.")
    c.add_argument("experiment", nargs="?", default=None)
    c.add_argument("--name")
    c.add_argument("--tags")
    c.add_argument("--note")
    c.add_argument("--trace-files", action="store_true")
    return c


def _split(line: str, prog: str = "%track") -> list[str]:
    """Words of a magic line as a shell splits them: quotes group, ``#`` starts a comment."""
    try:
        return shlex.split(line, comments=True)
    except ValueError as exc:
        raise UsageError(f"{prog}: cannot parse {line!r}: {exc}") from None


def _unknown(word: str, known) -> UsageError:
    import difflib

    close = difflib.get_close_matches(word, list(known), n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return UsageError(f"%track: unknown command {word!r}{hint}; `%track --help` lists them")


def _number(text: str, shell, key: str):
    """A value for ``%track log``: a number literal, or a notebook variable's value."""
    try:
        return int(text) if text.lstrip("+-").isdigit() else float(text)
    except ValueError:
        pass
    if text.isidentifier() and text in shell.user_ns:
        return shell.user_ns[text]
    raise UsageError(f"%track log: {key}={text!r} is neither a number nor a notebook variable")


class TrackMagics:
    """The magic functions, bound to one shell."""

    def __init__(self, shell):
        self.shell = shell
        self.top, self.sub = _parsers()
        self.magic_started = None  # the run `%track start` began, ended by the next start

    # ----------------------------------------------------------------- line
    def track(self, line: str = ""):
        __tracebackhide__ = True  # noqa: F841 - IPython hides this frame from tracebacks
        raw = _RAW.match(line)
        if raw and raw["name"] in RAW_COMMANDS and (raw["rest"] or "").strip() not in HELP_WORDS:
            name, args = raw["name"], argparse.Namespace(command=(raw["rest"] or "").strip())
        else:
            words = _split(line)
            if not words or words[0] in HELP_WORDS:
                if len(words) > 1 and words[0] == "help" and words[1] in self.sub:
                    self.sub[words[1]].print_help()  # `%track help start`
                else:
                    self.top.print_help()
                return None
            name = words[0]
            if name not in self.sub:
                raise _unknown(name, self.sub)
            try:
                args = self.sub[name].parse_args(words[1:])
            except _HelpShown:
                return None
        try:
            return getattr(self, "do_" + name)(args)
        except (NbtrackError, FileNotFoundError) as exc:
            # one red line naming the command, and the cell fails: Run All stops here
            raise UsageError(f"%track {name}: {exc}") from exc

    def do_start(self, a):
        previous = self.magic_started
        if previous is not None and not previous.ended:
            previous.end("completed")
            print(f"ended {previous.name} (completed)")
        run = nbtrack.start_run(
            a.experiment or "default", name=a.name, tags=a.tags or None, notes=a.note or "",
            trace_files=a.trace_files,
        )
        self.magic_started = run
        print(f"started run {run.name} ({run.id}) in experiment {run.experiment!r}")

    def do_stop(self, a):
        run = nbtrack.active_run()
        if run is None:
            raise UsageError("%track stop: no active run")
        run.end(a.status)
        print(f"ended {run.name} ({a.status})")

    def do_params(self, a):
        ns = self.shell.user_ns
        missing = [n for n in a.names if n not in ns]
        if missing:
            raise UsageError(f"%track params: not defined in the notebook: {', '.join(missing)}")
        nbtrack.log_params({n: ns[n] for n in a.names})

    def do_log(self, a):
        values, step = {}, None
        for pair in a.pairs:
            key, sep, text = pair.partition("=")
            if not sep or not key:
                raise UsageError(f"%track log: expected key=value, got {pair!r}")
            if key == "step":
                step = _number(text, self.shell, key)
                if isinstance(step, bool) or not isinstance(step, int):
                    raise UsageError(f"%track log: step must be an integer, got {text!r}")
                continue
            values[key] = _number(text, self.shell, key)
        nbtrack.log(values, step=step)

    def do_tag(self, a):
        (nbtrack.remove_tags if a.remove else nbtrack.add_tags)(*a.tags)

    def do_note(self, a):
        nbtrack.note(" ".join(a.text))

    def do_status(self, a):
        run = nbtrack.active_run()
        if run is None:
            print("no active run (start one with %track start)")
            return
        log = nbtrack.get_run(run.id, with_metrics=False, store=run.layout.root)
        from .ui.summary import status_line

        print(status_line(log))

    def do_runs(self, a):
        frame = nbtrack.runs(a.experiment, where=a.where, include_archived=a.all)
        return frame.head(a.limit)

    def do_show(self, a):
        from .ui.summary import RunSummary

        return RunSummary(nbtrack.get_run(a.run))

    def do_export(self, a):
        export = getattr(nbtrack, "export", None)
        if export is None:
            raise UsageError("%track export: export is not available in this version")
        return export(a.run, a.path)

    def do_lineage(self, a):
        lineage = getattr(nbtrack, "lineage", None)
        if lineage is None:
            raise UsageError("%track lineage: lineage is not available in this version")
        return lineage(a.target, depth=a.depth)

    def do_sh(self, a):
        command = a.command if isinstance(a.command, str) else " ".join(a.command)
        command = command.strip()
        if not command:
            raise UsageError("%track sh: give a command, e.g. %track sh python train.py")
        return nbtrack.sh(command)

    # ----------------------------------------------------------------- cell
    def track_cell(self, line: str, cell: str):
        """Run the cell as one run; its last expression's value is the cell's output."""
        __tracebackhide__ = True  # noqa: F841 - IPython hides this frame from tracebacks
        try:
            args = _cell_parser().parse_args(_split(line, "%%track"))
        except _HelpShown:
            return None
        body, last = self._compile_cell(line, cell)  # a syntax error starts no run
        try:
            run = nbtrack.start_run(
                args.experiment or "default", name=args.name, tags=args.tags or None,
                notes=args.note or "", trace_files=args.trace_files,
            )
        except NbtrackError as exc:
            raise UsageError(f"%%track: {exc}") from exc
        print(f"run {run.name} ({run.id})")
        ns = self.shell.user_ns
        try:
            with run:
                exec(body, ns)  # noqa: S102 - the user's own cell, as IPython runs it
                return eval(last, ns) if last is not None else None  # noqa: S307 - same
        finally:
            print(f"ended {run.name} ({run.status})")

    def _compile_cell(self, line: str, cell: str):
        """Compile the body as IPython compiles a cell: through its caching compiler, so
        tracebacks show the cell's own lines (numbered as in the cell, magic line first)."""
        import ast

        shell = self.shell
        source = shell.transform_cell(cell)
        header = f"%%track {line}".rstrip() + "\n"
        name = shell.compile.cache(header + source, shell.execution_count, raw_code=header + cell)
        tree = shell.compile.ast_parse("\n" + source, filename=name)  # body line 1 = cell line 2
        tree = shell.transform_ast(tree)
        last = None
        if tree.body and isinstance(tree.body[-1], ast.Expr):
            last = shell.compile(ast.Expression(tree.body.pop().value), name, "eval")
        return shell.compile(tree, name, "exec"), last


def load_ipython_extension(ipython) -> None:
    from .capture import ipython as capture

    state = capture.install(ipython)
    if "magics" in state:
        return  # loaded already: never register anything twice
    magics = TrackMagics(ipython)
    ipython.register_magic_function(magics.track, "line", "track")
    ipython.register_magic_function(magics.track_cell, "cell", "track")
    state["magics"] = magics
    if "nbtrack" not in ipython.user_ns:  # the notebook can call nbtrack.log() with no import
        ipython.push({"nbtrack": nbtrack}, interactive=False)


def unload_ipython_extension(ipython) -> None:
    from .capture import ipython as capture

    capture.uninstall(ipython)
