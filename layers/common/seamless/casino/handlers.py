"""The casino's money callbacks as Lambda handlers: signed, one ledger call each, stored
responses sent byte-for-byte (docs/protocol.md §4, §5)."""

from __future__ import annotations

import json
import urllib.parse
import uuid
from collections.abc import Callable
from typing import Any

from ..contract import signing
from ..runtime import db, observability
from ..runtime.apigw import (
    Handler,
    M,
    ProxyEvent,
    api_handler,
    json_endpoint,
    json_response,
    ok,
    parse,
    parse_params,
    query_endpoint,
    read_body,
)
from ..runtime.observability import count
from ..runtime.settings import CASINO_ROLE
from . import queries
from .ledger import Outcome
from .settings import get_settings

CALLBACK_METRIC = {"debit": "Debits", "credit": "Credits", "rollback": "Rollbacks", "debit_credit": "DebitCredits"}


def callback_secrets() -> list[str]:
    return get_settings().callback_secrets()


def seed_signatures_accepted() -> bool:
    """Whether the provider this deployment's callback secret belongs to (CALLBACK_PROVIDER_CODE)
    may still sign the seed way: its casino_game_providers row says (docs/protocol.md §10.4)."""
    code = get_settings().callback_provider_code

    def read(conn: Any) -> bool:
        row = conn.execute(queries.SEED_SIGNATURES_ACCEPTED, {"code": code}).fetchone()
        return bool(row and row[0])

    return db.run_idempotent(CASINO_ROLE, read)


def count_outcome(endpoint: str, outcome: Outcome) -> None:
    """The outcome's metrics and audit fields on the request line (the body is read only for a
    rollback or a refusal: the tombstone flag, the error code)."""
    observability.note(replayed=outcome.replayed)
    if outcome.status != 200:
        error = json.loads(outcome.body).get("error")
        if isinstance(error, dict):
            observability.note(code=error.get("code"))
    if outcome.replayed:
        count("Replays")
    elif outcome.status == 402:
        count("InsufficientFunds")
    elif outcome.status == 200 and endpoint in CALLBACK_METRIC:
        count(CALLBACK_METRIC[endpoint])
        if endpoint == "rollback" and json.loads(outcome.body).get("tombstone") is True:
            count("Tombstones")


def casino_callback(model: type[M], operation: Callable[[Any, M, uuid.UUID], Outcome]) -> Handler:
    """A signed provider -> casino money callback: one ledger call, exact stored responses."""

    def work(request: ProxyEvent) -> dict[str, Any]:
        body = read_body(
            request,
            signature_header=signing.CASINO_SIGNATURE_HEADER,
            secrets=callback_secrets,
            seed_compatible=seed_signatures_accepted,
        )
        parsed = parse(model, body)
        transaction_id = getattr(parsed, "transaction_id", None)
        if transaction_id:
            observability.note(correlation_id=transaction_id)
        # One id for every attempt of this invocation: an answer stored by one of them (a commit
        # whose acknowledgement was lost) is this request's first answer, not a replay (§5).
        invocation = uuid.uuid4()
        outcome = db.run_idempotent(CASINO_ROLE, lambda conn: operation(conn, parsed, invocation))
        count_outcome(operation.__name__, outcome)
        return json_response(outcome.status, outcome.body, replayed=outcome.replayed)

    return api_handler(work)


def operator_endpoint(model: type[M], operation: Callable[[M], dict[str, Any]]) -> Handler:
    """An operator/frontend endpoint (launchGame, simulateRound): unsigned, behind API
    Gateway authorization when deployed."""
    return json_endpoint(model, operation)


def operator_query(model: type[M], operation: Callable[[M], dict[str, Any]]) -> Handler:
    """An operator/support GET endpoint (transaction lookup): query string in, JSON out; behind
    API Gateway authorization when deployed."""
    return query_endpoint(model, operation)


def operator_path_action(model: type[M], operation: Callable[[M], dict[str, Any]]) -> Handler:
    """An operator POST naming its object in the path (POST /casino/freeRounds/{grantId}/cancel):
    the path parameters parsed by `model`; the body (an empty JSON object) is read and size-checked
    only. Behind API Gateway authorization when deployed."""

    def work(request: ProxyEvent) -> dict[str, Any]:
        read_body(request)
        params = {k: urllib.parse.unquote(v) for k, v in (request.path_parameters or {}).items() if isinstance(v, str)}
        return ok(operation(parse_params(model, params)))

    return api_handler(work)
