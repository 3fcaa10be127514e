"""Credit reasons (docs/protocol.md §4b, §5): jackpot, promotion, tournament payouts with their
campaign id, stored in the ledger, replayed and conflict-checked under a versioned hash, shown in
GET /casino/transactions, and funded by the funding rule (bonus only for a promotion the casino
registered bonus-funded) - through the real handlers against the real database."""

from __future__ import annotations

import pytest

from tests.support import admin_conn, call, make_player, new_id, new_session, wallet


@pytest.fixture
def player(database_url):
    user = make_player(database_url, 10_000, 6_000)
    return user, new_session(database_url, user)


def credit_body(token: str, amount: int = 400, **kw) -> dict:
    body = {"sessionToken": token, "transactionId": new_id("pay"), "roundId": new_id("pr"), "amount": amount, "currency": "USD"}
    body.update(kw)
    return body


def listed(transaction_id: str) -> dict:
    r = call(
        "/casino/transactions",
        b"",
        sign_with=None,
        method="GET",
        event_overrides={
            "queryStringParameters": {"transactionId": transaction_id},
            "multiValueQueryStringParameters": {"transactionId": [transaction_id]},
        },
    )
    assert r.status == 200, r
    [row] = r.json["transactions"]
    return row


@pytest.mark.parametrize("reason", ["jackpot", "promotion", "tournament"])
def test_a_payout_is_stored_with_its_reason_and_campaign_and_is_cash(database_url, player, reason):
    user, token = player
    body = credit_body(token, reason=reason, promotionId="summer-2026")
    r = call("/casino/credit", body)
    assert r.status == 200, r
    assert wallet(database_url, user) == (10_400, 6_400)  # any unregistered promotion pays cash
    row = listed(body["transactionId"])
    assert (row["reason"], row["promotionId"], row["grantId"], row["redeemableAmount"]) == (reason, "summer-2026", None, 400)
    with admin_conn(database_url) as conn:
        stored = conn.execute(
            "SELECT reason, promotion_id FROM casino_transactions WHERE transaction_id = %s", (body["transactionId"],)
        ).fetchone()
    assert stored == (reason, "summer-2026")


def test_a_registered_bonus_promotion_pays_bonus_money(database_url, player):
    user, token = player
    r = call("/casino/credit", credit_body(token, reason="promotion", promotionId="promo-bonus-1"))
    assert r.status == 200, r
    assert wallet(database_url, user) == (10_400, 6_000)
    assert r.json["redeemableBalance"] == 6_000


def test_a_plain_win_is_listed_as_win(database_url, player):
    _, token = player
    body = credit_body(token)
    assert call("/casino/credit", body).status == 200
    row = listed(body["transactionId"])
    assert (row["reason"], row["promotionId"], row["grantId"]) == ("win", None, None)


def test_an_explicit_win_is_the_same_request_as_an_omitted_reason(database_url, player):
    user, token = player
    body = credit_body(token)
    first = call("/casino/credit", body)
    again = call("/casino/credit", {**body, "reason": "win"})
    assert (again.status, again.raw, again.replayed) == (first.status, first.raw, True)
    assert wallet(database_url, user)[0] == 10_400


def test_a_plain_win_keeps_the_version_1_hash(database_url, player):
    """Old transactionIds still match: a credit without reason fields hashes as before."""
    _, token = player
    body = credit_body(token)
    assert call("/casino/credit", body).status == 200
    with admin_conn(database_url) as conn:
        stored, v1 = conn.execute(
            "SELECT t.request_hash, ledger.request_hash('credit', t.user_id, 'USD', t.round_id, t.amount, NULL, false) "
            "FROM casino_transactions t WHERE t.transaction_id = %s",
            (body["transactionId"],),
        ).fetchone()
    assert stored == v1


def test_a_typed_payout_replays_and_conflicts_on_any_changed_field(database_url, player):
    user, token = player
    body = credit_body(token, reason="jackpot", promotionId="pot-1")
    first = call("/casino/credit", body)
    assert first.status == 200
    again = call("/casino/credit", dict(reversed(list(body.items()))))
    assert (again.status, again.raw, again.replayed) == (200, first.raw, True)
    for change in ({"promotionId": "pot-2"}, {"reason": "promotion"}, {"reason": "win", "promotionId": None}):
        r = call("/casino/credit", {k: v for k, v in {**body, **change}.items() if v is not None})
        assert (r.status, r.json["error"]["code"]) == (409, "TRANSACTION_ID_CONFLICT"), change
    assert wallet(database_url, user)[0] == 10_400


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"reason": "promotion", "promotionId": "p-1", "betTransactionId": "b-1"}, "betTransactionId"),
        ({"reason": "tournament", "promotionId": "t-1", "betTransactionId": "b-1"}, "betTransactionId"),
        ({"reason": "promotion"}, "promotionId"),
        ({"reason": "jackpot"}, "promotionId"),
        ({"reason": "freeRound"}, "grantId"),
        ({"reason": "win", "promotionId": "p-1"}, "promotionId"),
        ({"promotionId": "p-1"}, "promotionId"),
        ({"reason": "promotion", "promotionId": "p-1", "grantId": "g-1"}, "grantId"),
        ({"reason": "bonus"}, "reason"),
        ({"reason": "promotion", "promotionId": "has space"}, "promotionId"),
    ],
)
def test_a_credit_whose_reason_does_not_fit_is_a_400_and_writes_nothing(database_url, player, extra, field):
    user, token = player
    body = credit_body(token, **extra)
    r = call("/casino/credit", body)
    assert (r.status, r.json["error"]["code"]) == (400, "VALIDATION_ERROR"), r
    assert field in [d["field"] for d in r.json["error"]["details"]], r.json
    assert wallet(database_url, user)[0] == 10_000
    with admin_conn(database_url) as conn:
        assert conn.execute(
            "SELECT count(*) FROM casino_transactions WHERE transaction_id = %s", (body["transactionId"],)
        ).fetchone() == (0,)


def test_a_jackpot_may_name_its_bet_and_is_cash(database_url, player):
    user, token = player
    round_id = new_id("jr")
    bet = {"sessionToken": token, "transactionId": new_id("jb"), "roundId": round_id, "amount": 5_000, "currency": "USD"}
    assert call("/casino/debit", bet).status == 200  # 4,000 bonus then 1,000 redeemable
    r = call(
        "/casino/credit",
        credit_body(token, 1_000, roundId=round_id, reason="jackpot", promotionId="pot-9", betTransactionId=bet["transactionId"]),
    )
    assert r.status == 200, r
    assert wallet(database_url, user) == (6_000, 6_000)


def test_the_chain_carries_the_stored_reason(database_url, player):
    from seamless.contract import chain

    _, token = player
    body = credit_body(token, reason="tournament", promotionId="cup-1")
    assert call("/casino/credit", body).status == 200
    with admin_conn(database_url) as conn:
        conn.row_factory = __import__("psycopg").rows.dict_row
        row = conn.execute(
            "SELECT t.*, w.currency::text AS currency FROM casino_transactions t "
            "JOIN casino_wallets w ON w.id = t.wallet_id WHERE t.transaction_id = %s",
            (body["transactionId"],),
        ).fetchone()
    line = chain.line_of(row)
    assert line["reason"] == "tournament"
    assert chain.row_hash(line) == row["row_hash"]
    assert chain.row_hash({**line, "reason": None}) != row["row_hash"]


def test_the_funding_check_catches_a_bonus_promotion_paid_as_cash(database_url, player):
    """sql/checks/funding.sql: a promotion payout of a registered bonus-funded promotion paid as
    redeemable money is reported (planted in a transaction that is rolled back)."""
    from devtools.admin import CHECKS

    _, token = player
    body = credit_body(token, 700, reason="promotion", promotionId="promo-bonus-1")
    assert call("/casino/credit", body).status == 200
    check = (CHECKS / "funding.sql").read_text()
    with admin_conn(database_url) as conn:
        assert conn.execute(check).fetchall() == []
        with conn.transaction(force_rollback=True):
            conn.execute(
                "INSERT INTO casino_transactions (provider_id, transaction_id, kind, status, user_id, wallet_id, "
                "round_id, amount, playable_delta, redeemable_delta, reason, promotion_id) "
                "SELECT provider_id, %s, 'credit', 'accepted', user_id, wallet_id, round_id, 700, 700, 700, "
                "'promotion', 'promo-bonus-1' FROM casino_transactions WHERE transaction_id = %s",
                (new_id("planted"), body["transactionId"]),
            )
            [violation] = conn.execute(check).fetchall()
    assert "paid 700 redeemable of 700; its funding gives 0" in violation[0]
