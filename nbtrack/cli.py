"""``nbtrack`` on the command line: words over the public API.

    nbtrack runs [EXPERIMENT] [--where EXPR] [--limit N] [--json]
    nbtrack show RUN [--json]
    nbtrack metrics RUN [--keys a,b]
    nbtrack experiments
    nbtrack export RUN PATH
    nbtrack reproduce PATH [--tolerance T]      exit status 1 when not reproduced
    nbtrack lineage TARGET [--depth N] [--dot]
    nbtrack archive RUN | nbtrack unarchive RUN
    nbtrack sweep ... | to-mlflow ... | gc [--dry-run] | compact   (see nbtrack.cli_ops)
    nbtrack check [--quarantine] [--tidy]      exit status 1 when a corrupt file stays

``--store DIR`` (or ``$NBTRACK_HOME``) picks the store. Errors print one line
and exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import sys

from .errors import NbtrackError

STORE_HELP = "store folder or s3:// URL (default: $NBTRACK_HOME or nearest .nbtrack)"


class _Command(argparse.ArgumentParser):
    """A subcommand's parser: it takes ``--store`` too, so ``nbtrack runs --store DIR``
    works as ``nbtrack --store DIR runs`` does (nested verbs such as ``sweep list`` get
    this class from argparse as well). Unset here, the top level's value stands."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.add_argument("--store", default=argparse.SUPPRESS, help=STORE_HELP)


def _parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="nbtrack", description="Experiment tracking in the notebook.")
    top.add_argument("--store", help=STORE_HELP)
    sub = top.add_subparsers(dest="cmd", required=True, parser_class=_Command)
    p = sub.add_parser("runs", help="list runs, newest first")
    p.add_argument("experiment", nargs="?")
    p.add_argument("--where")
    p.add_argument("--sort")
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--all", action="store_true", help="include archived runs")
    p.add_argument("--wide", action="store_true", help="every column")
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("show", help="one run's whole log")
    p.add_argument("run")
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("metrics", help="a run's metric points")
    p.add_argument("run")
    p.add_argument("--keys")
    sub.add_parser("experiments", help="list experiments")
    p = sub.add_parser("export", help="write a notebook that reproduces a run")
    p.add_argument("run")
    p.add_argument("path")
    p = sub.add_parser("reproduce", help="run an exported notebook and compare")
    p.add_argument("path")
    p.add_argument("--tolerance", type=float, default=1e-9)
    p.add_argument("--timeout", type=float, default=600)
    p = sub.add_parser("lineage", help="runs that made and used a file, or a run's up/downstream")
    p.add_argument("target")
    p.add_argument("--depth", type=int)
    p.add_argument("--dot", action="store_true", help="print Graphviz dot")
    for name in ("archive", "unarchive"):
        p = sub.add_parser(name, help=f"{name} a run")
        p.add_argument("run")
    from . import cli_ops

    cli_ops.add_parsers(sub)  # sweep, to-mlflow, gc, compact
    p = sub.add_parser("check", help="check every store file's checksum and format")
    p.add_argument("--quarantine", action="store_true", help="move corrupt files to quarantine/")
    p.add_argument("--tidy", action="store_true",
                   help="remove abandoned temporary files, merge runs whose writer died")
    p.add_argument("--no-objects", action="store_true", help="skip re-hashing stored objects")
    return top


def _print_frame(frame, as_json: bool) -> None:
    import polars as pl

    if as_json:
        print(frame.write_json())
        return
    with pl.Config(tbl_rows=200, tbl_cols=12, fmt_str_lengths=40, tbl_width_chars=160):
        print(frame)


def _compact(frame):
    """The columns a person scans: who/what/how it went, then params and metrics."""
    keep = ["name", "experiment", "status", "started", "duration_s", "tags"]
    keep += [c for c in frame.columns if c.startswith(("params.", "metrics."))]
    return frame.select([c for c in keep if c in frame.columns])


def main(argv: list[str] | None = None) -> int:
    import nbtrack

    args = _parser().parse_args(argv)
    store = args.store
    try:
        if store is not None:  # a typo'd --store is reported as such, and never made
            from .store.layout import Layout

            Layout(store, create=False, origin="--store").check_exists()
        from . import cli_ops

        if args.cmd in cli_ops.COMMANDS:
            return cli_ops.run(args, store)
        if args.cmd == "runs":
            frame = nbtrack.runs(args.experiment, where=args.where, sort=args.sort,
                                 include_archived=args.all, store=store).head(args.limit)
            if not (args.wide or args.json):
                frame = _compact(frame)
            _print_frame(frame, args.json)
        elif args.cmd == "show":
            log = nbtrack.get_run(args.run, store=store)
            if args.json:
                print(json.dumps(log, indent=1, default=str))
            else:
                from .ui.summary import RunSummary

                print(repr(RunSummary(log)))
        elif args.cmd == "metrics":
            keys = args.keys.split(",") if args.keys else None
            _print_frame(nbtrack.metrics(args.run, keys=keys, store=store), False)
        elif args.cmd == "experiments":
            _print_frame(nbtrack.experiments(store=store), False)
        elif args.cmd == "export":
            print(nbtrack.export(args.run, args.path, store=store))
        elif args.cmd == "reproduce":
            report = nbtrack.reproduce(args.path, tolerance=args.tolerance,
                                       timeout=args.timeout, store=store)
            print(repr(report))
            return 0 if report.ok else 1
        elif args.cmd == "lineage":
            graph = nbtrack.lineage(args.target, depth=args.depth, store=store)
            print(graph.to_dot() if args.dot else repr(graph))
        elif args.cmd in ("archive", "unarchive"):
            run = nbtrack.open_run(args.run, store=store)
            getattr(run, args.cmd)()
            print(f"{args.cmd}d {run.name} ({run.id})")
        elif args.cmd == "check":
            from .active import layout_for
            from .store import check

            layout = layout_for(store, create=False)
            report = check.run(layout, quarantine=args.quarantine, tidy=args.tidy,
                               objects=not args.no_objects)
            print(report)
            return 0 if report.ok else 1
    except (NbtrackError, FileNotFoundError, ValueError, ImportError) as exc:
        print(f"nbtrack {args.cmd}: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
