"""API Gateway event -> request, and result or error -> response: the one place where
errors become HTTP.

Flow of every request: raw bytes (base64 aware) -> size -> signature (where signed) ->
strict model -> one domain call -> response. Nothing goes back a step.
"""
from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from typing import Any, TypeVar

import pydantic
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.functions import is_metrics_disabled
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from . import db, errors, signing
from .ledger import Outcome
from .settings import CASINO_ROLE, get_settings

MAX_BODY_BYTES = 65_536
M = TypeVar("M", bound=pydantic.BaseModel)
Handler = Callable[[dict, Any], dict]
# Logger: JSON lines, correlation id = transactionId (or the API request id). Request bodies,
# session tokens and secrets are never logged. Metrics: CloudWatch EMF (namespace from
# POWERTOOLS_METRICS_NAMESPACE). Tracer: X-Ray, on handlers and the outgoing HTTP client.
logger = Logger()
metrics = Metrics(namespace="CasinoWallet")


def _tracer() -> Any:
    """X-Ray tracing of the handlers and, through its patching of http.client, of every
    outgoing call. Built only where tracing is on: Powertools imports the X-Ray SDK (about
    half of a cold start) even when told to disable it."""
    if get_settings().powertools_trace_disabled:
        return None
    from aws_lambda_powertools import Tracer
    return Tracer()


tracer = _tracer()


def _traced(fn: Callable[..., Any]) -> Callable[..., Any]:
    return tracer.capture_lambda_handler(capture_response=False)(fn) if tracer is not None else fn
CALLBACK_METRIC = {"debit": "Debits", "credit": "Credits", "rollback": "Rollbacks"}


def count(name: str) -> None:
    # Disabled metrics are never flushed per invocation, so they would pile up (and Powertools
    # flushes at 100 values regardless): add nothing at all then.
    if not is_metrics_disabled():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)


def raw_body(event: APIGatewayProxyEvent) -> bytes:
    body = event.body or ""
    if event.is_base64_encoded:
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise errors.ValidationError(details=[{"field": "body", "message": "Body is not valid base64."}]) from None
    return body.encode("utf-8", "surrogatepass")


def check_size(body: bytes) -> None:
    if len(body) > MAX_BODY_BYTES:
        raise errors.PayloadTooLarge()


def verify_signature(body: bytes, signature: str | None, secret: str) -> None:
    if not signing.verify(secret, body, signature):
        raise errors.InvalidSignature()


def parse(model: type[M], body: bytes) -> M:
    """Strict JSON-object body -> model; VALIDATION_ERROR lists every bad field."""
    try:
        return model.model_validate_json(body)
    except pydantic.ValidationError as exc:
        details = []
        for err in exc.errors(include_url=False, include_input=False):
            loc = [str(part) for part in err["loc"]]
            if not loc or err["type"] in ("json_invalid", "model_type", "model_attributes_type"):
                details.append({"field": "body", "message": "The body must be a JSON object."})
                continue
            message = "Field required." if err["type"] == "missing" else err["msg"]
            details.append({"field": ".".join(loc), "message": message})
        raise errors.ValidationError(details=details) from None


def json_response(status: int, body: str, *, replayed: bool = False) -> dict[str, Any]:
    headers = {"Content-Type": "application/json"}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return {"statusCode": status, "headers": headers, "body": body, "isBase64Encoded": False}


def ok(payload: dict[str, Any], status: int = 200) -> dict[str, Any]:
    return json_response(status, json.dumps(payload, separators=(",", ":")))


def error_response(exc: errors.ApiError) -> dict[str, Any]:
    return json_response(exc.status, exc.body_text())


def _guarded(work: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """A contract error becomes its response; anything else is a bug: logged, 500."""
    try:
        return work()
    except errors.ApiError as exc:
        if exc.status >= 500:
            logger.warning("request failed", extra={"code": exc.code})
        if isinstance(exc, errors.InvalidSignature):
            count("SignatureFailures")
        return error_response(exc)
    except Exception:
        logger.exception("unhandled error")
        return error_response(errors.InternalError())


def api_handler(work: Callable[[APIGatewayProxyEvent], dict[str, Any]]) -> Handler:
    """Wraps work(event) as a Lambda handler: logging context, correlation id, error mapping."""

    @logger.inject_lambda_context(clear_state=True)
    @metrics.log_metrics(capture_cold_start_metric=True)
    @_traced
    def handler(event: dict, context: Any) -> dict:
        request = APIGatewayProxyEvent(event)
        logger.set_correlation_id(request.request_context.request_id)
        if not is_metrics_disabled():
            metrics.add_dimension(name="endpoint", value=request.path or "unknown")
        count("Requests")
        return _guarded(lambda: work(request))

    return handler


def read_body(request: APIGatewayProxyEvent, *, signature_header: str | None = None,
              secret_name: str | None = None) -> bytes:
    """The raw body, size-checked and - for signed endpoints - verified before any parsing."""
    body = raw_body(request)
    check_size(body)
    if signature_header and secret_name:
        verify_signature(body, request.headers.get(signature_header), get_settings().secret(secret_name))
    return body


def count_outcome(endpoint: str, outcome: Outcome) -> None:
    if outcome.replayed:
        count("Replays")
    elif outcome.status == 402:
        count("InsufficientFunds")
    elif outcome.status == 200 and endpoint in CALLBACK_METRIC:
        count(CALLBACK_METRIC[endpoint])
        if endpoint == "rollback" and json.loads(outcome.body).get("tombstone") is True:
            count("Tombstones")


def casino_callback(model: type[M], operation: Callable[[Any, M], Outcome]) -> Handler:
    """A signed provider -> casino money callback: one ledger call, exact stored responses."""

    def work(request: APIGatewayProxyEvent) -> dict[str, Any]:
        body = read_body(request, signature_header=signing.CASINO_SIGNATURE_HEADER, secret_name="casino_secret")
        parsed = parse(model, body)
        transaction_id = getattr(parsed, "transaction_id", None)
        if transaction_id:
            logger.set_correlation_id(transaction_id)
        outcome = db.run(CASINO_ROLE, lambda conn: operation(conn, parsed))
        count_outcome(operation.__name__, outcome)
        logger.info("callback answered", extra={"status": outcome.status, "replayed": outcome.replayed})
        return json_response(outcome.status, outcome.body, replayed=outcome.replayed)

    return api_handler(work)


def json_endpoint(model: type[M], operation: Callable[[M], dict[str, Any]], *,
                  signature_header: str | None = None, secret_name: str | None = None) -> Handler:
    """A JSON endpoint answering 200 with operation(parsed); signed when a header is given."""

    def work(request: APIGatewayProxyEvent) -> dict[str, Any]:
        body = read_body(request, signature_header=signature_header, secret_name=secret_name)
        return ok(operation(parse(model, body)))

    return api_handler(work)


def health_response(check: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """200 with the check's report; 503 (with the contract's error body) when the database is down."""
    try:
        return ok(check())
    except errors.ServiceUnavailable as exc:
        exc.extra.update(status="error", database="unavailable")
        return error_response(exc)
