"""Free rounds under faults (docs/protocol.md §4b, §7a): a grant played to exhaustion through the
round player, one free round's credit answered 503 three times, ends with every round paid,
the grant used at both sides and reconcile clean; a free round counted before a cancel is
still delivered. The casino's real handlers and real PostgreSQL behind a fault transport."""

from __future__ import annotations

import uuid

import pytest
from seamless.contract import errors
from seamless.contract.models import ProviderSimulateRequest
from seamless.provider import rounds as provider
from seamless.provider import settlement

from devtools import admin
from tests.support import GAME, admin_conn, fetch_one, wallet

pytestmark = pytest.mark.usefixtures("settle_now")


def make_grant(url: str, user: str, provider_session: str, rounds: int, status: str = "active") -> str:
    """A grant both sides accepted, written as the grant endpoints write it."""
    grant_id = f"g-{uuid.uuid4()}"
    with admin_conn(url) as conn:
        conn.execute(
            "INSERT INTO casino_free_round_grants (grant_id, user_id, wallet_id, game_id, provider_id, currency, rounds, "
            "bet_amount, expires_at, status) SELECT %s, w.user_id, w.id, g.id, g.provider_id, 'USD', %s, 100, "
            "now() + interval '1 day', %s FROM casino_wallets w, casino_games g "
            "WHERE w.user_id = %s AND w.currency = 'USD' AND g.id = %s",
            (grant_id, rounds, status, user, GAME),
        )
        conn.execute(
            "INSERT INTO provider_free_round_grants (casino_id, grant_id, casino_user_id, game_id, currency, rounds, "
            "bet_amount, expires_at, request) SELECT cu.casino_id, %s, s.casino_user_id, s.game_id, 'USD', %s, 100, "
            "now() + interval '1 day', '{}' FROM provider_sessions s JOIN provider_casino_users cu ON cu.id = s.casino_user_id "
            "WHERE s.id = %s",
            (grant_id, rounds, provider_session),
        )
    return grant_id


def play(provider_session: str, grant_id: str, win: int) -> dict:
    return provider.simulate(
        ProviderSimulateRequest.model_validate(
            {"providerSessionId": provider_session, "actions": [{"type": "freeRound", "grantId": grant_id, "winAmount": win}]}
        )
    )


def grant_state(url: str, grant_id: str) -> tuple:
    """(casino rounds_played, casino won_amount, provider rounds_started)."""
    with admin_conn(url) as conn:
        return fetch_one(
            conn,
            "SELECT c.rounds_played, c.won_amount, p.rounds_started FROM casino_free_round_grants c "
            "JOIN provider_free_round_grants p ON p.grant_id = c.grant_id WHERE c.grant_id = %s",
            (grant_id,),
        )


def test_a_grant_played_to_exhaustion_with_a_credit_answered_503_three_times(database_url, player, casino):
    user, ps = player
    grant_id = make_grant(database_url, user, ps, 3)
    first = play(ps, grant_id, 100)
    assert first["settlement"] == "complete"
    casino.down["credit"] = 503
    second = play(ps, grant_id, 200)
    [action] = second["actions"]
    assert (action["type"], action["state"], action["attempts"], second["settlement"]) == ("freeRound", "queued", 3, "pending")
    del casino.down["credit"]
    settlement.drain()
    third = play(ps, grant_id, 300)
    assert third["settlement"] == "complete"
    with pytest.raises(errors.FreeRoundsExhausted):
        play(ps, grant_id, 400)
    assert wallet(database_url, user) == (10_600, 10_000)  # every round paid, as bonus money
    assert grant_state(database_url, grant_id) == (3, 600, 3)
    with admin_conn(database_url) as conn:
        assert conn.execute("SELECT status FROM provider_game_rounds WHERE round_id = %s", (second["roundId"],)).fetchone() == (
            "completed",
        )
    assert admin.reconcile(database_url).ok


def test_a_free_round_counted_before_the_cancel_is_delivered_after_it(database_url, player, casino):
    user, ps = player
    grant_id = make_grant(database_url, user, ps, 2)
    casino.down["credit"] = 503
    queued = play(ps, grant_id, 50)
    assert queued["settlement"] == "pending"
    with admin_conn(database_url) as conn:  # both sides cancel, as POST /casino/freeRounds/{id}/cancel does
        conn.execute("UPDATE provider_free_round_grants SET status = 'cancelled' WHERE grant_id = %s", (grant_id,))
        conn.execute("UPDATE casino_free_round_grants SET status = 'cancelled' WHERE grant_id = %s", (grant_id,))
    with pytest.raises(errors.GrantNotFound):
        play(ps, grant_id, 50)  # no new free round starts
    del casino.down["credit"]
    settlement.drain()
    assert wallet(database_url, user)[0] == 10_050
    assert grant_state(database_url, grant_id) == (1, 50, 1)
    assert admin.reconcile(database_url).ok


@pytest.mark.parametrize(("status", "paid"), [("pending", True), ("failed", False)])
def test_a_grant_the_casino_has_not_marked_yet_is_paid_and_a_failed_one_never(database_url, player, casino, status, paid):
    """The provider accepted the grant and the casino's mark is not written yet (pending): its
    free rounds are paid. A grant the casino calls failed is never usable."""
    user, ps = player
    grant_id = make_grant(database_url, user, ps, 1, status=status)
    report = play(ps, grant_id, 80)
    [action] = report["actions"]
    if paid:
        assert (action["code"], report["settlement"]) == ("OK", "complete")
        assert wallet(database_url, user)[0] == 10_080
    else:
        assert (action["code"], report["settlement"]) == ("GRANT_NOT_FOUND", "parked")
        assert wallet(database_url, user)[0] == 10_000
