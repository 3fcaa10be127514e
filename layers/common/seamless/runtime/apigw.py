"""API Gateway event -> request, and result or error -> response: the one place where
errors become HTTP.

Flow of every request: raw bytes (base64 aware) -> size -> signature (where signed) ->
strict model -> one domain call -> response. Nothing goes back a step.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import pydantic
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from ..contract import errors, signing
from .observability import count, dimension, logger, metrics, traced

MAX_BODY_BYTES = 65_536
M = TypeVar("M", bound=pydantic.BaseModel)
Handler = Callable[[dict, Any], dict]
#: the secrets a signed endpoint accepts (current first, then previous during a rotation)
Secrets = Callable[[], Sequence[str]]


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


def verify_signature(body: bytes, signature: str | None, secrets: Sequence[str]) -> None:
    if not any(signing.verify(secret, body, signature) for secret in secrets):
        raise errors.InvalidSignature()


def _validation_error(exc: pydantic.ValidationError, summary: str | None = None) -> errors.ValidationError:
    details = []
    for err in exc.errors(include_url=False, include_input=False):
        loc = [str(part) for part in err["loc"]]
        if not loc or err["type"] in ("json_invalid", "model_type", "model_attributes_type"):
            details.append({"field": "body", "message": "The body must be a JSON object."})
            continue
        message = "Field required." if err["type"] == "missing" else err["msg"]
        details.append({"field": ".".join(loc), "message": message})
    return errors.ValidationError(summary, details=details)


def parse(model: type[M], body: bytes) -> M:
    """Strict JSON-object body -> model; VALIDATION_ERROR lists every bad field."""
    try:
        return model.model_validate_json(body)
    except pydantic.ValidationError as exc:
        raise _validation_error(exc) from None


PARAMS_INVALID = "The request's parameters are invalid; see error.details."


def parse_params(model: type[M], params: dict[str, str] | None) -> M:
    """Query-string or path parameters (strings) -> model; VALIDATION_ERROR names every bad one."""
    try:
        return model.model_validate(dict(params or {}))
    except pydantic.ValidationError as exc:
        raise _validation_error(exc, PARAMS_INVALID) from None


def wants_html(request: APIGatewayProxyEvent) -> bool:
    """Content negotiation between JSON (the default) and an HTML page: HTML when the Accept
    header ranks text/html above application/json (what a browser sends)."""
    ranks: dict[str, float] = {}
    for part in (request.headers.get("accept") or "").split(","):
        media, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        ranks[media.strip().lower()] = max(quality, ranks.get(media.strip().lower(), 0.0))
    html = ranks.get("text/html", 0.0)
    return html > 0 and html > ranks.get("application/json", 0.0)


#: HTML pages run no script, load nothing from elsewhere and are never cached
HTML_HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
    "form-action 'none'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
    "Vary": "Accept",
}


def html_response(status: int, text: str) -> dict[str, Any]:
    return {"statusCode": status, "headers": dict(HTML_HEADERS), "body": text, "isBase64Encoded": False}


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
    @traced
    def handler(event: dict, context: Any) -> dict:
        request = APIGatewayProxyEvent(event)
        logger.set_correlation_id(request.request_context.request_id)
        dimension("endpoint", request.path or "unknown")
        count("Requests")
        return _guarded(lambda: work(request))

    return handler


def read_body(request: APIGatewayProxyEvent, *, signature_header: str | None = None, secrets: Secrets | None = None) -> bytes:
    """The raw body, size-checked and - for signed endpoints - verified before any parsing."""
    body = raw_body(request)
    check_size(body)
    if signature_header and secrets is not None:
        verify_signature(body, request.headers.get(signature_header), secrets())
    return body


def json_endpoint(
    model: type[M],
    operation: Callable[[M], dict[str, Any]],
    *,
    signature_header: str | None = None,
    secrets: Secrets | None = None,
) -> Handler:
    """A JSON endpoint answering 200 with operation(parsed); signed when a header is given."""

    def work(request: APIGatewayProxyEvent) -> dict[str, Any]:
        body = read_body(request, signature_header=signature_header, secrets=secrets)
        return ok(operation(parse(model, body)))

    return api_handler(work)


def health_response(check: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """200 with the check's report; 503 (with the contract's error body) when the database is down."""
    try:
        return ok(check())
    except errors.ServiceUnavailable as exc:
        exc.extra.update(status="error", database="unavailable")
        return error_response(exc)


def query_endpoint(model: type[M], operation: Callable[[M], dict[str, Any]]) -> Handler:
    """A GET endpoint answering 200 with operation(parsed query string)."""

    def work(request: APIGatewayProxyEvent) -> dict[str, Any]:
        return ok(operation(parse_params(model, request.query_string_parameters)))

    return api_handler(work)
