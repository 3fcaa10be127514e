"""Settlement of a betWin (one POST /casino/debitCredit, docs/protocol.md §4b, §7a; the decision
in docs/protocol.md §10.7): an undecided debitCredit is never compensated - once applied its
round has a credit (a rescue rollback would be BET_ALREADY_SETTLED) and its win is owed money -
so it is retried durably with the same body until final, and the round's later actions follow it
in order. Real casino handlers and PostgreSQL behind a transport that injects faults."""

from __future__ import annotations

import json

import pytest
import urllib3
from seamless.contract import client as signed_client
from seamless.contract.models import ProviderSimulateRequest
from seamless.provider import rounds as provider
from seamless.provider import settlement

from tests.support import HandlerTransport, admin_conn, wallet

TIMEOUT = urllib3.exceptions.ReadTimeoutError(None, "/casino", "read timed out")  # type: ignore[arg-type]


# durable deliveries due at once, and `player`: the settlement tests' fixtures (conftest.py)
pytestmark = pytest.mark.usefixtures("settle_now")


def play(monkeypatch, transport, provider_session: str, **fields) -> dict:
    monkeypatch.setattr(signed_client, "default_transport", lambda: transport)
    return provider.simulate(ProviderSimulateRequest.model_validate({"providerSessionId": provider_session, **fields}))


def rows(url: str, round_id: str) -> list[tuple]:
    with admin_conn(url) as conn:
        return conn.execute(
            "SELECT b.action_type, b.state, b.final_code, b.rescue FROM provider_bets b "
            "JOIN provider_game_rounds r ON r.id = b.game_round_id WHERE r.round_id = %s ORDER BY b.id",
            (round_id,),
        ).fetchall()


@pytest.mark.parametrize("applied", [True, False], ids=["applied-answer-lost", "never-arrived"])
def test_an_undecided_debit_credit_is_retried_durably_never_rolled_back(database_url, player, monkeypatch, applied):
    user, ps = player
    down = {"on": True}

    def fault(path, body, n):
        if path == "/casino/debitCredit" and down["on"]:
            return (TIMEOUT,) if applied else TIMEOUT  # applied: the casino committed, the answer is lost
        return None

    transport = HandlerTransport(fault)
    report = play(
        monkeypatch,
        transport,
        ps,
        actions=[{"type": "betWin", "amount": 300, "winAmount": 1_000}, {"type": "betWin", "amount": 100, "winAmount": 0}],
    )
    assert [(a["type"], a["state"]) for a in report["actions"]] == [("betWin", "queued"), ("betWin", "queued")]
    assert not any(json.loads(body).get("betTransactionId") for path, body in transport.seen if path == "/casino/rollback")
    assert wallet(database_url, user)[0] == (10_000 - 300 + 1_000 if applied else 10_000)
    down["on"] = False
    settlement.drain()
    recorded = rows(database_url, report["roundId"])
    # the first betWin closes the round: the second is refused ROUND_CLOSED, a final answer that
    # owes nothing (its stake was never taken), so it is delivered, not parked
    assert recorded == [("betWin", "delivered", "OK", False), ("betWin", "delivered", "ROUND_CLOSED", False)]
    assert wallet(database_url, user)[0] == 10_000 - 300 + 1_000
    assert not [p for p, _ in transport.seen if p == "/casino/rollback"]


def test_a_refused_debit_credit_is_final_and_not_parked(database_url, player, monkeypatch):
    user, ps = player
    report = play(monkeypatch, HandlerTransport(), ps, actions=[{"type": "betWin", "amount": 10_001, "winAmount": 5}])
    [action] = report["actions"]
    assert (action["code"], action["state"]) == ("INSUFFICIENT_FUNDS", "delivered")
    assert report["status"] == "cancelled" and report["settlement"] == "complete"
    assert wallet(database_url, user)[0] == 10_000
