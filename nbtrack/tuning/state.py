"""A sweep's state, folded from its claims, its events and its trials' runs.

A trial attempt is *running* while its run is; a run whose process died reads
``crashed`` (the store's liveness rule), and so does a claim whose taker died
before its run started. A crashed attempt stays crashed until ``retry`` frees
its slot (the next ``suggest`` runs the same params again) or ``give_up`` marks
it ``abandoned``: it is never left ``running``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..store import liveness
from ..store.layout import Layout
from . import records

FINISHED = ("completed", "failed", "pruned", "abandoned")


@dataclass
class Attempt:
    number: int
    attempt: int
    state: str  # running, completed, failed, pruned, crashed, abandoned
    params: dict = field(default_factory=dict)
    run_id: str | None = None
    run_name: str | None = None
    value: float | None = None
    metrics: dict = field(default_factory=dict)
    intermediate: dict = field(default_factory=dict)  # step -> value, as reported
    reason: str | None = None
    started: float | None = None
    ended: float | None = None
    retried: bool = False
    host: str | None = None
    pid: int | None = None


@dataclass
class SweepState:
    attempts: list[Attempt]
    stopped: bool
    claimed: set[int]  # trial numbers with at least one claim

    def latest(self) -> dict[int, Attempt]:
        """The newest attempt of every trial number."""
        out: dict[int, Attempt] = {}
        for a in self.attempts:
            if a.number not in out or a.attempt > out[a.number].attempt:
                out[a.number] = a
        return out

    def retryable(self) -> list[Attempt]:
        """Latest attempts whose slot was freed by ``retry`` and not taken again yet."""
        return [a for a in self.latest().values() if a.retried]

    def completed(self) -> list[Attempt]:
        return [a for a in self.attempts if a.state == "completed" and a.value is not None]


def load(layout: Layout, sweep_id: str, objective: str) -> SweepState:
    taken = records.claims(layout, sweep_id)
    found: dict[tuple[int, int], Attempt] = {}
    stopped = False
    for ev in records.read_events(layout, sweep_id):
        kind = ev.get("type")
        if kind == "stop":
            stopped = True
        elif kind == "resume":
            stopped = False
        key = (ev.get("number"), ev.get("attempt"))
        if not all(isinstance(k, int) for k in key):
            continue
        if kind == "trial":
            found[key] = Attempt(
                number=key[0], attempt=key[1], state="running", params=ev.get("params") or {},
                run_id=ev.get("run_id"), run_name=ev.get("run_name"), started=ev.get("t"),
                host=ev.get("host"), pid=ev.get("pid"),
            )
        elif kind == "result" and key in found:
            a = found[key]
            a.state = ev.get("state") or "failed"
            a.value = ev.get("value")
            a.metrics = ev.get("metrics") or {}
            a.intermediate = {int(k): v for k, v in (ev.get("intermediate") or {}).items()}
            a.reason = ev.get("reason")
            a.ended = ev.get("t")
        elif kind == "retry" and key in found:
            found[key].retried = True
        elif kind == "retry":  # a claim whose taker died before its run started
            found[key] = Attempt(number=key[0], attempt=key[1], state="crashed", retried=True)
    for key, taker in taken.items():
        if key not in found:
            alive = _taker_alive(taker)
            found[key] = Attempt(
                number=key[0], attempt=key[1], state="running" if alive else "crashed",
                reason=None if alive else "the process that took this trial died before its run began",
                started=taker.get("t"), host=taker.get("host"), pid=taker.get("pid"),
            )
    for a in found.values():
        if a.state == "running" and a.run_id:
            _resolve_run(layout, a, objective)
    attempts = sorted(found.values(), key=lambda a: (a.number, a.attempt))
    return SweepState(attempts, stopped, {k[0] for k in taken})


def _taker_alive(taker: dict) -> bool:
    if not taker:
        return True  # being written right now
    if taker.get("host") != liveness.hostname():
        import time

        return time.time() - (taker.get("t") or 0) < liveness.STALE_AFTER_S
    return liveness.pid_alive(int(taker.get("pid") or 0), taker.get("pid_start"))


def _resolve_run(layout: Layout, a: Attempt, objective: str) -> None:
    """A running attempt as its run reads now: still running, or crashed, or ended without
    a result (then its last logged objective, if any, is the result)."""
    from ..store import state as run_state

    st = run_state.load(layout, a.run_id)
    if st is None:
        return
    run_state.resolve_liveness(layout, st)
    status = st.get("status")
    if status == "running":
        return
    a.ended = st.get("ended")
    if status == "crashed":
        a.state, a.reason = "crashed", st.get("message")
    elif status == "completed":
        from ..store import metric_files

        a.value = metric_files.last_values(layout, a.run_id).get(objective)
        a.state = "completed" if a.value is not None else "failed"
        a.reason = "the run ended without sweep.complete()" + (
            "" if a.value is not None else f" and logged no {objective!r}")
    else:
        a.state, a.reason = "failed", st.get("message") or f"the run ended {status}"
