"""Run alerts: a condition over metric names, checked as the metrics are logged.

``run.alert("val_loss > 2.0", message="diverging")`` parses the condition (see
:mod:`nbtrack.conditions`) and registers it on the run. ``Run.log`` sends a
call here only when it names a watched key, so unrelated keys keep the plain hot
path. An alert *fires* when its condition becomes true, and again only after it
has been false in between: it records an ``alert`` event on the run (condition,
message, step, key, value, the watched values, time: ``get_run(r)["alerts"]``,
the ``alerts`` count column of ``runs()``), warns with
:class:`~nbtrack.errors.AlertWarning` from the line that logged, and calls the
optional callback with that record.
"""

from __future__ import annotations

import sys
import threading
import warnings
from collections.abc import Callable

from .conditions import Condition
from .errors import AlertWarning


class Alert:
    """One registered condition on one run; ``fired`` counts its firings so far."""

    __slots__ = ("number", "condition", "message", "callback", "active", "fired")

    def __init__(self, number: int, condition: Condition, message: str | None,
                 callback: Callable[[dict], object] | None):
        self.number = number
        self.condition = condition
        self.message = message
        self.callback = callback
        self.active = False  # the condition held at the last check
        self.fired = 0

    def __repr__(self) -> str:
        return f"<nbtrack.Alert {self.condition.text!r} fired={self.fired}>"


class AlertSet:
    """The alerts of one run and the latest value of every key they name."""

    def __init__(self, run):
        self.run = run
        self.alerts: list[Alert] = []
        self.by_key: dict[str, list[Alert]] = {}
        self.last: dict[str, float] = {}
        self._lock = threading.Lock()

    @property
    def watched(self) -> frozenset[str]:
        return frozenset(self.by_key)

    def add(self, condition: str, message: str | None = None,
            callback: Callable[[dict], object] | None = None) -> Alert:
        if message is not None and not isinstance(message, str):
            raise TypeError(f"an alert's message is text, got {type(message).__name__}")
        if callback is not None and not callable(callback):
            raise TypeError("an alert's callback must be callable, e.g. lambda alert: print(alert)")
        parsed = Condition(condition)
        with self._lock:
            alert = Alert(len(self.alerts), parsed, message, callback)
            self.alerts.append(alert)
            for key in parsed.names:
                self.by_key.setdefault(key, []).append(alert)
        self.run._event("alert_rule", alert=alert.number, condition=parsed.text, message=message)
        return alert

    def check(self, metrics: dict[str, float], steps: dict[str, int], t: float) -> None:
        """After a log call that named a watched key: evaluate the alerts it touches."""
        fired = []
        with self._lock:
            touched: dict[int, Alert] = {}
            for key, value in metrics.items():
                alerts = self.by_key.get(key)
                if alerts:
                    self.last[key] = value
                    for alert in alerts:
                        touched.setdefault(alert.number, alert)
            for alert in touched.values():
                now = alert.condition.evaluate(self.last)
                if now and not alert.active:
                    alert.fired += 1
                    key = next(k for k in metrics if k in alert.condition.names)
                    fired.append((alert, key))
                alert.active = now
            values = dict(self.last)
        for alert, key in fired:
            self._fire(alert, key, metrics[key], steps.get(key), t, values)

    def _fire(self, alert: Alert, key: str, value: float, step: int | None, t: float,
              values: dict[str, float]) -> None:
        run = self.run
        record = {
            "alert": alert.number, "condition": alert.condition.text, "message": alert.message,
            "key": key, "value": value, "step": step,
            "values": {k: values[k] for k in sorted(alert.condition.names) if k in values},
            "logged": t,
        }
        run._event("alert", **record)
        text = alert.message or f"condition {alert.condition.text!r} became true"
        at = f" at step {step}" if step is not None else ""
        _warn(f"nbtrack alert on run {run.name}: {text} ({alert.condition.text}; "
              f"{key}={value:g}{at})", AlertWarning)
        if alert.callback is not None:
            try:
                alert.callback(dict(record, run_id=run.id, run_name=run.name))
            except Exception as exc:  # noqa: BLE001 - a broken callback must not break log()
                _warn(f"nbtrack: the callback of alert {alert.condition.text!r} raised {exc!r}",
                      RuntimeWarning)


def _warn(text: str, category: type[Warning]) -> None:
    """Warn from the first frame outside nbtrack (the user's line that logged).

    ``warn_explicit`` without a registry shows each firing, even a second one from the
    same line (``warnings.warn`` would show it once per line), and still honours the
    user's filters (``warnings.filterwarnings("ignore", category=AlertWarning)``).
    """
    frame = sys._getframe(1)
    while frame.f_back is not None and \
            frame.f_globals.get("__name__", "").partition(".")[0] == "nbtrack":
        frame = frame.f_back
    warnings.warn_explicit(text, category, frame.f_code.co_filename, frame.f_lineno,
                           module=frame.f_globals.get("__name__"))
