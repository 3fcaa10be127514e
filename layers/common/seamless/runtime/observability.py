"""Logger, metrics and tracer: one place, used by every handler of either side.

Logger: JSON lines, correlation id = transactionId (or the API request id). Request bodies,
session tokens and secrets are never logged. Metrics: CloudWatch EMF (namespace from
POWERTOOLS_METRICS_NAMESPACE). Tracer: X-Ray, on handlers and the outgoing HTTP client.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

from .settings import common

logger = Logger()
metrics = Metrics(namespace="CasinoWallet")


def _tracer() -> Any:
    """X-Ray tracing of the handlers and, through its patching of http.client, of every
    outgoing call. Built only where tracing is on: Powertools imports the X-Ray SDK (about
    half of a cold start) even when told to disable it."""
    if common().powertools_trace_disabled:
        return None
    from aws_lambda_powertools import Tracer

    return Tracer()


tracer = _tracer()


def traced(fn: Callable[..., Any]) -> Callable[..., Any]:
    return tracer.capture_lambda_handler(capture_response=False)(fn) if tracer is not None else fn


def count(name: str) -> None:
    # Disabled metrics are never flushed per invocation, so they would pile up (and Powertools
    # flushes at 100 values regardless): add nothing at all then.
    if not is_metrics_disabled():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)


def gauge(name: str, value: float) -> None:
    """A value the alarms watch (e.g. parked settlements), published with this invocation."""
    if not is_metrics_disabled():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


def dimension(name: str, value: str) -> None:
    if not is_metrics_disabled():
        metrics.add_dimension(name=name, value=value)
