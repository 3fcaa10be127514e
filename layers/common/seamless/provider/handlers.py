"""The reference provider's endpoints as Lambda handlers: casino -> provider calls are signed
with the provider secret (docs/protocol.md §2, §7)."""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable
from typing import Any

from ..contract.models import RoundPath
from ..contract.signing import PROVIDER_SIGNATURE_HEADER
from ..runtime import db, deadline
from ..runtime.apigw import (
    Handler,
    M,
    ProxyEvent,
    api_handler,
    health_response,
    html_response,
    json_endpoint,
    ok,
    parse,
    parse_params,
    read_body,
    wants_html,
)
from ..runtime.observability import gauge, logger, metrics
from ..runtime.settings import PROVIDER_ROLE
from . import history, launch, outbox, queries, settlement
from .settings import get_settings


def request_secrets() -> list[str]:
    return get_settings().request_secrets()


def seed_signatures_accepted() -> bool:
    """Whether the casino this deployment's secret belongs to (CASINO_CODE) may still sign the
    seed way: its provider_casinos row says (docs/protocol.md §10.4)."""
    code = get_settings().casino_code

    def read(conn: Any) -> bool:
        row = conn.execute(queries.SEED_SIGNATURES_ACCEPTED, {"code": code}).fetchone()
        return bool(row and row[0])

    return db.run_idempotent(PROVIDER_ROLE, read)


def signed_endpoint(model: type[M], operation: Callable[[M], dict[str, Any]]) -> Handler:
    """A casino -> provider call: signature (x-provider-signature) verified before parsing."""
    return json_endpoint(
        model,
        operation,
        signature_header=PROVIDER_SIGNATURE_HEADER,
        secrets=request_secrets,
        seed_compatible=seed_signatures_accepted,
    )


def signed_path_action(path_model: type[M], body_model: type[Any], operation: Callable[[Any, Any], dict[str, Any]]) -> Handler:
    """A signed casino -> provider call naming its object in the path (POST
    /provider/freeRounds/{grantId}/cancel): signature first, then the body, then the path."""

    def work(request: ProxyEvent) -> dict[str, Any]:
        body = read_body(
            request, signature_header=PROVIDER_SIGNATURE_HEADER, secrets=request_secrets, seed_compatible=seed_signatures_accepted
        )
        parsed = parse(body_model, body)
        params = {k: urllib.parse.unquote(v) for k, v in (request.path_parameters or {}).items() if isinstance(v, str)}
        return ok(operation(parse_params(path_model, params), parsed))

    return api_handler(work)


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
        for name, value in outbox.gauges().items():
            gauge(name, value)
        logger.info("scheduled run", extra=summary)
        return summary

    return handler


def settlement_handler() -> Handler:
    """SettlementFunction: one durable-delivery run (docs/settlement.md)."""
    return scheduled(lambda until: settlement.drain(until).as_json())


def sweeper_handler() -> Handler:
    """RoundSweeperFunction: finishes rounds left open (docs/settlement.md)."""
    return scheduled(lambda until: settlement.sweep(until).as_json())


def rounds_handler() -> Handler:
    """GET /provider/rounds/{roundId}: the round's record as JSON, or as a page for a browser
    (Accept: text/html). Behind API Gateway authorization when deployed; no secret read."""

    def work(request: ProxyEvent) -> dict[str, Any]:
        # API Gateway hands the segment over decoded; a client's %3A stays harmless either way
        # (a valid roundId has no '%').
        params = {k: urllib.parse.unquote(v) for k, v in (request.path_parameters or {}).items() if isinstance(v, str)}
        view = history.load(parse_params(RoundPath, params).round_id)
        if wants_html(request):
            return html_response(200, history.render_html(view))
        return ok(view.as_json())

    return api_handler(work)
