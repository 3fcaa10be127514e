"""Every currency and a whole round in one call, end to end (docs/protocol.md §1, §4b, §6): both
services live on the local API (real HTTP, real signatures); JPY (exponent 0) and BTC (8) rounds
through simulateRound, a betWin action sent as one debitCredit, the round page showing money
through the exponent, and CURRENCY_NOT_SUPPORTED where a game has no limits."""

from __future__ import annotations

import urllib.request
import uuid

import pytest
from seamless.contract.money import format_minor

from tests.e2e.test_rounds_over_http import OPENER, post
from tests.support import ALICE, GAME, admin_conn, live_api, make_player, wallet


@pytest.fixture(scope="module")
def api(database_url):
    with live_api(database_url) as base:
        yield base


def simulate(api: str, currency: str, **fields) -> dict:
    status, report, _ = post(api, "/casino/simulateRound", {"userId": ALICE, "gameId": GAME, "currency": currency, **fields})
    assert status == 200, report
    return report


@pytest.mark.parametrize(("currency", "decimals"), [("USD", 2), ("EUR", 2), ("JPY", 0), ("BTC", 8)])
def test_launch_returns_the_currency_exponent_and_the_provider_keeps_it(api, database_url, currency, decimals):
    status, launched, _ = post(api, "/casino/launchGame", {"userId": ALICE, "gameId": GAME, "currency": currency})
    assert status == 200, launched
    assert (launched["currency"], launched["currencyDecimals"]) == (currency, decimals)
    with admin_conn(database_url) as conn:
        row = conn.execute(
            "SELECT currency, currency_decimals FROM provider_sessions WHERE id = %s", (launched["providerSessionId"],)
        ).fetchone()
    assert row == (currency, decimals)


def test_a_game_without_limits_for_a_currency_is_not_supported(api, database_url):
    user = make_player(database_url, 5_000, currency="KWD")
    status, body, _ = post(api, "/casino/launchGame", {"userId": user, "gameId": GAME, "currency": "KWD"})
    assert (status, body["error"]["code"]) == (409, "CURRENCY_NOT_SUPPORTED")
    with admin_conn(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM casino_game_sessions WHERE user_id = %s", (user,)).fetchone()[0] == 0
    status, body, _ = post(
        api, "/casino/simulateRound", {"userId": user, "gameId": GAME, "currency": "KWD", "bets": [{"amount": 5}]}
    )
    assert (status, body["error"]["code"]) == (409, "CURRENCY_NOT_SUPPORTED")


def test_limits_are_per_currency(api):
    """BTC's minimum is 100 satoshi: a bet of 99 is refused; JPY's maximum is ¥100,000."""
    report = simulate(api, "BTC", actions=[{"type": "bet", "amount": 99}, {"type": "bet", "amount": 100}, {"type": "close"}])
    assert [a["code"] for a in report["actions"]] == ["BET_LIMIT_EXCEEDED", "OK", "OK"]
    report = simulate(
        api, "JPY", actions=[{"type": "bet", "amount": 100_001}, {"type": "bet", "amount": 100_000}, {"type": "close"}]
    )
    assert [a["code"] for a in report["actions"]] == ["BET_LIMIT_EXCEEDED", "OK", "OK"]


@pytest.mark.parametrize(("currency", "stake", "win"), [("JPY", 500, 1_200), ("BTC", 10_000, 25_000)])
def test_a_round_end_to_end_in_yen_and_bitcoin(api, database_url, currency, stake, win):
    before = wallet(database_url, ALICE, currency)[0]
    report = simulate(api, currency, bets=[{"amount": stake}], wins=[{"amount": win, "relatedBetIndex": 0}])
    assert report["consistent"] and report["settlement"] == "complete", report
    assert report["finalBalance"] == before - stake + win == wallet(database_url, ALICE, currency)[0]


@pytest.mark.parametrize("currency", ["USD", "JPY", "BTC"])
def test_bet_win_is_one_debit_credit_and_the_round_page_shows_it(api, database_url, currency):
    before = wallet(database_url, ALICE, currency)[0]
    round_id = f"betwin-{uuid.uuid4().hex}"
    report = simulate(api, currency, roundId=round_id, actions=[{"type": "betWin", "amount": 500, "winAmount": 1_234}])
    assert report["consistent"] and report["settlement"] == "complete" and report["status"] == "completed", report
    [action] = report["actions"]
    assert (action["type"], action["code"], action["amount"]) == ("betWin", "OK", 500)
    assert report["finalBalance"] == before - 500 + 1_234 == wallet(database_url, ALICE, currency)[0]
    with admin_conn(database_url) as conn:
        legs = conn.execute(
            "SELECT kind, amount, bet_transaction_id FROM casino_transactions WHERE round_id = %s ORDER BY id", (round_id,)
        ).fetchall()
    assert legs == [("debit", 500, None), ("credit", 1_234, action["transactionId"])]
    # replay-safe: the same round again moves nothing
    again = simulate(api, currency, roundId=round_id, actions=[{"type": "betWin", "amount": 500, "winAmount": 1_234}])
    # (its report again, nothing sent again: §6's re-send of a round by its own player)
    assert again["actions"][0]["code"] == "OK" and wallet(database_url, ALICE, currency)[0] == report["finalBalance"]
    req = urllib.request.Request(f"{api}/provider/rounds/{round_id}", headers={"Accept": "text/html"})
    with OPENER.open(req, timeout=30) as resp:
        page = resp.read().decode()
    decimals = {"USD": 2, "JPY": 0, "BTC": 8}[currency]
    assert f"→ {format_minor(report['finalBalance'], decimals)} {currency}" in page
    assert f'<td class="num">{ {"USD": "5.00", "JPY": "500", "BTC": "0.00000500"}[currency] }</td>' in page


def test_a_refused_bet_win_moves_nothing(api, database_url):
    before = wallet(database_url, ALICE, "JPY")[0]
    report = simulate(api, "JPY", actions=[{"type": "betWin", "amount": 100_001, "winAmount": 5}])
    assert report["actions"][0]["code"] == "BET_LIMIT_EXCEEDED" and report["consistent"]
    assert report["status"] == "cancelled"
    assert wallet(database_url, ALICE, "JPY")[0] == before
