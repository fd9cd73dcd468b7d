"""What a live chart costs the training loop: logging speed with a live panel open against
the same loop with no panel, in one real ipykernel, in the same run.

    .venv/bin/python benchmarks/bench_panels.py            # 6 rounds, ~5 s of logging a variant
    .venv/bin/python benchmarks/bench_panels.py --quick

A kernel is started with jupyter_client, as a notebook frontend starts one, and a client
reads everything it publishes (the live panel's pushes go out on iopub like any widget
message). Each round runs, in alternating order so machine noise hits both alike:

- ``none``: ``run.log({"loss": x}, step=i)`` in a tight loop, no panel;
- ``live``: the same loop with ``nbtrack.plot(run, "loss")`` displayed just before: the
  flush path hands every segment to the panel's feed, which pushes to the browser up to
  four times a second;

and the same two with a loop that does some work per step (a small numpy product, three
metrics), closer to training. Figures are medians over rounds of calls per second; the
ratio is the median over rounds of live / none (each pair ran back to back, so a machine
whose speed drifts, shared with other work, hits both alike): the slowdown a person would
see. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

SETUP = textwrap.dedent("""
    import time, numpy as np, nbtrack
    from IPython.display import display
    values = np.random.default_rng(7).random(1 << 20).tolist()
    mask = (1 << 20) - 1
    a = np.random.default_rng(1).random((48, 48))

    def loop(n, live, work):
        run = nbtrack.start_run("bench", params={"live": live, "work": work})
        panel = None
        if live:
            panel = nbtrack.plot(run, None if work else "loss", static=False)
            display(panel)
        log = run.log
        start = time.perf_counter()
        if work:
            for i in range(n):
                b = a @ a
                log({"loss": values[i & mask], "acc": float(b[0, 0]), "lr": 0.001}, step=i)
        else:
            for i in range(n):
                log({"loss": values[i & mask]}, step=i)
        run.flush()
        elapsed = time.perf_counter() - start
        run.end()
        pushes = sent = 0
        if panel is not None:
            pushes, sent = panel.feed.seq, panel.feed.sent_bytes
            panel.close()
        return f"{n / elapsed} {pushes / elapsed} {sent / elapsed}"
""")


class Bench:
    def __init__(self, home: Path):
        from jupyter_client.manager import KernelManager

        self.km = KernelManager(kernel_name="python3")
        self.km.kernel_spec.argv[0] = sys.executable
        env = dict(os.environ, NBTRACK_HOME=str(home), PYTHONPATH=str(REPO))
        self.km.start_kernel(cwd=str(home.parent), env=env, extra_arguments=["--IPKernelApp.log_level=ERROR"])
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=120)

    def run(self, code: str, timeout: float = 1800):
        out = []

        def hook(msg):
            content = msg["content"]
            if msg["msg_type"] == "stream" and content.get("name") == "stdout":
                out.append(content["text"])

        reply = self.kc.execute_interactive(code, timeout=timeout, output_hook=hook, store_history=False)
        if reply["content"]["status"] != "ok":
            raise RuntimeError(f"the kernel failed: {reply['content'].get('evalue')}\n{code}")
        return "".join(out)

    def close(self):
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int, default=None)
    args = parser.parse_args()
    rounds = args.rounds or (2 if args.quick else 6)
    tight_n, work_n = (300_000, 20_000) if args.quick else (6_000_000, 600_000)
    with tempfile.TemporaryDirectory(prefix="nbtrack-bench-panels-") as tmp:
        bench = Bench(Path(tmp) / "store")
        try:
            bench.run(SETUP)
            bench.run("loop(20000, True, False); loop(20000, False, False)")  # imports, first flush, warm caches
            results: dict[str, list[float]] = {k: [] for k in ("tight none", "tight live", "work none", "work live")}
            pushes: dict[str, list[tuple[float, float]]] = {"tight": [], "work": []}
            for r in range(rounds):
                for work, n in ((False, tight_n), (True, work_n)):
                    order = (False, True) if r % 2 == 0 else (True, False)
                    for live in order:
                        rate, per_s, sent_per_s = map(float, bench.run(f"print(loop({n}, {live}, {work}))").split())
                        kind = "work" if work else "tight"
                        results[f"{kind} {'live' if live else 'none'}"].append(rate)
                        if live:
                            pushes[kind].append((per_s, sent_per_s))
        finally:
            bench.close()
    print(f"nbtrack live-panel overhead, {rounds} rounds, median calls/s (ratio live / none in the same run)")
    summary = {}
    for kind, n in (("tight", tight_n), ("work", work_n)):
        none = statistics.median(results[f"{kind} none"])
        livev = statistics.median(results[f"{kind} live"])
        # each round's live/none pair ran back to back: their ratio cancels the machine's drift
        pairs = sorted(lv / nv for lv, nv in zip(results[f"{kind} live"], results[f"{kind} none"], strict=True))
        ratio = statistics.median(pairs)
        p = statistics.median(x[0] for x in pushes[kind])
        b = statistics.median(x[1] for x in pushes[kind])
        t = 1.0
        summary[kind] = {"calls": n, "none_calls_per_s": round(none), "live_calls_per_s": round(livev),
                         "ratio": round(ratio, 4), "round_ratios": [round(x, 3) for x in pairs],
                         "pushes_per_s": round(p / t, 2),
                         "push_kb_per_s": round(b / t / 1024, 1),
                         "rounds_none": [round(x) for x in results[f"{kind} none"]],
                         "rounds_live": [round(x) for x in results[f"{kind} live"]]}
        label = "log() only" if kind == "tight" else "48x48 matmul + 3 metrics a step"
        print(f"  {label:34s} none {none:12,.0f}/s   live {livev:12,.0f}/s   ratio {ratio:.3f}"
              f" (rounds {pairs[0]:.3f}..{pairs[-1]:.3f})   {p / t:.1f} pushes/s, {b / t / 1024:.1f} KB/s")
    out = REPO / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    (out / "panels.json").write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
