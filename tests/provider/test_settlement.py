"""Settlement across the wire (docs/protocol.md §7, §7a): owed money is always delivered, in
order, and every round ends. The reference provider plays rounds against the real casino
handlers and real PostgreSQL through a transport that injects faults; then the settlement
drainer and the sweeper run as the scheduled functions would. No sleeping: backoff is zero
and a worker's lease is expired by hand where a test needs time to have passed."""

from __future__ import annotations

import json
import time

import pytest
import urllib3
from seamless.contract import errors, signing
from seamless.contract.models import ProviderSimulateRequest
from seamless.provider import outbox, settlement
from seamless.provider import rounds as provider
from seamless.runtime.settings import reload_settings

from devtools import admin
from tests.support import (
    FakeHTTPResponse,
    HandlerTransport,
    admin_conn,
    call,
    fetch_one,
    make_player,
    new_session,
    provider_session_for,
    wallet,
)

SEED_ROUND = {
    "bets": [{"amount": 1000}, {"amount": 500}],
    "wins": [{"amount": 2500, "relatedBetIndex": 0}],
    "rollbacks": [{"betIndex": 1}],
}
TIMEOUT = urllib3.exceptions.ReadTimeoutError(None, "/casino", "read timed out")  # type: ignore[arg-type]


#: durable deliveries are due at once, no sleeping inline (tests/provider/conftest.py)
pytestmark = pytest.mark.usefixtures("settle_now")


class ProviderDied(BaseException):
    """The provider's process ends between two steps (nothing in it catches this)."""


class Casino:
    """The casino behind a switchable fault: `down` maps an endpoint to what it answers."""

    def __init__(self) -> None:
        self.down: dict[str, object] = {}
        self.transport = HandlerTransport(self.fault)

    def fault(self, path, body, n):
        return self.down.get(path.rsplit("/", 1)[-1])

    def sent(self, endpoint: str | None = None, round_id: str | None = None) -> list[dict]:
        """What the provider sent (to one endpoint, for one round): other tests' leftover
        rounds may be settled by the same drain."""
        bodies = [(path, json.loads(body)) for path, body in self.transport.seen]
        return [
            dict(b, endpoint=path.rsplit("/", 1)[-1])
            for path, b in bodies
            if (endpoint is None or path == f"/casino/{endpoint}") and (round_id is None or b.get("roundId") == round_id)
        ]


def play(provider_session: str, **round_fields) -> dict:
    return provider.simulate(ProviderSimulateRequest.model_validate({"providerSessionId": provider_session, **round_fields}))


def recorded(url: str, round_id: str) -> tuple[str, list[tuple[str, str, str | None, bool]]]:
    with admin_conn(url) as conn:
        status = fetch_one(conn, "SELECT status FROM provider_game_rounds WHERE round_id = %s", (round_id,))[0]
        rows = conn.execute(
            "SELECT b.action_type, b.state, b.final_code, b.rescue FROM provider_bets b "
            "JOIN provider_game_rounds r ON r.id = b.game_round_id WHERE r.round_id = %s "
            "ORDER BY b.id",
            (round_id,),
        ).fetchall()
    return status, rows


def expire_lease(url: str, round_id: str) -> None:
    """Time passes: the dead player's lease and the round's timeout run out."""
    with admin_conn(url) as conn:
        conn.execute(
            "UPDATE provider_game_rounds SET lease_until = now() - interval '1 second', "
            "updated_at = now() - interval '1 hour' WHERE round_id = %s",
            (round_id,),
        )


def states(report: dict) -> list[tuple[str, str]]:
    return [(a["type"], a["state"]) for a in report["actions"]]


# ------------------------------------------------------------------ the paths


def test_seed_round_with_an_undecided_rollback_refunds_the_stake_once_delivered(database_url, player, casino):
    user, ps = player
    casino.down["rollback"] = 503
    report = play(ps, roundId=f"seed-undecided-{ps}", **SEED_ROUND)
    assert states(report) == [("bet", "delivered"), ("bet", "delivered"), ("rollback", "queued"), ("win", "queued")]
    assert report["settlement"] == "pending" and report["status"] == "pending_settlement"
    assert casino.sent("credit", report["roundId"]) == []  # the closing win waits behind the undecided rollback
    assert wallet(database_url, user)[0] == 10_000 - 1500

    settlement.drain()  # the casino still fails: nothing overtakes the rollback
    assert casino.sent("credit", report["roundId"]) == []
    assert recorded(database_url, report["roundId"])[0] == "pending_settlement"

    del casino.down["rollback"]
    settlement.drain()
    order = [b["endpoint"] for b in casino.sent(round_id=report["roundId"])[-2:]]
    assert order == ["rollback", "credit"]  # in the round's order
    status, rows = recorded(database_url, report["roundId"])
    assert status == "completed" and all(state == "delivered" and code == "OK" for _, state, code, _ in rows)
    assert wallet(database_url, user)[0] == 10_000 - 1000 - 500 + 500 + 2500  # the 500 stake refunded
    assert admin.reconcile(database_url).ok
    sent_before = len(casino.sent(round_id=report["roundId"]))
    again = play(ps, roundId=report["roundId"], **SEED_ROUND)  # the same round, asked again: now settled
    assert again["settlement"] == "complete" and again["status"] == "completed" and again["consistent"] is True
    assert all(a["state"] == "delivered" and a["code"] == "OK" for a in again["actions"])
    assert len(casino.sent(round_id=report["roundId"])) == sent_before  # §6: nothing already sent is sent again


@pytest.mark.parametrize(
    "answer",
    [
        FakeHTTPResponse(429, b'{"message":"Too Many Requests"}'),
        FakeHTTPResponse(403, b'{"message":"Forbidden"}'),
        FakeHTTPResponse(401, b'{"message":"Unauthorized"}'),
        FakeHTTPResponse(502, b"<html>Bad Gateway</html>"),
    ],
    ids=["throttled-429", "gateway-403", "gateway-401", "html-502"],
)
def test_a_win_answered_by_a_gateway_is_queued_not_dropped(database_url, player, casino, answer):
    user, ps = player
    casino.down["credit"] = answer
    report = play(ps, bets=[{"amount": 100}], wins=[{"amount": 700, "relatedBetIndex": 0}])
    win = report["actions"][1]
    assert (win["state"], win["attempts"]) == ("queued", 3) and report["settlement"] == "pending"
    del casino.down["credit"]
    settlement.drain()
    assert recorded(database_url, report["roundId"])[0] == "completed"
    assert wallet(database_url, user)[0] == 10_000 - 100 + 700


def test_an_undecided_debit_whose_rescue_is_undecided_too_is_compensated_durably(database_url, player, casino):
    user, ps = player
    casino.down["debit"] = (TIMEOUT,)  # the casino applies the debit, the answer is lost
    casino.down["rollback"] = 503  # and the rescue rollback gets no answer either
    report = play(ps, bets=[{"amount": 400}], wins=[{"amount": 900, "relatedBetIndex": 0}])
    assert states(report) == [("bet", "cancelled"), ("win", "cancelled"), ("rollback", "queued")]
    assert report["actions"][2]["rescue"] is True and report["settlement"] == "pending"
    assert wallet(database_url, user)[0] == 10_000 - 400  # applied, not yet compensated
    del casino.down["rollback"]
    settlement.drain()
    assert recorded(database_url, report["roundId"])[0] == "cancelled"
    assert wallet(database_url, user)[0] == 10_000  # where the round started
    assert casino.sent("credit", report["roundId"]) == []  # the cancelled win was never sent
    assert admin.reconcile(database_url).ok


def test_a_definitive_duplicate_answer_decides_the_bet(database_url, player, casino):
    user, ps = player
    seen = {"debits": 0}

    def fault(path, body, n):
        if path == "/casino/debit":
            seen["debits"] += 1
            return TIMEOUT if seen["debits"] <= 3 else None  # the first send's three attempts time out
        return None

    casino.transport.fault = fault
    report = play(ps, actions=[{"type": "bet", "amount": 250}, {"type": "close"}], duplicateCallbacks=True)
    bet = report["actions"][0]
    assert bet["state"] == "delivered" and bet["code"] == "OK" and not any(a.get("rescue") for a in report["actions"])
    assert wallet(database_url, user)[0] == 10_000 - 250 and report["consistent"] is True


def test_in_a_credited_round_an_undecided_debit_is_retried_not_rolled_back(database_url, player, casino):
    user, ps = player
    seen = {"debits": 0}

    def fault(path, body, n):
        if path == "/casino/debit":
            seen["debits"] += 1
            return TIMEOUT if seen["debits"] >= 2 and casino.down.get("second-bet") else None
        return None

    casino.transport.fault = fault
    casino.down["second-bet"] = True
    report = play(
        ps,
        actions=[
            {"type": "bet", "amount": 100},
            {"type": "win", "amount": 50, "betIndex": 0},
            {"type": "bet", "amount": 200},
            {"type": "close"},
        ],
    )
    assert states(report) == [("bet", "delivered"), ("win", "delivered"), ("bet", "queued"), ("close", "queued")]
    casino.down.clear()
    settlement.drain()
    status, rows = recorded(database_url, report["roundId"])
    assert not any(rescue for *_, rescue in rows) and all(state == "delivered" for _, state, _, _ in rows)
    assert wallet(database_url, user)[0] == 10_000 - 100 + 50 - 200


def test_out_of_time_the_round_goes_on_from_the_outbox(database_url, player, casino, monkeypatch):
    user, ps = player
    real_left = settlement.deadlines.left

    def left(deadline):
        return 0.0 if casino.sent("debit") else real_left(deadline)  # time runs out after the first action

    monkeypatch.setattr(settlement.deadlines, "left", left)
    report = play(ps, bets=[{"amount": 100}], wins=[{"amount": 300, "relatedBetIndex": 0}])
    assert states(report) == [("bet", "delivered"), ("win", "queued")] and report["settlement"] == "pending"
    monkeypatch.setattr(settlement.deadlines, "left", real_left)
    settlement.drain()
    assert recorded(database_url, report["roundId"])[0] == "completed"
    assert wallet(database_url, user)[0] == 10_000 - 100 + 300


@pytest.mark.parametrize(
    ("round_fields", "dies_at", "ends", "balance"),
    [
        ({"bets": [{"amount": 600}], "wins": [{"amount": 100, "relatedBetIndex": 0}]}, "debit", "cancelled", 10_000),
        ({"bets": [{"amount": 600}], "wins": [{"amount": 100, "relatedBetIndex": 0}]}, "credit", "completed", 9_500),
    ],
    ids=["after-the-debit-reached-the-casino", "after-the-win-reached-the-casino"],
)
def test_a_provider_killed_mid_round_is_finished_by_the_sweeper(
    database_url, player, casino, round_fields, dies_at, ends, balance
):
    user, ps = player
    casino.down[dies_at] = (ProviderDied(),)  # the casino commits; the provider dies before recording it
    with pytest.raises(ProviderDied):
        play(ps, roundId=f"killed-{dies_at}-{ps}", **round_fields)
    round_id = f"killed-{dies_at}-{ps}"
    assert recorded(database_url, round_id)[0] == "open"
    casino.down.clear()
    settlement.sweep(timeout_seconds=0)
    assert recorded(database_url, round_id)[0] == "open"  # the dead player's lease still holds
    expire_lease(database_url, round_id)
    settlement.sweep(timeout_seconds=0)
    assert recorded(database_url, round_id)[0] == ends
    assert wallet(database_url, user)[0] == balance
    assert admin.reconcile(database_url).ok


def test_a_provider_database_failure_while_recording_leaves_a_round_the_sweeper_finishes(
    database_url, player, casino, monkeypatch
):
    user, ps = player
    real = outbox.record_attempts

    def fails_once(*args, **kwargs):
        monkeypatch.setattr(outbox, "record_attempts", real)
        raise errors.ServiceUnavailable()

    monkeypatch.setattr(outbox, "record_attempts", fails_once)
    round_id = f"db-down-{ps}"
    with pytest.raises(errors.ServiceUnavailable):
        play(ps, roundId=round_id, bets=[{"amount": 300}])
    assert wallet(database_url, user)[0] == 10_000 - 300  # the debit went through before the failure
    expire_lease(database_url, round_id)
    settlement.sweep(timeout_seconds=0)
    assert recorded(database_url, round_id)[0] == "cancelled"
    assert wallet(database_url, user)[0] == 10_000
    assert admin.reconcile(database_url).ok


@pytest.mark.parametrize("stop", [errors.ServiceUnavailable, ProviderDied], ids=["database-down", "provider-killed"])
def test_a_provider_stopping_before_the_rescue_is_recorded_still_refunds_the_undecided_debit(
    database_url, player, casino, monkeypatch, stop
):
    """Found by the fault simulation (seed 7): the undecided debit was marked cancelled (and
    the round's later actions with it) before its rescue rollback was recorded; a provider
    stopping in between left a round that the sweeper ended `cancelled` with the debit applied
    and never refunded."""
    user, ps = player
    casino.down["debit"] = (TIMEOUT,)  # the casino applies the debit, the answer is lost
    real = outbox.record

    def stops_before_the_rescue(rnd, planned, **kwargs):
        if any(p.rescue for p in planned):
            monkeypatch.setattr(outbox, "record", real)
            raise stop()
        return real(rnd, planned, **kwargs)

    monkeypatch.setattr(outbox, "record", stops_before_the_rescue)
    round_id = f"rescue-unrecorded-{ps}"
    with pytest.raises(stop):
        play(ps, roundId=round_id, bets=[{"amount": 300}], wins=[{"amount": 500, "relatedBetIndex": 0}])
    assert wallet(database_url, user)[0] == 10_000 - 300
    casino.down.clear()
    expire_lease(database_url, round_id)
    settlement.sweep(timeout_seconds=0)
    status, rows = recorded(database_url, round_id)
    assert status == "cancelled" and ("rollback", "delivered", "OK", True) in rows, rows
    assert wallet(database_url, user)[0] == 10_000  # refunded: where the round started
    assert casino.sent("credit", round_id) == []
    assert admin.reconcile(database_url).ok


def test_a_settlement_worker_killed_after_its_last_delivery_leaves_a_round_that_still_ends(
    database_url, player, casino, monkeypatch
):
    """Found by the fault simulation (seed 314159): a settlement run delivered a round's last
    queued action and stopped before it released the round; the round stayed
    `pending_settlement` with nothing left to deliver, which no settlement run (it took only
    rounds with a due action) and no sweep (it takes only open rounds) ever picked again."""
    user, ps = player
    casino.down["credit"] = 503
    report = play(ps, bets=[{"amount": 100}], wins=[{"amount": 400, "relatedBetIndex": 0}])
    assert report["status"] == "pending_settlement"
    del casino.down["credit"]
    real = outbox.release

    def dies(rnd, owner, status):
        if rnd.round_id != report["roundId"]:
            return real(rnd, owner, status)
        monkeypatch.setattr(outbox, "release", real)
        raise ProviderDied()  # the win is delivered and recorded; the worker dies before releasing

    monkeypatch.setattr(outbox, "release", dies)
    with pytest.raises(ProviderDied):
        settlement.drain()
    status, rows = recorded(database_url, report["roundId"])
    assert status == "pending_settlement" and [state for _, state, _, _ in rows] == ["delivered", "delivered"]
    expire_lease(database_url, report["roundId"])
    settlement.drain()
    settlement.sweep(timeout_seconds=0)
    assert recorded(database_url, report["roundId"])[0] == "completed"
    assert wallet(database_url, user)[0] == 10_000 - 100 + 400


def test_undelivered_at_the_horizon_is_parked_then_retried_by_an_operator(database_url, player, casino):
    user, ps = player
    casino.down["credit"] = 503
    report = play(ps, bets=[{"amount": 100}], wins=[{"amount": 400, "relatedBetIndex": 0}])
    with admin_conn(database_url) as conn:
        conn.execute(
            "UPDATE provider_game_rounds SET settle_by = now() - interval '1 second' WHERE round_id = %s", (report["roundId"],)
        )
    settlement.drain()
    parked = [p for p in outbox.parked() if p["round_id"] == report["roundId"]]
    assert [(p["action_type"], p["note"]) for p in parked] == [("win", "undelivered at the settlement horizon")]
    assert outbox.gauges()["ParkedSettlements"] >= 1
    settlement.drain()  # parked is out of the drain until an operator acts
    assert [p["id"] for p in outbox.parked() if p["round_id"] == report["roundId"]] == [parked[0]["id"]]
    del casino.down["credit"]
    outcome = settlement.retry(parked[0]["id"])  # re-queued with a fresh horizon and an attempt at once
    assert (outcome.requeued, outcome.status) == (1, "completed")
    with pytest.raises(settlement.RetryRefused, match="not a parked settlement"):
        settlement.retry(parked[0]["id"])
    assert recorded(database_url, report["roundId"])[0] == "completed"
    assert wallet(database_url, user)[0] == 10_000 - 100 + 400


def test_a_refused_win_is_parked_and_an_operator_resolves_it(database_url, player, casino):
    user, ps = player
    report = play(ps, actions=[{"type": "bet", "amount": 100}, {"type": "close"}, {"type": "win", "amount": 300, "betIndex": 0}])
    win = report["actions"][2]
    assert (win["code"], win["state"]) == ("ROUND_CLOSED", "delivered")  # reported as the casino's answer
    parked = [p for p in outbox.parked() if p["round_id"] == report["roundId"]]
    assert [(p["action_type"], p["final_code"]) for p in parked] == [("win", "ROUND_CLOSED")]
    assert settlement.resolve(parked[0]["id"], "paid as a manual adjustment, ticket 42")
    assert not [p for p in outbox.parked() if p["round_id"] == report["roundId"]]
    assert wallet(database_url, user)[0] == 10_000 - 100


def test_no_closing_credit_when_every_bet_was_refused(database_url, casino):
    user = make_player(database_url, 1_000)
    ps = provider_session_for(database_url, user, new_session(database_url, user))
    report = play(ps, bets=[{"amount": 5_000}])
    assert [(a["type"], a["code"], a["state"]) for a in report["actions"]] == [
        ("bet", "INSUFFICIENT_FUNDS", "delivered"),
        ("close", None, "cancelled"),  # never sent: no code (§6)
    ]
    assert casino.sent("credit", report["roundId"]) == []
    assert report["status"] == "cancelled" and report["settlement"] == "complete"


def test_a_round_played_but_never_closed_is_closed_by_the_sweeper(database_url, player, casino):
    user, ps = player
    report = play(ps, actions=[{"type": "bet", "amount": 100}, {"type": "win", "amount": 40, "betIndex": 0}])
    assert report["status"] == "open" and report["settlement"] == "complete"
    expire_lease(database_url, report["roundId"])
    settlement.sweep(timeout_seconds=0)
    assert recorded(database_url, report["roundId"])[0] == "completed"
    closing = casino.sent("credit", report["roundId"])[-1]
    assert closing["roundClosed"] is True and closing["amount"] == 0
    assert wallet(database_url, user)[0] == 10_000 - 100 + 40


# ------------------------------------------------------------------ the casino's side of it


def test_session_expiry_during_the_round_still_reports_the_round(database_url, casino):
    user = make_player(database_url, 10_000)

    def fault(path, body, n):
        if path == "/casino/credit":  # the session expires while the round is played
            with admin_conn(database_url) as conn:
                conn.execute(
                    "UPDATE casino_game_sessions SET expires_at = now() - interval '1 second' WHERE user_id = %s", (user,)
                )
        return None

    casino.transport.fault = fault
    r = call(
        "/casino/simulateRound",
        {"userId": user, "gameId": admin.GAME, "bets": [{"amount": 100}], "wins": [{"amount": 250, "relatedBetIndex": 0}]},
        sign_with=None,
    )
    assert r.status == 200, r.raw
    assert r.json["finalBalance"] == wallet(database_url, user)[0] == 10_000 - 100 + 250
    assert r.json["consistent"] is True and r.json["settlement"] == "complete"


def test_the_casino_never_retries_a_provider_launch(database_url, casino):
    user = make_player(database_url, 1_000)
    casino.transport.fault = lambda path, body, n: 503 if path == "/provider/launch" else None
    r = call("/casino/launchGame", {"userId": user, "gameId": admin.GAME, "currency": "USD"}, sign_with=None)
    assert (r.status, r.code) == (502, "PROVIDER_ERROR")
    assert [p for p, _ in casino.transport.seen].count("/provider/launch") == 1


def test_a_secret_rotated_mid_round_refuses_no_callback(database_url, player, casino, monkeypatch):
    """docs/protocol.md §2: a rotation mid-round refuses no callback (the previous secret is
    accepted during the grace), and once the grace is over the previous secret is refused
    although it is still configured: one rotation revokes it."""
    from seamless.runtime import settings as runtime_settings

    user, ps = player
    old = "dev-casino-secret"

    def fault(path, body, n):
        if n == 3:  # the casino rotates while the round is played; the provider still signs with the old one
            monkeypatch.setenv("CASINO_SECRET", "rotated-casino-secret")
            monkeypatch.setenv("CASINO_SECRET_PREVIOUS", old)
            monkeypatch.setenv("CASINO_SECRET_ROTATED_AT", str(int(time.time())))
            reload_settings()
        return None

    casino.transport.fault = fault
    report = play(ps, **SEED_ROUND)
    assert all(a["code"] == "OK" for a in report["actions"]) and report["settlement"] == "complete"
    assert wallet(database_url, user)[0] == 10_000 + 1500
    inside = call("/casino/getBalance", {"sessionToken": "whatever"}, sign_with=old)
    assert (inside.status, inside.code) == (404, "SESSION_NOT_FOUND")  # past the signature check
    # the grace (SECRET_ROTATION_GRACE_SECONDS, default a day) is over: the old secret is refused
    later = time.time() + 86_400 + 1
    monkeypatch.setattr(runtime_settings, "wall_clock", lambda: later)
    monkeypatch.setattr(signing.time, "time", lambda: later)  # the sender's clock moves too
    refused = call("/casino/getBalance", {"sessionToken": "whatever"}, sign_with=old)
    assert (refused.status, refused.code) == (401, "INVALID_SIGNATURE")
    current = call("/casino/getBalance", {"sessionToken": "whatever"}, sign_with="rotated-casino-secret")
    assert (current.status, current.code) == (404, "SESSION_NOT_FOUND")
    monkeypatch.delenv("CASINO_SECRET_PREVIOUS")
    monkeypatch.delenv("CASINO_SECRET_ROTATED_AT")
    monkeypatch.setenv("CASINO_SECRET", old)
    reload_settings()


def test_reconcile_catches_a_provider_record_that_disagrees_with_the_casino(database_url, player, casino):
    _, ps = player
    report = play(ps, bets=[{"amount": 10}])
    txid = report["actions"][0]["transactionId"]
    with admin_conn(database_url) as conn:
        conn.execute(
            "UPDATE provider_bets SET final_status = 402, final_code = 'INSUFFICIENT_FUNDS' WHERE transaction_id = %s", (txid,)
        )
        try:
            result = admin.reconcile(database_url)
            assert not result.ok and any(txid in m for m in result.mismatches), result.table()
        finally:
            conn.execute("UPDATE provider_bets SET final_status = 200, final_code = 'OK' WHERE transaction_id = %s", (txid,))
    assert admin.reconcile(database_url).ok


@pytest.mark.parametrize(
    ("query", "params", "index"),
    [
        ("ROUND_ACTIONS", (1,), "provider_bets_round_txid"),
        ("ROUND_BY_ROUND_ID", ("some-round",), "provider_game_rounds_round"),
    ],
    ids=["actions-of-a-round", "a-round-by-its-id"],
)
def test_the_provider_round_lookups_are_index_lookups(database_url, query, params, index):
    """Scoped to one round and served by an index (the plan, not a timing): with sequential
    scans priced out, the planner must still find an index for it."""
    from seamless.provider import queries

    with admin_conn(database_url) as conn, conn.transaction():
        conn.execute("SET LOCAL enable_seqscan = off")
        plan = json.dumps(fetch_one(conn, "EXPLAIN (FORMAT JSON) " + getattr(queries, query), params)[0])
    assert index in plan and "Seq Scan" not in plan, plan


def test_a_round_the_sweeper_ended_before_anything_was_recorded_is_played_when_sent_again(database_url, player, casino):
    """Found by the fault simulation: a provider that died right after claiming the round left
    an empty round, which the sweeper ended; sending the same roundId again plays it."""
    user, ps = player
    round_id = f"empty-{ps}"
    with admin_conn(database_url) as conn:
        conn.execute(
            "INSERT INTO provider_game_rounds (round_id, provider_session_id, status) VALUES (%s, %s, 'open')", (round_id, ps)
        )
    expire_lease(database_url, round_id)
    settlement.sweep(timeout_seconds=0)
    assert recorded(database_url, round_id) == ("cancelled", [])
    report = play(ps, roundId=round_id, bets=[{"amount": 100}], wins=[{"amount": 300, "relatedBetIndex": 0}])
    assert report["status"] == "completed" and [a["code"] for a in report["actions"]] == ["OK", "OK"]
    assert wallet(database_url, user)[0] == 10_000 - 100 + 300
