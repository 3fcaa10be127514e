"""Hostile input for every endpoint of template.yaml (raw bytes, JSON of the wrong shape, with
and without valid signatures, odd header names), and 1,000 mixed callbacks from 16 threads.
Never a 5xx, never a traceback, never money moving without a 2xx; reconcile stays clean."""
from __future__ import annotations

import json
import random
import threading
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from wallet_common import db
from wallet_common.signing import sign

from devtools import admin
from tests.support import (
    ALICE,
    CASINO_SECRET,
    DEV_SESSION,
    GAME,
    PROVIDER_SECRET,
    admin_conn,
    call,
    live_api,
    make_player,
    new_id,
    new_session,
    template,
)

ROUTES = sorted({path for fn in template().functions.values() for _, path in fn.routes})
SIGNERS = {"/casino/getBalance": ("x-casino-signature", CASINO_SECRET), "/casino/debit": ("x-casino-signature", CASINO_SECRET),
           "/casino/credit": ("x-casino-signature", CASINO_SECRET), "/casino/rollback": ("x-casino-signature", CASINO_SECRET),
           "/provider/launch": ("x-provider-signature", PROVIDER_SECRET),
           "/provider/simulate": ("x-provider-signature", PROVIDER_SECRET)}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**15, 10**15) | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12)
FIELDS = ["sessionToken", "transactionId", "roundId", "amount", "currency", "betTransactionId", "roundClosed",
          "userId", "gameId", "bets", "wins", "rollbacks", "actions", "providerSessionId", "playerId"]
plausible = st.fixed_dictionaries({}, optional={
    "sessionToken": st.sampled_from([DEV_SESSION, "nope", ""]) | st.text(max_size=20),
    "transactionId": st.text(max_size=140) | st.builds(lambda: new_id("fz")),
    "roundId": st.text(max_size=20) | st.builds(lambda: new_id("fzr")),
    "amount": json_values | st.integers(-5, 200_000),
    "currency": st.sampled_from(["USD", "EUR", "usd", "USD\n", ""]) | st.text(max_size=4),
    "betTransactionId": st.text(max_size=20), "roundClosed": json_values,
    "userId": st.sampled_from([ALICE, "x"]), "gameId": st.sampled_from([GAME, "book-of-jaqpot", "x"]),
    "bets": json_values, "wins": json_values, "rollbacks": json_values, "actions": json_values,
    "providerSessionId": st.sampled_from(["dev-provider-session", "ps-x"]), "playerId": st.text(max_size=10),
})
bodies = st.one_of(st.binary(max_size=300), json_values.map(lambda v: json.dumps(v).encode()),
                   plausible.map(lambda d: json.dumps(d).encode()))


def money_fingerprint() -> tuple:
    with admin_conn(DB["url"]) as conn:
        return conn.execute("SELECT (SELECT sum(playable_balance) FROM casino_wallets), "
                            "(SELECT count(*) FROM casino_transactions WHERE status = 'accepted')").fetchone()


DB: dict[str, str] = {}


@pytest.fixture(autouse=True, scope="module")
def _live(database_url):
    """Both services reachable over HTTP (launchGame/simulateRound call the provider, which
    calls the casino back), on this test database."""
    DB["url"] = database_url
    with live_api(database_url):
        yield


@pytest.mark.parametrize("path", ROUTES)
def test_fuzzed_requests_never_fail_the_server(path):
    @settings(max_examples=120, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(body=bodies, signed=st.sampled_from(["valid", "missing", "garbage", "upper"]),
           case=st.sampled_from(["lower", "title", "upper"]), b64=st.booleans())
    def run(body, signed, case, b64):
        headers = []
        if path in SIGNERS and signed != "missing":
            name, secret = SIGNERS[path]
            value = {"valid": sign(secret, body), "upper": sign(secret, body).upper(), "garbage": "zz"}[signed]
            headers.append(({"lower": name, "title": name.title(), "upper": name.upper()}[case], value))
        overrides = {}
        if b64:
            import base64
            overrides = {"body": base64.b64encode(body).decode(), "isBase64Encoded": True}
        before = money_fingerprint()
        method = "GET" if path == "/provider/health" else "POST"
        r = call(path, body, sign_with=None, headers=headers, method=method, event_overrides=overrides)
        assert r.status < 500, (path, body, r)
        assert "Traceback" not in r.raw and CASINO_SECRET not in r.raw and PROVIDER_SECRET not in r.raw
        if r.status >= 300:
            assert money_fingerprint() == before, (path, body, r)
            assert isinstance(r.json["error"]["code"], str) and r.json["error"]["message"]

    run()


def test_a_thousand_mixed_callbacks_from_sixteen_threads(database_url):
    rng = random.Random(20261124)
    players = [make_player(database_url, 50_000, 20_000) for _ in range(3)]   # a few hot wallets
    tokens = {p: new_session(database_url, p) for p in players}
    bets: list[dict] = []
    ops: list[tuple[str, dict]] = []
    for i in range(1000):
        p = rng.choice(players)
        kind = rng.random()
        if kind < 0.45 or not bets:
            body = {"sessionToken": tokens[p], "transactionId": new_id(f"L{i}"), "roundId": new_id("r"),
                    "amount": rng.randint(1, 300), "currency": "USD"}
            bets.append(body)
            ops.append(("/casino/debit", body))
        elif kind < 0.65:
            ops.append(("/casino/debit", rng.choice(bets)))                      # a duplicate
        elif kind < 0.85:
            bet = rng.choice(bets)
            ops.append(("/casino/credit", {"sessionToken": bet["sessionToken"], "transactionId": new_id("w"),
                                           "roundId": bet["roundId"], "amount": rng.randint(0, 600),
                                           "currency": "USD", "betTransactionId": bet["transactionId"],
                                           "roundClosed": rng.random() < 0.5}))
        else:
            bet = rng.choice(bets)
            ops.append(("/casino/rollback", {"sessionToken": bet["sessionToken"], "transactionId": new_id("rb"),
                                             "betTransactionId": bet["transactionId"]}))
    before = db.retried_conflicts
    lock = threading.Lock()
    answers: dict[tuple[str, str], set[str]] = defaultdict(set)

    def send(op):
        path, body = op
        r = call(path, body)
        assert r.status < 500, (path, body, r)
        with lock:
            answers[(path, json.dumps(body, sort_keys=True))].add(r.raw)
        return r

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(send, ops))
    assert len(results) == 1000
    assert all(len(raws) == 1 for raws in answers.values()), "a replay differed from its original"
    assert db.retried_conflicts == before, "deadlock or serialization retries under load"
    with admin_conn(database_url) as conn:
        dupes = conn.execute("SELECT transaction_id FROM casino_transactions GROUP BY provider_id, transaction_id "
                             "HAVING count(*) > 1").fetchall()
    assert dupes == []
    result = admin.reconcile(database_url)
    assert result.ok, result.table()
