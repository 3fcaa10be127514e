"""The invocation's deadline, from the Lambda context: work that calls out over the network
(the round player, settlement, the casino's simulateRound) sizes itself to the time the
function has left instead of being cut off by the Lambda timeout."""

from __future__ import annotations

import time
from contextvars import ContextVar
from typing import Any

_deadline: ContextVar[float | None] = ContextVar("deadline", default=None)


def start(context: Any) -> None:
    """Remembers when this invocation ends (a time of time.monotonic)."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    _deadline.set(time.monotonic() + remaining() / 1000 if callable(remaining) else None)


def at(margin: float = 0.0, *, cap: float | None = None) -> float | None:
    """The monotonic time by which the work must be done: the invocation's end less `margin`,
    and no later than `cap` seconds from now. None when neither is known."""
    ends = _deadline.get()
    candidates = [
        t for t in (None if ends is None else ends - margin, None if cap is None else time.monotonic() + cap) if t is not None
    ]
    return min(candidates) if candidates else None


def left(deadline: float | None) -> float:
    """Seconds left before `deadline` (infinite when there is none)."""
    return float("inf") if deadline is None else deadline - time.monotonic()
