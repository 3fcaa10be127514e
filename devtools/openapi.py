"""docs/openapi.json: the OpenAPI 3.1 document, generated from the pydantic models and
template.yaml's routes. `python -m devtools openapi` writes it; `--check` fails on drift."""

from __future__ import annotations

import json
from typing import Any, NamedTuple

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from seamless.contract import errors
from seamless.contract import models as m

from . import ROOT
from .template import Template

OUTPUT = ROOT / "docs" / "openapi.json"


class Operation(NamedTuple):
    summary: str
    request: type[BaseModel] | None
    response: type[BaseModel]
    security: str | None
    errors: list[str]
    tag: str
    description: str | None = None
    parameters: list[dict[str, Any]] | None = None
    #: an example of the 200 body (JSON)
    example: dict[str, Any] | None = None
    #: the 200 answer is also served as an HTML page (Accept: text/html)
    html: bool = False
    #: the 200 answer's media type (the export is NDJSON: one `response` object per line)
    media: str = "application/json"


# Swagger UI groups the operations by these tags: who calls them.
TAGS = [
    {"name": "provider callbacks", "description": "Provider -> casino money callbacks, signed with x-casino-signature (§4)."},
    {
        "name": "operator",
        "description": "The operator's backend -> casino (API key when deployed): sessions, the test driver (§6).",
    },
    {"name": "provider", "description": "Casino -> provider calls, signed with x-provider-signature, and its health (§7)."},
    {
        "name": "support",
        "description": "Read-only lookups for support agents and reconciliation (§6, §7; API key when deployed).",
    },
    {
        "name": "records",
        "description": "The ledger with its hash chain for auditors and regulators (§6; IAM when deployed; docs/records.md).",
    },
]
PROVIDER_ID_PATTERN = r"^[A-Za-z0-9._:-]{1,128}$"
EXAMPLE_ROUND = "rnd-3f2a9c0e5b7d4e1f8a6b2c9d0e1f2a3b"
EXAMPLE_TRANSACTIONS = {
    "transactions": [
        {
            "transactionId": f"{EXAMPLE_ROUND}:bet:0",
            "kind": "debit",
            "status": "accepted",
            "userId": "11111111-1111-4111-8111-111111111111",
            "roundId": EXAMPLE_ROUND,
            "amount": 1000,
            "currency": "USD",
            "betTransactionId": None,
            "balanceAfter": 999000,
            "errorCode": None,
            "redeemableAmount": 0,
            "createdAt": "2026-11-24T12:00:00.104Z",
            "roundUrl": f"http://127.0.0.1:3000/provider/rounds/{EXAMPLE_ROUND}",
        },
        {
            "transactionId": f"{EXAMPLE_ROUND}:bet:1",
            "kind": "debit",
            "status": "rejected",
            "userId": "11111111-1111-4111-8111-111111111111",
            "roundId": EXAMPLE_ROUND,
            "amount": 5000000,
            "currency": "USD",
            "betTransactionId": None,
            "balanceAfter": None,
            "errorCode": "BET_LIMIT_EXCEEDED",
            "redeemableAmount": 0,
            "createdAt": "2026-11-24T12:00:00.151Z",
            "roundUrl": f"http://127.0.0.1:3000/provider/rounds/{EXAMPLE_ROUND}",
        },
        {
            "transactionId": f"{EXAMPLE_ROUND}:win:2",
            "kind": "credit",
            "status": "accepted",
            "userId": "11111111-1111-4111-8111-111111111111",
            "roundId": EXAMPLE_ROUND,
            "amount": 2500,
            "currency": "USD",
            "betTransactionId": f"{EXAMPLE_ROUND}:bet:0",
            "balanceAfter": 1001500,
            "errorCode": None,
            "redeemableAmount": 0,
            "createdAt": "2026-11-24T12:00:00.198Z",
            "roundUrl": f"http://127.0.0.1:3000/provider/rounds/{EXAMPLE_ROUND}",
        },
    ],
    "nextCursor": None,
}
EXAMPLE_ROUND_HISTORY = {
    "roundId": EXAMPLE_ROUND,
    "status": "completed",
    "currency": "USD",
    "startingBalance": 1000000,
    "finalBalance": 1001500,
    "actions": [
        {
            "type": "bet",
            "transactionId": f"{EXAMPLE_ROUND}:bet:0",
            "amount": 1000,
            "httpStatus": 200,
            "code": "OK",
            "state": "delivered",
            "attempts": 1,
            "balance": 999000,
            "rescue": False,
        },
        {
            "type": "win",
            "transactionId": f"{EXAMPLE_ROUND}:win:1",
            "amount": 2500,
            "httpStatus": 200,
            "code": "OK",
            "state": "delivered",
            "attempts": 2,
            "balance": 1001500,
            "rescue": False,
        },
    ],
}

CALLBACK_ERRORS = [
    "VALIDATION_ERROR",
    "INVALID_SIGNATURE",
    "SESSION_NOT_FOUND",
    "TRANSACTION_ID_CONFLICT",
    "PAYLOAD_TOO_LARGE",
    "INTERNAL_ERROR",
    "SERVICE_UNAVAILABLE",
]
#: a debit's business refusals (§4's order); debitCredit answers the same before its win leg
DEBIT_ERRORS = CALLBACK_ERRORS + [
    "INSUFFICIENT_FUNDS",
    "SESSION_EXPIRED",
    "PLAYER_BLOCKED",
    "CURRENCY_MISMATCH",
    "BET_ROLLED_BACK",
    "ROUND_MISMATCH",
    "ROUND_CLOSED",
    "BET_LIMIT_EXCEEDED",
]
OPERATIONS: dict[str, Operation] = {
    "/casino/getBalance": Operation(
        "Balance of the session's wallet",
        m.GetBalanceRequest,
        m.BalanceResponse,
        "casinoSignature",
        CALLBACK_ERRORS + ["SESSION_EXPIRED"],
        "provider callbacks",
    ),
    "/casino/debit": Operation(
        "Take a bet",
        m.DebitRequest,
        m.MoneyResponse,
        "casinoSignature",
        DEBIT_ERRORS,
        "provider callbacks",
    ),
    "/casino/debitCredit": Operation(
        "Take a bet and pay its win in one call (a whole round)",
        m.DebitCreditRequest,
        m.DebitCreditResponse,
        "casinoSignature",
        DEBIT_ERRORS,
        "provider callbacks",
        description=(
            "The debit with all of its rules (§4's order), then the win as a credit naming this bet; both or neither "
            "(§4b). Idempotent by `transactionId`; `winTransactionId` is reserved with it (used anywhere else, or equal "
            "to `transactionId`: 409 TRANSACTION_ID_CONFLICT). `roundClosed` defaults to true. A rollback of its bet is "
            "409 BET_ALREADY_SETTLED."
        ),
    ),
    "/casino/credit": Operation(
        "Pay a win or settle a round",
        m.CreditRequest,
        m.MoneyResponse,
        "casinoSignature",
        CALLBACK_ERRORS
        + [
            "CURRENCY_MISMATCH",
            "ROUND_MISMATCH",
            "ROUND_CLOSED",
            "BET_NOT_FOUND",
            "BET_ROLLED_BACK",
            "GRANT_NOT_FOUND",
            "FREE_ROUNDS_EXHAUSTED",
        ],
        "provider callbacks",
    ),
    "/casino/rollback": Operation(
        "Refund a bet (or leave a tombstone)",
        m.RollbackRequest,
        m.RollbackResponse,
        "casinoSignature",
        CALLBACK_ERRORS + ["NOT_A_BET", "ROUND_MISMATCH", "BET_ALREADY_SETTLED"],
        "provider callbacks",
    ),
    "/casino/launchGame": Operation(
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
            "CURRENCY_NOT_SUPPORTED",
            "PAYLOAD_TOO_LARGE",
            "INTERNAL_ERROR",
            "PROVIDER_ERROR",
            "SERVICE_UNAVAILABLE",
        ],
        "operator",
    ),
    "/casino/simulateRound": Operation(
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
            "CURRENCY_NOT_SUPPORTED",
            "GRANT_NOT_FOUND",
            "FREE_ROUNDS_EXHAUSTED",
            "PAYLOAD_TOO_LARGE",
            "INTERNAL_ERROR",
            "PROVIDER_ERROR",
            "SERVICE_UNAVAILABLE",
        ],
        "operator",
    ),
    "POST /casino/freeRounds": Operation(
        "Grant a player free rounds of a game (through the provider)",
        m.FreeRoundsGrantRequest,
        m.GrantResponse,
        "operatorApiKey",
        [
            "VALIDATION_ERROR",
            "PLAYER_BLOCKED",
            "USER_NOT_FOUND",
            "WALLET_NOT_FOUND",
            "GAME_NOT_FOUND",
            "CURRENCY_NOT_SUPPORTED",
            "BET_LIMIT_EXCEEDED",
            "PAYLOAD_TOO_LARGE",
            "INTERNAL_ERROR",
            "PROVIDER_ERROR",
            "SERVICE_UNAVAILABLE",
        ],
        "operator",
        description=(
            "Records the grant and calls the provider's signed POST /provider/freeRounds (§4b, §7); the provider failing "
            "is 502 PROVIDER_ERROR and the grant is never usable. `expiresAt` in the future, at most 90 days ahead; "
            "`fund` `bonus` (default) or `cash` says how its credits are funded."
        ),
    ),
    "GET /casino/freeRounds": Operation(
        "A player's free-round grants, newest first",
        None,
        m.GrantsResponse,
        "operatorApiKey",
        ["VALIDATION_ERROR", "INTERNAL_ERROR", "SERVICE_UNAVAILABLE"],
        "operator",
        parameters=[{"name": "userId", "in": "query", "required": True, "schema": {"type": "string", "format": "uuid"}}],
    ),
    "/casino/freeRounds/{grantId}/cancel": Operation(
        "Cancel a free-round grant (at the provider, then at the casino)",
        None,
        m.GrantCancelResponse,
        "operatorApiKey",
        ["VALIDATION_ERROR", "GRANT_NOT_FOUND", "PAYLOAD_TOO_LARGE", "INTERNAL_ERROR", "PROVIDER_ERROR", "SERVICE_UNAVAILABLE"],
        "operator",
        description="Idempotent: a cancelled grant answers the same again. Free rounds started before are still paid (§4b).",
        parameters=[
            {
                "name": "grantId",
                "in": "path",
                "required": True,
                "schema": {"type": "string", "pattern": PROVIDER_ID_PATTERN},
            }
        ],
    ),
    "/provider/freeRounds": Operation(
        "Provider: record a casino's free-round grant",
        m.ProviderFreeRoundsRequest,
        m.ProviderGrantResponse,
        "providerSignature",
        [
            "VALIDATION_ERROR",
            "INVALID_SIGNATURE",
            "GAME_NOT_FOUND",
            "TRANSACTION_ID_CONFLICT",
            "PAYLOAD_TOO_LARGE",
            "INTERNAL_ERROR",
            "SERVICE_UNAVAILABLE",
        ],
        "provider",
        description="Idempotent by grantId: the same body again is the same answer, another body 409 TRANSACTION_ID_CONFLICT.",
    ),
    "/provider/freeRounds/{grantId}/cancel": Operation(
        "Provider: cancel a free-round grant",
        m.EmptyBody,
        m.GrantCancelResponse,
        "providerSignature",
        [
            "VALIDATION_ERROR",
            "INVALID_SIGNATURE",
            "GRANT_NOT_FOUND",
            "PAYLOAD_TOO_LARGE",
            "INTERNAL_ERROR",
            "SERVICE_UNAVAILABLE",
        ],
        "provider",
        parameters=[
            {
                "name": "grantId",
                "in": "path",
                "required": True,
                "schema": {"type": "string", "pattern": PROVIDER_ID_PATTERN},
            }
        ],
    ),
    "/provider/launch": Operation(
        "Provider: open a provider session",
        m.ProviderLaunchRequest,
        m.ProviderLaunchResponse,
        "providerSignature",
        ["VALIDATION_ERROR", "INVALID_SIGNATURE", "GAME_NOT_FOUND", "PAYLOAD_TOO_LARGE", "INTERNAL_ERROR", "SERVICE_UNAVAILABLE"],
        "provider",
    ),
    "/provider/simulate": Operation(
        "Provider: play a round against the casino",
        m.ProviderSimulateRequest,
        m.RoundReport,
        "providerSignature",
        [
            "VALIDATION_ERROR",
            "INVALID_SIGNATURE",
            "SESSION_NOT_FOUND",
            "GRANT_NOT_FOUND",
            "ROUND_MISMATCH",
            "FREE_ROUNDS_EXHAUSTED",
            "PAYLOAD_TOO_LARGE",
            "INTERNAL_ERROR",
            "PROVIDER_ERROR",
            "SERVICE_UNAVAILABLE",
        ],
        "provider",
    ),
    "/provider/health": Operation(
        "Provider health (database reachable)",
        None,
        m.HealthResponse,
        None,
        ["INTERNAL_ERROR", "SERVICE_UNAVAILABLE"],
        "provider",
    ),
    "/casino/transactions": Operation(
        "Look up the casino's transactions by transactionId and/or roundId",
        None,
        m.TransactionsResponse,
        "operatorApiKey",
        ["VALIDATION_ERROR", "INTERNAL_ERROR", "SERVICE_UNAVAILABLE"],
        "support",
        description=(
            "Every transactionId the casino holds for the filter, oldest first (§6): give `transactionId`, `roundId` or "
            'both (neither: 400 VALIDATION_ERROR naming both). No match is `200 {"transactions": []}`. A rollback that '
            "named no roundId is listed in its bet's round. `roundUrl` links the provider's page of the round. "
            "Session tokens never appear. Pages of `limit` rows (1 … 500, default 100): `nextCursor` is the next page's "
            "`after`, null on the last page."
        ),
        parameters=[
            {
                "name": "transactionId",
                "in": "query",
                "required": False,
                "description": "the provider's transactionId (a debit, credit or rollback)",
                "schema": {"type": "string", "pattern": PROVIDER_ID_PATTERN},
                "example": f"{EXAMPLE_ROUND}:bet:0",
            },
            {
                "name": "roundId",
                "in": "query",
                "required": False,
                "description": "the provider's roundId: every transaction of the round",
                "schema": {"type": "string", "pattern": PROVIDER_ID_PATTERN},
                "example": EXAMPLE_ROUND,
            },
            {
                "name": "limit",
                "in": "query",
                "required": False,
                "description": "rows per page",
                "schema": {"type": "string", "pattern": "^[0-9]{1,3}$", "default": "100"},
                "example": "100",
            },
            {
                "name": "after",
                "in": "query",
                "required": False,
                "description": "the previous page's nextCursor (opaque)",
                "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,100}$"},
            },
        ],
        example=EXAMPLE_TRANSACTIONS,
    ),
    "/casino/ledger/export": Operation(
        "Export the ledger with its hash chain (NDJSON pages)",
        None,
        m.LedgerExportLine,
        "operatorIam",
        ["VALIDATION_ERROR", "INTERNAL_ERROR", "SERVICE_UNAVAILABLE"],
        "records",
        description=(
            "One wallet's rows (`userId` + `currency`) or every wallet's rows created in [`from`, `to`) (ISO 8601 UTC, "
            "at most 31 days), oldest first, accepted and refused, one JSON object per line, then a last line "
            '`{"nextCursor": ...}` (`null` on the last page; pass it as `after`). Each line carries its chain link: '
            "`rowHash` is the SHA-256 of the §6 members joined by `|`, `prevHash` the previous row's `rowHash` "
            "(docs/records.md shows how to check a file). An unknown wallet has no rows."
        ),
        parameters=[
            {"name": "userId", "in": "query", "required": False, "schema": {"type": "string", "format": "uuid"}},
            {"name": "currency", "in": "query", "required": False, "schema": {"type": "string", "pattern": "^[A-Z]{3}$"}},
            {"name": "from", "in": "query", "required": False, "schema": {"type": "string", "format": "date-time"}},
            {"name": "to", "in": "query", "required": False, "schema": {"type": "string", "format": "date-time"}},
            {
                "name": "limit",
                "in": "query",
                "required": False,
                "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 500},
            },
            {"name": "after", "in": "query", "required": False, "schema": {"type": "string"}},
        ],
        media="application/x-ndjson",
    ),
    "/provider/rounds/{roundId}": Operation(
        "The provider's record of a round (JSON, or an HTML page for a browser)",
        None,
        m.RoundHistory,
        "operatorApiKey",
        ["VALIDATION_ERROR", "ROUND_NOT_FOUND", "INTERNAL_ERROR", "SERVICE_UNAVAILABLE"],
        "support",
        description=(
            "The round's status and every callback in order with its final answer, state (`delivered`, `queued`, "
            "`cancelled`) and number of attempts (§7). With `Accept: text/html` the same as a page a support agent reads "
            "at a glance: the timeline with every attempt, and the balance after each step as a chart (no script)."
        ),
        parameters=[
            {
                "name": "roundId",
                "in": "path",
                "required": True,
                "schema": {"type": "string", "pattern": PROVIDER_ID_PATTERN},
                "example": EXAMPLE_ROUND,
            }
        ],
        example=EXAMPLE_ROUND_HISTORY,
        html=True,
    ),
}

SECURITY_SCHEMES = {
    "casinoSignature": {
        "type": "apiKey",
        "in": "header",
        "name": "x-casino-signature",
        "description": "t=<unix seconds>,v1=<lower-case hex HMAC-SHA256 with CASINO_SECRET of "
        "'<t>.POST.<contract path>.' + the raw request body> (docs/protocol.md §2).",
    },
    "providerSignature": {
        "type": "apiKey",
        "in": "header",
        "name": "x-provider-signature",
        "description": "t=<unix seconds>,v1=<lower-case hex HMAC-SHA256 with PROVIDER_SECRET of "
        "'<t>.POST.<contract path>.' + the raw request body> (docs/protocol.md §2).",
    },
    "operatorApiKey": {
        "type": "apiKey",
        "in": "header",
        "name": "x-api-key",
        "description": "API Gateway API key (deployed stack only; not required locally).",
    },
    "operatorIam": {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "AWS Signature Version 4 of an IAM principal allowed execute-api:Invoke (deployed stack only).",
    },
}


def build() -> dict[str, Any]:
    statuses = {cls.code: cls.status for cls in errors.catalog()}
    all_models: set[type[BaseModel]] = {m.ErrorResponse}
    for spec in OPERATIONS.values():
        all_models.add(spec.response)
        if spec.request is not None:
            all_models.add(spec.request)
    ordered = sorted(all_models, key=lambda cls: cls.__name__)
    _, schema = models_json_schema(
        [(cls, "validation" if cls.__name__.endswith("Request") else "serialization") for cls in ordered],
        by_alias=True,
        ref_template="#/components/schemas/{model}",
    )
    paths: dict[str, Any] = {}
    for fn in Template().functions.values():
        for method, path in fn.routes:
            spec = OPERATIONS.get(f"{method.upper()} {path}") or OPERATIONS[path]
            content: dict[str, Any] = {spec.media: {"schema": {"$ref": f"#/components/schemas/{spec.response.__name__}"}}}
            if spec.example is not None:
                content[spec.media]["example"] = spec.example
            if spec.html:
                content["text/html"] = {
                    "schema": {"type": "string", "description": "the same record as a page (Accept: text/html)"}
                }
            responses: dict[str, Any] = {"200": {"description": "OK", "content": content}}
            by_status: dict[int, list[str]] = {}
            for code in spec.errors:
                by_status.setdefault(statuses[code], []).append(code)
            for status, names in sorted(by_status.items()):
                responses[str(status)] = {
                    "description": ", ".join(sorted(names)),
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}},
                }
            op: dict[str, Any] = {"operationId": fn.logical_id, "tags": [spec.tag], "summary": spec.summary}
            if spec.description:
                op["description"] = spec.description
            if spec.parameters:
                op["parameters"] = spec.parameters
            op["responses"] = responses
            if spec.request is not None:
                op["requestBody"] = {
                    "required": True,
                    "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{spec.request.__name__}"}}},
                }
            if spec.security in ("operatorApiKey", "operatorIam"):  # required when deployed; open locally
                op["security"] = [{spec.security: []}, {}]
            elif spec.security:
                op["security"] = [{spec.security: []}]
            paths.setdefault(path, {})[method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Casino wallet and game provider API",
            "version": "1.0.0",
            "description": "Signed money callbacks with exactly-once semantics, and the support lookups. See docs/api.md.",
        },
        "servers": [{"url": "http://127.0.0.1:3000", "description": "local API (make run)"}],
        "tags": TAGS,
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
