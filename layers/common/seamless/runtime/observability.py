"""Logs, metrics and traces: one place, used by every handler of either side.

- **The request line.** Every API request writes exactly one JSON line when it is answered: the
  audit record operators search (function, request id, correlation id = transactionId or the API
  request id, endpoint, status, replayed, error code) and, as CloudWatch Embedded Metric Format
  (EMF), that request's metrics (`Requests`, `Debits`, `Replays`, ...; dimensions service and
  endpoint; namespace from POWERTOOLS_METRICS_NAMESPACE). Request bodies, session tokens and
  secrets are never in it.
- **Logger** (Powertools): warnings and errors, with the request's correlation id; the scheduled
  workers' summary line.
- **Metrics** (Powertools EMF): the scheduled workers' gauges and counters, flushed per run.
- **Tracer** (X-Ray): on handlers, and on the two libraries the functions call out through.

Why the request line is written here and not by Powertools' Logger and Metrics (issue 14,
bench/profile.md): on the money callbacks those two were about 40 % of the handler's own CPU - a
log record through the logging module and Powertools' formatter, then a second JSON document for
the metrics, rebuilt and validated per invocation. EMF only asks that a log line carry an `_aws`
block, so the audit line can carry its own metrics: one dict, one json.dumps, one write. No
library writes metrics into a line of ours, so this small part is hand-written.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from .settings import before_first_aws_call, common

logger = Logger()
metrics = Metrics(namespace="CasinoWallet")

#: the only libraries the functions call out through: http.client (the provider's calls to the
#: casino, the casino's simulateRound), patched at init, and botocore (Secrets Manager), patched
#: before the first secret is read (settings.before_first_aws_call). patch_all would also wrap
#: psycopg's connect in a proxy that records nothing for Connection.execute (our only use), and
#: import every other supported library that happens to be installed.
TRACED_AT_INIT = ("httplib",)
TRACED_AT_FIRST_AWS_CALL = ("botocore",)


def _tracer() -> Any:
    """X-Ray tracing of the handlers and of their outgoing calls. Built only where tracing is on:
    Powertools imports the X-Ray SDK even when told to disable it."""
    if common().powertools_trace_disabled:
        return None
    from aws_lambda_powertools import Tracer

    return Tracer(patch_modules=TRACED_AT_INIT)


tracer = _tracer()
if tracer is not None:
    before_first_aws_call.append(lambda: tracer.patch(TRACED_AT_FIRST_AWS_CALL))


def traced(fn: Callable[..., Any]) -> Callable[..., Any]:
    return tracer.capture_lambda_handler(capture_response=False)(fn) if tracer is not None else fn


class RequestLine:
    """One API request's audit fields and metrics, written as one line by `finish`."""

    __slots__ = ("fields", "counts", "emf")
    # Configuration comes from the settings (read once per container): an environment lookup
    # costs about as much as the rest of the line.

    def __init__(self, context: Any, cold_start: bool) -> None:
        request_id = getattr(context, "aws_request_id", None)
        settings = common()
        self.fields: dict[str, Any] = {
            "level": "INFO",
            "message": "request answered",
            "service": settings.powertools_service_name,
            "function_name": getattr(context, "function_name", None),
            "function_request_id": request_id,
            "cold_start": cold_start,
            "correlation_id": request_id,
            "endpoint": "unknown",
        }
        trace_id = os.environ.get("_X_AMZN_TRACE_ID")
        if trace_id:
            self.fields["xray_trace_id"] = trace_id.partition(";")[0].removeprefix("Root=")
        self.counts: dict[str, float] = {"ColdStart": 1} if cold_start else {}
        self.emf = not settings.metrics_disabled()

    def context(self) -> dict[str, Any]:
        """The fields that tie a warning logged during the request to its line."""
        return {key: self.fields.get(key) for key in ("function_request_id", "correlation_id", "endpoint")}

    def finish(self, status: int) -> None:
        fields = self.fields
        fields["status"] = status
        now = time.time()
        fields["timestamp"] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}Z"
        if self.emf and self.counts:
            fields.update(self.counts)
            fields["_aws"] = {
                "Timestamp": int(now * 1000),
                "CloudWatchMetrics": [
                    {
                        "Namespace": common().powertools_metrics_namespace,
                        "Dimensions": [["service", "endpoint"]],
                        "Metrics": [{"Name": name, "Unit": "Count"} for name in self.counts],
                    }
                ],
            }
        elif logger.log_level > logging.INFO:
            return
        sys.stdout.write(json.dumps(fields, separators=(",", ":"), default=str) + "\n")


_line: ContextVar[RequestLine | None] = ContextVar("request_line", default=None)
_cold = True


def begin_request(context: Any) -> RequestLine:
    """Starts this invocation's request line (each thread of the local API has its own)."""
    global _cold
    line = RequestLine(context, _cold)
    _cold = False
    _line.set(line)
    return line


def end_request(status: int) -> None:
    line = _line.get()
    if line is not None:
        _line.set(None)
        line.finish(status)


def note(**fields: Any) -> None:
    """Audit fields of the current request (e.g. status of the outcome, replayed, code)."""
    line = _line.get()
    if line is not None:
        line.fields.update(fields)


def count(name: str, value: float = 1) -> None:
    """A counter: on the current request's line, or (scheduled workers) Powertools' metrics."""
    line = _line.get()
    if line is not None:
        line.counts[name] = line.counts.get(name, 0) + value
    else:
        _powertools_metric(name, value)


def gauge(name: str, value: float) -> None:
    """A value the alarms watch (e.g. parked settlements), published with this invocation."""
    line = _line.get()
    if line is not None:
        line.counts[name] = value
    else:
        _powertools_metric(name, value)


def _powertools_metric(name: str, value: float) -> None:
    # Disabled metrics are never flushed, so they would pile up (Powertools flushes at 100
    # values regardless): add nothing at all then. The same rule as the request line's.
    if not common().metrics_disabled():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


class _RequestContext(logging.Filter):
    """Adds the current request's ids to every record the Logger writes during it (warnings and
    errors: rare, so the cost is theirs alone)."""

    def filter(self, record: logging.LogRecord) -> bool:
        line = _line.get()
        if line is not None:
            for key, value in line.context().items():
                if not hasattr(record, key):
                    setattr(record, key, value)
        return True


logger.addFilter(_RequestContext())
