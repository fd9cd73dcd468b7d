"""Run alerts: the condition grammar, firing once per crossing, what is recorded, the
warning a notebook shows, and that unrelated keys never reach the check."""

from __future__ import annotations

import math
import os
import sys
import warnings

import pytest

import nbtrack
from nbtrack import alerts
from nbtrack.conditions import Condition
from nbtrack.errors import AlertWarning, ConditionError, FilterError, NoActiveRunError

from kernel import Kernel


# ----------------------------------------------------------------- the grammar
@pytest.mark.parametrize(
    ("text", "env", "expected"),
    [
        ("val_loss > 2.0", {"val_loss": 2.5}, True),
        ("val_loss > 2.0", {"val_loss": 2.0}, False),
        ("val_loss >= 2", {"val_loss": 2.0}, True),
        ("acc == 1", {"acc": 1.0}, True),
        ("acc = 1", {"acc": 1.0}, True),
        ("acc != 1", {"acc": 0.5}, True),
        ("train/loss < 0.1", {"train/loss": 0.05}, True),
        ("val-acc > 0.9", {"val-acc": 0.95}, True),
        ("metrics.loss > 1", {"loss": 2.0}, True),
        ("`odd name!` > 1", {"odd name!": 2.0}, True),
        ("a - b > 0.5", {"a": 2.0, "b": 1.0}, True),
        ("a - b > 0.5", {"a": 1.2, "b": 1.0}, False),
        ("a-b > 0.5", {"a-b": 1.0}, True),  # without spaces: one metric's name
        ("a + b * 2 > 4.5", {"a": 1.0, "b": 2.0}, True),  # precedence: 1 + 4
        ("(a + b) * 2 > 4.5", {"a": 1.0, "b": 2.0}, True),
        ("(a + b) * 2 > 6.5", {"a": 1.0, "b": 2.0}, False),
        ("-a < 0", {"a": 1.0}, True),
        ("a / b > 1", {"a": 3.0, "b": 2.0}, True),
        ("a / b > 1", {"a": 3.0, "b": 0.0}, False),  # division by zero: NaN, false
        ("abs(train - val) > 0.5", {"train": 0.1, "val": 0.9}, True),
        ("max(a, b, c) < 1", {"a": 0.1, "b": 0.2, "c": 0.3}, True),
        ("min(a, b) > 1", {"a": 2.0, "b": 0.5}, False),
        ("loss > 1 and acc < 0.5", {"loss": 2.0, "acc": 0.4}, True),
        ("loss > 1 and acc < 0.5", {"loss": 2.0, "acc": 0.6}, False),
        ("loss > 1 or acc < 0.5", {"loss": 0.0, "acc": 0.4}, True),
        ("not loss > 1", {"loss": 0.5}, True),
        ("(loss > 1 or acc < 0.5) and step >= 3", {"loss": 2.0, "acc": 1.0, "step": 3.0}, True),
        ("loss > 1e3", {"loss": 2000.0}, True),
        # a metric not logged yet, and NaN, make every comparison false (even !=)
        ("loss > 1", {}, False),
        ("loss != 1", {}, False),
        ("loss != 1", {"loss": math.nan}, False),
        ("not loss > 1", {}, True),
    ],
)
def test_conditions_evaluate(text, env, expected):
    assert Condition(text).evaluate(env) is expected


def test_a_condition_knows_the_keys_it_reads():
    assert Condition("abs(metrics.train - val) > 0.5 or `x y` < 1").names == {"train", "val", "x y"}


@pytest.mark.parametrize(
    ("text", "position", "says"),
    [
        ("__import__('os')", 0, "unknown function '__import__'"),
        ("__import__('os').system('true') > 1", 0, "unknown function"),
        ("loss >", 6, "expected a metric name or a number"),
        ("loss", 0, "this is a number, not a condition"),
        ("loss + 1", 0, "this is a number"),
        ("loss > 1 > 0", 9, "one comparison at a time"),
        ("loss > 'high'", 7, "text has no place"),
        ("(loss > 1", 9, "expected ')'"),
        ("loss > 1 lol", 9, "expected 'and', 'or' or the end"),
        ("loss ; 1", 5, "unexpected character ';'"),
        ("(loss > 1) + 2 > 0", 0, "cannot be used as a number"),
        ("1 > 0", 0, "names no metric"),
        ("abs(a, b) > 1", 0, "abs() takes 1 argument"),
        ("", 0, "empty condition"),
    ],
)
def test_bad_conditions_point_at_the_mistake(text, position, says):
    with pytest.raises(ConditionError) as info:
        Condition(text)
    assert info.value.position == position
    assert says in str(info.value)
    assert isinstance(info.value, FilterError)  # the same error family as where=


def test_conditions_are_never_evaluated_as_python(tmp_path):
    marker = tmp_path / "pwned"
    with pytest.raises(ConditionError):
        Condition(f"__import__('pathlib').Path({str(marker)!r}).touch() > 0")
    assert not marker.exists()


# ----------------------------------------------------------------- firing
def _alert_warnings(record) -> list[warnings.WarningMessage]:
    return [w for w in record if issubclass(w.category, AlertWarning)]


def test_an_alert_fires_once_per_crossing():
    calls = []
    with nbtrack.start_run("alerts") as run:
        run.alert("val_loss > 2.0", message="Validation loss is diverging", callback=calls.append)
        series = [1.0, 2.5, 3.0, 2.1, 1.5, 2.5, 2.5, 1.0, 0.5]
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("default")  # Python's usual filter: once per line
            for step, value in enumerate(series):
                run.log({"val_loss": value}, step=step)  # the line the warning points at
    shown = _alert_warnings(record)
    # crossings: up at step 1 (2.5), up again at step 5 (after 1.5 at step 4)
    assert len(shown) == 2
    assert all(w.filename == __file__ for w in shown)
    assert "Validation loss is diverging" in str(shown[0].message)
    assert "val_loss=2.5 at step 1" in str(shown[0].message)
    assert [c["step"] for c in calls] == [1, 5]
    assert calls[0]["run_id"] == run.id and calls[0]["value"] == 2.5

    log = nbtrack.get_run(run.id)
    assert [(a["step"], a["value"]) for a in log["alerts"]] == [(1, 2.5), (5, 2.5)]
    first = log["alerts"][0]
    assert first["condition"] == "val_loss > 2.0"
    assert first["message"] == "Validation loss is diverging"
    assert first["key"] == "val_loss" and first["values"] == {"val_loss": 2.5}
    assert first["time"].startswith("20")  # ISO time, like notes
    assert log["alert_rules"][0]["condition"] == "val_loss > 2.0"
    row = nbtrack.runs("alerts").row(0, named=True)
    assert row["alerts"] == 2


def test_a_condition_over_two_metrics_uses_the_latest_of_each():
    with nbtrack.start_run("alerts") as run:
        run.alert("abs(train_loss - val_loss) > 0.5")
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            run.log({"train_loss": 0.2})             # val_loss unknown: false
            run.log({"val_loss": 0.4})               # 0.2 apart
            run.log({"val_loss": 0.9, "other": 1.0})  # 0.7 apart: fires
            run.log({"train_loss": 0.1})             # 0.8 apart: still true, no new firing
            run.log({"train_loss": 0.6})             # 0.3 apart: false
            run.log({"train_loss": 0.3})             # 0.6 apart again: fires
    assert len(_alert_warnings(record)) == 2
    fired = nbtrack.get_run(run.id)["alerts"]
    assert fired[0]["values"] == {"train_loss": 0.2, "val_loss": 0.9}
    assert fired[0]["key"] == "val_loss" and fired[1]["key"] == "train_loss"


def test_automatic_steps_and_several_alerts():
    with nbtrack.start_run("alerts") as run:
        run.alert("loss > 1")
        run.alert("loss > 5", message="exploding")
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            for value in (0.5, 2.0, 6.0, 0.1):
                run.log({"loss": value})
    fired = nbtrack.get_run(run.id)["alerts"]
    assert [(a["alert"], a["step"]) for a in fired] == [(0, 1), (1, 2)]
    assert nbtrack.get_run(run.id)["metrics"]["loss"]["steps"] == [0, 1, 2, 3]
    assert len(_alert_warnings(record)) == 2


@pytest.mark.filterwarnings("ignore::nbtrack.errors.AlertWarning")
def test_unrelated_keys_keep_the_plain_path(monkeypatch):
    checked = []
    original = alerts.AlertSet.check
    monkeypatch.setattr(alerts.AlertSet, "check",
                        lambda self, *a: (checked.append(a[0]), original(self, *a)))
    with nbtrack.start_run("alerts") as run:
        run.log({"loss": 1.0, "val_loss": 1.0})
        run.alert("val_loss > 2")
        for step in range(100):
            run.log({"loss": float(step)}, step=step)
            run.log({"loss": 1.0, "lr": 0.1}, step=step)
        run.log({"val_loss": 3.0})
    assert checked == [{"val_loss": 3.0}]  # only the call naming the watched key
    assert "val_loss" not in run._fast and "loss" in run._fast and "lr" in run._fast
    series = nbtrack.get_run(run.id)["metrics"]
    assert len(series["loss"]["values"]) == 201 and series["val_loss"]["values"] == [1.0, 3.0]


def test_a_failing_callback_is_a_warning_not_a_failed_log():
    def broken(record):
        raise RuntimeError("callback bug")

    with nbtrack.start_run("alerts") as run:
        run.alert("loss > 1", callback=broken)
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            run.log({"loss": 2.0})
    assert any("callback bug" in str(w.message) for w in record
               if issubclass(w.category, RuntimeWarning))
    assert nbtrack.get_run(run.id)["metrics"]["loss"]["values"] == [2.0]


def test_users_can_silence_or_escalate_alerts():
    with nbtrack.start_run("alerts") as run:
        run.alert("loss > 1")
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            warnings.filterwarnings("ignore", category=AlertWarning)
            run.log({"loss": 2.0})
        assert _alert_warnings(record) == []
        run.log({"loss": 0.0})
        with warnings.catch_warnings():
            warnings.simplefilter("error", AlertWarning)
            with pytest.raises(AlertWarning):
                run.log({"loss": 3.0})
    assert len(nbtrack.get_run(run.id)["alerts"]) == 2  # recorded either way


def test_module_level_alert_acts_on_the_active_run():
    with pytest.raises(NoActiveRunError):
        nbtrack.alert("loss > 1")
    with nbtrack.start_run("alerts") as run:
        made = nbtrack.alert("loss > 1", message="m")
        with warnings.catch_warnings(record=True):
            warnings.simplefilter("always")
            nbtrack.log(loss=3.0)
        assert made.fired == 1
    with pytest.raises(nbtrack.errors.RunEndedError):
        run.alert("loss > 1")
    with pytest.raises(TypeError):
        nbtrack.start_run("alerts").alert("loss > 1", callback="not callable")


def test_the_notebook_shows_the_warning_from_the_cell_that_logged(store, tmp_path):
    env = {"NBTRACK_HOME": str(store), "PYTHONPATH": os.pathsep.join(sys.path)}
    with Kernel(tmp_path, env) as k:
        assert k.run("import nbtrack\nrun = nbtrack.start_run('nb')\n"
                     "run.alert('val_loss > 2.0', message='diverging')").ok
        quiet = k.run("run.log({'val_loss': 1.0})")
        loud = k.run("for v in (3.0, 1.0, 4.0):\n    run.log({'val_loss': v})")
        still = k.run("run.log({'val_loss': 5.0})")
        assert k.run("run.end()").ok
    assert "AlertWarning" not in quiet.stderr
    assert loud.stderr.count("AlertWarning: nbtrack alert on run") == 2, loud.stderr
    assert "diverging" in loud.stderr and "val_loss=4 at step 3" in loud.stderr
    assert "AlertWarning" not in still.stderr  # still above: no new crossing
    assert len(nbtrack.get_run(nbtrack.runs()["run_id"][0])["alerts"]) == 2
