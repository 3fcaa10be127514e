"""Free rounds end to end (docs/protocol.md §4b, §7): both services live on the local API (real
HTTP, real signatures). The casino grants (validating the grant, calling the provider signed),
lists and cancels; the provider records grants idempotently and plays a free round as one
closing credit, refusing the whole round when it may not start; the casino's guard counts a
grant's credits and pays them after expiry or cancel."""

from __future__ import annotations

import datetime as dt
import json
import urllib.error
import urllib.request

import pytest
from seamless.contract.signing import sign

from tests.e2e.test_rounds_over_http import OPENER, post
from tests.support import (
    BOB,
    CAROL,
    GAME,
    PROVIDER_SECRET,
    admin_conn,
    call,
    live_api,
    make_player,
    new_id,
    new_session,
    wallet,
)


@pytest.fixture(scope="module")
def api(database_url):
    with live_api(database_url) as base:
        yield base


def expires(**delta) -> str:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(**(delta or {"days": 1}))).isoformat().replace("+00:00", "Z")


def grant(api: str, user: str, **fields) -> tuple[int, dict]:
    body = {"userId": user, "gameId": GAME, "currency": "USD", "rounds": 2, "betAmount": 100, "expiresAt": expires()}
    status, answer, _ = post(api, "/casino/freeRounds", {**body, **fields})
    return status, answer


def get(api: str, path: str) -> tuple[int, dict]:
    try:
        with OPENER.open(urllib.request.Request(api + path), timeout=60) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def play(api: str, user: str, grant_id: str, win: int, **fields) -> tuple[int, dict]:
    status, report, _ = post(
        api,
        "/casino/simulateRound",
        {
            "userId": user,
            "gameId": GAME,
            "currency": "USD",
            "actions": [{"type": "freeRound", "grantId": grant_id, "winAmount": win}],
            **fields,
        },
    )
    return status, report


def grants_of(api: str, user: str) -> list[dict]:
    status, body = get(api, f"/casino/freeRounds?userId={user}")
    assert status == 200, body
    return body["grants"]


@pytest.fixture
def player(database_url):
    return make_player(database_url, 10_000, 6_000)


def test_a_grant_is_played_to_exhaustion_bonus_funded(api, database_url, player):
    status, g = grant(api, player, rounds=2)
    assert status == 200, g
    assert (g["status"], g["rounds"], g["roundsPlayed"]) == ("active", 2, 0)
    [listed] = grants_of(api, player)
    assert (listed["grantId"], listed["status"], listed["roundsPlayed"], listed["wonAmount"]) == (g["grantId"], "active", 0, 0)
    for win in (300, 0):
        status, report = play(api, player, g["grantId"], win)
        assert status == 200, report
        [action] = report["actions"]
        assert (action["type"], action["code"], action["amount"], report["settlement"]) == ("freeRound", "OK", win, "complete")
    assert wallet(database_url, player) == (10_300, 6_000)  # a free round's win is bonus money
    status, refused = play(api, player, g["grantId"], 300)
    assert (status, refused["error"]["code"]) == (409, "FREE_ROUNDS_EXHAUSTED")
    [listed] = grants_of(api, player)
    assert (listed["status"], listed["roundsPlayed"], listed["wonAmount"]) == ("used", 2, 300)
    with admin_conn(database_url) as conn:
        rows = conn.execute(
            "SELECT reason, grant_id, round_closed, redeemable_delta FROM casino_transactions WHERE user_id = %s "
            "AND kind = 'credit' ORDER BY id",
            (player,),
        ).fetchall()
    assert rows == [("freeRound", g["grantId"], True, 0)] * 2


def test_a_cash_grant_pays_redeemable_money(api, database_url, player):
    status, g = grant(api, player, rounds=1, fund="cash")
    assert status == 200, g
    assert play(api, player, g["grantId"], 250)[0] == 200
    assert wallet(database_url, player) == (10_250, 6_250)


def test_a_replayed_free_round_is_the_same_round(api, database_url, player):
    status, g = grant(api, player, rounds=1)
    assert status == 200
    round_id = new_id("fr")
    assert play(api, player, g["grantId"], 40, roundId=round_id)[0] == 200
    status, again = play(api, player, g["grantId"], 40, roundId=round_id)
    assert status == 200, again
    assert wallet(database_url, player)[0] == 10_040


@pytest.mark.parametrize(
    ("fields", "status", "code", "field"),
    [
        ({"expiresAt": "2020-01-01T00:00:00Z"}, 400, "VALIDATION_ERROR", "expiresAt"),
        ({"expiresAt": "later"}, 400, "VALIDATION_ERROR", "expiresAt"),
        ({"rounds": 0}, 400, "VALIDATION_ERROR", "rounds"),
        ({"rounds": 1001}, 400, "VALIDATION_ERROR", "rounds"),
        ({"fund": "gold"}, 400, "VALIDATION_ERROR", "fund"),
        ({"betAmount": 100_001}, 409, "BET_LIMIT_EXCEEDED", None),
        ({"gameId": "99999999-9999-4999-8999-999999999992"}, 404, "GAME_NOT_FOUND", None),
        ({"currency": "GBP"}, 404, "WALLET_NOT_FOUND", None),
    ],
)
def test_a_bad_grant_is_refused_and_recorded_nowhere(api, database_url, player, fields, status, code, field):
    got, body = grant(api, player, **fields)
    assert (got, body["error"]["code"]) == (status, code), body
    if field:
        assert field in [d["field"] for d in body["error"]["details"]]
    with admin_conn(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM casino_free_round_grants WHERE user_id = %s", (player,)).fetchone() == (0,)
    assert grants_of(api, player) == []


def test_a_grant_more_than_90_days_ahead_or_for_a_blocked_or_unknown_player_is_refused(api):
    assert grant(api, BOB, expiresAt=expires(days=91))[1]["error"]["code"] == "VALIDATION_ERROR"
    assert grant(api, CAROL)[1]["error"]["code"] == "PLAYER_BLOCKED"
    assert grant(api, "44444444-4444-4444-8444-444444444444")[1]["error"]["code"] == "USER_NOT_FOUND"


def test_cancel_stops_new_rounds_is_idempotent_and_unknown_is_404(api, database_url, player):
    status, g = grant(api, player, rounds=3)
    assert status == 200
    assert play(api, player, g["grantId"], 10)[0] == 200
    path = f"/casino/freeRounds/{g['grantId']}/cancel"
    first = post(api, path, {})
    assert first[:2] == (200, {"grantId": g["grantId"], "status": "cancelled", "roundsPlayed": 1})
    assert post(api, path, {})[:2] == first[:2]
    status, refused = play(api, player, g["grantId"], 10)
    assert (status, refused["error"]["code"]) == (404, "GRANT_NOT_FOUND")
    [listed] = grants_of(api, player)
    assert (listed["status"], listed["roundsPlayed"]) == ("cancelled", 1)
    status, body, _ = post(api, "/casino/freeRounds/no-such-grant/cancel", {})
    assert (status, body["error"]["code"]) == (404, "GRANT_NOT_FOUND")
    with admin_conn(database_url) as conn:
        assert conn.execute(
            "SELECT status, rounds_started FROM provider_free_round_grants WHERE grant_id = %s", (g["grantId"],)
        ).fetchone() == ("cancelled", 1)


def test_a_round_started_before_the_cancel_is_still_paid(api, database_url, player):
    """The casino pays a free-round credit after cancel (and after expiry): a round started in
    time is owed money. The credit is sent as settlement would send it late."""
    status, g = grant(api, player, rounds=2)
    assert status == 200
    assert post(api, f"/casino/freeRounds/{g['grantId']}/cancel", {})[0] == 200
    with admin_conn(database_url) as conn:
        conn.execute(
            "UPDATE casino_free_round_grants SET expires_at = now() - interval '1 minute' WHERE grant_id = %s", (g["grantId"],)
        )
    token = new_session(database_url, player)
    body = {
        "sessionToken": token,
        "transactionId": new_id("fr-late"),
        "roundId": new_id("fr"),
        "amount": 70,
        "currency": "USD",
        "reason": "freeRound",
        "grantId": g["grantId"],
        "roundClosed": True,
    }
    r = call("/casino/credit", body)
    assert r.status == 200, r
    assert wallet(database_url, player)[0] == 10_070


def test_the_guard_refuses_another_players_grant_and_a_credit_beyond_the_rounds(api, database_url, player):
    status, g = grant(api, player, rounds=1)
    assert status == 200
    other = make_player(database_url, 1_000)
    foreign = {
        "sessionToken": new_session(database_url, other),
        "transactionId": new_id("fr-x"),
        "roundId": new_id("fr"),
        "amount": 500,
        "currency": "USD",
        "reason": "freeRound",
        "grantId": g["grantId"],
        "roundClosed": True,
    }
    r = call("/casino/credit", foreign)
    assert (r.status, r.code) == (404, "GRANT_NOT_FOUND")
    again = call("/casino/credit", foreign)
    assert (again.status, again.raw, again.replayed) == (404, r.raw, True)  # stored
    assert wallet(database_url, other)[0] == 1_000
    token = new_session(database_url, player)
    credits = [
        {
            "sessionToken": token,
            "transactionId": new_id("fr-c"),
            "roundId": new_id("fr"),
            "amount": 5,
            "currency": "USD",
            "reason": "freeRound",
            "grantId": g["grantId"],
            "roundClosed": True,
        }
        for _ in range(2)
    ]
    assert call("/casino/credit", credits[0]).status == 200
    r = call("/casino/credit", credits[1])
    assert (r.status, r.code) == (409, "FREE_ROUNDS_EXHAUSTED")
    assert call("/casino/credit", credits[1]).raw == r.raw
    assert wallet(database_url, player)[0] == 10_005


def test_a_grant_the_provider_refuses_is_502_and_never_usable(api, database_url, player):
    with admin_conn(database_url) as conn:
        url = conn.execute("SELECT api_base_url FROM casino_game_providers WHERE code = 'jaqpot'").fetchone()[0]
        conn.execute("UPDATE casino_game_providers SET api_base_url = 'http://127.0.0.1:9' WHERE code = 'jaqpot'")
    try:
        status, body = grant(api, player)
    finally:
        with admin_conn(database_url) as conn:
            conn.execute("UPDATE casino_game_providers SET api_base_url = %s WHERE code = 'jaqpot'", (url,))
    assert (status, body["error"]["code"]) == (502, "PROVIDER_ERROR")
    with admin_conn(database_url) as conn:
        [(grant_id, state)] = conn.execute(
            "SELECT grant_id, status FROM casino_free_round_grants WHERE user_id = %s", (player,)
        ).fetchall()
    assert state == "failed"
    assert grants_of(api, player) == []
    token = new_session(database_url, player)
    r = call(
        "/casino/credit",
        {
            "sessionToken": token,
            "transactionId": new_id("fr-f"),
            "roundId": new_id("fr"),
            "amount": 5,
            "currency": "USD",
            "reason": "freeRound",
            "grantId": grant_id,
            "roundClosed": True,
        },
    )
    assert (r.status, r.code) == (404, "GRANT_NOT_FOUND")


def provider_grant(api: str, body: dict) -> tuple[int, dict]:
    raw = json.dumps(body).encode()
    headers = {"X-Provider-Signature": sign(PROVIDER_SECRET, raw, "/provider/freeRounds")}
    return post(api, "/provider/freeRounds", body, headers)[:2]


def test_the_providers_grant_is_idempotent_by_grant_id(api, player):
    body = {
        "grantId": new_id("g"),
        "playerId": player,
        "gameId": "book-of-jaqpot",
        "currency": "USD",
        "currencyDecimals": 2,
        "rounds": 3,
        "betAmount": 100,
        "expiresAt": expires(),
    }
    assert provider_grant(api, body) == (200, {"grantId": body["grantId"], "status": "active"})
    assert provider_grant(api, body) == (200, {"grantId": body["grantId"], "status": "active"})
    status, answer = provider_grant(api, {**body, "rounds": 4})
    assert (status, answer["error"]["code"]) == (409, "TRANSACTION_ID_CONFLICT")
    status, answer, _ = post(api, "/provider/freeRounds", body)  # unsigned
    assert (status, answer["error"]["code"]) == (401, "INVALID_SIGNATURE")


def test_a_payout_action_pays_with_its_reason_and_campaign(api, database_url, player):
    status, report, _ = post(
        api,
        "/casino/simulateRound",
        {
            "userId": player,
            "gameId": GAME,
            "currency": "USD",
            "actions": [{"type": "payout", "reason": "promotion", "promotionId": "promo-bonus-1", "amount": 900, "close": True}],
        },
    )
    assert status == 200, report
    [action] = report["actions"]
    assert (action["type"], action["code"], report["settlement"], report["consistent"]) == ("payout", "OK", "complete", True)
    assert wallet(database_url, player) == (10_900, 6_000)  # promo-bonus-1 is bonus-funded
    with admin_conn(database_url) as conn:
        assert conn.execute(
            "SELECT reason, promotion_id FROM casino_transactions WHERE transaction_id = %s", (action["transactionId"],)
        ).fetchone() == ("promotion", "promo-bonus-1")


def test_a_free_round_must_be_the_only_action_of_its_round(api, player):
    status, body, _ = post(
        api,
        "/casino/simulateRound",
        {
            "userId": player,
            "gameId": GAME,
            "currency": "USD",
            "actions": [{"type": "bet", "amount": 10}, {"type": "freeRound", "grantId": "g-1", "winAmount": 1}],
        },
    )
    assert (status, body["error"]["code"]) == (400, "VALIDATION_ERROR")
