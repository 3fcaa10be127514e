"""The provider's casino client under faults, against the real casino handlers: retries with
the same transactionId, no retry on 4xx, and the rescue rollback of an undecided debit.
No real sleeping: the backoff's sleep is replaced."""

from __future__ import annotations

import json

import pytest
import urllib3
from seamless.contract import client as signed_client
from seamless.contract.models import ProviderSimulateRequest
from seamless.provider import rounds as provider
from seamless.runtime.settings import reload_settings

from devtools import admin
from tests.support import HandlerTransport, admin_conn, make_player, new_session, provider_session_for, wallet, without_backoff


@pytest.fixture
def player(database_url):
    """A player with 10,000 and a provider session bound to a fresh casino session."""
    user = make_player(database_url, 10_000)
    return user, provider_session_for(database_url, user, new_session(database_url, user))


@pytest.fixture
def no_sleep(monkeypatch):
    return without_backoff(monkeypatch)


def play(provider_session: str, transport: HandlerTransport, monkeypatch, **round_fields) -> dict:
    monkeypatch.setattr(signed_client, "default_transport", lambda: transport)
    reload_settings()
    return provider.simulate(ProviderSimulateRequest.model_validate({"providerSessionId": provider_session, **round_fields}))


def _is(path: str, body: bytes, endpoint: str) -> bool:
    return path == f"/casino/{endpoint}"


def test_two_503s_then_success_moves_money_once(database_url, player, monkeypatch, no_sleep):
    user, ps = player
    failures = {"left": 2}

    def fault(path, body, n):
        if _is(path, body, "debit") and failures["left"]:
            failures["left"] -= 1
            return 503
        return None

    transport = HandlerTransport(fault)
    report = play(ps, transport, monkeypatch, actions=[{"type": "bet", "amount": 300}])
    bet = report["actions"][0]
    assert (bet["httpStatus"], bet["code"], bet["attempts"]) == (200, "OK", 3)
    debits = [body for path, body in transport.seen if path == "/casino/debit"]
    assert len(debits) == 3 and len(set(debits)) == 1  # same bytes, same transactionId
    assert wallet(database_url, user)[0] == 10_000 - 300 and report["consistent"]
    assert len(no_sleep) == 2


@pytest.mark.parametrize("mode", ["casino-never-saw-it", "casino-committed-answer-lost"])
def test_undecided_debit_is_rolled_back(database_url, player, monkeypatch, no_sleep, mode):
    user, ps = player
    timeout = urllib3.exceptions.ReadTimeoutError(None, "/casino/debit", "read timed out")

    def fault(path, body, n):
        if path == "/casino/debit":
            return (timeout,) if mode == "casino-committed-answer-lost" else timeout
        return None

    report = play(ps, HandlerTransport(fault), monkeypatch, actions=[{"type": "bet", "amount": 400}])
    bet, rescue = report["actions"][0], report["actions"][1]
    assert bet["httpStatus"] is None and bet["code"] == "NO_RESPONSE" and bet["attempts"] == 3
    assert rescue["type"] == "rollback" and rescue["rescue"] is True and rescue["httpStatus"] == 200
    with admin_conn(database_url) as conn:
        refund = conn.execute(
            "SELECT amount, tombstone FROM casino_transactions WHERE transaction_id = %s", (rescue["transactionId"],)
        ).fetchone()
    # the casino applied the debit: the rescue refunds it; it never saw it: a tombstone
    assert refund == ((400, False) if mode == "casino-committed-answer-lost" else (0, True))
    assert wallet(database_url, user)[0] == 10_000  # wherever the debit got to, the wallet is whole
    assert report["consistent"] is True
    assert admin.reconcile(database_url).ok


def test_a_402_is_not_retried(database_url, player, monkeypatch, no_sleep):
    user, ps = player
    transport = HandlerTransport()
    report = play(ps, transport, monkeypatch, actions=[{"type": "bet", "amount": 20_000}])
    bet = report["actions"][0]
    assert (bet["httpStatus"], bet["code"], bet["attempts"]) == (402, "INSUFFICIENT_FUNDS", 1)
    assert [p for p, _ in transport.seen].count("/casino/debit") == 1 and no_sleep == []
    assert wallet(database_url, user)[0] == 10_000


def test_every_attempt_is_recorded(database_url, player, monkeypatch, no_sleep):
    _, ps = player
    calls = {"n": 0}

    def fault(path, body, n):
        if path == "/casino/credit" and calls["n"] < 1:
            calls["n"] += 1
            return 503
        return None

    report = play(ps, HandlerTransport(fault), monkeypatch, bets=[{"amount": 10}], wins=[{"amount": 30, "relatedBetIndex": 0}])
    with admin_conn(database_url) as conn:
        rows = conn.execute(
            "SELECT b.action_type, b.attempts FROM provider_bets b JOIN provider_game_rounds r "
            "ON r.id = b.game_round_id WHERE r.round_id = %s ORDER BY b.id",
            (report["roundId"],),
        ).fetchall()
    assert [r[0] for r in rows] == ["bet", "win"]
    assert [a["httpStatus"] for a in rows[1][1]] == [503, 200]
    assert json.loads(rows[1][1][1]["body"])["balance"] == report["finalBalance"]
