"""The reference provider's endpoints as Lambda handlers: casino -> provider calls are signed
with the provider secret (docs/protocol.md §2, §7)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..contract.signing import PROVIDER_SIGNATURE_HEADER
from ..runtime import deadline
from ..runtime.apigw import Handler, M, api_handler, health_response, json_endpoint
from ..runtime.observability import gauge, logger, metrics
from . import launch, outbox, settlement
from .settings import get_settings


def request_secrets() -> list[str]:
    return get_settings().request_secrets()


def signed_endpoint(model: type[M], operation: Callable[[M], dict[str, Any]]) -> Handler:
    """A casino -> provider call: signature (x-provider-signature) verified before parsing."""
    return json_endpoint(model, operation, signature_header=PROVIDER_SIGNATURE_HEADER, secrets=request_secrets)


def health_handler() -> Handler:
    """GET /provider/health: open, no secret read."""
    return api_handler(lambda request: health_response(launch.health))


def scheduled(work: Callable[[float | None], dict[str, Any]]) -> Handler:
    """A scheduled worker (settlement drainer, sweeper): sized to the invocation's time, with
    its summary and the settlement gauges as metrics and one log line."""

    @logger.inject_lambda_context(clear_state=True)
    @metrics.log_metrics
    def handler(event: dict, context: Any) -> dict:
        deadline.start(context)
        summary = work(deadline.at(get_settings().invocation_margin_seconds))
        for name, value in settlement_gauges().items():
            gauge(name, value)
        logger.info("scheduled run", extra=summary)
        return summary

    return handler


def settlement_gauges() -> dict[str, float]:

    return outbox.gauges()


def settlement_handler() -> Handler:

    return scheduled(lambda until: settlement.drain(until).as_json())


def sweeper_handler() -> Handler:

    return scheduled(lambda until: settlement.sweep(until).as_json())
