"""The local API runs the template's Schedule events as EventBridge does when deployed."""

from __future__ import annotations

import threading

import pytest

from devtools import scheduler
from devtools.template import rate_seconds
from tests.support import template


@pytest.mark.parametrize(
    ("expression", "seconds"),
    [
        ("rate(1 minute)", 60),
        ("rate(5 minutes)", 300),
        ("rate(2 hours)", 7200),
        ("cron(0 12 * * ? *)", None),
        ("rate(minutes)", None),
    ],
)
def test_rate_expressions(expression, seconds):
    assert rate_seconds(expression) == seconds


def test_the_template_schedules_the_drainer_and_the_sweeper():
    schedules = {name: fn.schedules for name, fn in template().functions.items() if fn.schedules}
    assert schedules == {"SettlementFunction": [60.0], "RoundSweeperFunction": [300.0]}


def test_the_scheduler_invokes_each_scheduled_function_with_a_scheduled_event(monkeypatch):
    monkeypatch.setenv("LOCAL_SCHEDULE_SECONDS", "0.01")
    seen: dict[str, dict] = {}
    both = threading.Event()

    def invoke(fn, event):
        seen[fn.logical_id] = event
        if len(seen) == 2:
            both.set()

    stop = scheduler.start(template(), invoke)
    try:
        assert both.wait(10), seen
    finally:
        stop.set()
    assert set(seen) == {"SettlementFunction", "RoundSweeperFunction"}
    assert all(e["detail-type"] == "Scheduled Event" and e["source"] == "aws.events" for e in seen.values())


def test_zero_turns_the_schedules_off(monkeypatch):
    monkeypatch.setenv("LOCAL_SCHEDULE_SECONDS", "0")
    calls: list[str] = []
    stop = scheduler.start(template(), lambda fn, event: calls.append(fn.logical_id))
    stop.set()
    assert calls == [] and all("(off)" in line for line in scheduler.describe(template()))
