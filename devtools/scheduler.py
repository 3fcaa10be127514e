"""The template's Schedule events, run by the local API as EventBridge runs them when deployed:
the settlement drainer every minute, the round sweeper every five (template.yaml). So owed
callbacks queued during a local round are delivered without anyone typing `make settle`.
LOCAL_SCHEDULE_SECONDS overrides every rate (e.g. 5 for a quick demo); 0 turns them off."""

from __future__ import annotations

import logging
import os
import threading

from .events import scheduled_event
from .template import Function, Template

log = logging.getLogger("scheduler")


def start(template: Template, invoke) -> threading.Event:  # type: ignore[no-untyped-def]
    """Starts one daemon thread per scheduled function; set the returned event to stop them."""
    stop = threading.Event()
    override = os.environ.get("LOCAL_SCHEDULE_SECONDS")
    for fn in template.functions.values():
        for seconds in fn.schedules:
            interval = float(override) if override else seconds
            if interval <= 0:
                continue
            threading.Thread(
                target=_loop, args=(fn, interval, invoke, stop), daemon=True, name=f"schedule-{fn.logical_id}"
            ).start()
    return stop


def _loop(fn: Function, interval: float, invoke, stop: threading.Event) -> None:  # type: ignore[no-untyped-def]
    event = scheduled_event(f"local-{fn.logical_id}")
    while not stop.wait(interval):
        try:
            invoke(fn, event)
        except Exception:  # a failed run is logged; the next one comes anyway, as with EventBridge
            log.exception("scheduled %s failed", fn.logical_id)


def describe(template: Template) -> list[str]:
    override = os.environ.get("LOCAL_SCHEDULE_SECONDS")
    lines = []
    for fn in template.functions.values():
        for seconds in fn.schedules:
            every = float(override) if override else seconds
            lines.append(f"  every {every:g} s  ->  {fn.logical_id}" if every > 0 else f"  (off)  {fn.logical_id}")
    return lines
