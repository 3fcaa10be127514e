"""Concurrent callbacks against the real database, and hostile input: the documented 4xx,
nothing written, never a 5xx."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from seamless.contract.signing import sign
from seamless.runtime import db

from devtools import admin
from tests.support import (
    ALICE,
    CASINO_SECRET,
    admin_conn,
    call,
    enc,
    fetch_one,
    make_player,
    new_id,
    new_session,
    upper_hex,
    wallet,
)


def parallel(fn, n: int) -> list:
    """fn(i) in n threads released together."""
    barrier = threading.Barrier(n)

    def run(i):
        barrier.wait(timeout=30)
        return fn(i)

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(run, range(n)))


def race(*requests: tuple[str, dict]) -> list:
    """Sends (path, body) requests at the same moment, one thread each."""
    return parallel(lambda i: call(*requests[i]), len(requests))


def ledger_rows(url: str, txid: str) -> int:
    with admin_conn(url) as conn:
        return fetch_one(
            conn, "SELECT count(*) FROM casino_transactions WHERE transaction_id = %s AND status = 'accepted'", (txid,)
        )[0]


def test_twenty_identical_debits_move_money_once(database_url, no_deadlocks):
    user = make_player(database_url, 10_000)
    token = new_session(database_url, user)
    body = {"sessionToken": token, "transactionId": new_id("dup"), "roundId": new_id("r"), "amount": 700, "currency": "USD"}
    results = parallel(lambda i: call("/casino/debit", body), 20)
    assert {r.status for r in results} == {200}
    assert len({r.raw for r in results}) == 1
    assert sum(not r.replayed for r in results) == 1
    assert wallet(database_url, user)[0] == 10_000 - 700
    assert ledger_rows(database_url, body["transactionId"]) == 1


@pytest.fixture
def no_deadlocks():
    """The lock order is deadlock-free: nothing was retried for a deadlock meanwhile."""
    before = db.retried_conflicts
    yield
    assert db.retried_conflicts == before, "a deadlock or serialization failure was retried"


def test_fifty_distinct_debits_on_one_wallet(database_url, no_deadlocks):
    user = make_player(database_url, 30 * 300)
    token = new_session(database_url, user)
    results = parallel(
        lambda i: call(
            "/casino/debit",
            {"sessionToken": token, "transactionId": new_id(f"c{i}"), "roundId": new_id("r"), "amount": 300, "currency": "USD"},
        ),
        50,
    )
    statuses = [r.status for r in results]
    assert set(statuses) <= {200, 402}, statuses
    assert statuses.count(200) == 30
    assert wallet(database_url, user)[0] == 0
    assert admin.reconcile(database_url).ok


def test_racing_rollback_and_late_debit_move_money_at_most_once(database_url, no_deadlocks):
    for _ in range(10):
        user = make_player(database_url, 1_000)
        token = new_session(database_url, user)
        bet_id, round_id = new_id("race"), new_id("r")
        debit = {"sessionToken": token, "transactionId": bet_id, "roundId": round_id, "amount": 400, "currency": "USD"}
        rollback = {"sessionToken": token, "transactionId": new_id("rb"), "betTransactionId": bet_id}
        results = race(("/casino/debit", debit), ("/casino/rollback", rollback))
        assert all(r.status in (200, 409) for r in results), results
        # whichever came first, the wallet ends where it started and the bet is dead
        assert wallet(database_url, user)[0] == 1_000
        assert call("/casino/debit", debit).status in (200, 409)
        assert wallet(database_url, user)[0] == 1_000


def _held_callback(url: str, statement: str, params: tuple) -> psycopg.Connection:
    """A ledger call run inside an open transaction (committed by the caller): what a callback
    holds and has written while its commit is still on the way."""
    conn = psycopg.connect(url)
    row = conn.execute(statement, params).fetchone()
    assert row is not None and row[0] == 200, row
    return conn


def _bet_lock_waiters(url: str) -> int:
    with admin_conn(url) as conn:
        return fetch_one(conn, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")[0]


def _wait_for(predicate, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


DEBIT_SQL = "SELECT status, body FROM ledger.debit(%s, %s, %s, %s, 'USD')"
ROLLBACK_SQL = "SELECT status, body FROM ledger.rollback(%s, %s, %s, NULL)"


def _hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def test_a_debit_and_a_rollback_of_its_id_from_another_wallet_are_serialised_by_the_bet_id(database_url):
    """Two players' sessions, one bet id (transactionIds are unique per provider, not per
    session): the wallet locks do not order them, the bet id's lock does (ledger v3: there is no
    claim row). A rollback arriving while the debit is uncommitted waits for it and then finds its
    row - here a bet of another session's round, ROUND_MISMATCH - instead of leaving a tombstone
    beside an accepted bet. And the other way round: a debit arriving while the tombstone is
    uncommitted waits and is refused BET_ROLLED_BACK."""
    bettor, other = make_player(database_url, 1_000), make_player(database_url, 1_000)
    bettor_token, other_token = new_session(database_url, bettor), new_session(database_url, other)

    bet, round_id = new_id("bet"), new_id("round")
    held = _held_callback(database_url, DEBIT_SQL, (_hash(bettor_token), bet, round_id, 300))
    with ThreadPoolExecutor(max_workers=1) as pool:
        later = pool.submit(
            call, "/casino/rollback", {"sessionToken": other_token, "transactionId": new_id("rb"), "betTransactionId": bet}
        )
        _wait_for(lambda: _bet_lock_waiters(database_url) == 1, "the rollback to wait on the bet id")
        held.commit()
        held.close()
        rollback = later.result(timeout=30)
    assert (rollback.status, rollback.code) == (409, "ROUND_MISMATCH"), rollback
    assert wallet(database_url, bettor)[0] == 700 and wallet(database_url, other)[0] == 1_000

    ghost = new_id("ghost")
    held = _held_callback(database_url, ROLLBACK_SQL, (_hash(other_token), new_id("rb"), ghost))
    with ThreadPoolExecutor(max_workers=1) as pool:
        later = pool.submit(
            call,
            "/casino/debit",
            {"sessionToken": bettor_token, "transactionId": ghost, "roundId": new_id("round"), "amount": 300, "currency": "USD"},
        )
        _wait_for(lambda: _bet_lock_waiters(database_url) == 1, "the debit to wait on the bet id")
        held.commit()
        held.close()
        debit = later.result(timeout=30)
    assert (debit.status, debit.code) == (409, "BET_ROLLED_BACK"), debit
    assert wallet(database_url, bettor)[0] == 700
    with admin_conn(database_url) as conn:
        assert conn.execute((admin.CHECKS / "violations.sql").read_text()).fetchall() == []


def test_racing_credit_and_rollback_never_both_apply(database_url, no_deadlocks):
    for _ in range(10):
        user = make_player(database_url, 1_000)
        token = new_session(database_url, user)
        bet_id, round_id = new_id("b"), new_id("r")
        assert (
            call(
                "/casino/debit",
                {"sessionToken": token, "transactionId": bet_id, "roundId": round_id, "amount": 100, "currency": "USD"},
            ).status
            == 200
        )
        credit = {
            "sessionToken": token,
            "transactionId": new_id("w"),
            "roundId": round_id,
            "amount": 250,
            "currency": "USD",
            "betTransactionId": bet_id,
        }
        rollback = {"sessionToken": token, "transactionId": new_id("rb"), "betTransactionId": bet_id}
        c, r = race(("/casino/credit", credit), ("/casino/rollback", rollback))
        if c.status == 200 and r.status == 200:
            pytest.fail(f"both a credit and a refund applied: {c} {r}")
        expected = 900 + 250 if c.status == 200 else 1_000
        assert wallet(database_url, user)[0] == expected, (c, r)


# ------------------------------------------------------------------ hostile input


@pytest.fixture(scope="module")
def session(database_url):
    return new_session(database_url, ALICE)


def debit_body(token: str, **overrides) -> dict:
    return {
        "sessionToken": token,
        "transactionId": new_id("h"),
        "roundId": new_id("r"),
        "amount": 10,
        "currency": "USD",
        **overrides,
    }


BAD_SIGNATURES = {
    "missing": None,
    "empty": "",
    "non-hex": "z" * 64,
    "short": "ab" * 31,
    "long": "ab" * 33,
    "other-secret": "OTHER",
    "other-bytes": "OTHER_BYTES",
    "spaces": " " * 64,
    "unicode": "é" * 64,
}


@pytest.mark.parametrize("kind", sorted(BAD_SIGNATURES))
def test_bad_signatures(database_url, session, kind):
    before = wallet(database_url)
    raw = enc(debit_body(session))
    value = BAD_SIGNATURES[kind]
    if value == "OTHER":
        value = sign("not-the-secret", raw, "/casino/debit")
    elif value == "OTHER_BYTES":
        value = sign(CASINO_SECRET, raw + b" ", "/casino/debit")
    headers = [] if value is None else [("X-Casino-Signature", value)]
    r = call("/casino/debit", raw, sign_with=None, headers=headers)
    assert (r.status, r.code) == (401, "INVALID_SIGNATURE")
    assert wallet(database_url) == before


@pytest.mark.parametrize("name", ["X-CASINO-SIGNATURE", "x-casino-signature", "X-Casino-Signature", "x-CaSiNo-sIgNaTuRe"])
def test_header_name_case_does_not_matter(session, name):
    raw = enc(debit_body(session))
    r = call("/casino/debit", raw, sign_with=None, headers=[(name, upper_hex(sign(CASINO_SECRET, raw, "/casino/debit")))])
    assert r.status == 200, r


BAD_BODIES = {
    "garbage": b"{not json",
    "empty": b"",
    "array": b"[1,2]",
    "string": b'"x"',
    "null": b"null",
    "number": b"42",
    "bad-utf8": b'{"sessionToken": "\xff"}',
    "nan": b'{"amount": NaN}',
    "truncated": b'{"sessionToken": "a"',
}


@pytest.mark.parametrize("kind", sorted(BAD_BODIES))
def test_non_object_bodies(database_url, kind):
    before = wallet(database_url)
    r = call("/casino/debit", BAD_BODIES[kind])
    assert (r.status, r.code) == (400, "VALIDATION_ERROR"), r
    assert all({"field", "message"} <= set(d) for d in r.json["error"]["details"])
    assert wallet(database_url) == before


BAD_FIELDS = [
    ("amount", True),
    ("amount", 10.5),
    ("amount", 10.0),
    ("amount", "10"),
    ("amount", 1e3),
    ("amount", -5),
    ("amount", 0),
    ("amount", 10**12 + 1),
    ("amount", 10**40),
    ("amount", None),
    ("amount", [10]),
    ("amount", {"v": 1}),
    ("currency", "usd"),
    ("currency", "USDTXX"),  # §1: 3 to 5 characters (USDT and USDTX are codes)
    ("currency", "1USD"),  # starts with a letter
    ("currency", "US"),
    ("currency", "USD\n"),
    ("currency", 840),
    ("transactionId", "x" * 129),
    ("transactionId", "has space"),
    ("transactionId", "line\nbreak"),
    ("transactionId", "ünïcode"),
    ("transactionId", "'; DROP TABLE casino_wallets; --"),
    ("transactionId", ""),
    ("transactionId", 12345),
    ("roundId", "r" * 129),
    ("roundId", None),
    ("sessionToken", 7),
    ("sessionToken", ""),
    ("sessionToken", "x" * 513),
]


@pytest.mark.parametrize("field,value", BAD_FIELDS, ids=[f"{f}-{i}" for i, (f, _) in enumerate(BAD_FIELDS)])
def test_bad_fields_are_named(database_url, session, field, value):
    before = wallet(database_url)
    r = call("/casino/debit", debit_body(session, **{field: value}))
    assert (r.status, r.code) == (400, "VALIDATION_ERROR"), r
    assert any(field in d["field"] for d in r.json["error"]["details"]), r
    assert wallet(database_url) == before


@pytest.mark.parametrize("token", ["'; DELETE FROM casino_wallets; --", "😀" * 10, "\u0000abc", "a" * 512])
def test_strange_tokens_are_just_unknown(database_url, token):
    before = wallet(database_url)
    r = call("/casino/debit", debit_body(token))
    assert r.status in (400, 404) and r.code in ("VALIDATION_ERROR", "SESSION_NOT_FOUND"), r
    assert wallet(database_url) == before


@pytest.mark.parametrize(
    "path,body,missing",
    [
        ("/casino/getBalance", {}, {"sessionToken"}),
        ("/casino/credit", {"transactionId": "t", "currency": "USD"}, {"sessionToken", "roundId", "amount"}),
        ("/casino/rollback", {"sessionToken": "s"}, {"transactionId", "betTransactionId"}),
    ],
)
def test_every_missing_field_is_named(path, body, missing):
    r = call(path, body)
    assert r.status == 400
    assert {d["field"] for d in r.json["error"]["details"]} == missing


def test_body_size_limit(database_url, session):
    before = wallet(database_url)
    body = debit_body(session, padding="")
    body["padding"] = "x" * (65_537 - len(enc(body)))
    r = call("/casino/debit", enc(body))
    assert (r.status, r.code) == (413, "PAYLOAD_TOO_LARGE")
    assert wallet(database_url) == before
    body["padding"] = body["padding"][:-1]  # exactly 65,536 bytes is allowed
    assert len(enc(body)) == 65_536
    assert call("/casino/debit", enc(body)).status == 200


def test_base64_encoded_body(session):
    raw = enc(debit_body(session))
    r = call("/casino/debit", raw, event_overrides={"body": base64.b64encode(raw).decode(), "isBase64Encoded": True})
    assert r.status == 200, r
    bad = call("/casino/debit", raw, event_overrides={"body": "!!!not base64", "isBase64Encoded": True})
    assert (bad.status, bad.code) == (401, "INVALID_SIGNATURE")  # signed the bytes it did not send


JUNK = "!!!not base64"


@pytest.mark.parametrize(
    ("signed", "expected"),
    [
        (None, (401, "INVALID_SIGNATURE")),
        ("wrong-secret", (401, "INVALID_SIGNATURE")),
        ("junk-as-received", (400, "VALIDATION_ERROR")),
    ],
)
def test_invalid_base64_is_refused_after_the_signature_check(database_url, signed, expected):
    """docs/protocol.md §4: size -> signature -> JSON. A body marked base64 that does not
    decode is checked (size, signature) as the text received: unsigned junk is a 401."""
    before = wallet(database_url)
    headers = []
    if signed == "wrong-secret":
        headers = [("X-Casino-Signature", sign("not-the-secret", JUNK.encode(), "/casino/debit"))]
    elif signed == "junk-as-received":
        headers = [("X-Casino-Signature", sign(CASINO_SECRET, JUNK.encode(), "/casino/debit"))]
    r = call("/casino/debit", b"", sign_with=None, headers=headers, event_overrides={"body": JUNK, "isBase64Encoded": True})
    assert (r.status, r.code) == expected, r
    if r.status == 400:
        assert r.json["error"]["details"] == [{"field": "body", "message": "Body is not valid base64."}]
    assert wallet(database_url) == before


def test_invalid_base64_over_the_size_limit_is_413_and_unsigned_endpoints_answer_400():
    huge = call("/casino/debit", b"", sign_with=None, event_overrides={"body": "!" * 65_537, "isBase64Encoded": True})
    assert (huge.status, huge.code) == (413, "PAYLOAD_TOO_LARGE"), huge
    operator = call("/casino/launchGame", b"", sign_with=None, event_overrides={"body": JUNK, "isBase64Encoded": True})
    assert (operator.status, operator.code) == (400, "VALIDATION_ERROR"), operator


# ------------------------------------------------------------------ HTTP API (v2) events


def http_api_event(method: str, path: str, body: bytes, headers: dict[str, str], *, b64: bool = False) -> dict:
    """An HTTP API payload format 2.0 event: header names lower-cased, rawPath, requestContext.http."""
    return {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {k.lower(): v for k, v in headers.items()},
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "local",
            "domainName": "127.0.0.1",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "t"},
            "requestId": "req-v2",
            "routeKey": f"{method} {path}",
            "stage": "$default",
            "time": "01/Dec/2026:00:00:00 +0000",
            "timeEpoch": 0,
        },
        "body": base64.b64encode(body).decode() if b64 else body.decode(),
        "isBase64Encoded": b64,
    }


def invoke_event(path: str, event) -> dict:
    from devtools.devserver import invoke
    from tests.support import function_for

    return invoke(function_for(path), event)


@pytest.mark.parametrize("b64", [False, True], ids=["text", "base64"])
def test_http_api_v2_events_are_served(database_url, session, b64):
    """docs/protocol.md §1: HTTP APIs lower-case header names; both kinds of event must work."""
    body = debit_body(session, amount=3)
    raw = enc(body)
    event = http_api_event(
        "POST", "/casino/debit", raw, {"X-Casino-Signature": sign(CASINO_SECRET, raw, "/casino/debit")}, b64=b64
    )
    first = invoke_event("/casino/debit", event)
    assert first["statusCode"] == 200 and "Idempotent-Replayed" not in first["headers"], first
    again = invoke_event("/casino/debit", event)
    assert (again["statusCode"], again["body"], again["headers"].get("Idempotent-Replayed")) == (200, first["body"], "true")
    unsigned = invoke_event("/casino/debit", http_api_event("POST", "/casino/debit", raw, {}))
    assert json.loads(unsigned["body"])["error"]["code"] == "INVALID_SIGNATURE"
    health = invoke_event("/provider/health", http_api_event("GET", "/provider/health", b"", {}))
    assert health["statusCode"] == 200, health


@pytest.mark.parametrize(
    "event",
    [
        {},
        {"version": "2.0"},
        {"version": "2.0", "requestContext": {"requestId": "x"}, "rawPath": "/casino/debit"},
        {"Records": [{"eventSource": "aws:sqs", "body": "{}"}]},
        {"httpMethod": "POST"},
        [],
        "not an event",
        None,
    ],
    ids=["empty", "version-only", "v2-without-http", "sqs", "v1-without-path", "list", "string", "none"],
)
def test_events_that_are_not_api_gateway_proxy_events_are_a_clear_400(database_url, event):
    before = wallet(database_url)
    for path in ("/casino/debit", "/casino/launchGame", "/provider/launch", "/provider/health"):
        r = invoke_event(path, event)
        assert r["statusCode"] == 400, (path, r)
        error = json.loads(r["body"])["error"]
        assert error["code"] == "VALIDATION_ERROR" and error["details"][0]["field"] == "event", (path, r)
    assert wallet(database_url) == before


def test_no_error_body_leaks_internals(session):
    probes = [
        call("/casino/debit", b"{"),
        call("/casino/debit", debit_body("x")),
        call("/casino/debit", enc(debit_body(session)), sign_with="nope"),
        call("/casino/rollback", {"sessionToken": session, "transactionId": "t", "betTransactionId": "'"}),
    ]
    for r in probes:
        assert "Traceback" not in r.raw and "SELECT" not in r.raw and CASINO_SECRET not in r.raw
        assert isinstance(r.json["error"]["message"], str) if r.status >= 400 else True


def test_reconcile_is_clean_after_all_this(database_url):
    result = admin.reconcile(database_url)
    assert result.ok, result.table()
    assert json.loads(json.dumps([r["ok"] for r in result.rows])) == [True] * len(result.rows)
