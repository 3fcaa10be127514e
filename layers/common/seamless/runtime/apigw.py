"""API Gateway event -> request, and result or error -> response: the one place where
errors become HTTP.

Flow of every request: raw bytes (base64 aware) -> size -> signature (where signed) ->
strict model -> one domain call -> response. Nothing goes back a step.

Events: a REST API proxy event (what template.yaml deploys and the local API builds) or an
HTTP API one (payload format 1.0 is the REST shape; 2.0 is mapped by Powertools' data class);
anything else is refused with a 400 naming the event, inside the guarded section like every
other failure.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import pydantic
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent, APIGatewayProxyEventV2
from pydantic.alias_generators import to_camel

from ..contract import errors, signing
from . import deadline, observability
from .observability import count, logger, traced
from .settings import common

MAX_BODY_BYTES = 65_536
M = TypeVar("M", bound=pydantic.BaseModel)
Handler = Callable[[dict, Any], dict]
#: the secrets a signed endpoint accepts (current first, then previous during a rotation)
Secrets = Callable[[], Sequence[str]]
#: whether the counterparty of a signed endpoint may still use the seed-compatible scheme
#: (its registry row; asked only when a header has that scheme's shape)
SeedCompatible = Callable[[], bool]
ProxyEvent = APIGatewayProxyEvent | APIGatewayProxyEventV2


def proxy_event(event: Any) -> ProxyEvent:
    """The API Gateway proxy event behind a Lambda event: REST (v1), HTTP API payload 1.0 (the
    same shape) or 2.0; anything else is a 400 (field "event"), never a KeyError."""
    if isinstance(event, dict):
        context = event.get("requestContext")
        if event.get("version") == "2.0" and isinstance(context, dict) and isinstance(context.get("http"), dict):
            return APIGatewayProxyEventV2(event)
        if isinstance(event.get("httpMethod"), str) and isinstance(event.get("path"), str):
            return APIGatewayProxyEvent(event)
    raise errors.ValidationError(
        "This function serves API Gateway proxy events only.",
        details=[{"field": "event", "message": "Not an API Gateway proxy event (REST API, or HTTP API payload 1.0 or 2.0)."}],
    )


def received_body(event: ProxyEvent) -> tuple[bytes, bool]:
    """The body's bytes and whether they are what the client sent. A body marked base64 that
    does not decode has no decoded bytes: its text as received is returned (False), so size
    and signature are still checked first (§4: size -> signature -> JSON) and an unsigned
    junk body is a 401, not a 400."""
    body = event.body or ""
    if event.is_base64_encoded:
        try:
            return base64.b64decode(body, validate=True), True
        except (binascii.Error, ValueError):
            return body.encode("utf-8", "surrogatepass"), False
    return body.encode("utf-8", "surrogatepass"), True


def not_base64() -> errors.ValidationError:
    return errors.ValidationError(details=[{"field": "body", "message": "Body is not valid base64."}])


def check_size(body: bytes) -> None:
    if len(body) > MAX_BODY_BYTES:
        raise errors.PayloadTooLarge()


def verify_signature(
    body: bytes,
    signature: str | None,
    secrets: Sequence[str],
    path: str,
    *,
    method: str = "POST",
    seed_compatible: SeedCompatible | None = None,
) -> None:
    """§2: a `t=…,v1=…` signature of these bytes for this method and contract path, within the
    time window, with the current secret or (in its grace) the previous one; the seed scheme
    only when the counterparty's row enables it. Anything else is 401, before any parsing."""
    tolerance = common().signature_tolerance_seconds
    seed = signing.is_seed_format(signature) and seed_compatible is not None and seed_compatible()
    if seed:
        count("SeedSignatures")
    for secret in secrets:
        if signing.verify(secret, body, signature, path, method=method, tolerance=tolerance, seed_compatible=seed):
            return
    raise errors.InvalidSignature()


_TEMPLATE_PARAM = re.compile(r"\{([^/{}]+)\}")


def signed_path(request: ProxyEvent) -> str:
    """The contract's endpoint path a request's signature covers (§2): the API's route
    template (REST `resource`, HTTP API `routeKey`) with its path parameters filled in, so
    neither a stage nor a custom domain's base path counts; the requested path, stripped to the
    contract endpoint it ends in, when the event names no route."""
    raw = request.raw_event
    template = raw.get("resource") if isinstance(raw.get("resource"), str) else None
    route_key = raw.get("routeKey")
    if template is None and isinstance(route_key, str) and " " in route_key:
        template = route_key.split(" ", 1)[1]
    given = raw.get("pathParameters")
    params: dict[str, Any] = given if isinstance(given, dict) else {}
    if template and "+}" not in template:
        names = _TEMPLATE_PARAM.findall(template)
        if all(isinstance(params.get(name), str) for name in names):
            return signing.contract_path(_TEMPLATE_PARAM.sub(lambda m: params[m.group(1)], template))
    return signing.contract_path(_path(request) or "")


def request_method(request: ProxyEvent) -> str:
    raw = request.raw_event
    if isinstance(raw.get("httpMethod"), str):
        return raw["httpMethod"].upper()
    http = (raw.get("requestContext") or {}).get("http")
    method = http.get("method") if isinstance(http, dict) else None
    return method.upper() if isinstance(method, str) else "POST"


NOT_AN_OBJECT = {"field": "body", "message": "The body must be a JSON object."}
MESSAGES = {"missing": "Field required.", "string_unicode": "Must be valid Unicode text (a lone surrogate is not)."}


def parse(model: type[M], body: bytes) -> M:
    """Strict JSON-object body -> model; VALIDATION_ERROR lists every bad field. Fields are
    read by their contract (camelCase) names only: a snake_case name is an unknown field."""
    strict_json(body)
    try:
        return model.model_validate_json(body, by_alias=True, by_name=False)
    except pydantic.ValidationError as exc:
        details = _details(exc)
        if details == [NOT_AN_OBJECT]:
            details = _fields_the_json_parser_hid(model, body) or details
        raise errors.ValidationError(details=details) from None


class _NotStrictJson(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = {key for key, _ in pairs}
    if len(keys) != len(pairs):
        raise _NotStrictJson("The body has a duplicate key.")
    return dict(pairs)


def _no_constant(name: str) -> None:
    raise _NotStrictJson("The body has a non-finite number (NaN or Infinity), which is not JSON.")


def strict_json(body: bytes) -> None:
    """§3: a body is valid JSON with unique keys and finite numbers, anywhere in it (ignored
    fields too). pydantic's parser takes the last of duplicate keys and reads NaN/Infinity, so
    the standard library's parser checks first, with hooks that refuse both (400, field
    "body"). A body it cannot read otherwise is left to the model's parser and its errors."""
    try:
        json.loads(body, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
    except _NotStrictJson as exc:
        raise errors.ValidationError(details=[{"field": "body", "message": str(exc)}]) from None
    except (ValueError, RecursionError):
        return


PARAMS_INVALID = "The request's parameters are invalid; see error.details."


def parse_params(model: type[M], params: dict[str, str] | None) -> M:
    """Query-string or path parameters (strings) -> model; VALIDATION_ERROR names every bad one."""
    try:
        return model.model_validate(dict(params or {}), by_alias=True, by_name=False)
    except pydantic.ValidationError as exc:
        raise errors.ValidationError(PARAMS_INVALID, details=_details(exc)) from None


def wants_html(request: ProxyEvent) -> bool:
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


#: §3: a message quotes at most this many characters of the input
MAX_QUOTED = 100


def quote(text: str) -> str:
    """Input text as an error may quote it: at most MAX_QUOTED characters, then an ellipsis."""
    return text if len(text) <= MAX_QUOTED else text[:MAX_QUOTED] + "…"


def _details(exc: pydantic.ValidationError) -> list[dict[str, str]]:
    details = []
    for err in exc.errors(include_url=False, include_input=False):
        loc = [str(part) for part in err["loc"]]
        if loc and "_" in loc[0] and loc[0].isidentifier():
            # a field checked with its default (validate_default: a field required by another's
            # value) is located by its Python name; the wire knows only the camelCase one
            loc[0] = to_camel(loc[0])
        if not loc or err["type"] in ("json_invalid", "model_type", "model_attributes_type"):
            details.append(NOT_AN_OBJECT)
            continue
        # a path may hold a key of the input, and a parser's message may quote the input: both
        # are cut to what §3 lets a message quote
        details.append({"field": quote(".".join(loc)), "message": _message(err)})
    return details


def _message(err: Any) -> str:
    if err["type"] in MESSAGES:
        return MESSAGES[err["type"]]
    ctx = err.get("ctx") or {}
    if err["type"] == "union_tag_invalid":  # pydantic's own message repeats the whole tag given
        return f"Must be one of {ctx.get('expected_tags')} (field {ctx.get('discriminator')})."
    text = str(err["msg"])
    return text if len(text) <= 2 * MAX_QUOTED else text[:MAX_QUOTED] + "…"


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _fields_the_json_parser_hid(model: type[M], body: bytes) -> list[dict[str, str]] | None:
    """pydantic's JSON parser refuses a whole body for one string escape it cannot decode (a
    lone surrogate such as "\\ud800"), so its error names no field. The standard library
    decodes such strings; validating that result names the field(s). Only ever a better error:
    a body the model then accepts (the bad string was in an ignored field) stays refused."""
    try:
        value = json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    if not isinstance(value, dict):
        return None
    try:
        model.model_validate(value, by_alias=True, by_name=False)
    except pydantic.ValidationError as exc:
        return _details(exc)
    return None


def json_response(status: int, body: str, *, replayed: bool = False) -> dict[str, Any]:
    headers = {"Content-Type": "application/json", "X-Content-Type-Options": "nosniff"}
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
        observability.note(code=exc.code)
        if exc.status >= 500:
            logger.warning("request failed", extra={"code": exc.code})
        if isinstance(exc, errors.InvalidSignature):
            count("SignatureFailures")
        return error_response(exc)
    except Exception:
        logger.exception("unhandled error")
        return error_response(errors.InternalError())


def api_handler(work: Callable[[ProxyEvent], dict[str, Any]]) -> Handler:
    """Wraps work(event) as a Lambda handler: the request line (audit fields and metrics, one
    JSON line per request), correlation id, error mapping. Everything that reads the event runs
    inside the guarded section."""

    def serve(event: Any) -> dict[str, Any]:
        request = proxy_event(event)
        context = event.get("requestContext")
        request_id = context.get("requestId") if isinstance(context, dict) else None
        if isinstance(request_id, str):
            observability.note(correlation_id=request_id)
        observability.note(endpoint=_path(request) or "unknown")
        count("Requests")
        return work(request)

    @traced
    def handler(event: dict, context: Any) -> dict:
        deadline.start(context)
        observability.begin_request(context)
        response = _guarded(lambda: serve(event))
        observability.end_request(response["statusCode"])
        return response

    return handler


def _path(request: ProxyEvent) -> str | None:
    if isinstance(request, APIGatewayProxyEventV2):
        return request.raw_path or None  # .path needs requestContext.stage, which is optional here
    return request.path


def read_body(
    request: ProxyEvent,
    *,
    signature_header: str | None = None,
    secrets: Secrets | None = None,
    seed_compatible: SeedCompatible | None = None,
) -> bytes:
    """The raw body, size-checked and - for signed endpoints - verified before any parsing
    (a body marked base64 that does not decode is refused only after both)."""
    body, decoded = received_body(request)
    check_size(body)
    if signature_header and secrets is not None:
        verify_signature(
            body,
            request.headers.get(signature_header),
            secrets(),
            signed_path(request),
            method=request_method(request),
            seed_compatible=seed_compatible,
        )
    if not decoded:
        raise not_base64()
    return body


def json_endpoint(
    model: type[M],
    operation: Callable[[M], dict[str, Any]],
    *,
    signature_header: str | None = None,
    secrets: Secrets | None = None,
    seed_compatible: SeedCompatible | None = None,
) -> Handler:
    """A JSON endpoint answering 200 with operation(parsed); signed when a header is given."""

    def work(request: ProxyEvent) -> dict[str, Any]:
        body = read_body(request, signature_header=signature_header, secrets=secrets, seed_compatible=seed_compatible)
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

    def work(request: ProxyEvent) -> dict[str, Any]:
        return ok(operation(parse_params(model, request.query_string_parameters)))

    return api_handler(work)
