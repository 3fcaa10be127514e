"""Every text field of every endpoint, casino and provider side, refuses what PostgreSQL's text
cannot hold (NUL, a lone surrogate) and anything longer than its bound: 400 VALIDATION_ERROR
naming the field, nothing written (docs/protocol.md §3, §10.2). Through the real handlers, with
valid signatures, so the refusal is the model's and not the signature check's."""

from __future__ import annotations

import json

import pytest
from seamless.contract import models

from tests.support import ALICE, CASINO_SECRET, GAME, PROVIDER_SECRET, admin_conn, call, fetch_one

TOKEN = "a-token-nobody-has"
TX = {"transactionId": "tx-text-1", "roundId": "r-text-1"}
BASES: dict[str, dict] = {
    "/casino/getBalance": {"sessionToken": TOKEN},
    "/casino/debit": {"sessionToken": TOKEN, **TX, "amount": 1, "currency": "USD"},
    "/casino/credit": {"sessionToken": TOKEN, **TX, "amount": 1, "currency": "USD", "betTransactionId": "b-1"},
    "/casino/rollback": {"sessionToken": TOKEN, "transactionId": "tx-text-1", "betTransactionId": "b-1", "roundId": "r-1"},
    "/casino/launchGame": {"userId": ALICE, "gameId": GAME, "currency": "USD"},
    "/casino/simulateRound": {"userId": ALICE, "gameId": GAME, "currency": "USD", "roundId": "r-1", "bets": [{"amount": 1}]},
    "/provider/launch": {
        "sessionToken": TOKEN,
        "playerId": "p-1",
        "gameId": "book-of-jaqpot",
        "currency": "USD",
        "casinoCode": "demo-casino",
    },
    "/provider/simulate": {"providerSessionId": "ps-none", "roundId": "r-1", "bets": [{"amount": 1}]},
}
#: every text field of every endpoint and its length bound (the models' own)
FIELDS: list[tuple[str, str, int]] = [
    ("/casino/getBalance", "sessionToken", 512),
    *[("/casino/debit", f, n) for f, n in [("sessionToken", 512), ("transactionId", 128), ("roundId", 128), ("currency", 3)]],
    *[
        ("/casino/credit", f, n)
        for f, n in [("sessionToken", 512), ("transactionId", 128), ("roundId", 128), ("currency", 3), ("betTransactionId", 128)]
    ],
    *[
        ("/casino/rollback", f, n)
        for f, n in [("sessionToken", 512), ("transactionId", 128), ("betTransactionId", 128), ("roundId", 128)]
    ],
    *[("/casino/launchGame", f, n) for f, n in [("userId", 36), ("gameId", 36), ("currency", 3)]],
    *[
        ("/casino/simulateRound", f, n)
        for f, n in [("userId", 36), ("gameId", 36), ("currency", 3), ("roundId", 128), ("actions.0.type", 5)]
    ],
    *[
        ("/provider/launch", f, n)
        for f, n in [("sessionToken", 512), ("playerId", 128), ("gameId", 128), ("currency", 3), ("casinoCode", 64)]
    ],
    *[("/provider/simulate", f, n) for f, n in [("providerSessionId", 128), ("roundId", 128), ("actions.0.type", 5)]],
]
#: a value's JSON text: NUL and the lone surrogate are escapes, as a client would send them
HOSTILE = {
    "nul": lambda n: '"a\\u0000b"',
    "nul-only": lambda n: '"\\u0000"',
    "lone-surrogate": lambda n: '"a\\ud800b"',
    "lone-low-surrogate": lambda n: '"\\udc00"',
    "over-long": lambda n: json.dumps("x" * (n + 1)),
}


def body_with(path: str, field: str, value_json: str) -> bytes:
    body = dict(BASES[path])
    marker = "__VALUE__"
    if field == "actions.0.type":
        body.pop("bets", None)
        body["actions"] = [{"type": marker, "amount": 1}]
    else:
        body[field] = marker
    return json.dumps(body).replace(f'"{marker}"', value_json).encode()


def send(path: str, raw: bytes):
    if path.startswith("/provider/"):
        return call(path, raw, sign_with=PROVIDER_SECRET, header_name="X-Provider-Signature")
    operator = path in ("/casino/launchGame", "/casino/simulateRound")  # unsigned (§2)
    return call(path, raw, sign_with=None if operator else CASINO_SECRET)


def rows(url: str) -> tuple:
    with admin_conn(url) as conn:
        return fetch_one(
            conn,
            "SELECT (SELECT count(*) FROM casino_transactions), (SELECT count(*) FROM casino_game_sessions), "
            "(SELECT count(*) FROM provider_sessions), (SELECT sum(playable_balance) FROM casino_wallets)",
        )


@pytest.mark.parametrize("kind", sorted(HOSTILE))
@pytest.mark.parametrize(("path", "field", "limit"), FIELDS, ids=[f"{p}:{f}" for p, f, _ in FIELDS])
def test_hostile_text_is_a_validation_error_naming_the_field(database_url, path, field, limit, kind):
    before = rows(database_url)
    r = send(path, body_with(path, field, HOSTILE[kind](limit)))
    assert (r.status, r.code) == (400, "VALIDATION_ERROR"), r
    named = {d["field"] for d in r.json["error"]["details"]}
    wanted = "actions.0" if field == "actions.0.type" else field  # a bad tag names its action
    assert any(n == wanted or n.startswith(wanted + ".") for n in named), (named, r)
    assert rows(database_url) == before


MODELS = {
    "/casino/getBalance": models.GetBalanceRequest,
    "/casino/debit": models.DebitRequest,
    "/casino/credit": models.CreditRequest,
    "/casino/rollback": models.RollbackRequest,
    "/casino/launchGame": models.LaunchGameRequest,
    "/casino/simulateRound": models.SimulateRoundRequest,
    "/provider/launch": models.ProviderLaunchRequest,
    "/provider/simulate": models.ProviderSimulateRequest,
}


@pytest.mark.parametrize("path", sorted(BASES))
def test_the_bodies_fail_only_because_of_the_field_they_change(path):
    MODELS[path].model_validate_json(json.dumps(BASES[path]))
    MODELS[path].model_validate_json(body_with(path, "unknownField", '"\\u0000"'))  # extra fields are ignored
