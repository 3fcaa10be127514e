"""The casino callbacks' money rules (docs/protocol.md §3-5), through the real Lambda handlers with
genuine signed API Gateway events, against the real database."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from tests.support import (
    ALICE,
    BOB,
    CAROL,
    Response,
    admin_conn,
    call,
    expire_session,
    fetch_one,
    make_player,
    new_id,
    new_session,
    wallet,
)


@dataclass
class Player:
    url: str
    user: str
    token: str
    currency: str = "USD"

    def balance(self) -> int:
        return wallet(self.url, self.user, self.currency)[0]

    def relaunch(self) -> Player:
        return Player(self.url, self.user, new_session(self.url, self.user, self.currency), self.currency)

    def debit_body(self, amount=100, txid=None, round_id=None, currency=None) -> dict:
        return {
            "sessionToken": self.token,
            "transactionId": txid or new_id("bet"),
            "roundId": round_id or new_id("round"),
            "amount": amount,
            "currency": currency or self.currency,
        }

    def debit(self, amount=100, **kw) -> Response:
        return call("/casino/debit", self.debit_body(amount, **kw))

    def credit(self, amount, round_id, bet=None, closed=None, txid=None, currency=None) -> Response:
        body = {
            "sessionToken": self.token,
            "transactionId": txid or new_id("win"),
            "roundId": round_id,
            "amount": amount,
            "currency": currency or self.currency,
        }
        if bet is not None:
            body["betTransactionId"] = bet
        if closed is not None:
            body["roundClosed"] = closed
        return call("/casino/credit", body)

    def rollback(self, bet, round_id=None, txid=None) -> Response:
        body = {"sessionToken": self.token, "transactionId": txid or new_id("rb"), "betTransactionId": bet}
        if round_id is not None:
            body["roundId"] = round_id
        return call("/casino/rollback", body)

    def bet(self, amount=100, round_id=None) -> tuple[str, str]:
        txid, round_id = new_id("bet"), round_id or new_id("round")
        r = self.debit(amount, txid=txid, round_id=round_id)
        assert r.status == 200, r
        return txid, round_id


@pytest.fixture
def alice(database_url) -> Player:
    return Player(database_url, ALICE, new_session(database_url, ALICE))


@pytest.fixture
def rich(database_url) -> Player:
    """A player of our own: 1,000,000 of which 600,000 redeemable."""
    user = make_player(database_url, 1_000_000, 600_000)
    return Player(database_url, user, new_session(database_url, user))


def assert_error(r: Response, status: int, code: str):
    assert (r.status, r.code) == (status, code), r


def assert_replay(again: Response, first: Response):
    assert again.status == first.status and again.raw == first.raw, (again, first)
    assert again.replayed and not first.replayed


# ------------------------------------------------------------------ idempotency (§5)


def test_replay_is_byte_identical_and_moves_nothing(alice):
    before = alice.balance()
    body = alice.debit_body(300)
    first = call("/casino/debit", body)
    assert first.status == 200 and "Idempotent-Replayed" not in first.headers
    assert_replay(call("/casino/debit", body), first)
    assert alice.balance() == before - 300 == first.json["balance"]


@pytest.mark.parametrize("change", [{"amount": 101}, {"roundId": "other-round"}, {"currency": "EUR"}])
def test_same_id_other_payload_conflicts_and_the_original_stays(alice, change):
    before = alice.balance()
    body = alice.debit_body(100)
    first = call("/casino/debit", body)
    conflict = call("/casino/debit", dict(body, **change))
    assert_error(conflict, 409, "TRANSACTION_ID_CONFLICT")
    assert not conflict.replayed
    assert_replay(call("/casino/debit", body), first)
    assert alice.balance() == before - 100


def test_same_id_on_another_endpoint_conflicts(alice):
    txid, round_id = alice.bet(50)
    before = alice.balance()
    assert_error(alice.credit(50, round_id, txid=txid), 409, "TRANSACTION_ID_CONFLICT")
    assert_error(alice.rollback("whatever", txid=txid), 409, "TRANSACTION_ID_CONFLICT")
    assert alice.balance() == before


def test_reformatted_json_is_the_same_request(alice):
    body = alice.debit_body(70)
    first = call("/casino/debit", body)
    other = {k: body[k] for k in reversed(list(body))} | {"traceId": "x"}
    raw = b"\n  " + json.dumps(other, indent=3).encode() + b"\t"
    assert_replay(call("/casino/debit", raw), first)


def test_retry_after_relaunch_is_the_same_request_but_another_player_is_not(alice, database_url):
    body = alice.debit_body(40)
    first = call("/casino/debit", body)
    assert_replay(call("/casino/debit", dict(body, sessionToken=alice.relaunch().token)), first)
    bob_token = new_session(database_url, BOB)
    assert_error(call("/casino/debit", dict(body, sessionToken=bob_token)), 409, "TRANSACTION_ID_CONFLICT")


def test_unknown_token_is_404_or_conflict_for_a_known_id(alice):
    assert_error(call("/casino/getBalance", {"sessionToken": "nope"}), 404, "SESSION_NOT_FOUND")
    assert_error(call("/casino/debit", alice.debit_body(5) | {"sessionToken": "nope"}), 404, "SESSION_NOT_FOUND")
    txid, _ = alice.bet(5)
    assert_error(call("/casino/debit", alice.debit_body(5, txid=txid) | {"sessionToken": "nope"}), 409, "TRANSACTION_ID_CONFLICT")


def test_unknown_token_with_a_transaction_id_is_an_index_lookup_not_a_ledger_scan(database_url):
    """ledger.unknown_session asks whether any provider holds the transactionId. On a ledger of
    some size (rows added in a transaction that is rolled back) the plan PL/pgSQL caches for it
    (the generic one) probes the unique index (provider_id, transaction_id): no Seq Scan of
    casino_transactions. A plan, not a timing."""
    with admin_conn(database_url) as conn:
        source = fetch_one(conn, "SELECT prosrc FROM pg_proc WHERE oid = 'ledger.unknown_session'::regproc")[0]
        assert "ledger.stored_transaction(p_transaction_id)" in source  # the lookup explained below
        with conn.transaction(force_rollback=True):
            conn.execute(
                "INSERT INTO casino_transactions (provider_id, transaction_id, kind, status) "
                "SELECT p.id, 'explain-' || g, 'debit', 'rejected' "
                "FROM casino_game_providers p, generate_series(1, 5000) g"
            )
            plan = "\n".join(
                row[0]
                for row in conn.execute(
                    "EXPLAIN (GENERIC_PLAN) SELECT EXISTS (SELECT 1 FROM ledger.stored_transaction($1))"
                ).fetchall()
            )
    assert "casino_transactions_provider_txid" in plan, plan
    assert "Seq Scan on casino_transactions" not in plan, plan


def test_stored_402_is_replayed_even_after_the_balance_grew(database_url):
    user = make_player(database_url, 100)
    p = Player(database_url, user, new_session(database_url, user))
    body = p.debit_body(150)
    first = call("/casino/debit", body)
    assert_error(first, 402, "INSUFFICIENT_FUNDS")
    assert first.json["balance"] == 100
    assert p.credit(500, new_id("round")).status == 200
    again = call("/casino/debit", body)
    assert_replay(again, first)
    assert again.json["balance"] == 100 and p.balance() == 600


def test_rejected_400_is_not_stored(alice):
    body = alice.debit_body(10)
    assert call("/casino/debit", dict(body, amount=True)).status == 400
    assert call("/casino/debit", body).status == 200


# ------------------------------------------------------------------ rollback rules (§4)


def test_tombstone_then_late_debit_is_refused_and_stored(alice):
    before = alice.balance()
    bet_id, round_id = new_id("late"), new_id("round")
    r = alice.rollback(bet_id, round_id=round_id)
    assert r.status == 200 and r.json["tombstone"] is True and r.json["rolledBackAmount"] == 0
    late = alice.debit(500, txid=bet_id, round_id=round_id)
    assert_error(late, 409, "BET_ROLLED_BACK")
    assert_replay(call("/casino/debit", alice.debit_body(500, txid=bet_id, round_id=round_id)), late)
    again = alice.rollback(bet_id)
    assert again.status == 200 and again.json["rolledBackAmount"] == 0
    assert alice.balance() == before


def test_rollback_refunds_once(alice):
    before = alice.balance()
    txid, round_id = alice.bet(700)
    first = alice.rollback(txid, round_id=round_id)
    assert first.status == 200 and first.json["rolledBackAmount"] == 700 and first.json["tombstone"] is False
    second = alice.rollback(txid)
    assert second.status == 200 and second.json["rolledBackAmount"] == 0 and second.json["tombstone"] is False
    assert alice.balance() == before


@pytest.mark.parametrize("credit_amount", [0, 500])
def test_no_rollback_in_a_round_with_a_credit(alice, credit_amount):
    txid, round_id = alice.bet(100)
    assert alice.credit(credit_amount, round_id, bet=txid).status == 200
    before = alice.balance()
    body = {"sessionToken": alice.token, "transactionId": new_id("rb"), "betTransactionId": txid, "roundId": round_id}
    refused = call("/casino/rollback", body)
    assert_error(refused, 409, "BET_ALREADY_SETTLED")
    assert_replay(call("/casino/rollback", body), refused)  # stored
    assert alice.balance() == before


def test_rollback_of_a_credit_or_a_rollback_is_not_a_bet(alice):
    txid, round_id = alice.bet(10)
    win_id = new_id("win")
    assert alice.credit(5, round_id, txid=win_id).status == 200
    assert_error(alice.rollback(win_id), 409, "NOT_A_BET")
    other_bet, _ = alice.bet(10)
    rb_id = new_id("rb")
    assert alice.rollback(other_bet, txid=rb_id).status == 200
    assert_error(alice.rollback(rb_id), 409, "NOT_A_BET")


def test_rollback_of_a_rejected_bet_moves_nothing(database_url):
    user = make_player(database_url, 50)
    p = Player(database_url, user, new_session(database_url, user))
    body = p.debit_body(80)
    assert call("/casino/debit", body).status == 402
    r = p.rollback(body["transactionId"])
    assert r.status == 200 and r.json["rolledBackAmount"] == 0 and r.json["tombstone"] is False
    assert p.balance() == 50


def test_rollback_of_a_rejected_bet_applies_the_round_checks(alice, database_url):
    """docs/protocol.md §4: the round checks apply to every bet a rollback names, accepted or
    rejected. A rejected bet in a round that has a credit is BET_ALREADY_SETTLED; in a round of
    another session, ROUND_MISMATCH; in an open round of its own, a no-effect 200."""
    txid, round_id = alice.bet(10)
    rejected = alice.debit_body(100_001, round_id=round_id)  # BET_LIMIT_EXCEEDED, in alice's round
    assert_error(call("/casino/debit", rejected), 409, "BET_LIMIT_EXCEEDED")
    other = alice.relaunch()
    assert_error(other.rollback(rejected["transactionId"]), 409, "ROUND_MISMATCH")
    assert alice.credit(5, round_id, bet=txid).status == 200
    before = alice.balance()
    body = {"sessionToken": alice.token, "transactionId": new_id("rb"), "betTransactionId": rejected["transactionId"]}
    refused = call("/casino/rollback", body)
    assert_error(refused, 409, "BET_ALREADY_SETTLED")
    assert_replay(call("/casino/rollback", body), refused)  # stored
    assert alice.balance() == before

    # a bet refused because the round is another session's: that session's round, a mismatch
    intruder = Player(database_url, BOB, new_session(database_url, BOB))
    foreign_round = new_id("round")
    alice.bet(10, round_id=foreign_round)
    refused_bet = intruder.debit_body(5, round_id=foreign_round)
    assert_error(call("/casino/debit", refused_bet), 409, "ROUND_MISMATCH")
    assert_error(intruder.rollback(refused_bet["transactionId"]), 409, "ROUND_MISMATCH")

    # rejected in an open round of its own: 200, nothing moves
    open_round = new_id("round")
    alice.bet(10, round_id=open_round)
    late = alice.debit_body(100_001, round_id=open_round)
    assert call("/casino/debit", late).status == 409
    r = alice.rollback(late["transactionId"])
    assert r.status == 200 and r.json["rolledBackAmount"] == 0 and r.json["tombstone"] is False, r


def test_tombstone_naming_a_foreign_or_settled_round_is_refused(alice, database_url):
    """docs/api.md: no tombstone in a round of another session, nor in one with a credit."""
    round_id = new_id("round")
    assert alice.credit(0, round_id).status == 200  # alice's session owns the round, with a credit
    other = alice.relaunch()
    assert_error(other.rollback(new_id("ghost"), round_id=round_id), 409, "ROUND_MISMATCH")
    ghost = new_id("ghost")
    assert_error(alice.rollback(ghost, round_id=round_id), 409, "BET_ALREADY_SETTLED")
    # no tombstone was left: the id can still be used for a bet elsewhere
    assert alice.debit(10, txid=ghost).status == 200


def test_rollback_round_id_must_be_the_bets_round(alice):
    txid, _ = alice.bet(10)
    assert_error(alice.rollback(txid, round_id=new_id("elsewhere")), 409, "ROUND_MISMATCH")


# ------------------------------------------------------------------ rounds, bets, limits


def test_bet_limits(alice):
    assert alice.debit(100_000).status == 200
    assert_error(alice.debit(100_001), 409, "BET_LIMIT_EXCEEDED")
    assert call("/casino/debit", alice.debit_body(0)).status == 400


def test_closed_round_refuses_debit_and_credit(alice):
    txid, round_id = alice.bet(10)
    assert alice.credit(20, round_id, bet=txid, closed=True).status == 200
    assert_error(alice.debit(10, round_id=round_id), 409, "ROUND_CLOSED")
    assert_error(alice.credit(10, round_id), 409, "ROUND_CLOSED")


@pytest.mark.parametrize("intruder_user", [ALICE, BOB])
def test_round_of_another_session_is_a_mismatch(alice, database_url, intruder_user):
    txid, round_id = alice.bet(10)
    intruder = Player(database_url, intruder_user, new_session(database_url, intruder_user))
    assert_error(intruder.debit(5, round_id=round_id), 409, "ROUND_MISMATCH")
    assert_error(intruder.credit(5, round_id), 409, "ROUND_MISMATCH")
    assert_error(intruder.rollback(txid), 409, "ROUND_MISMATCH")


def test_credit_bet_must_be_an_accepted_bet_of_this_round(alice, database_url):
    txid, round_id = alice.bet(10)
    assert_error(alice.credit(5, round_id, bet=new_id("unknown")), 404, "BET_NOT_FOUND")
    other_bet, _ = alice.bet(10)
    assert_error(alice.credit(5, round_id, bet=other_bet), 404, "BET_NOT_FOUND")
    rejected = alice.debit(100_001, round_id=round_id)
    assert rejected.status == 409
    rolled, rolled_round = alice.bet(10)
    assert alice.rollback(rolled).status == 200
    assert_error(alice.credit(5, rolled_round, bet=rolled), 409, "BET_ROLLED_BACK")
    ghost = new_id("ghost")
    assert alice.rollback(ghost).json["tombstone"] is True
    assert_error(alice.credit(5, round_id, bet=ghost), 409, "BET_ROLLED_BACK")
    assert alice.credit(5, round_id, bet=txid).status == 200


def test_currency_mismatch(alice):
    assert_error(alice.debit(10, currency="EUR"), 409, "CURRENCY_MISMATCH")
    assert_error(alice.credit(10, new_id("round"), currency="EUR"), 409, "CURRENCY_MISMATCH")


# ------------------------------------------------------------------ sessions and players


def test_expired_session(alice):
    body = alice.debit_body(25)
    before_expiry = call("/casino/debit", body)
    txid, round_id = alice.bet(30)
    expire_session(alice.url, alice.token)
    assert_error(call("/casino/getBalance", {"sessionToken": alice.token}), 403, "SESSION_EXPIRED")
    refused = alice.debit(10)
    assert_error(refused, 403, "SESSION_EXPIRED")
    assert_replay(call("/casino/debit", body), before_expiry)  # a committed debit replays after expiry
    before = alice.balance()
    assert alice.credit(50, round_id, bet=txid).status == 200  # money owed is paid
    assert alice.rollback(new_id("never-placed")).json["tombstone"] is True
    assert alice.balance() == before + 50


def test_blocked_player_cannot_bet_but_is_paid(database_url):
    carol = Player(database_url, CAROL, new_session(database_url, CAROL))
    before = carol.balance()
    body = carol.debit_body(10)
    refused = call("/casino/debit", body)
    assert_error(refused, 403, "PLAYER_BLOCKED")
    assert_replay(call("/casino/debit", body), refused)
    assert call("/casino/getBalance", {"sessionToken": carol.token}).status == 200
    assert carol.credit(40, new_id("round")).status == 200
    assert carol.rollback(new_id("late")).json["tombstone"] is True
    assert carol.balance() == before + 40


# ------------------------------------------------------------------ precedence (§4)


def test_debit_precedence(alice, database_url):
    expire = Player(database_url, ALICE, new_session(database_url, ALICE))
    expire_session(database_url, expire.token)
    assert_error(expire.debit(100_001, currency="EUR"), 403, "SESSION_EXPIRED")
    ghost = new_id("ghost")
    alice.rollback(ghost)
    assert_error(alice.debit(100_001, txid=ghost, currency="EUR"), 409, "CURRENCY_MISMATCH")
    txid, round_id = alice.bet(10)
    alice.credit(10, round_id, bet=txid, closed=True)
    ghost2 = new_id("ghost")
    alice.rollback(ghost2)
    assert_error(alice.debit(100_001, txid=ghost2, round_id=round_id), 409, "BET_ROLLED_BACK")
    other = Player(database_url, BOB, new_session(database_url, BOB))
    assert_error(other.debit(100_001, round_id=round_id), 409, "ROUND_MISMATCH")
    assert_error(alice.debit(100_001, round_id=round_id), 409, "ROUND_CLOSED")
    poor = make_player(database_url, 10)
    p = Player(database_url, poor, new_session(database_url, poor))
    assert_error(p.debit(100_001), 409, "BET_LIMIT_EXCEEDED")
    assert_error(p.debit(11), 402, "INSUFFICIENT_FUNDS")


def test_credit_and_rollback_precedence(alice, database_url):
    txid, round_id = alice.bet(10)
    alice.credit(10, round_id, bet=txid, closed=True)
    assert_error(alice.credit(5, round_id, bet="unknown", currency="EUR"), 409, "CURRENCY_MISMATCH")
    other = Player(database_url, BOB, new_session(database_url, BOB))
    assert_error(other.credit(5, round_id, bet="unknown"), 409, "ROUND_MISMATCH")
    assert_error(alice.credit(5, round_id, bet="unknown"), 409, "ROUND_CLOSED")
    win_id = new_id("win")
    bet2, round2 = alice.bet(10)
    alice.credit(1, round2, txid=win_id)
    assert_error(alice.rollback(win_id, round_id=new_id("x")), 409, "NOT_A_BET")
    assert_error(alice.rollback(bet2, round_id=new_id("x")), 409, "ROUND_MISMATCH")
    assert_error(alice.rollback(bet2, round_id=round2), 409, "BET_ALREADY_SETTLED")


# ------------------------------------------------------------------ playable / redeemable


def test_bonus_money_is_spent_first_and_rollback_restores_the_split(rich):
    assert wallet(rich.url, rich.user) == (1_000_000, 600_000)
    rich.bet(30_000)  # all bonus (400,000 bonus)
    assert wallet(rich.url, rich.user) == (970_000, 600_000)
    rich_bet_b = rich.debit(100_000, round_id=new_id("round"))
    assert rich_bet_b.status == 200
    for _ in range(3):
        rich.bet(90_000)  # bonus left: 370,000 - 100,000 - 270,000 = 0
    assert wallet(rich.url, rich.user) == (600_000, 600_000)
    txid, round_id = rich.bet(50_000)  # all redeemable now
    assert wallet(rich.url, rich.user) == (550_000, 550_000)
    assert rich.credit(20_000, new_id("round")).status == 200  # a credit adds to both
    assert wallet(rich.url, rich.user) == (570_000, 570_000)
    r = rich.rollback(txid, round_id=round_id)
    assert r.json["rolledBackAmount"] == 50_000 and r.json["redeemableBalance"] == 620_000
    assert wallet(rich.url, rich.user) == (620_000, 620_000)
    bonus_bet = json.loads(rich_bet_b.raw)["transactionId"]
    assert rich.rollback(bonus_bet).json["rolledBackAmount"] == 100_000
    assert wallet(rich.url, rich.user) == (720_000, 620_000)  # the bonus part came back as bonus
    g = call("/casino/getBalance", {"sessionToken": rich.token}).json
    assert g == {"balance": 720_000, "redeemableBalance": 620_000, "currency": "USD"}


# ------------------------------------------------------------------ the database guards the money


def test_database_refuses_a_negative_or_inconsistent_wallet_even_if_code_is_bypassed(database_url):
    import psycopg

    user = make_player(database_url, 100)
    with admin_conn(database_url) as conn:
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute("UPDATE casino_wallets SET playable_balance = -1, redeemable_balance = 0 WHERE user_id = %s", (user,))
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute("UPDATE casino_wallets SET redeemable_balance = playable_balance + 1 WHERE user_id = %s", (user,))
    assert wallet(database_url, user) == (100, 100)


def test_each_side_can_only_touch_its_own_tables(database_url):
    import psycopg
    from seamless.runtime.settings import common

    settings = common()
    with psycopg.connect(settings.dsn_for("casino_app"), autocommit=True) as casino:
        for sql in ("SELECT 1 FROM provider_bets LIMIT 1", "INSERT INTO provider_games (code, name) VALUES ('x', 'x')"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                casino.execute(sql)
    with psycopg.connect(settings.dsn_for("provider_app"), autocommit=True) as provider:
        for sql in (
            "SELECT 1 FROM casino_wallets LIMIT 1",
            "UPDATE casino_wallets SET playable_balance = playable_balance + 1",
            "SELECT * FROM ledger.debit('\\x00', 'a', 'b', 1, 'USD')",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                provider.execute(sql)
