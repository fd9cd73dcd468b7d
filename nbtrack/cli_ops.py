"""The ``nbtrack`` commands for sweeps, MLflow export and store maintenance.

    nbtrack sweep list [--json]
    nbtrack sweep show SWEEP [--json]                  the trials table
    nbtrack sweep best SWEEP [--json]
    nbtrack sweep stop|resume SWEEP
    nbtrack sweep retry|give-up SWEEP [TRIAL]          default: every crashed trial
    nbtrack to-mlflow [RUN ...] --tracking-uri URI [--from EXPERIMENT] [--experiment NAME]
    nbtrack gc [--dry-run] [--json]                    remove content no run references
    nbtrack compact [--json]                           merge the index and ended runs' files

Words over the public API (``nbtrack.sweep``, ``to_mlflow``, ``gc``, ``compact``);
``nbtrack.cli`` routes these names here and turns errors into one line, exit 2.
"""

from __future__ import annotations

import json

COMMANDS = ("sweep", "to-mlflow", "gc", "compact")


def add_parsers(sub) -> None:
    p = sub.add_parser("sweep", help="hyperparameter sweeps: list, show, best, stop, retry ...",
                       description="Hyperparameter sweeps in the store. SWEEP is a sweep's id "
                                   "or name (the newest of that name).")
    verbs = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    x = verbs.add_parser("list", help="every sweep, newest first")
    x.add_argument("--json", action="store_true")
    for name, text in (("show", "a sweep's trials: state, value, params"),
                       ("best", "the best trial so far")):
        x = verbs.add_parser(name, help=text)
        x.add_argument("sweep")
        x.add_argument("--json", action="store_true")
    for name, text in (("stop", "hand out no more trials (those running finish)"),
                       ("resume", "undo stop")):
        verbs.add_parser(name, help=text).add_argument("sweep")
    for name, text in (("retry", "run a crashed or failed trial's params again"),
                       ("give-up", "mark a crashed trial abandoned")):
        x = verbs.add_parser(name, help=text + " (default: every crashed trial)")
        x.add_argument("sweep")
        x.add_argument("trial", nargs="?", type=int)

    p = sub.add_parser("to-mlflow", help="export runs to MLflow (exporting again adds nothing)")
    p.add_argument("runs", nargs="*", metavar="RUN", help="run ids or names (default: all)")
    p.add_argument("--tracking-uri", required=True, help="e.g. sqlite:///mlflow.db")
    p.add_argument("--from", dest="source", metavar="EXPERIMENT",
                   help="only the runs of this nbtrack experiment")
    p.add_argument("--experiment", help="one MLflow experiment for all (default: each run's)")
    p.add_argument("--artifact-location", help="artifact root of experiments it creates")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("gc", help="remove stored content that no run references")
    p.add_argument("--dry-run", action="store_true", help="list what would be removed")
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("compact", help="merge the index and ended runs' metric files")
    p.add_argument("--json", action="store_true")


def run(args, store) -> int:
    import nbtrack

    if args.cmd == "sweep":
        return _sweep(args, store)
    if args.cmd == "to-mlflow":
        runs = args.runs or nbtrack.runs(args.source, store=store)
        report = nbtrack.to_mlflow(runs, tracking_uri=args.tracking_uri,
                                   experiment=args.experiment,
                                   artifact_location=args.artifact_location, store=store)
        if args.json:
            print(json.dumps(report, indent=1))
        else:
            for item in report:
                print(f"{item['action']:8s} {item['name']} ({item['run_id']}) -> "
                      f"{item['experiment']} / {item['mlflow_run_id']}")
            print(f"{len(report)} run(s): " + ", ".join(
                f"{n} {a}" for a, n in sorted(_count(r["action"] for r in report).items())))
        return 0
    if args.cmd == "gc":
        report = nbtrack.gc(dry_run=args.dry_run, store=store)
        if args.json:
            print(json.dumps(report, indent=1))
        else:
            verb = "would remove" if args.dry_run else "removed"
            for item in report["removed"]:
                print(f"{verb} {item['path']} ({item['size']:,} B)")
            print(f"{verb} {len(report['removed'])} of {report['objects']} stored objects, "
                  f"{report['bytes']:,} bytes")
        return 0
    report = nbtrack.compact(store=store)
    if args.json:
        print(json.dumps(report))
    else:
        print(f"index files {report['index_files_before']} -> {report['index_files_after']}; "
              f"metric files {report['metric_files_before']} -> {report['metric_files_after']} "
              f"({report['runs_merged']} run(s) merged)")
    return 0


def _count(items) -> dict:
    out: dict = {}
    for item in items:
        out[item] = out.get(item, 0) + 1
    return out


def _sweep(args, store) -> int:
    import nbtrack

    from .cli import _print_frame

    if args.action == "list":
        _print_frame(nbtrack.sweeps(store=store), args.json)
        return 0
    sweep = nbtrack.sweep(args.sweep, store=store)
    if args.action == "show":
        frame = sweep.trials()
        if not args.json:
            summary = sweep.summary()
            counts = ", ".join(f"{n} {s}" for s, n in sorted(summary["counts"].items()))
            print(f"sweep {sweep.name} ({sweep.id}): {sweep.strategy}, {sweep.direction} "
                  f"{sweep.objective!r}, {summary['status']}; {counts or 'no trials yet'}")
            frame = frame.drop("run_id", "started", "retried")
        _print_frame(frame, args.json)
    elif args.action == "best":
        best = sweep.best
        if args.json:
            print(json.dumps(best))
        elif best is None:
            print(f"sweep {sweep.name}: no completed trial yet")
        else:
            print(f"best {sweep.objective} = {best['value']:g}: trial {best['number']} "
                  f"({best['run_name']}, {best['run_id']}) with {json.dumps(best['params'])}")
    elif args.action in ("stop", "resume"):
        getattr(sweep, args.action)()
        print(f"sweep {sweep.name}: {'stopped' if args.action == 'stop' else 'resumed'}")
    else:
        method = sweep.retry if args.action == "retry" else sweep.give_up
        numbers = method(args.trial)
        done = "freed for a retry" if args.action == "retry" else "given up"
        print(f"sweep {sweep.name}: trial(s) {numbers or 'none'} {done}")
    return 0
