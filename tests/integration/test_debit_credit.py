"""POST /casino/debitCredit (docs/protocol.md §4b, §5) and the funding rule (§4, §4b), through the
real Lambda handlers with signed API Gateway events, against the real database."""

from __future__ import annotations

import pytest

from tests.support import (
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


def debit_credit_body(token: str, amount: int = 100, win: int = 250, **kw) -> dict:
    body = {
        "sessionToken": token,
        "transactionId": new_id("bw-bet"),
        "winTransactionId": new_id("bw-win"),
        "roundId": new_id("bw-round"),
        "currency": "USD",
        "amount": amount,
        "winAmount": win,
    }
    body.update(kw)
    return body


def debit_credit(body: dict) -> Response:
    return call("/casino/debitCredit", body)


def rows(url: str, *txids: str) -> list[tuple]:
    with admin_conn(url) as conn:
        return conn.execute(
            "SELECT transaction_id, kind, status, amount, playable_delta, redeemable_delta, bet_transaction_id, round_closed "
            "FROM casino_transactions WHERE transaction_id = ANY(%s) ORDER BY id",
            (list(txids),),
        ).fetchall()


@pytest.fixture
def player(database_url):
    """A player of our own: 10,000 of which 6,000 redeemable (4,000 bonus-type money)."""
    user = make_player(database_url, 10_000, 6_000)
    return user, new_session(database_url, user)


def test_both_legs_apply_in_one_call(database_url, player):
    user, token = player
    body = debit_credit_body(token, 100, 250)
    r = debit_credit(body)
    assert r.status == 200, r
    assert r.json["transactionId"] == body["transactionId"]
    assert r.json["winTransactionId"] == body["winTransactionId"]
    assert r.json["balance"] == 10_150 == wallet(database_url, user)[0]
    assert r.json["currency"] == "USD" and r.json["casinoTransactionId"].isdigit()
    legs = rows(database_url, body["transactionId"], body["winTransactionId"])
    assert [(t, k, s, a, p) for t, k, s, a, p, *_ in legs] == [
        (body["transactionId"], "debit", "accepted", 100, -100),
        (body["winTransactionId"], "credit", "accepted", 250, 250),
    ]
    assert legs[1][6] == body["transactionId"] and legs[1][7] is True  # names its bet; closes by default


def test_replay_is_byte_identical_and_moves_nothing(database_url, player):
    user, token = player
    body = debit_credit_body(token, 100, 0)
    first = debit_credit(body)
    again = debit_credit(dict(reversed(list(body.items())), extra="ignored"))
    assert (again.status, again.raw) == (first.status, first.raw)
    assert again.replayed and not first.replayed
    assert wallet(database_url, user)[0] == 9_900


@pytest.mark.parametrize(
    "change", [{"amount": 101}, {"winAmount": 1}, {"roundClosed": False}, {"winTransactionId": "other-win"}, {"currency": "EUR"}]
)
def test_same_id_other_payload_conflicts(database_url, player, change):
    user, token = player
    body = debit_credit_body(token)
    first = debit_credit(body)
    assert first.status == 200
    r = debit_credit(dict(body, **change))
    assert (r.status, r.code) == (409, "TRANSACTION_ID_CONFLICT")
    assert wallet(database_url, user)[0] == 10_150


def test_both_ids_are_reserved_across_endpoints(database_url, player):
    user, token = player
    body = debit_credit_body(token)
    assert debit_credit(body).status == 200
    bet, win, rnd = body["transactionId"], body["winTransactionId"], body["roundId"]
    plain = {"sessionToken": token, "roundId": rnd, "currency": "USD", "amount": 250}
    for path, reuse in [
        ("/casino/credit", dict(plain, transactionId=win, betTransactionId=bet, roundClosed=True)),
        ("/casino/debit", dict(plain, transactionId=win)),
        ("/casino/debit", dict(plain, transactionId=bet, amount=100)),
        ("/casino/rollback", {"sessionToken": token, "transactionId": win, "betTransactionId": bet}),
    ]:
        r = call(path, reuse)
        assert (r.status, r.code) == (409, "TRANSACTION_ID_CONFLICT"), (path, r)
    # a debitCredit whose winTransactionId another transaction holds: conflict, nothing written
    other = debit_credit_body(token, winTransactionId=bet)
    r = debit_credit(other)
    assert (r.status, r.code) == (409, "TRANSACTION_ID_CONFLICT")
    same = debit_credit_body(token)
    same["winTransactionId"] = same["transactionId"]
    assert debit_credit(same).code == "TRANSACTION_ID_CONFLICT"
    assert rows(database_url, other["transactionId"], same["transactionId"]) == []
    assert wallet(database_url, user)[0] == 10_150


def test_a_refused_stake_moves_nothing_and_leaves_the_win_id_unused(database_url, player):
    user, token = player
    body = debit_credit_body(token, 10_001, 50_000)
    r = debit_credit(body)
    assert (r.status, r.code, r.json["balance"]) == (402, "INSUFFICIENT_FUNDS", 10_000)
    assert wallet(database_url, user) == (10_000, 6_000)
    assert [x[1:3] for x in rows(database_url, body["transactionId"], body["winTransactionId"])] == [("debit", "rejected")]
    assert debit_credit(body).raw == r.raw  # stored for replay
    # the win id is free: a plain credit may use it
    credit = {
        "sessionToken": token,
        "transactionId": body["winTransactionId"],
        "roundId": new_id("r"),
        "amount": 5,
        "currency": "USD",
    }
    assert call("/casino/credit", credit).status == 200


@pytest.mark.parametrize(
    ("setup", "code"),
    [
        ("expired", "SESSION_EXPIRED"),
        ("currency", "CURRENCY_MISMATCH"),
        ("limit", "BET_LIMIT_EXCEEDED"),
        ("tombstone", "BET_ROLLED_BACK"),
        ("closed", "ROUND_CLOSED"),
        ("mismatch", "ROUND_MISMATCH"),
    ],
)
def test_every_debit_rule_refuses_both_legs(database_url, player, setup, code):
    user, token = player
    body = debit_credit_body(token, 100, 500)
    if setup == "expired":
        expire_session(database_url, token)
    elif setup == "currency":
        body["currency"] = "EUR"
    elif setup == "limit":
        body["amount"] = 100_001
    elif setup == "tombstone":
        assert call(
            "/casino/rollback", {"sessionToken": token, "transactionId": new_id("rb"), "betTransactionId": body["transactionId"]}
        ).json["tombstone"]
    elif setup == "closed":
        closing = debit_credit_body(token, 10, 0, roundId=body["roundId"])
        assert debit_credit(closing).status == 200
    elif setup == "mismatch":
        other = make_player(database_url, 1_000)
        other_token = new_session(database_url, other)
        assert debit_credit(debit_credit_body(other_token, 10, 0, roundId=body["roundId"], roundClosed=False)).status == 200
    before = wallet(database_url, user)
    r = debit_credit(body)
    assert (r.status, r.code) == (409 if code not in ("SESSION_EXPIRED",) else 403, code), r
    assert wallet(database_url, user) == before
    assert rows(database_url, body["winTransactionId"]) == []


def test_blocked_player_is_refused(database_url):
    token = new_session(database_url, CAROL)
    r = debit_credit(debit_credit_body(token))
    assert (r.status, r.code) == (403, "PLAYER_BLOCKED")


def test_rollback_of_its_bet_is_already_settled(database_url, player):
    user, token = player
    body = debit_credit_body(token, 100, 0, roundClosed=False)
    assert debit_credit(body).status == 200
    r = call(
        "/casino/rollback", {"sessionToken": token, "transactionId": new_id("rb"), "betTransactionId": body["transactionId"]}
    )
    assert (r.status, r.code) == (409, "BET_ALREADY_SETTLED")
    r = call(
        "/casino/rollback", {"sessionToken": token, "transactionId": new_id("rb"), "betTransactionId": body["winTransactionId"]}
    )
    assert (r.status, r.code) == (409, "NOT_A_BET")
    assert wallet(database_url, user)[0] == 9_900


def test_an_open_round_continues_after_a_debit_credit_without_close(database_url, player):
    user, token = player
    body = debit_credit_body(token, 100, 50, roundClosed=False)
    assert debit_credit(body).status == 200
    more = debit_credit_body(token, 200, 400, roundId=body["roundId"])
    assert debit_credit(more).json["balance"] == 10_000 - 100 + 50 - 200 + 400
    after = debit_credit_body(token, 10, 0, roundId=body["roundId"])
    assert debit_credit(after).code == "ROUND_CLOSED"


# ------------------------------------------------------------------ the funding rule (§4b)


def test_a_win_takes_its_bets_funding_proportion(database_url, player):
    """Stake 5,000 from 4,000 bonus + 1,000 redeemable: a win of 999 is floor(999 x 1000/5000)
    = 199 redeemable, 800 bonus; the ledger rows record each part."""
    user, token = player
    body = debit_credit_body(token, 5_000, 999)
    r = debit_credit(body)
    assert r.status == 200 and r.json["redeemableBalance"] == 6_000 - 1_000 + 199
    assert wallet(database_url, user) == (10_000 - 5_000 + 999, 5_199)
    assert [x[5] for x in rows(database_url, body["transactionId"], body["winTransactionId"])] == [-1_000, 199]
    looked_up = call(
        "/casino/transactions",
        b"",
        sign_with=None,
        method="GET",
        event_overrides={
            "queryStringParameters": {"roundId": body["roundId"]},
            "multiValueQueryStringParameters": {"roundId": [body["roundId"]]},
        },
    )
    assert [t["redeemableAmount"] for t in looked_up.json["transactions"]] == [1_000, 199]


def test_a_plain_credit_naming_a_bonus_funded_bet_pays_bonus(database_url, player):
    user, token = player
    bet, rnd = new_id("bet"), new_id("round")
    assert (
        call(
            "/casino/debit", {"sessionToken": token, "transactionId": bet, "roundId": rnd, "amount": 4_000, "currency": "USD"}
        ).status
        == 200
    )
    win = {
        "sessionToken": token,
        "transactionId": new_id("win"),
        "roundId": rnd,
        "amount": 7_000,
        "currency": "USD",
        "betTransactionId": bet,
        "roundClosed": True,
    }
    r = call("/casino/credit", win)
    assert r.status == 200
    assert wallet(database_url, user) == (13_000, 6_000)  # all of the win is bonus, as its stake was


def test_a_credit_naming_no_bet_is_redeemable(database_url, player):
    user, token = player
    win = {"sessionToken": token, "transactionId": new_id("win"), "roundId": new_id("round"), "amount": 700, "currency": "USD"}
    assert call("/casino/credit", win).status == 200
    assert wallet(database_url, user) == (10_700, 6_700)


def test_funding_split_of_huge_amounts_does_not_overflow(database_url):
    user = make_player(database_url, 1_000_000_000_000, 999_999_999_999)
    token = new_session(database_url, user)
    body = debit_credit_body(token, 100_000, 1_000_000_000_000)
    r = debit_credit(body)
    assert r.status == 200, r
    # the stake took 1 bonus unit and 99,999 redeemable: floor(10^12 x 99,999 / 100,000)
    assert wallet(database_url, user)[1] == 999_999_999_999 - 99_999 + 999_990_000_000
    with admin_conn(database_url) as conn:
        assert fetch_one(conn, "SELECT count(*) FROM casino_wallets WHERE redeemable_balance > playable_balance")[0] == 0


def test_the_funding_check_passes_and_catches_a_bonus_funded_win_paid_as_cash(database_url, player):
    """sql/checks/funding.sql (part of reconcile): empty over the ledger the tests wrote; a win
    row paying its bonus-funded bet's win as cash is reported (planted in a transaction that is
    rolled back)."""
    from devtools.admin import CHECKS

    user, token = player
    body = debit_credit_body(token, 4_000, 1_000)  # all bonus-funded: the win is all bonus
    assert debit_credit(body).status == 200
    check = (CHECKS / "funding.sql").read_text()
    with admin_conn(database_url) as conn:
        assert conn.execute(check).fetchall() == []
        with conn.transaction(force_rollback=True):
            conn.execute(
                "INSERT INTO casino_transactions (provider_id, transaction_id, kind, status, user_id, wallet_id, "
                "round_id, bet_transaction_id, amount, playable_delta, redeemable_delta) "
                "SELECT provider_id, %s, 'credit', 'accepted', user_id, wallet_id, round_id, transaction_id, 1000, 1000, 1000 "
                "FROM casino_transactions WHERE transaction_id = %s",
                (new_id("planted"), body["transactionId"]),
            )
            [violation] = conn.execute(check).fetchall()
    assert "paid 1000 redeemable of 1000" in violation[0] and "gives 0" in violation[0]


@pytest.mark.parametrize("one_call", [False, True])
def test_the_documented_worked_example(database_url, one_call):
    """docs/currencies.md's worked example, as two calls and as one debitCredit."""
    user = make_player(database_url, 100_000, 40_000)
    token = new_session(database_url, user)
    rnd, bet = new_id("round"), new_id("bet")
    if one_call:
        r = debit_credit(debit_credit_body(token, 90_000, 100_000, roundId=rnd, transactionId=bet))
        assert (r.json["balance"], r.json["redeemableBalance"]) == (110_000, 43_333)
    else:
        d = {"sessionToken": token, "transactionId": bet, "roundId": rnd, "amount": 90_000, "currency": "USD"}
        assert call("/casino/debit", d).json["redeemableBalance"] == 10_000
        w = dict(d, transactionId=new_id("win"), amount=100_000, betTransactionId=bet, roundClosed=True)
        assert call("/casino/credit", w).json["redeemableBalance"] == 43_333
    assert wallet(database_url, user) == (110_000, 43_333)
    with admin_conn(database_url) as conn:
        parts = conn.execute(
            "SELECT redeemable_delta FROM casino_transactions WHERE round_id = %s ORDER BY id", (rnd,)
        ).fetchall()
    assert parts == [(-30_000,), (33_333,)]
