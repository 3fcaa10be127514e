"""events/: one realistic API Gateway event per function of template.yaml, signed with the
documented local development secrets and using the seeded local session, so
`python -m devtools invoke DebitFunction -e events/debit.json` (and `sam local invoke`) work
against a freshly seeded database.

A signature holds for SIGNATURE_TOLERANCE_SECONDS after its `t` (docs/protocol.md §2), so the
files cannot stay valid in the repository: `make events` signs them with the current time
(everything else in them is deterministic), and `python -m devtools invoke` re-signs an event's
signature header with a fresh `t` before invoking (`resign`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from seamless.contract.signing import CASINO_SIGNATURE_HEADER, PROVIDER_SIGNATURE_HEADER, contract_path, sign

from . import ROOT
from .admin import ALICE, DEV_PROVIDER_SESSION_ID, DEV_SESSION_TOKEN, GAME, GAME_CODE
from .fixtures import CASINO_SECRET, PROVIDER_SECRET  # the documented local development secrets
from .lambda_local import api_event

EVENTS = ROOT / "events"

SEED_ROUND = {
    "bets": [{"amount": 1000}, {"amount": 500}],
    "wins": [{"amount": 2500, "relatedBetIndex": 0}],
    "rollbacks": [{"betIndex": 1}],
}

SAMPLE_PROVIDER_ROUND = "evt-provider-round-1"
SAMPLE_GRANT = "evt-grant-1"

# file name -> (function, body or None for GET, (header, secret) or None)
API_EVENTS: dict[str, tuple[str, dict[str, Any] | None, tuple[str, str] | None]] = {
    "getBalance": ("GetBalanceFunction", {"sessionToken": DEV_SESSION_TOKEN}, ("X-Casino-Signature", CASINO_SECRET)),
    "debit": (
        "DebitFunction",
        {
            "sessionToken": DEV_SESSION_TOKEN,
            "transactionId": "evt-bet-1",
            "roundId": "evt-round-1",
            "amount": 100,
            "currency": "USD",
        },
        ("X-Casino-Signature", CASINO_SECRET),
    ),
    "credit": (
        "CreditFunction",
        {
            "sessionToken": DEV_SESSION_TOKEN,
            "transactionId": "evt-win-1",
            "roundId": "evt-round-1",
            "amount": 250,
            "currency": "USD",
            "betTransactionId": "evt-bet-1",
            "roundClosed": True,
        },
        ("X-Casino-Signature", CASINO_SECRET),
    ),
    "debitCredit": (
        "DebitCreditFunction",
        {
            "sessionToken": DEV_SESSION_TOKEN,
            "transactionId": "evt-betwin-bet-1",
            "winTransactionId": "evt-betwin-win-1",
            "roundId": "evt-betwin-round-1",
            "currency": "USD",
            "amount": 100,
            "winAmount": 250,
        },
        ("X-Casino-Signature", CASINO_SECRET),
    ),
    "rollback": (
        "RollbackFunction",
        {"sessionToken": DEV_SESSION_TOKEN, "transactionId": "evt-rollback-1", "betTransactionId": "evt-late-bet-1"},
        ("X-Casino-Signature", CASINO_SECRET),
    ),
    "launchGame": ("LaunchGameFunction", {"userId": ALICE, "gameId": GAME, "currency": "USD"}, None),
    "simulateRound": ("SimulateRoundFunction", {"userId": ALICE, "gameId": GAME, "currency": "USD", **SEED_ROUND}, None),
    "providerLaunch": (
        "ProviderLaunchFunction",
        {"sessionToken": DEV_SESSION_TOKEN, "playerId": ALICE, "gameId": GAME_CODE, "currency": "USD"},
        ("X-Provider-Signature", PROVIDER_SECRET),
    ),
    "providerSimulate": (
        "ProviderSimulateFunction",
        {"providerSessionId": DEV_PROVIDER_SESSION_ID, "roundId": SAMPLE_PROVIDER_ROUND, **SEED_ROUND},
        ("X-Provider-Signature", PROVIDER_SECRET),
    ),
    # a grant the sample provider call records, then cancels (invoke them in this order)
    "providerFreeRounds": (
        "ProviderFreeRoundsFunction",
        {
            "grantId": SAMPLE_GRANT,
            "playerId": ALICE,
            "gameId": GAME_CODE,
            "currency": "USD",
            "currencyDecimals": 2,
            "rounds": 10,
            "betAmount": 100,
            "expiresAt": "2099-01-01T00:00:00Z",
        },
        ("X-Provider-Signature", PROVIDER_SECRET),
    ),
    "providerFreeRoundsCancel": ("ProviderFreeRoundsCancelFunction", {}, ("X-Provider-Signature", PROVIDER_SECRET)),
    # a fixed file cannot follow §4b's rolling window (at most 90 days ahead): this one shows the
    # body, and the casino answers it 400 naming expiresAt; the cancel's grant is the provider's
    "freeRounds": (
        "FreeRoundsGrantFunction",
        {"userId": ALICE, "gameId": GAME, "currency": "USD", "rounds": 10, "betAmount": 100, "expiresAt": "2099-01-01T00:00:00Z"},
        None,
    ),
    "freeRoundsList": ("FreeRoundsListFunction", None, None),
    "freeRoundsCancel": ("FreeRoundsCancelFunction", {}, None),
    "providerHealth": ("ProviderHealthFunction", None, None),
    "transactions": ("TransactionsFunction", None, None),
    "providerRounds": ("ProviderRoundsFunction", None, None),
    "ledgerExport": ("LedgerExportFunction", None, None),
}
#: GET events: (path, query string, path parameters); the debit/credit samples' round, and the
#: round the providerSimulate sample plays (invoke that one first)
GET_REQUESTS: dict[str, tuple[str, dict[str, str] | None, dict[str, str] | None]] = {
    "transactions": ("/casino/transactions", {"roundId": "evt-round-1"}, None),
    "freeRoundsList": ("/casino/freeRounds", {"userId": ALICE}, None),
    # POSTs naming their grant in the path
    "freeRoundsCancel": (f"/casino/freeRounds/{SAMPLE_GRANT}/cancel", None, {"grantId": SAMPLE_GRANT}),
    "providerFreeRoundsCancel": (f"/provider/freeRounds/{SAMPLE_GRANT}/cancel", None, {"grantId": SAMPLE_GRANT}),
    "providerRounds": (f"/provider/rounds/{SAMPLE_PROVIDER_ROUND}", None, {"roundId": SAMPLE_PROVIDER_ROUND}),
    # unsigned: IAM authorises it when deployed (docs/records.md)
    "ledgerExport": ("/casino/ledger/export", {"userId": ALICE, "currency": "USD", "limit": "100"}, None),
}


def _api(
    name: str, function: str, body: dict[str, Any] | None, signature: tuple[str, str] | None, *, timestamp: int | None = None
) -> dict[str, Any]:
    from .template import Template

    method, resource = Template().functions[function].routes[0]
    path, query, path_parameters = GET_REQUESTS.get(name, (resource, None, None))
    raw = b"" if body is None else json.dumps(body, separators=(",", ":")).encode()
    headers = [("Host", "127.0.0.1:3000"), ("User-Agent", "sample-event")]
    if body is not None:
        headers.append(("Content-Type", "application/json"))
    if signature:
        headers.append((signature[0], sign(signature[1], raw, contract_path(path), method=method, timestamp=timestamp)))
    multi_query = {k: [v] for k, v in (query or {}).items()}
    event = api_event(method, path, resource, headers, raw, multi_query, path_parameters=path_parameters)
    # fixed ids and times: the files do not change when regenerated
    event["requestContext"].update(
        requestId=f"sample-{function}", requestTime="24/Nov/2026:12:00:00 +0000", requestTimeEpoch=1795521600000
    )
    return event


def scheduled_event(rule: str) -> dict[str, Any]:
    """An EventBridge scheduled event, as the Schedule events of template.yaml deliver it."""
    return {
        "version": "0",
        "id": "00000000-0000-4000-8000-000000000001",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "000000000000",
        "time": "2026-12-01T00:00:00Z",
        "region": "us-east-1",
        "resources": [f"arn:aws:events:us-east-1:000000000000:rule/{rule}"],
        "detail": {},
    }


def build(timestamp: int | None = None) -> dict[str, dict[str, Any]]:
    """Every sample event; the signed ones signed at `timestamp` (default: now)."""
    import time

    timestamp = int(time.time()) if timestamp is None else timestamp
    events = {name: _api(name, *spec, timestamp=timestamp) for name, spec in API_EVENTS.items()}
    events["settlement"] = scheduled_event("settlement-every-minute")
    events["sweeper"] = scheduled_event("round-sweeper-every-five-minutes")
    events["anchor"] = scheduled_event("ledger-anchor-daily")
    # MigrateFunction invoked directly (sam remote invoke / local invoke): no custom resource fields
    events["migrate"] = {}
    # CasinoRetentionFunction / ProviderRetentionFunction: the EventBridge schedule's event
    events["retention"] = {
        "version": "0",
        "id": "00000000-0000-4000-8000-000000000002",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "000000000000",
        "time": "2026-11-24T03:00:00Z",
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:000000000000:rule/retention"],
        "detail": {},
    }
    return events


def write_events(directory: Path = EVENTS, *, timestamp: int | None = None) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, event in build(timestamp).items():
        path = directory / f"{name}.json"
        path.write_text(json.dumps(event, indent=2, sort_keys=True) + "\n")
        written.append(path)
    return written


#: the secret each signature header is made with, locally (the environment's, else the
#: documented local development secret)
SIGNERS = {
    CASINO_SIGNATURE_HEADER: ("CASINO_SECRET", CASINO_SECRET),
    PROVIDER_SIGNATURE_HEADER: ("PROVIDER_SECRET", PROVIDER_SECRET),
}


def resign(event: dict[str, Any], *, timestamp: int | None = None) -> dict[str, Any]:
    """The event with its signature header (if any) made afresh: a current `t`, over the body's
    exact bytes and the contract path of its route, with the local secret for that header
    (CASINO_SECRET / PROVIDER_SECRET from the environment, else the development ones). The body
    is untouched; an event that is not signed is returned as it is."""
    import base64
    import os
    import re

    headers = event.get("headers")
    if not isinstance(headers, dict):
        return event
    names = [name for name in headers if isinstance(name, str) and name.lower() in SIGNERS]
    if not names:
        return event
    body = event.get("body") or ""
    raw = base64.b64decode(body) if event.get("isBase64Encoded") else body.encode("utf-8", "surrogatepass")
    template = str(event.get("resource") or event.get("path") or "")
    params = event.get("pathParameters") or {}
    path = contract_path(re.sub(r"\{([^/{}]+)\}", lambda m: str(params.get(m.group(1), m.group(0))), template))
    method = str(event.get("httpMethod") or "POST")
    fresh = dict(event, headers=dict(headers))
    for name in names:
        env_name, default = SIGNERS[name.lower()]
        value = sign(os.environ.get(env_name) or default, raw, path, method=method, timestamp=timestamp)
        fresh["headers"][name] = value
        multi = fresh.get("multiValueHeaders")
        if isinstance(multi, dict) and name in multi:
            fresh["multiValueHeaders"] = {**multi, name: [value]}
    return fresh
