"""GET /casino/transactions (docs/protocol.md §6): through the handler and over HTTP - every
transactionId the casino holds for a transactionId and/or roundId, oldest first, validation per
§3, never a session token, a link to the provider's round page."""

from __future__ import annotations

import hashlib
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support import admin_conn, call, fetch_one, live_api, make_player, new_id, new_session
from tests.tools.helpers import get, http_get

FIELDS = {
    "transactionId",
    "reason",
    "promotionId",
    "grantId",
    "kind",
    "status",
    "userId",
    "roundId",
    "amount",
    "currency",
    "betTransactionId",
    "redeemableAmount",
    "balanceAfter",
    "errorCode",
    "createdAt",
    "roundUrl",
}


#: no match: an empty list, and no next page
NONE: dict[str, object] = {"transactions": [], "nextCursor": None}


def debit(token: str, txid: str, round_id: str, amount: int):
    return call(
        "/casino/debit", {"sessionToken": token, "transactionId": txid, "roundId": round_id, "amount": amount, "currency": "USD"}
    )


@pytest.fixture(scope="module")
def played(database_url):
    """One player's round: an accepted bet, a refused bet, a rollback naming no roundId, a win;
    and a tombstone in no round."""
    user = make_player(database_url, 10_000)
    token = new_session(database_url, user)
    rnd, bet, big, rb, win, ghost_rb = (new_id(p) for p in ("lr", "bet", "big", "rb", "win", "ghostrb"))
    steps = [
        debit(token, bet, rnd, 1_000),
        debit(token, big, rnd, 50_000),  # 402: more than the balance
        call("/casino/rollback", {"sessionToken": token, "transactionId": rb, "betTransactionId": big}),
        call(
            "/casino/credit",
            {
                "sessionToken": token,
                "transactionId": win,
                "roundId": rnd,
                "amount": 2_500,
                "currency": "USD",
                "betTransactionId": bet,
            },
        ),
        call("/casino/rollback", {"sessionToken": token, "transactionId": ghost_rb, "betTransactionId": new_id("never")}),
    ]
    assert [s.status for s in steps] == [200, 402, 200, 200, 200]
    return {"user": user, "token": token, "round": rnd, "bet": bet, "big": big, "rb": rb, "win": win, "ghost_rb": ghost_rb}


def test_by_round_lists_every_transaction_of_the_round_oldest_first(played):
    r = get("/casino/transactions", {"roundId": played["round"]})
    assert r.status == 200, r.raw
    rows = r.json["transactions"]
    assert [t["transactionId"] for t in rows] == [played["bet"], played["big"], played["rb"], played["win"]]
    assert all(set(t) == FIELDS for t in rows)
    assert [t["createdAt"] for t in rows] == sorted(t["createdAt"] for t in rows)
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", t["createdAt"]) for t in rows)
    bet, big, rb, win = rows
    assert (bet["kind"], bet["status"], bet["amount"], bet["balanceAfter"], bet["errorCode"]) == (
        "debit",
        "accepted",
        1000,
        9000,
        None,
    )
    assert (big["status"], big["balanceAfter"], big["errorCode"]) == ("rejected", None, "INSUFFICIENT_FUNDS")
    # the rollback named no roundId: listed in (and found by) its bet's round
    assert (rb["kind"], rb["roundId"], rb["betTransactionId"], rb["amount"]) == ("rollback", played["round"], played["big"], 0)
    assert (win["kind"], win["betTransactionId"], win["balanceAfter"]) == ("credit", played["bet"], 11_500)
    assert all(t["userId"] == played["user"] and t["currency"] == "USD" for t in rows)
    assert bet["betTransactionId"] is None


def test_by_transaction_id_and_by_both(played):
    one = get("/casino/transactions", {"transactionId": played["win"]}).json["transactions"]
    assert [t["transactionId"] for t in one] == [played["win"]]
    both = get("/casino/transactions", {"transactionId": played["bet"], "roundId": played["round"]}).json["transactions"]
    assert [t["transactionId"] for t in both] == [played["bet"]]
    assert get("/casino/transactions", {"transactionId": played["bet"], "roundId": "another-round"}).json == NONE
    tomb = get("/casino/transactions", {"transactionId": played["ghost_rb"]}).json["transactions"]
    assert [(t["kind"], t["status"], t["roundId"], t["roundUrl"]) for t in tomb] == [("rollback", "accepted", None, None)]


def test_no_match_is_an_empty_list_and_deposits_are_not_transactions(played, database_url):
    assert get("/casino/transactions", {"roundId": "no-such-round"}).json == NONE
    assert get("/casino/transactions", {"transactionId": "no-such-id"}).json == NONE
    with admin_conn(database_url) as conn:
        (deposit,) = fetch_one(conn, "SELECT transaction_id FROM casino_transactions WHERE kind = 'deposit' LIMIT 1")
    assert get("/casino/transactions", {"transactionId": deposit}).json == NONE


def test_round_url_links_the_providers_round_page(played, database_url):
    with admin_conn(database_url) as conn:
        (base,) = fetch_one(conn, "SELECT api_base_url FROM casino_game_providers WHERE code = 'jaqpot'")
    rows = get("/casino/transactions", {"roundId": played["round"]}).json["transactions"]
    assert {t["roundUrl"] for t in rows} == {f"{base.rstrip('/')}/provider/rounds/{played['round']}"}


def test_session_tokens_never_appear(played):
    raw = get("/casino/transactions", {"roundId": played["round"]}).raw
    token_hash = hashlib.sha256(played["token"].encode()).hexdigest()
    assert played["token"] not in raw and token_hash not in raw and "sessionToken" not in raw


@pytest.mark.parametrize(
    ("query", "fields"),
    [
        ({}, {"transactionId", "roundId"}),
        ({"unknown": "x"}, {"transactionId", "roundId"}),
        ({"transactionId": "a b"}, {"transactionId"}),
        ({"roundId": "x" * 129}, {"roundId"}),
        ({"transactionId": "", "roundId": "ok"}, {"transactionId"}),
        ({"transactionId": "é", "roundId": "a/b"}, {"transactionId", "roundId"}),
    ],
)
def test_validation_names_the_fields(query, fields):
    r = get("/casino/transactions", query)
    assert (r.status, r.code) == (400, "VALIDATION_ERROR"), r.raw
    assert {d["field"] for d in r.json["error"]["details"]} == fields
    assert all(d["message"] for d in r.json["error"]["details"])


def _pages(query: dict[str, str]) -> list[dict]:
    pages, after = [], None
    while True:
        r = get("/casino/transactions", {**query, **({"after": after} if after else {})})
        assert r.status == 200, r.raw
        pages.append(r.json)
        after = r.json["nextCursor"]
        if after is None:
            return pages
        assert len(pages) < 10, "the cursor does not advance"


def test_a_round_larger_than_a_page_is_listed_in_full_across_pages(database_url):
    """§6 pages: the default page is 100 rows; a round of 103 transactions is two pages, the
    second one ending with nextCursor null; with limit=40, three pages - the same rows in the
    same order, none twice, none missing."""
    user = make_player(database_url, 10_000)
    token = new_session(database_url, user)
    rnd = new_id("big-round")
    ids = [new_id("b") for _ in range(103)]
    assert {debit(token, txid, rnd, 1).status for txid in ids} == {200}
    default = _pages({"roundId": rnd})
    assert [len(p["transactions"]) for p in default] == [100, 3]
    assert [t["transactionId"] for p in default for t in p["transactions"]] == ids
    small = _pages({"roundId": rnd, "limit": "40"})
    assert [len(p["transactions"]) for p in small] == [40, 40, 23]
    assert [t["transactionId"] for p in small for t in p["transactions"]] == ids
    exact = _pages({"roundId": rnd, "limit": "103"})
    assert [len(p["transactions"]) for p in exact] == [103] and exact[0]["nextCursor"] is None
    # a page boundary by transactionId and roundId together
    one = get("/casino/transactions", {"transactionId": ids[5], "roundId": rnd, "limit": "1"}).json
    assert [t["transactionId"] for t in one["transactions"]] == [ids[5]] and one["nextCursor"] is None


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"roundId": "r", "limit": "0"}, "limit"),
        ({"roundId": "r", "limit": "501"}, "limit"),
        ({"roundId": "r", "limit": "-1"}, "limit"),
        ({"roundId": "r", "limit": "1.0"}, "limit"),
        ({"roundId": "r", "limit": "1_0"}, "limit"),
        ({"roundId": "r", "limit": " 5"}, "limit"),
        ({"roundId": "r", "limit": "ten"}, "limit"),
        ({"roundId": "r", "limit": "9" * 40}, "limit"),
        ({"roundId": "r", "after": ""}, "after"),
        ({"roundId": "r", "after": "not a cursor"}, "after"),
        ({"roundId": "r", "after": "x" * 101}, "after"),
        ({"roundId": "r", "after": "eA"}, "after"),  # base64 of "x"
        ({"roundId": "r", "after": "djEuMS45OTk5OTk5OTk5OTk5OTk5OTk5"}, "after"),  # id past BIGINT
        ({"roundId": "r", "after": "djEuOTk5OTk5OTk5OTk5OTk5OTk5LjE"}, "after"),  # a time past year 9999
    ],
)
def test_a_bad_page_limit_or_cursor_is_a_validation_error(query, field):
    r = get("/casino/transactions", query)
    assert (r.status, r.code) == (400, "VALIDATION_ERROR"), r.raw
    assert [d["field"] for d in r.json["error"]["details"]] == [field]


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    query=st.dictionaries(
        st.sampled_from(["transactionId", "roundId", "limit", "after", "other"]), st.text(max_size=140), max_size=4
    )
)
def test_hostile_query_strings_never_fail_the_server(database_url, query):
    r = get("/casino/transactions", query)
    assert r.status in (200, 400), r.raw
    assert "Traceback" not in r.raw and "psycopg" not in r.raw
    if r.status == 400:
        assert r.code == "VALIDATION_ERROR" and r.json["error"]["details"]


def test_over_http(database_url, played):
    with live_api(database_url) as base:
        r = http_get(base, "/casino/transactions", {"roundId": played["round"]})
        assert r.status == 200 and r.headers["Content-Type"] == "application/json"
        assert [t["transactionId"] for t in r.json["transactions"]] == [played["bet"], played["big"], played["rb"], played["win"]]
        # the link points at the provider as the casino knows it (here: this local API)
        page = r.json["transactions"][0]["roundUrl"]
        assert page == f"{base}/provider/rounds/{played['round']}"
        missing = http_get(base, "/casino/transactions")
        assert (missing.status, missing.code) == (400, "VALIDATION_ERROR")
        bad = http_get(base, "/casino/transactions", {"transactionId": "bad id"})
        assert (bad.status, bad.code) == (400, "VALIDATION_ERROR")
