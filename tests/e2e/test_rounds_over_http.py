"""Both services live on the local API (real HTTP, real signatures): launchGame, whole
rounds through simulateRound, and what the provider records."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime

import pytest
from seamless.contract.signing import sign

from devtools import admin
from devtools.fixtures import CASINO_SECRET, PROVIDER_SECRET
from tests.support import ALICE, BOB, CAROL, GAME, INACTIVE_GAME, admin_conn, live_api, wallet

SEED_ROUND = {
    "bets": [{"amount": 1000}, {"amount": 500}],
    "wins": [{"amount": 2500, "relatedBetIndex": 0}],
    "rollbacks": [{"betIndex": 1}],
}
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@pytest.fixture(scope="module")
def api(database_url):
    with live_api(database_url) as base:
        yield base


def post(base: str, path: str, payload: dict, headers: dict | None = None) -> tuple[int, dict, dict]:
    body = json.dumps(payload).encode()
    req = urllib.request.Request(
        base + path, data=body, method="POST", headers={"Content-Type": "application/json", **(headers or {})}
    )
    try:
        with OPENER.open(req, timeout=60) as resp:
            return resp.status, json.loads(resp.read()), dict(resp.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read()), dict(exc.headers)


def simulate(api: str, user: str = ALICE, **round_fields) -> dict:
    status, report, _ = post(api, "/casino/simulateRound", {"userId": user, "gameId": GAME, "currency": "USD", **round_fields})
    assert status == 200, report
    return report


def casino_balance(api: str, user: str = ALICE) -> int:
    status, launched, _ = post(api, "/casino/launchGame", {"userId": user, "gameId": GAME, "currency": "USD"})
    assert status == 200, launched
    body = json.dumps({"sessionToken": launched["sessionToken"]}).encode()
    req = urllib.request.Request(
        api + "/casino/getBalance",
        data=body,
        method="POST",
        headers={"X-Casino-Signature": sign(CASINO_SECRET, body, "/casino/getBalance")},
    )
    with OPENER.open(req, timeout=30) as resp:
        return json.loads(resp.read())["balance"]


def test_launch_game_returns_a_usable_session(api):
    status, body, headers = post(api, "/casino/launchGame", {"userId": ALICE, "gameId": GAME, "currency": "USD"})
    assert status == 200
    assert set(body) == {
        "sessionId",
        "sessionToken",
        "providerSessionId",
        "launchUrl",
        "balance",
        "currency",
        "currencyDecimals",
        "expiresAt",
    }
    assert body["currencyDecimals"] == 2
    assert re.fullmatch(r"[A-Za-z0-9_-]{43,}", body["sessionToken"])
    expires = datetime.fromisoformat(body["expiresAt"].replace("Z", "+00:00"))
    assert expires.tzinfo is not None and body["expiresAt"].endswith("Z") and expires > datetime.now(UTC)
    assert type(body["balance"]) is int and body["currency"] == "USD"
    assert body["balance"] == casino_balance(api)


@pytest.mark.parametrize(
    "user,game,currency,status,code",
    [
        (CAROL, GAME, "USD", 403, "PLAYER_BLOCKED"),
        (str(uuid.uuid4()), GAME, "USD", 404, "USER_NOT_FOUND"),
        (BOB, GAME, "EUR", 404, "WALLET_NOT_FOUND"),
        (ALICE, INACTIVE_GAME, "USD", 404, "GAME_NOT_FOUND"),
        (ALICE, str(uuid.uuid4()), "USD", 404, "GAME_NOT_FOUND"),
        (ALICE, "not-a-uuid", "USD", 400, "VALIDATION_ERROR"),
    ],
)
def test_launch_game_refusals(api, user, game, currency, status, code):
    got, body, _ = post(api, "/casino/launchGame", {"userId": user, "gameId": game, "currency": currency})
    assert (got, body["error"]["code"]) == (status, code)


def test_seed_example_round(api):
    start = casino_balance(api)
    report = simulate(api, **SEED_ROUND)
    assert report["startingBalance"] == start
    assert report["finalBalance"] == report["expectedFinalBalance"] == start - 1000 - 500 + 500 + 2500
    assert report["consistent"] is True
    actions = report["actions"]
    assert [a["type"] for a in actions] == ["bet", "bet", "rollback", "win"]
    assert [a["index"] for a in actions] == [0, 1, 2, 3]
    assert [a["amount"] for a in actions] == [1000, 500, 500, 2500]
    assert [(a["httpStatus"], a["code"]) for a in actions] == [(200, "OK")] * 4
    assert all(type(a["attempts"]) is int and a["attempts"] >= 1 for a in actions)
    assert len({a["transactionId"] for a in actions}) == 4
    assert casino_balance(api) == start + 1500


def test_rollback_after_a_closing_win_is_refused(api):
    report = simulate(
        api,
        actions=[
            {"type": "bet", "amount": 300},
            {"type": "win", "amount": 600, "betIndex": 0, "close": True},
            {"type": "rollback", "betIndex": 0},
        ],
    )
    assert [(a["type"], a["httpStatus"], a["code"]) for a in report["actions"]] == [
        ("bet", 200, "OK"),
        ("win", 200, "OK"),
        ("rollback", 409, "BET_ALREADY_SETTLED"),
    ]
    assert report["finalBalance"] == report["startingBalance"] + 300 and report["consistent"] is True


def test_losing_round_is_closed_by_a_zero_credit(api):
    report = simulate(api, bets=[{"amount": 200}])
    assert [(a["type"], a["amount"]) for a in report["actions"]] == [("bet", 200), ("close", 0)]
    assert report["finalBalance"] == report["startingBalance"] - 200 and report["consistent"]


def test_duplicate_callbacks_change_nothing(api):
    plain = simulate(api, bets=[{"amount": 100}], wins=[{"amount": 250, "relatedBetIndex": 0}])
    doubled = simulate(api, bets=[{"amount": 100}], wins=[{"amount": 250, "relatedBetIndex": 0}], duplicateCallbacks=True)
    assert doubled["finalBalance"] - doubled["startingBalance"] == plain["finalBalance"] - plain["startingBalance"] == 150
    assert all(a["duplicate"]["matched"] and a["duplicate"]["replayed"] for a in doubled["actions"])
    assert doubled["consistent"] is True


def test_same_round_id_twice_moves_money_once(api):
    round_id = f"replay-safe-{uuid.uuid4().hex}"
    first = simulate(api, roundId=round_id, **SEED_ROUND)
    second = simulate(api, roundId=round_id, **SEED_ROUND)
    assert first["roundId"] == second["roundId"] == round_id
    assert second["startingBalance"] == second["finalBalance"] == first["finalBalance"]
    assert second["consistent"] is True
    # §6: answered from the provider's records, nothing already sent is sent again
    assert all(a["state"] == "delivered" and not a["replayed"] for a in second["actions"])
    assert [a["transactionId"] for a in first["actions"]] == [a["transactionId"] for a in second["actions"]]


def test_provider_records_every_callback_and_attempt(api, database_url):
    report = simulate(api, **SEED_ROUND)
    with admin_conn(database_url) as conn:
        game_round = conn.execute(
            "SELECT id, consistent, starting_balance, final_balance FROM provider_game_rounds WHERE round_id = %s",
            (report["roundId"],),
        ).fetchone()
        bets = conn.execute(
            "SELECT action_type, transaction_id, attempts, final_status, final_code FROM provider_bets "
            "WHERE game_round_id = %s ORDER BY id",
            (game_round[0],),
        ).fetchall()
    assert game_round[1:] == (True, report["startingBalance"], report["finalBalance"])
    assert [b[0] for b in bets] == ["bet", "bet", "rollback", "win"]
    assert [b[1] for b in bets] == [a["transactionId"] for a in report["actions"]]
    assert all(b[2] and b[2][0]["httpStatus"] == 200 and b[3] == 200 and b[4] == "OK" for b in bets)


@pytest.mark.parametrize(
    "payload,field",
    [
        ({"actions": [{"type": "bet", "amount": 1}], "bets": [{"amount": 1}]}, "actions"),
        ({"bets": [{"amount": 1}], "rollbacks": [{"betIndex": 4}]}, "rollbacks.0.betIndex"),
        ({"bets": [{"amount": 1.5}]}, "bets.0.amount"),
    ],
)
def test_bad_rounds_are_refused_before_anything_is_launched(api, database_url, payload, field):
    with admin_conn(database_url) as conn:
        sessions = conn.execute("SELECT count(*) FROM casino_game_sessions").fetchone()[0]
    status, body, _ = post(api, "/casino/simulateRound", {"userId": ALICE, "gameId": GAME, **payload})
    assert (status, body["error"]["code"]) == (400, "VALIDATION_ERROR")
    assert any(d["field"] == field for d in body["error"]["details"]), body
    with admin_conn(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM casino_game_sessions").fetchone()[0] == sessions


def test_provider_is_unreachable_means_502_and_an_unusable_session(api, database_url):
    with admin_conn(database_url) as conn:
        conn.execute("UPDATE casino_game_providers SET api_base_url = 'http://127.0.0.1:9' WHERE code = 'jaqpot'")
    try:
        status, body, _ = post(api, "/casino/launchGame", {"userId": ALICE, "gameId": GAME, "currency": "USD"})
    finally:
        admin.seed(database_url, quiet=True)  # restores the base URL from the environment
    assert (status, body["error"]["code"]) == (502, "PROVIDER_ERROR")
    with admin_conn(database_url) as conn:
        failed = conn.execute("SELECT count(*) FROM casino_game_sessions WHERE status = 'failed'").fetchone()[0]
    assert failed >= 1


def test_provider_endpoints_need_their_signature(api):
    for path, payload in (
        ("/provider/launch", {"sessionToken": "t" * 43, "playerId": ALICE, "gameId": "book-of-jaqpot", "currency": "USD"}),
        ("/provider/simulate", {"providerSessionId": "ps-x", **SEED_ROUND}),
    ):
        status, body, _ = post(api, path, payload)
        assert (status, body["error"]["code"]) == (401, "INVALID_SIGNATURE")
        status, body, _ = post(api, path, payload, {"X-Provider-Signature": "0" * 64})
        assert (status, body["error"]["code"]) == (401, "INVALID_SIGNATURE")


def test_provider_launch_unknown_or_inactive_game(api):
    for code in ("no-such-game", "classic-fruits"):
        payload = {"sessionToken": "t" * 43, "playerId": ALICE, "gameId": code, "currency": "USD"}
        raw = json.dumps(payload).encode()
        req = urllib.request.Request(
            api + "/provider/launch",
            data=raw,
            method="POST",
            headers={"X-Provider-Signature": sign(PROVIDER_SECRET, raw, "/provider/launch")},
        )
        with pytest.raises(urllib.error.HTTPError) as exc:
            OPENER.open(req, timeout=30)
        assert exc.value.code == 404 and json.loads(exc.value.read())["error"]["code"] == "GAME_NOT_FOUND"


def test_health_and_reconcile(api, database_url):
    with OPENER.open(api + "/provider/health", timeout=30) as resp:
        assert json.loads(resp.read()) == {"status": "ok", "database": "ok"}
    assert admin.reconcile(database_url).ok
    assert wallet(database_url)[0] >= 0
