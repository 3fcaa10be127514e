"""docs/openapi.json: the OpenAPI 3.1 document, generated from the pydantic models and
template.yaml's routes. `python -m devtools openapi` writes it; `--check` fails on drift."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from seamless.contract import errors
from seamless.contract import models as m

from . import ROOT
from .template import Template

OUTPUT = ROOT / "docs" / "openapi.json"

# path -> (summary, request model, 200 model, security, error codes it can answer)
CALLBACK_ERRORS = [
    "VALIDATION_ERROR",
    "INVALID_SIGNATURE",
    "SESSION_NOT_FOUND",
    "TRANSACTION_ID_CONFLICT",
    "PAYLOAD_TOO_LARGE",
    "INTERNAL_ERROR",
    "SERVICE_UNAVAILABLE",
]
OPERATIONS: dict[str, tuple[str, type[BaseModel] | None, type[BaseModel], str | None, list[str]]] = {
    "/casino/getBalance": (
        "Balance of the session's wallet",
        m.GetBalanceRequest,
        m.BalanceResponse,
        "casinoSignature",
        CALLBACK_ERRORS + ["SESSION_EXPIRED"],
    ),
    "/casino/debit": (
        "Take a bet",
        m.DebitRequest,
        m.MoneyResponse,
        "casinoSignature",
        CALLBACK_ERRORS
        + [
            "INSUFFICIENT_FUNDS",
            "SESSION_EXPIRED",
            "PLAYER_BLOCKED",
            "CURRENCY_MISMATCH",
            "BET_ROLLED_BACK",
            "ROUND_MISMATCH",
            "ROUND_CLOSED",
            "BET_LIMIT_EXCEEDED",
        ],
    ),
    "/casino/credit": (
        "Pay a win or settle a round",
        m.CreditRequest,
        m.MoneyResponse,
        "casinoSignature",
        CALLBACK_ERRORS + ["CURRENCY_MISMATCH", "ROUND_MISMATCH", "ROUND_CLOSED", "BET_NOT_FOUND", "BET_ROLLED_BACK"],
    ),
    "/casino/rollback": (
        "Refund a bet (or leave a tombstone)",
        m.RollbackRequest,
        m.RollbackResponse,
        "casinoSignature",
        CALLBACK_ERRORS + ["NOT_A_BET", "ROUND_MISMATCH", "BET_ALREADY_SETTLED"],
    ),
    "/casino/launchGame": (
        "Open a game session through the provider",
        m.LaunchGameRequest,
        m.LaunchGameResponse,
        "operatorApiKey",
        [
            "VALIDATION_ERROR",
            "PLAYER_BLOCKED",
            "USER_NOT_FOUND",
            "WALLET_NOT_FOUND",
            "GAME_NOT_FOUND",
            "PAYLOAD_TOO_LARGE",
            "INTERNAL_ERROR",
            "PROVIDER_ERROR",
            "SERVICE_UNAVAILABLE",
        ],
    ),
    "/casino/simulateRound": (
        "Play a whole round across both services (test driver)",
        m.SimulateRoundRequest,
        m.SimulateRoundResponse,
        "operatorApiKey",
        [
            "VALIDATION_ERROR",
            "PLAYER_BLOCKED",
            "USER_NOT_FOUND",
            "WALLET_NOT_FOUND",
            "GAME_NOT_FOUND",
            "PAYLOAD_TOO_LARGE",
            "INTERNAL_ERROR",
            "PROVIDER_ERROR",
            "SERVICE_UNAVAILABLE",
        ],
    ),
    "/provider/launch": (
        "Provider: open a provider session",
        m.ProviderLaunchRequest,
        m.ProviderLaunchResponse,
        "providerSignature",
        ["VALIDATION_ERROR", "INVALID_SIGNATURE", "GAME_NOT_FOUND", "PAYLOAD_TOO_LARGE", "INTERNAL_ERROR", "SERVICE_UNAVAILABLE"],
    ),
    "/provider/simulate": (
        "Provider: play a round against the casino",
        m.ProviderSimulateRequest,
        m.RoundReport,
        "providerSignature",
        [
            "VALIDATION_ERROR",
            "INVALID_SIGNATURE",
            "SESSION_NOT_FOUND",
            "PAYLOAD_TOO_LARGE",
            "INTERNAL_ERROR",
            "PROVIDER_ERROR",
            "SERVICE_UNAVAILABLE",
        ],
    ),
    "/provider/health": (
        "Provider health (database reachable)",
        None,
        m.HealthResponse,
        None,
        ["INTERNAL_ERROR", "SERVICE_UNAVAILABLE"],
    ),
}

SECURITY_SCHEMES = {
    "casinoSignature": {
        "type": "apiKey",
        "in": "header",
        "name": "x-casino-signature",
        "description": "Lower-case hex HMAC-SHA256 of the raw request body with CASINO_SECRET.",
    },
    "providerSignature": {
        "type": "apiKey",
        "in": "header",
        "name": "x-provider-signature",
        "description": "Lower-case hex HMAC-SHA256 of the raw request body with PROVIDER_SECRET.",
    },
    "operatorApiKey": {
        "type": "apiKey",
        "in": "header",
        "name": "x-api-key",
        "description": "API Gateway API key (deployed stack only; not required locally).",
    },
}


def build() -> dict[str, Any]:
    statuses = {cls.code: cls.status for cls in errors.catalog()}
    all_models: set[type[BaseModel]] = {m.ErrorResponse}
    for _, req, resp, _, _ in OPERATIONS.values():
        all_models.add(resp)
        if req is not None:
            all_models.add(req)
    ordered = sorted(all_models, key=lambda cls: cls.__name__)
    _, schema = models_json_schema(
        [(cls, "validation" if cls.__name__.endswith("Request") else "serialization") for cls in ordered],
        by_alias=True,
        ref_template="#/components/schemas/{model}",
    )
    paths: dict[str, Any] = {}
    for fn in Template().functions.values():
        for method, path in fn.routes:
            summary, req, resp, security, codes = OPERATIONS[path]
            responses: dict[str, Any] = {
                "200": {
                    "description": "OK",
                    "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{resp.__name__}"}}},
                }
            }
            by_status: dict[int, list[str]] = {}
            for code in codes:
                by_status.setdefault(statuses[code], []).append(code)
            for status, names in sorted(by_status.items()):
                responses[str(status)] = {
                    "description": ", ".join(sorted(names)),
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}},
                }
            op: dict[str, Any] = {"operationId": fn.logical_id, "summary": summary, "responses": responses}
            if req is not None:
                op["requestBody"] = {
                    "required": True,
                    "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{req.__name__}"}}},
                }
            if security == "operatorApiKey":  # required when deployed; the local API has no API keys
                op["security"] = [{security: []}, {}]
            elif security:
                op["security"] = [{security: []}]
            paths.setdefault(path, {})[method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Casino wallet and game provider API",
            "version": "1.0.0",
            "description": "Signed money callbacks with exactly-once semantics. See docs/api.md.",
        },
        "servers": [{"url": "http://127.0.0.1:3000", "description": "local API (make run)"}],
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": schema["$defs"], "securitySchemes": SECURITY_SCHEMES},
    }


def render() -> str:
    return json.dumps(build(), indent=2, sort_keys=False) + "\n"


def write() -> bool:
    """Writes docs/openapi.json; True when it changed."""
    text = render()
    changed = not OUTPUT.exists() or OUTPUT.read_text() != text
    OUTPUT.write_text(text)
    return changed
