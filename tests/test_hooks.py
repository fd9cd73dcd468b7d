"""nbtrack.hooks: where the write side hands over to the layers above it without importing
them (the open-run stack capture reads, run start/end listeners, Run.live's view)."""

from __future__ import annotations

import pytest

import nbtrack
from nbtrack import hooks
from nbtrack.errors import NbtrackError


def test_listeners_hear_a_run_start_and_end_and_the_stack_shows_it_open():
    heard = []

    def started(run):
        heard.append(("start", run.id, [r.id for r in hooks.open_runs()]))

    def ended(run):
        heard.append(("end", run.id, [r.id for r in hooks.open_runs()]))

    hooks.on_run_start(started)
    hooks.on_run_start(started)  # once only
    hooks.on_run_end(ended)
    try:
        with nbtrack.start_run("e") as run:
            assert hooks.open_runs() == [run] == nbtrack.active.open_runs()
    finally:
        hooks.off_run_start(started)
        hooks._ended.remove(ended)
    assert heard == [("start", run.id, [run.id]), ("end", run.id, [])]
    assert hooks.open_runs() == []


def test_run_live_shows_the_view_the_api_wired(monkeypatch):
    shown = []
    monkeypatch.setattr(hooks, "_live", [lambda run, metrics, **kw: shown.append(
        (run, metrics, kw))])
    with nbtrack.start_run("e") as run:
        run.live("loss", kind="line")
        run.live()
    assert shown == [(run, ["loss"], {"kind": "line"}), (run, None, {})]


def test_without_a_wired_view_live_says_so(monkeypatch):
    monkeypatch.setattr(hooks, "_live", [])
    with nbtrack.start_run("e") as run, pytest.raises(NbtrackError, match="live chart"):
        run.live()
