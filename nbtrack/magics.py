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
    s.add_argument("--live", action="store_true", help="show a live chart of the run's metrics")
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
    s = add("runs", "the run table (a live panel; a text table where widgets can't render)")
    s.add_argument("experiment", nargs="?", default=None)
    s.add_argument("--where")
    s.add_argument("--limit", type=int, default=20, help="rows of the text/HTML fallback")
    s.add_argument("--all", action="store_true", help="include archived runs")
    s = add("show", "one run's page (a panel; its log as text where widgets can't render)")
    s.add_argument("run")
    s = add("compare", "runs side by side: params, metrics, code and environment diffs, charts")
    s.add_argument("runs", nargs="+", metavar="RUN")
    s.add_argument("--hide-equal", action="store_true", help="show only what differs")
    s.add_argument("--objective", default="", help="the metric the charts rank by")
    s = add("export", "export a run to a reproducible notebook")
    s.add_argument("run")
    s.add_argument("path")
    s = add("lineage", "producers and consumers of a file, or a run's upstream/downstream")
    s.add_argument("target")
    s.add_argument("--depth", type=int, default=None)
    s = add("sh", "run a shell command as part of the active run")
    s.add_argument("command", nargs=argparse.REMAINDER)
    s = add("alert", "warn when a condition over metrics becomes true: "
                     "%%track alert val_loss > 2.0 --message diverging")
    s.add_argument("condition", nargs="+")
    s.add_argument("--message")
    _sweep_parsers(add("sweep", "hyperparameter sweeps: list, create, run, show, best, stop, "
                                "resume, retry, give-up (%%track sweep ACTION --help)"))
    return top, p


def _sweep_parsers(s: _Parser) -> None:
    verbs = s.add_subparsers(dest="action", parser_class=_Parser, required=True,
                             metavar="ACTION")
    verbs.add_parser("list", help="every sweep, newest first")
    c = verbs.add_parser("create", help="a new sweep (or the same one again)")
    c.add_argument("name")
    c.add_argument("--params", required=True, metavar="JSON",
                   help='e.g. \'{"lr": {"min": 1e-5, "max": 1e-2, "distribution": "log_uniform"}}\'')
    c.add_argument("--objective", required=True)
    c.add_argument("--strategy", default="random", choices=["grid", "random", "bayesian"])
    c.add_argument("--direction", default="maximize", choices=["maximize", "minimize"])
    c.add_argument("--max-trials", type=int)
    c.add_argument("--seed", type=int)
    c.add_argument("--experiment")
    r = verbs.add_parser("run", help="run FN(params, trial), a notebook function, per trial")
    r.add_argument("sweep")
    r.add_argument("fn")
    r.add_argument("--n-trials", type=int)
    r.add_argument("--n-jobs", type=int, default=1)
    for name, text in (("show", "the trials table"), ("best", "the best trial so far"),
                       ("stop", "hand out no more trials"), ("resume", "undo stop")):
        verbs.add_parser(name, help=text).add_argument("sweep")
    for name, text in (("retry", "run a crashed or failed trial again"),
                       ("give-up", "mark a crashed trial abandoned")):
        x = verbs.add_parser(name, help=text + " (default: every crashed trial)")
        x.add_argument("sweep")
        x.add_argument("trial", nargs="?", type=int)


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
        if a.live:
            run.live()

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
        return nbtrack.show(experiment=a.experiment, where=a.where or "", show_archived=a.all,
                            limit=a.limit)

    def do_show(self, a):
        return nbtrack.show(a.run)

    def do_compare(self, a):
        return nbtrack.compare(a.runs, hide_equal=a.hide_equal, objective=a.objective)

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

    def do_alert(self, a):
        made = nbtrack.alert(" ".join(a.condition), message=a.message)
        print(f"alert on {nbtrack.active_run().name}: {made.condition.text}")

    def do_sweep(self, a):
        if a.action == "list":
            return nbtrack.sweeps()
        if a.action == "create":
            import json

            try:
                parameters = json.loads(a.params)
            except ValueError as exc:
                raise UsageError(f"%track sweep create: --params is not JSON: {exc}") from None
            sweep = nbtrack.sweep(a.name, strategy=a.strategy, parameters=parameters,
                                  objective=a.objective, direction=a.direction,
                                  max_trials=a.max_trials, seed=a.seed, experiment=a.experiment)
            print(f"sweep {sweep.name} ({sweep.id}): {sweep.strategy}, {sweep.direction} "
                  f"{sweep.objective!r}")
            return None
        sweep = nbtrack.sweep(a.sweep)
        if a.action == "run":
            fn = self.shell.user_ns.get(a.fn)
            if not callable(fn):
                raise UsageError(f"%track sweep run: {a.fn!r} is not a function in the notebook")
            sweep.run(fn, n_trials=a.n_trials, n_jobs=a.n_jobs)
            return sweep.trials()
        if a.action == "show":
            return sweep.trials()
        if a.action == "best":
            return sweep.best
        if a.action in ("stop", "resume"):
            getattr(sweep, a.action)()
            print(f"sweep {sweep.name}: {'stopped' if a.action == 'stop' else 'resumed'}")
            return None
        numbers = (sweep.retry if a.action == "retry" else sweep.give_up)(a.trial)
        print(f"sweep {sweep.name}: trial(s) {numbers or 'none'} "
              f"{'freed for a retry' if a.action == 'retry' else 'given up'}")
        return None

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
