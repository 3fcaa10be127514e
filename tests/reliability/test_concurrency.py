"""1,000 callbacks from 16 threads on a few hot wallets: fresh debits, duplicate debits (racing
their original, also through the player's other session), debits reusing an id with another
amount, credits, duplicate credits, rollbacks (of accepted bets, of bets still in flight, of bets
that arrive later, twice under different ids). Each thread has its own database
connections, as each Lambda container has its own, so the requests really run concurrently in
PostgreSQL.

Checked: no 5xx; every transactionId has exactly one ledger row and exactly one first answer, all
its other answers are byte-identical replays (same request) or 409 TRANSACTION_ID_CONFLICT (another
payload); the stored response is what the client got; every
wallet moved exactly by the accepted answers; no deadlock was retried; reconcile is clean.
"""

from __future__ import annotations

import json
import random
import threading
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor

import pytest
from seamless.runtime import db

from tests.reliability.conftest import assert_reconciled
from tests.support import admin_conn, call, make_player, new_id, new_session, wallet

THREADS = 16
CALLBACKS = 1_000
PATHS = {"debit": "/casino/debit", "credit": "/casino/credit", "rollback": "/casino/rollback"}


def plan(rng: random.Random, tokens: dict[str, list[str]]) -> list[tuple[str, dict]]:
    """The mix, in a random order (a duplicate may run before, with or after its original)."""
    players = list(tokens)
    bets: list[dict] = []
    ops: list[tuple[str, dict]] = []
    rounds: dict[str, list[str]] = defaultdict(list)  # token -> its rounds
    while len(ops) < CALLBACKS:
        roll = rng.random()
        player = rng.choice(players)
        token = rng.choice(tokens[player])
        if roll < 0.38 or not bets:
            if not rounds[token] or rng.random() < 0.5:
                rounds[token].append(new_id("r"))
            body = {
                "sessionToken": token,
                "transactionId": new_id("bet"),
                "roundId": rng.choice(rounds[token]),
                "amount": rng.choice([rng.randint(1, 400), rng.randint(1, 5_000)]),
                "currency": "USD",
            }
            bets.append(body)
            ops.append(("debit", body))
        elif roll < 0.47:
            ops.append(("debit", rng.choice(bets)))  # a duplicate debit
        elif roll < 0.51:
            # the same request through the player's other session (a retry after a re-launch: §5)
            bet = rng.choice(bets)
            other = next(t for p, ts in tokens.items() if bet["sessionToken"] in ts for t in ts if t != bet["sessionToken"])
            ops.append(("debit", {**bet, "sessionToken": other}))
        elif roll < 0.55:
            ops.append(("debit", {**rng.choice(bets), "amount": rng.randint(1, 400)}))  # same id, other payload
        elif roll < 0.72:
            bet = rng.choice(bets)
            body = {
                "sessionToken": bet["sessionToken"],
                "transactionId": new_id("win"),
                "roundId": bet["roundId"],
                "amount": rng.choice([0, rng.randint(1, 800)]),
                "currency": "USD",
                "betTransactionId": bet["transactionId"],
                "roundClosed": rng.random() < 0.3,
            }
            ops.append(("credit", body))
            if rng.random() < 0.3:
                ops.append(("credit", body))  # a duplicate credit
        elif roll < 0.92:
            bet = rng.choice(bets)
            body = {"sessionToken": bet["sessionToken"], "transactionId": new_id("rb"), "betTransactionId": bet["transactionId"]}
            if rng.random() < 0.5:
                body["roundId"] = bet["roundId"]
            ops.append(("rollback", body))
            if rng.random() < 0.3:
                ops.append(("rollback", body))  # a duplicate rollback
        else:
            # a rollback racing (or preceding) a debit it has not seen: tombstone or refund
            token = rng.choice(tokens[player])
            bet = {
                "sessionToken": token,
                "transactionId": new_id("late"),
                "roundId": new_id("r"),
                "amount": rng.randint(1, 300),
                "currency": "USD",
            }
            ops.append(
                ("rollback", {"sessionToken": token, "transactionId": new_id("rb"), "betTransactionId": bet["transactionId"]})
            )
            ops.append(("debit", bet))
    ops = ops[:CALLBACKS]
    rng.shuffle(ops)
    return ops


def normalised(kind: str, body: dict, player_of: dict[str, str]) -> tuple:
    """What makes two requests the same one (§5): the player, not the session token."""
    return (
        kind,
        player_of[body["sessionToken"]],
        body.get("currency"),
        body.get("roundId"),
        body.get("amount"),
        body.get("betTransactionId"),
        bool(body.get("roundClosed")),
    )


@pytest.mark.parametrize("seed", [20261124, 7, 1999])
def test_a_thousand_mixed_callbacks_from_sixteen_threads(database_url, connections_per_thread, seed):
    rng = random.Random(seed)
    opening = {make_player(database_url, 60_000, 25_000): 60_000 for _ in range(3)}  # a few hot wallets
    tokens = {p: [new_session(database_url, p) for _ in range(2)] for p in opening}  # two sessions each
    player_of = {t: p for p, ts in tokens.items() for t in ts}
    ops = plan(rng, tokens)
    conflicts_before = db.retried_conflicts
    start = threading.Barrier(THREADS)
    per_thread = threading.local()

    def send(op):
        if not getattr(per_thread, "started", False):
            per_thread.started = True
            start.wait(timeout=60)  # all 16 threads (and connections) begin together
        kind, body = op
        r = call(PATHS[kind], body)
        return kind, body, r

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        futures = [pool.submit(send, op) for op in ops]
        results = [f.result(timeout=180) for f in futures]  # bounded: a deadlock would hang here
    assert len(results) == CALLBACKS
    assert connections_per_thread.opened() >= THREADS // 2, "the requests did not run on separate connections"

    server_errors = [(k, b, r.status, r.raw) for k, b, r in results if r.status >= 500]
    assert server_errors == []
    assert all("Traceback" not in r.raw for _, _, r in results)
    assert db.retried_conflicts == conflicts_before, "a deadlock or serialization failure was retried"

    # per transactionId: one first answer; every request with the same normalised payload gets
    # its byte-identical replay, every other payload 409 TRANSACTION_ID_CONFLICT
    by_txid: dict[str, list] = defaultdict(list)
    for kind, body, r in results:
        by_txid[body["transactionId"]].append((kind, body, r))
    first: dict[str, tuple] = {}
    for txid, answers in by_txid.items():
        firsts = [a for a in answers if not a[2].replayed and a[2].code != "TRANSACTION_ID_CONFLICT"]
        assert len(firsts) == 1, (txid, [(r.status, r.raw, r.headers) for _, _, r in answers])
        first[txid] = firsts[0]
        winner = normalised(*firsts[0][:2], player_of)
        for kind, body, r in answers:
            if normalised(kind, body, player_of) == winner:
                assert (r.status, r.raw) == (firsts[0][2].status, firsts[0][2].raw), (txid, r, firsts[0][2])
            else:
                assert (r.status, r.code) == (409, "TRANSACTION_ID_CONFLICT"), (txid, body, r)

    # the ledger: exactly one row per transactionId, holding the answer the client got
    with admin_conn(database_url) as conn:
        rows = {
            r[0]: r[1:]
            for r in conn.execute(
                "SELECT transaction_id, count(*) OVER (PARTITION BY transaction_id), response_status, response_body, status "
                "FROM casino_transactions WHERE transaction_id = ANY(%s)",
                (list(by_txid),),
            )
        }
    assert set(rows) == set(by_txid)
    for txid, (count, status, body, row_status) in rows.items():
        _, _, r = first[txid]
        assert count == 1 and (status, body) == (r.status, r.raw), (txid, rows[txid], r)
        assert row_status == ("accepted" if r.status == 200 else "rejected"), (txid, row_status, r)

    # money: every wallet moved by exactly what the accepted answers say
    moved = dict.fromkeys(opening, 0)
    for kind, body, r in first.values():
        if r.status != 200:
            continue
        player = player_of[body["sessionToken"]]
        moved[player] += {
            "debit": -body.get("amount", 0),
            "credit": body.get("amount", 0),
            "rollback": r.json.get("rolledBackAmount", 0),
        }[kind]
        assert r.json["balance"] >= 0 and 0 <= r.json["redeemableBalance"] <= r.json["balance"]
    for player, start_balance in opening.items():
        assert wallet(database_url, player)[0] == start_balance + moved[player], player
    statuses = sorted({(k, r.status, r.code or "OK") for k, _, r in results})
    print("concurrency outcomes:", json.dumps([list(s) for s in statuses]))
    assert_reconciled(database_url)
