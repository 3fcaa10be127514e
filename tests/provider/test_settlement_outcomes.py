"""Settlement outcomes (issue 26; docs/protocol.md §6, §7a): every round settles as played,
to its own player. One test per path the issue measured, each failing on the code before it
and passing after; the reference provider plays against the real casino handlers and the
real PostgreSQL through a fault-injecting transport (tests/provider/test_settlement.py's
helpers). No sleeping: backoff is zero and time passes only where a test moves it."""

from __future__ import annotations

import json
import re
import time

import pytest
from pydantic import ValidationError
from seamless.contract import errors
from seamless.contract.round_plan import id_base, rescue_rollback_id, sweep_close_id
from seamless.provider import outbox, settlement
from seamless.provider.settings import ProviderSettings

from devtools import admin, settlement_cli
from devtools.template import Template
from tests.provider.test_settlement import SEED_ROUND, Casino, ProviderDied, expire_lease, play, recorded, states
from tests.support import FakeHTTPResponse, admin_conn, call, fetch_one, make_player, new_session, provider_session_for, wallet

#: durable deliveries are due at once, no sleeping inline (tests/provider/conftest.py)
pytestmark = pytest.mark.usefixtures("settle_now")

ID_PATTERN = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def tokens(casino: Casino, endpoint: str, round_id: str) -> set[str]:
    return {b["sessionToken"] for b in casino.sent(endpoint, round_id)}


def session_token(url: str, provider_session: str) -> str:
    with admin_conn(url) as conn:
        return fetch_one(conn, "SELECT casino_session_token FROM provider_sessions WHERE id = %s", (provider_session,))[0]


def round_session(url: str, round_id: str) -> str:
    with admin_conn(url) as conn:
        return fetch_one(conn, "SELECT provider_session_id FROM provider_game_rounds WHERE round_id = %s", (round_id,))[0]


def second_session(url: str, user: str) -> str:
    return provider_session_for(url, user, new_session(url, user))


# ------------------------------------------------------------------ 1. a round belongs to its player


def test_another_players_resend_is_refused_and_changes_nothing(database_url, player, casino):
    alice, ps = player
    round_id = f"owned-{ps}"
    casino.down["credit"] = 503  # the win is owed: it waits in durable settlement
    play(ps, roundId=round_id, bets=[{"amount": 100}], wins=[{"amount": 500, "relatedBetIndex": 0}])
    bob = make_player(database_url, 1_000)
    bob_ps = second_session(database_url, bob)
    with pytest.raises(errors.RoundMismatch):
        play(bob_ps, roundId=round_id, bets=[{"amount": 100}], wins=[{"amount": 500, "relatedBetIndex": 0}])
    assert round_session(database_url, round_id) == ps  # not re-pointed
    del casino.down["credit"]
    settlement.drain()
    assert tokens(casino, "credit", round_id) == {session_token(database_url, ps)}  # alice's token, not bob's
    assert wallet(database_url, alice)[0] == 10_000 - 100 + 500 and wallet(database_url, bob)[0] == 1_000
    assert recorded(database_url, round_id)[0] == "completed"


def test_simulate_round_passes_the_providers_round_mismatch_through(database_url, casino):
    alice = make_player(database_url, 10_000)
    bob = make_player(database_url, 10_000)
    round_id = f"casino-owned-{alice}"
    body = {"gameId": admin.GAME, "roundId": round_id, "actions": [{"type": "bet", "amount": 100}]}
    first = call("/casino/simulateRound", {"userId": alice, **body}, sign_with=None)
    assert first.status == 200, first.raw
    other = call("/casino/simulateRound", {"userId": bob, **body}, sign_with=None)
    assert (other.status, other.code) == (409, "ROUND_MISMATCH"), other.raw
    assert wallet(database_url, bob)[0] == 10_000 and wallet(database_url, alice)[0] == 10_000 - 100


def test_a_resend_by_the_same_player_sends_nothing_again_and_later_callbacks_use_the_rounds_session(database_url, player, casino):
    alice, ps = player
    done, owed = f"same-player-done-{ps}", f"same-player-owed-{ps}"
    round_fields = {"bets": [{"amount": 100}], "wins": [{"amount": 500, "relatedBetIndex": 0}]}
    play(ps, roundId=done, **round_fields)  # completed
    casino.down["credit"] = 503
    play(ps, roundId=owed, **round_fields)  # its win waits in durable settlement
    sent = len(casino.transport.seen)
    later = second_session(database_url, alice)  # the casino launched a new session for the re-send
    again = play(later, roundId=done, **round_fields)
    assert again["status"] == "completed" and again["settlement"] == "complete"
    assert [a["code"] for a in again["actions"]] == ["OK", "OK"] and not any(a["replayed"] for a in again["actions"])
    pending = play(later, roundId=owed, **round_fields)
    assert pending["status"] == "pending_settlement" and pending["settlement"] == "pending"
    assert [p for p, _ in casino.transport.seen[sent:] if p != "/casino/getBalance"] == []  # nothing sent again
    assert round_session(database_url, done) == round_session(database_url, owed) == ps
    del casino.down["credit"]
    settlement.drain()
    assert tokens(casino, "credit", owed) == {session_token(database_url, ps)}
    assert wallet(database_url, alice)[0] == 10_000 + 2 * 400


def test_an_unclosed_round_sent_again_is_still_closed_by_the_sweeper(database_url, player, casino):
    alice, ps = player
    round_id = f"unclosed-{ps}"
    actions = [{"type": "bet", "amount": 100}, {"type": "win", "amount": 40, "betIndex": 0}]
    assert play(ps, roundId=round_id, actions=actions)["status"] == "open"
    again = play(second_session(database_url, alice), roundId=round_id, actions=actions)
    assert [a["replayed"] for a in again["actions"]] == [False, False] and again["status"] == "open"
    expire_lease(database_url, round_id)
    settlement.sweep(timeout_seconds=0)
    assert recorded(database_url, round_id)[0] == "completed"
    assert tokens(casino, "credit", round_id) == {session_token(database_url, ps)}
    assert wallet(database_url, alice)[0] == 10_000 - 100 + 40


def test_a_session_token_in_a_rows_payload_is_never_sent(database_url, player, casino):
    """Even a row whose payload names a token (and whose tag were valid) is sent with the
    token of the round's own session."""
    _, ps = player
    report = play(ps, bets=[{"amount": 10}])
    rnd = outbox.find(report["roundId"])
    assert rnd is not None
    courier = settlement.courier_for(rnd, settlement.get_settings())
    assert courier is not None
    action = rnd.actions[0]
    action.payload = {**action.payload, "sessionToken": "someone-elses-token"}
    courier.send(action, max_attempts=1, deadline=None)
    assert json.loads(casino.transport.seen[-1][1])["sessionToken"] == session_token(database_url, ps)


# ------------------------------------------------------------------ 2. operator retries keep the round's order


def park_at_horizon(url: str, round_id: str) -> None:
    with admin_conn(url) as conn:
        conn.execute("UPDATE provider_game_rounds SET settle_by = now() - interval '1 second' WHERE round_id = %s", (round_id,))
    settlement.drain()


def parked_of(round_id: str) -> list[dict]:
    return [p for p in outbox.parked() if p["round_id"] == round_id]


def test_retrying_a_parked_win_sends_the_parked_rollback_before_it(database_url, player, casino):
    alice, ps = player
    casino.down["rollback"] = 503
    report = play(ps, **SEED_ROUND)
    park_at_horizon(database_url, report["roundId"])
    parked = parked_of(report["roundId"])
    assert [p["action_type"] for p in parked] == ["rollback", "win"]
    win = next(p for p in parked if p["action_type"] == "win")
    listed = settlement_cli.describe(win)
    assert f"player {alice}" in listed and "amount 2500" in listed and "horizon" in listed
    assert f"waits for: #{parked[0]['id']} rollback parked" in listed
    del casino.down["rollback"]
    outcome = settlement.retry(win["id"])  # the operator picks the win: the rollback goes first
    assert (outcome.requeued, outcome.status) == (2, "completed")
    assert [b["endpoint"] for b in casino.sent(round_id=report["roundId"])[-2:]] == ["rollback", "credit"]
    assert wallet(database_url, alice)[0] == 10_000 + 1500
    assert not parked_of(report["roundId"])


def test_a_retry_of_an_item_with_a_stored_final_answer_is_refused(database_url, player, casino):
    _, ps = player
    report = play(ps, actions=[{"type": "bet", "amount": 100}, {"type": "close"}, {"type": "win", "amount": 300, "betIndex": 0}])
    (item,) = parked_of(report["roundId"])
    with pytest.raises(settlement.RetryRefused, match="final answer ROUND_CLOSED"):
        settlement.retry(item["id"])


# ------------------------------------------------------------------ 3. derived ids are hashed, never truncated


def test_derived_ids_of_long_round_ids_sharing_a_prefix_are_distinct():
    one, two = "r" * 100 + "-alpha-1", "r" * 100 + "-beta-22"  # 108 characters, 100 shared
    assert sweep_close_id(one) != sweep_close_id(two)
    assert rescue_rollback_id(f"{'b' * 121}1") != rescue_rollback_id(f"{'b' * 121}2")
    for value in (sweep_close_id("x" * 128), rescue_rollback_id("y" * 128), sweep_close_id("short"), id_base("z" * 128)):
        assert ID_PATTERN.match(value), value
    assert sweep_close_id("round-1") == "round-1:sweep-close"  # ids already stored stay as they were


def test_two_unclosed_rounds_whose_ids_share_100_characters_both_end(database_url, player, casino):
    alice, ps = player
    prefix = f"long-{ps}-".ljust(100, "p")
    ids = [prefix + "-first", prefix + "-other"]
    for round_id in ids:
        play(ps, roundId=round_id, actions=[{"type": "bet", "amount": 100}, {"type": "win", "amount": 30, "betIndex": 0}])
        expire_lease(database_url, round_id)
    settlement.sweep(timeout_seconds=0)
    assert [recorded(database_url, r)[0] for r in ids] == ["completed", "completed"]
    assert wallet(database_url, alice)[0] == 10_000 - 2 * 70


# ------------------------------------------------------------------ 4. only a stored refusal is final for owed money


def contract_answer(status: int, code: str) -> FakeHTTPResponse:
    return FakeHTTPResponse(status, json.dumps({"error": {"code": code, "message": "injected"}}).encode())


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (401, "INVALID_SIGNATURE"),
        (400, "VALIDATION_ERROR"),
        (404, "SESSION_NOT_FOUND"),
        (409, "TRANSACTION_ID_CONFLICT"),
        (413, "PAYLOAD_TOO_LARGE"),
    ],
)
def test_a_refund_refused_with_an_answer_the_casino_does_not_store_is_retried_not_dropped(
    database_url, player, casino, status, code
):
    alice, ps = player
    casino.down["rollback"] = contract_answer(status, code)  # e.g. a secret skew during a rotation
    report = play(ps, **SEED_ROUND)
    assert states(report)[2:] == [("rollback", "queued"), ("win", "queued")] and report["settlement"] == "pending"
    settlement.drain()  # still refused: retried, never marked delivered
    assert recorded(database_url, report["roundId"])[1][2] == ("rollback", "queued", None, False)
    del casino.down["rollback"]
    settlement.drain()
    assert recorded(database_url, report["roundId"])[0] == "completed"
    assert wallet(database_url, alice)[0] == 10_000 + 1500


def test_a_refund_refused_with_a_stored_answer_is_parked_never_delivered(database_url, player, casino):
    _, ps = player
    report = play(
        ps,
        actions=[
            {"type": "bet", "amount": 100},
            {"type": "win", "amount": 50, "betIndex": 0},
            {"type": "rollback", "betIndex": 0},
            {"type": "close"},
        ],
    )
    _, rows = recorded(database_url, report["roundId"])
    assert rows[2] == ("rollback", "parked", "BET_ALREADY_SETTLED", False)
    assert rows[3] == ("close", "delivered", "OK", False)  # a refusal that is final lets the round go on
    assert report["settlement"] == "parked" and report["status"] == "completed"


def test_a_zero_close_refused_round_closed_is_simply_final(database_url, player, casino):
    _, ps = player
    report = play(ps, actions=[{"type": "bet", "amount": 100}, {"type": "close"}, {"type": "close"}])
    _, rows = recorded(database_url, report["roundId"])
    assert rows[2] == ("close", "delivered", "ROUND_CLOSED", False) and report["settlement"] == "complete"


# ------------------------------------------------------------------ 5. unsent actions are sent in their turn


def test_a_transient_fault_on_a_rollback_delays_the_later_bet_and_win_never_voids_them(database_url, player, casino):
    alice, ps = player
    casino.down["rollback"] = 503  # answered 503 three times
    report = play(
        ps,
        actions=[
            {"type": "bet", "amount": 300},
            {"type": "rollback", "betIndex": 0},
            {"type": "bet", "amount": 200},
            {"type": "win", "amount": 900, "betIndex": 1, "close": True},
        ],
    )
    assert report["settlement"] == "pending" and report["status"] == "pending_settlement"
    unsent = report["actions"][2]
    assert (unsent["code"], unsent["httpStatus"], unsent["attempts"], unsent["state"]) == (None, None, 0, "queued")
    del casino.down["rollback"]
    settlement.drain()
    status, rows = recorded(database_url, report["roundId"])
    assert status == "completed" and not any(rescue for *_, rescue in rows), rows
    assert wallet(database_url, alice)[0] == 10_000 + 700  # as played


def test_the_seed_round_with_its_rollback_answered_503_three_times_ends_as_played(database_url, player, casino):
    alice, ps = player
    casino.down["rollback"] = 503
    report = play(ps, **SEED_ROUND)
    assert report["settlement"] == "pending"
    del casino.down["rollback"]
    settlement.drain()
    again = play(ps, roundId=report["roundId"], **SEED_ROUND)
    assert again["status"] == "completed" and again["settlement"] == "complete"
    assert wallet(database_url, alice)[0] == 10_000 + 1500


# ------------------------------------------------------------------ 6. settings that cannot work


@pytest.mark.parametrize(
    "values",
    [
        {"settlement_horizon_seconds": 0},
        {"round_timeout_seconds": 0},
        {"settlement_horizon_seconds": 900, "round_timeout_seconds": 900},
    ],
    ids=["zero-horizon", "zero-timeout", "horizon-shorter-than-timeout-plus-schedule"],
)
def test_settings_that_cannot_work_are_refused_at_start_up(values):
    with pytest.raises(ValidationError):
        ProviderSettings(**values)
    ProviderSettings(settlement_horizon_seconds=960, round_timeout_seconds=900)  # the least that works


def test_the_template_refuses_what_the_settings_refuse():
    params = Template().doc["Parameters"]
    horizon, timeout = params["SettlementHorizonSeconds"], params["RoundTimeoutSeconds"]
    assert timeout["MinValue"] > 0 and horizon["MinValue"] >= timeout["MaxValue"] + 60
    assert timeout["MinValue"] <= timeout["Default"] <= timeout["MaxValue"] and horizon["Default"] >= horizon["MinValue"]


def test_the_sweeper_compensates_an_undecided_bet_past_the_horizon(database_url, player, casino):
    alice, ps = player
    round_id = f"past-horizon-{ps}"
    casino.down["debit"] = (ProviderDied(),)  # the casino commits the debit; the provider dies
    with pytest.raises(ProviderDied):
        play(ps, roundId=round_id, bets=[{"amount": 600}], wins=[{"amount": 100, "relatedBetIndex": 0}])
    casino.down.clear()
    with admin_conn(database_url) as conn:
        conn.execute("UPDATE provider_game_rounds SET settle_by = now() - interval '1 second' WHERE round_id = %s", (round_id,))
    expire_lease(database_url, round_id)
    settlement.sweep(timeout_seconds=0)
    assert recorded(database_url, round_id)[0] == "cancelled" and not parked_of(round_id)
    assert wallet(database_url, alice)[0] == 10_000


def test_a_bet_never_sent_is_sent_past_the_horizon_and_its_round_ends_as_played(database_url, player, casino, monkeypatch):
    """The player died after recording its round, before the bet's first attempt; the sweeper
    finds the round only past the horizon. The bet never reached the casino, so it is not
    undecided: it is sent in its turn and the round ends as played, never cancelled (§7a)."""
    alice, ps = player
    round_id = f"never-sent-{ps}"
    real_begin = outbox.begin_send

    def begin_send(rnd, action, *args, **kwargs):
        if action.type == "bet":
            raise ProviderDied()  # before the attempt is marked: nothing reached the casino
        return real_begin(rnd, action, *args, **kwargs)

    monkeypatch.setattr(outbox, "begin_send", begin_send)
    with pytest.raises(ProviderDied):
        play(ps, roundId=round_id, bets=[{"amount": 600}], wins=[{"amount": 100, "relatedBetIndex": 0}])
    monkeypatch.setattr(outbox, "begin_send", real_begin)
    with admin_conn(database_url) as conn:
        conn.execute("UPDATE provider_game_rounds SET settle_by = now() - interval '1 second' WHERE round_id = %s", (round_id,))
    expire_lease(database_url, round_id)
    settlement.sweep(timeout_seconds=0)
    assert recorded(database_url, round_id)[0] == "completed" and not parked_of(round_id)
    assert wallet(database_url, alice)[0] == 10_000 - 600 + 100


# ------------------------------------------------------------------ 7. the round report


def test_a_refused_win_makes_the_report_parked_never_complete(database_url, player, casino):
    _, ps = player
    report = play(ps, actions=[{"type": "bet", "amount": 100}, {"type": "close"}, {"type": "win", "amount": 300, "betIndex": 0}])
    assert report["settlement"] == "parked"
    assert report["consistent"] is True and report["expectedFinalBalance"] == report["startingBalance"] - 100


# ------------------------------------------------------------------ 8. the soak's seed 4244165557


def test_a_round_ended_empty_and_sent_again_is_finished_when_its_player_dies_again(database_url, player, casino):
    """Seed 4244165557, round ...-162: a player died right after claiming; the sweeper ended
    the empty round `cancelled`; the same roundId sent again played the bet and died after
    the casino committed it. The re-opened round kept its `cancelled` status, which neither
    the sweeper nor settlement ever looks at: the stake stayed taken."""
    alice, ps = player
    round_id = f"empty-again-{ps}"
    with admin_conn(database_url) as conn:
        conn.execute(
            "INSERT INTO provider_game_rounds (round_id, provider_session_id, status) VALUES (%s, %s, 'open')", (round_id, ps)
        )
    expire_lease(database_url, round_id)
    settlement.sweep(timeout_seconds=0)
    assert recorded(database_url, round_id) == ("cancelled", [])
    casino.down["debit"] = (ProviderDied(),)
    with pytest.raises(ProviderDied):
        play(ps, roundId=round_id, actions=[{"type": "bet", "amount": 810}, {"type": "close"}])
    assert recorded(database_url, round_id)[0] == "open"
    casino.down.clear()
    expire_lease(database_url, round_id)
    settlement.sweep(timeout_seconds=0)
    assert recorded(database_url, round_id)[0] == "cancelled"
    assert wallet(database_url, alice)[0] == 10_000


# ------------------------------------------------------------------ leases and workers


def test_a_worker_that_outlived_its_lease_stops_and_every_attempt_is_recorded(database_url, player, casino):
    """A drainer whose lease ran out while its attempt was under way: another worker took the
    round and delivered the win; the first one's attempt is recorded beside it, the row stays
    delivered and the round completed (nothing queued for ever), and it sends nothing more."""
    alice, ps = player
    casino.down["credit"] = 503
    report = play(ps, bets=[{"amount": 100}], wins=[{"amount": 400, "relatedBetIndex": 0}, {"amount": 50, "relatedBetIndex": 0}])
    round_id = report["roundId"]
    del casino.down["credit"]
    nested = {"done": False}

    def slow_first_worker(path, body, n):
        if path == "/casino/credit" and not nested["done"]:
            nested["done"] = True
            expire_lease(database_url, round_id)  # the first worker's lease runs out mid-attempt
            settlement.drain()  # a second worker takes the round and delivers everything
        return None

    casino.transport.fault = slow_first_worker
    settlement.drain()
    status, rows = recorded(database_url, round_id)
    assert status == "completed" and [state for _, state, _, _ in rows] == ["delivered"] * 3
    with admin_conn(database_url) as conn:
        attempts = [
            len(a)
            for (a,) in conn.execute(
                "SELECT b.attempts FROM provider_bets b JOIN provider_game_rounds r ON r.id = b.game_round_id "
                "WHERE r.round_id = %s ORDER BY b.id",
                (round_id,),
            ).fetchall()
        ]
    assert attempts[1] == 3 + 2  # the player's three, then both workers' attempt
    wins = [b for b in casino.sent("credit", round_id) if b["amount"] == 50]
    assert len(wins) == 1  # the first worker stopped: the last win was sent once
    assert wallet(database_url, alice)[0] == 10_000 - 100 + 450


# ------------------------------------------------------------------ outbox integrity (issue 20 item 2)


def test_a_row_the_round_player_did_not_record_is_never_sent(database_url, player, casino):
    """As provider_app (its password is all an attacker has): a round and a queued win."""
    import psycopg
    from seamless.runtime.settings import common

    bob = make_player(database_url, 1_000)
    bob_ps = second_session(database_url, bob)
    round_id = f"forged-{bob_ps}"
    with psycopg.connect(common().dsn_for("provider_app"), autocommit=True) as conn:
        pk = fetch_one(
            conn,
            "INSERT INTO provider_game_rounds (round_id, provider_session_id, status) VALUES (%s, %s, 'pending_settlement') "
            "RETURNING id",
            (round_id, bob_ps),
        )[0]
        payload = {"transactionId": f"{round_id}:win:0", "roundId": round_id, "amount": 250_000, "currency": "USD"}
        conn.execute(
            "INSERT INTO provider_bets (game_round_id, action_index, action_type, endpoint, transaction_id, amount, payload, "
            "state, next_attempt_at, integrity_tag) VALUES (%s, 0, 'win', 'credit', %s, 250000, %s, 'queued', now(), %s)",
            (pk, payload["transactionId"], json.dumps(payload), "0" * 64),
        )
    settlement.drain()
    assert casino.sent(round_id=round_id) == []
    (item,) = parked_of(round_id)
    assert item["note"].startswith("integrity tag does not verify")
    assert wallet(database_url, bob)[0] == 1_000
    with pytest.raises(settlement.RetryRefused, match="integrity"):
        settlement.retry(item["id"])


def test_a_recorded_row_whose_amount_was_changed_is_parked_not_sent(database_url, player, casino):
    alice, ps = player
    casino.down["credit"] = 503
    report = play(ps, bets=[{"amount": 100}], wins=[{"amount": 400, "relatedBetIndex": 0}])
    with admin_conn(database_url) as conn:
        conn.execute(
            "UPDATE provider_bets SET amount = 400000, payload = jsonb_set(payload, '{amount}', '400000') "
            "WHERE transaction_id = %s",
            (report["actions"][1]["transactionId"],),
        )
    del casino.down["credit"]
    settlement.drain()
    assert [b for b in casino.sent("credit", report["roundId"]) if b["amount"] == 400_000] == []
    assert [p["action_type"] for p in parked_of(report["roundId"])] == ["win"]
    assert wallet(database_url, alice)[0] == 10_000 - 100


def test_rows_tagged_before_a_rotation_verify_and_are_tagged_again(database_url, player, casino, monkeypatch):
    from seamless.runtime.settings import reload_settings

    alice, ps = player
    casino.down["credit"] = 503
    report = play(ps, bets=[{"amount": 100}], wins=[{"amount": 400, "relatedBetIndex": 0}])
    old = "dev-casino-secret"
    monkeypatch.setenv("CASINO_SECRET", "rotated-casino-secret")
    monkeypatch.setenv("CASINO_SECRET_PREVIOUS", old)
    monkeypatch.setenv("CASINO_SECRET_ROTATED_AT", str(int(time.time())))  # §2: no grace without a rotation time
    reload_settings()
    try:
        del casino.down["credit"]
        settlement.drain()  # the casino accepts both secrets during the rotation; the row verifies under the old key
        assert recorded(database_url, report["roundId"])[0] == "completed"
        assert wallet(database_url, alice)[0] == 10_000 - 100 + 400
    finally:
        monkeypatch.setenv("CASINO_SECRET", old)
        monkeypatch.delenv("CASINO_SECRET_PREVIOUS")
        monkeypatch.delenv("CASINO_SECRET_ROTATED_AT")
        reload_settings()


def test_the_retry_command_says_why_it_refuses(database_url, player, casino, capsys):
    import argparse

    _, ps = player
    report = play(ps, actions=[{"type": "bet", "amount": 100}, {"type": "close"}, {"type": "win", "amount": 300, "betIndex": 0}])
    (item,) = parked_of(report["roundId"])
    args = argparse.Namespace(command="settlement", action="retry", id=item["id"], note=None)
    assert settlement_cli.run(args) == 1
    assert "retry refused" in capsys.readouterr().err and parked_of(report["roundId"])  # still parked
